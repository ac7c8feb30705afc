import type { AdminListenerConfig, AuthListenerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import type { ServiceMetrics } from '../metrics/exposition.js';
import { listenerEdge, logEdgeProblem, RequestSources } from './answer.js';
import { type HttpEngine, isReady, type RunningListener, type ServiceState } from './engine.js';
import type { Uws } from './native-uws.js';

function listen(uws: Uws, app: ReturnType<Uws['App']>, name: string, host: string, port: number): Promise<RunningListener> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) {
        reject(new Error(`${name} listener cannot listen on ${host}:${port} (address in use or not local)`));
        return;
      }
      resolve({
        name,
        host,
        port: uws.us_socket_local_port(socket as never),
        close: () => uws.us_listen_socket_close(socket),
        // app.close() exists in this build but not in its type declarations.
        closeAll: () => (app as unknown as { close(): void }).close(),
      });
    });
  });
}

/**
 * The auth listener on uWS: every method, every path. The handler copies the source headers
 * out of `req` (valid only during this call), decides synchronously and answers before
 * returning: uWS aborts the process when a handler returns without answering.
 */
function listenAuth(
  uws: Uws,
  listener: AuthListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
): Promise<RunningListener> {
  const edge = listenerEdge(listener, metrics);
  const { uriHeader, clientIpHeader, pathPrefix } = listener;
  const app = uws.App();
  app.any('/*', (res, req) => {
    const gate = state.gate; // one config for the whole request, even across a reload
    const sources = new RequestSources(uriHeader, clientIpHeader, gate.tokenHeaders);
    // One pass over the headers, so a repeated source header is seen (getHeader returns the first only).
    req.forEach((name, value) => {
      sources.add(name, value);
    });
    if (pathPrefix !== undefined) {
      // getUrl and getQuery (without a key) are the raw, undecoded parts of the request target.
      const query = req.getQuery();
      sources.target(query === undefined || query === '' ? req.getUrl() : `${req.getUrl()}?${query}`, pathPrefix);
    }
    if (sources.ambiguousFraming()) {
      // Ambiguous framing (two Content-Length, or one with Transfer-Encoding): this uWS build may
      // frame the body differently from a proxy and parse a smuggled request out of it, even after
      // an answer that closes. Closing now, unanswered, stops it reading this connection at all.
      res.close();
      logger.limited(`ambiguous-framing:${listener.name}`, 'warn', 'ambiguous request framing; connection closed unanswered', {
        listener: listener.name,
      });
      return;
    }
    const result = edge.decide(sources, gate);
    const { answer } = result;
    const { wire } = answer;
    res.writeStatus(wire.statusLine);
    for (const [name, value] of wire.headers) res.writeHeader(name, value);
    // Never wait for a body: answer now and close, so unread body bytes cannot be parsed as a request.
    res.end(undefined, sources.bodyAnnounced || state.closing === true);
    logEdgeProblem(result, listener, logger);
  });
  return listen(uws, app, listener.name, listener.host, listener.port);
}

/** The admin listener: health, readiness and the Prometheus exposition. */
function listenAdmin(
  uws: Uws,
  admin: AdminListenerConfig,
  state: ServiceState,
  metrics: ServiceMetrics,
  logger: Logger,
): Promise<RunningListener> {
  const app = uws.App();
  const plain = (res: Parameters<Parameters<typeof app.any>[1]>[0], status: string, body: string) => {
    res.writeStatus(status);
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
    res.writeHeader('Cache-Control', 'no-store');
    res.end(body);
  };
  app.get('/healthz', (res) => plain(res, '200 OK', 'ok\n'));
  app.get('/readyz', (res) =>
    isReady(state) ? plain(res, '200 OK', 'ready\n') : plain(res, '503 Service Unavailable', 'not ready\n'),
  );
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    metrics.render().then(
      (text) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK');
          res.writeHeader('Content-Type', metrics.contentType);
          res.writeHeader('Cache-Control', 'no-store');
          res.end(text);
        });
      },
      (error: unknown) => {
        logger.limited('metrics-error', 'error', 'cannot render metrics', { error: String(error) });
        if (!aborted) res.cork(() => plain(res, '500 Internal Server Error', 'metrics unavailable\n'));
      },
    );
  });
  app.any('/*', (res) => plain(res, '404 Not Found', 'not found\n'));
  return listen(uws, app, 'admin', admin.host, admin.port);
}

/** The fast engine: native uWebSockets.js (DESIGN.md §5 lists what its parser gets wrong). */
export function uwsEngine(uws: Uws): HttpEngine {
  return {
    name: 'uws',
    sharesPorts: true,
    listenAuth: (listener, state, logger, metrics) => listenAuth(uws, listener, state, logger, metrics),
    listenAdmin: (admin, state, metrics, logger) => listenAdmin(uws, admin, state, metrics, logger),
  };
}

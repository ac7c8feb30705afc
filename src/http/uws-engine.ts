import type { AdminListenerConfig, AuthListenerConfig } from '../config/config.js';
import type { Gate } from '../core/authorize.js';
import type { Logger } from '../log.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import type { ServiceMetrics } from '../metrics/exposition.js';
import { CapturedHeaders, emptySourceFields, listenerEdge } from './answer.js';
import type { Uws } from './native-uws.js';

/** What the listeners share; `gate` is swapped whole on reload, so each request sees one config. */
export interface ServiceState {
  gate: Gate;
  /** True once every auth listener listens (shutdown is `draining`). */
  ready: boolean;
  /** Shutting down: /readyz fails, so load balancers move traffic elsewhere; requests are still answered. */
  draining: boolean;
  /** Listen sockets closed: every answer also closes its connection. */
  closing?: boolean;
  /** Worker threads all listening (when workers serve the auth listeners). */
  workersReady?: () => boolean;
}

/** What /readyz answers: config loaded, every auth listener (every worker) listening, not draining. */
export function isReady(state: ServiceState): boolean {
  return state.ready && !state.draining && (state.workersReady?.() ?? true);
}

export interface RunningListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting; open connections stay. */
  close(): void;
  /** Closes the listen socket and every open connection (a worker thread must, before it exits). */
  closeAll(): void;
}

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
export function listenAuth(
  uws: Uws,
  listener: AuthListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
): Promise<RunningListener> {
  const edge = listenerEdge(listener);
  const { uriHeader, clientIpHeader } = listener;
  const app = uws.App();
  app.any('/*', (res, req) => {
    const fields = emptySourceFields();
    const gate = state.gate; // one config for the whole request, even across a reload
    const wanted = gate.tokenHeaders;
    const captured = wanted.length === 0 ? undefined : new CapturedHeaders();
    if (captured !== undefined) fields.headers = captured;
    let bodyAnnounced = false;
    // One pass over the headers, so a repeated source header is seen (getHeader returns the first only).
    req.forEach((name, value) => {
      if (name === uriHeader) {
        fields.uri = value;
        fields.uriCount++;
      } else if (name === clientIpHeader) {
        fields.clientIp = value;
        fields.clientIpCount++;
      } else if (name === 'transfer-encoding' || (name === 'content-length' && value !== '0')) {
        bodyAnnounced = true;
      } else if (captured !== undefined && wanted.includes(name)) {
        captured.add(name, value);
      }
    });
    const started = metrics === undefined ? 0 : performance.now();
    const result = edge.answer(fields, gate, Math.floor(Date.now() / 1000));
    if (metrics !== undefined) metrics.record(result.decision, (performance.now() - started) / 1000);
    const { answer } = result;
    const { wire } = answer;
    res.writeStatus(wire.statusLine);
    for (const [name, value] of wire.headers) res.writeHeader(name, value);
    // Never wait for a body: answer now and close, so unread body bytes cannot be parsed as a request.
    res.end(undefined, bodyAnnounced || state.closing === true);
    if (result.error !== undefined) {
      logger.limited('internal-error', 'error', 'internal error while deciding', {
        listener: listener.name,
        error: String((result.error as Error)?.stack ?? result.error),
      });
    } else if (result.decision.verdict === 'bad-source') {
      logger.limited(`bad-source:${listener.name}`, 'warn', 'proxy sent unusable source headers', {
        listener: listener.name,
        reason: result.decision.detail,
      });
    }
  });
  return listen(uws, app, listener.name, listener.host, listener.port);
}

/** The admin listener: health, readiness and the Prometheus exposition. */
export function listenAdmin(
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

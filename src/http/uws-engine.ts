import type { HttpResponse } from 'uWebSockets.js';
import type { Logger } from '../base/log.js';
import type { AuthListenerConfig } from '../config/config.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import { decisionLogger } from './decision-log.js';
import type { HttpEngine, RunningListener, ServiceState } from './engine.js';
import { type EdgeResult, listenerEdge, logEdgeProblem } from './listener-edge.js';
import type { Uws } from './native-uws.js';
import { RequestSources } from './request-sources.js';

/** A target character outside "!".."~": what llhttp refuses in a request target. */
const outsidePrintableAscii = /[^\x21-\x7e]/;
const badRequest = {
  statusLine: Buffer.from('400 Bad Request'),
  headers: [
    [Buffer.from('Cache-Control'), Buffer.from('no-store')],
    [Buffer.from('Connection'), Buffer.from('close')],
  ] as const,
};

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
  const logDecision = decisionLogger(listener.name, logger);
  const { uriHeader, clientIpHeader, pathPrefix, clientIpInPath, methodHeader } = listener;
  const app = uws.App();
  app.any('/*', (res, req) => {
    const gate = state.gate; // one config for the whole request, even across a reload
    const sources = new RequestSources(uriHeader, clientIpHeader, gate.tokenHeaders, methodHeader);
    // Without a method header, the auth request's own method is the original one (getMethod lowercases it).
    if (methodHeader === undefined) sources.setMethod(req.getCaseSensitiveMethod());
    // getUrl and getQuery (without a key) are the raw, undecoded parts of the request target.
    const url = req.getUrl();
    const query = req.getQuery();
    // One pass over the headers, so a repeated source header is seen (getHeader returns the first only).
    let deleteByte = false;
    req.forEach((name, value) => {
      sources.add(name, value);
      if (value.includes('\x7f')) deleteByte = true;
    });
    if (sources.bodyAnnounced || sources.ambiguousFraming()) {
      // A body is announced (shipped proxy configs never send one). This uWS build parses whatever
      // follows in the same read as further requests and answers them even after an answer that
      // closes; with ambiguous framing it may even find a request smuggled inside the body.
      // Closing now, unanswered, stops it reading this connection at all; the proxy fails closed.
      res.close();
      logger.limited(`body:${listener.name}`, 'warn', 'request announced a body; connection closed unanswered', {
        listener: listener.name,
        ambiguousFraming: sources.ambiguousFraming(),
      });
      return;
    }
    // Bytes llhttp (the node engine) refuses with 400 but this build passes on: non-ASCII or DEL in
    // the target, DEL in a header value. Refused the same way here, so both engines agree.
    if (deleteByte || outsidePrintableAscii.test(url) || (query !== undefined && outsidePrintableAscii.test(query))) {
      res.writeStatus(badRequest.statusLine);
      for (const [name, value] of badRequest.headers) res.writeHeader(name, value);
      res.end(undefined, true);
      return;
    }
    if (pathPrefix !== undefined) {
      sources.target(query === undefined || query === '' ? url : `${url}?${query}`, pathPrefix, clientIpInPath);
    }
    const outcome = edge.decide(sources, gate);
    if (!(outcome instanceof Promise)) {
      respond(res, outcome);
      logEdgeProblem(outcome, listener, logger);
      logDecision(outcome, sources, gate);
      return;
    }
    // A route with limits waits for its counters: uWS lets a handler return unanswered only with
    // an abort handler, and a response aborted meanwhile (the proxy gave up) must not be touched.
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void outcome.then((result) => {
      if (!aborted) res.cork(() => respond(res, result));
      logEdgeProblem(result, listener, logger);
      logDecision(result, sources, gate);
    });
  });
  const respond = (res: HttpResponse, result: EdgeResult) => {
    const { wire } = result.answer;
    res.writeStatus(wire.statusLine);
    for (const [name, value] of wire.headers) res.writeHeader(name, value);
    res.end(undefined, state.closing === true);
  };
  return listen(uws, app, listener.name, listener.host, listener.port);
}

/** The fast engine: native uWebSockets.js (docs/engines.md lists what its parser gets wrong). */
export function uwsEngine(uws: Uws): HttpEngine {
  return {
    name: 'uws',
    sharesPorts: true,
    listenAuth: (listener, state, logger, metrics) => listenAuth(uws, listener, state, logger, metrics),
  };
}

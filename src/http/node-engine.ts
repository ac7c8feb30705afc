import type { Logger } from '../base/log.js';
import type { AuthListenerConfig } from '../config/config.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import type { Answer } from './answers.js';
import { decisionLogger } from './decision-log.js';
import type { HttpEngine, RunningListener, ServiceState } from './engine.js';
import { type EdgeResult, listenerEdge, logEdgeProblem } from './listener-edge.js';
import { hardenedServer, listen, refuseVersion } from './node-server.js';
import { RequestSources } from './request-sources.js';

/** Each answer as the flat `[name, value, …]` list `writeHead` takes, built once per answer. */
function flatHeaders(cache: WeakMap<Answer, string[]>, answer: Answer): string[] {
  let flat = cache.get(answer);
  if (flat === undefined) {
    flat = [];
    for (const [name, value] of answer.headers) flat.push(name, value);
    flat.push('Content-Length', '0');
    cache.set(answer, flat);
  }
  return flat;
}

/**
 * Whether `node:http` on this Node and platform can share a listening port between threads:
 * `reusePort` came in Node 22.12 and 23.1, and works on Linux (older Nodes ignore the option).
 */
export function reusePortOn(version: string, platform: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return platform === 'linux' && (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12));
}

/** True where the node engine can run on worker threads sharing a port (Node 22.12+/24 on Linux). */
export const nodeSharesPorts = reusePortOn(process.versions.node, process.platform);

function listenAuth(
  listener: AuthListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
  reusePort: boolean,
): Promise<RunningListener> {
  const edge = listenerEdge(listener, metrics);
  const logDecision = decisionLogger(listener.name, logger);
  const { uriHeader, clientIpHeader, pathPrefix, clientIpInPath, methodHeader } = listener;
  const flat = new WeakMap<Answer, string[]>();
  const server = hardenedServer(listener.name, logger, (req, res) => {
    if (refuseVersion(req, res)) return;
    const gate = state.gate;
    const sources = new RequestSources(uriHeader, clientIpHeader, gate.tokenHeaders, methodHeader);
    // Without a method header, the auth request's own method is the original one (Envoy HTTP mode).
    if (methodHeader === undefined) sources.setMethod(req.method ?? '');
    // rawHeaders keeps every line, so a repeated source header is seen (req.headers merges or drops repeats).
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) sources.add(raw[i]!.toLowerCase(), raw[i + 1]!);
    if (pathPrefix !== undefined) sources.target(req.url ?? '', pathPrefix, clientIpInPath);
    const respond = (result: EdgeResult) => {
      const headers = flatHeaders(flat, result.answer);
      // Never wait for a body: answer now and close, so unread body bytes cannot be parsed as a request.
      const close = sources.bodyAnnounced || state.closing === true;
      res.writeHead(result.answer.status, close ? [...headers, 'Connection', 'close'] : headers);
      res.end();
      if (close) res.once('finish', () => req.socket.destroySoon());
      logEdgeProblem(result, listener, logger);
      logDecision(result, sources, gate);
    };
    const outcome = edge.decide(sources, gate);
    // A route with limits answers once its counters have (the connection may have closed meanwhile).
    if (outcome instanceof Promise) {
      void outcome.then((result) => {
        if (res.destroyed) {
          logEdgeProblem(result, listener, logger);
          logDecision(result, sources, gate);
        } else respond(result);
      });
    } else respond(outcome);
  });
  return listen(server, listener.name, listener.host, listener.port, reusePort);
}

/**
 * The hardened, portable engine: Node's own llhttp parser (strict: conflicting or malformed
 * framing is refused with 400, an oversized head with 431, a slow head with 408), no native code.
 * On one thread it listens exclusively. Where the runtime shares a port between threads
 * (`nodeSharesPorts`), several worker threads serve the same port: `nodeWorkerEngine`.
 */
export const nodeEngine: HttpEngine = {
  name: 'node',
  sharesPorts: nodeSharesPorts,
  listenAuth: (listener, state, logger, metrics) => listenAuth(listener, state, logger, metrics, false),
};

/** The node engine in an auth worker thread: the same hardened server, joining the claimed port (SO_REUSEPORT). */
export const nodeWorkerEngine: HttpEngine = {
  ...nodeEngine,
  listenAuth: (listener, state, logger, metrics) => listenAuth(listener, state, logger, metrics, true),
};

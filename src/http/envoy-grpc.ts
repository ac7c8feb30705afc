/**
 * Envoy's gRPC ext_authz: `envoy.service.auth.v3.Authorization/Check` on its own port (the main
 * thread, node:http2 through src/http/grpc-door.ts). The same decision as the HTTP listeners: the
 * original URI is `attributes.request.http.path` (path and query, undecoded), the client IP one
 * configured header of `attributes.request.http.headers` (never `source.address`, which is only
 * the peer that connected to Envoy), and the answer is the listener's pre-built answer turned into
 * a CheckResponse:
 *   allow               → status OK (0), ok_response
 *   deny (403 or 410)   → PERMISSION_DENIED (7), denied_response { status, X-Token-Status, Cache-Control }
 *   cannot decide (503) → the call fails with UNAVAILABLE (14): Envoy answers `status_on_error`
 * A CheckRequest the reader refuses (src/http/check-request.ts) fails the call before the decision:
 * INTERNAL (13), and Envoy `status_on_error` too.
 * Its connections and calls are accepted and bounded by the door.
 */

import type { Logger } from '../base/log.js';
import type { GrpcListenerConfig } from '../config/config.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import { type CheckRequestFields, decodeCheckRequest } from './check-request.js';
import { CheckResponses } from './check-response.js';
import { decisionLogger } from './decision-log.js';
import type { RunningListener, ServiceState } from './engine.js';
import { grpcStatus } from './grpc-call.js';
import { GrpcDoor } from './grpc-door.js';
import { type EdgeResult, listenerEdge, logEdgeProblem } from './listener-edge.js';
import { RequestSources } from './request-sources.js';

/** Largest CheckRequest accepted: Envoy sends every client header in gRPC mode, never a body unless told to. */
const maxRequestBytes = 256 * 1024;

/**
 * The Authorization service's one method (unary), with its own codec (src/http/check-request.ts,
 * check-response.ts): a call reads three fields and answers bytes encoded once, where protobufjs
 * through @grpc/proto-loader built every message (`npm run bench:micro -- --only="Envoy gRPC"`:
 * Envoy's 14-header CheckRequest decoded about 3x faster, 2-5 µs of encoding per answer gone;
 * docs/performance.md).
 */
export const checkMethod = {
  path: '/envoy.service.auth.v3.Authorization/Check',
  maxMessageBytes: maxRequestBytes,
  decode: decodeCheckRequest,
} as const;

export async function listenEnvoyGrpc(
  listener: GrpcListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
): Promise<RunningListener> {
  const edge = listenerEdge(listener, metrics);
  const logDecision = decisionLogger(listener.name, logger);
  const responses = new CheckResponses();
  const door = new GrpcDoor<CheckRequestFields>(listener.name, listener, logger, {
    ...checkMethod,
    handle(http, call) {
      const gate = state.gate;
      const sources = new RequestSources(undefined, listener.clientIpHeader, gate.tokenHeaders);
      // Envoy lower-cases header names and joins repeated ones with ",".
      for (const [name, value] of http.headers) sources.add(name.toLowerCase(), value);
      if (http.path !== undefined) sources.setUri(http.path);
      if (http.method !== undefined) sources.setMethod(http.method);
      const respond = (result: EdgeResult) => {
        logEdgeProblem(result, listener, logger);
        if (result.answer.status === 503) {
          call.fail(grpcStatus.UNAVAILABLE, `tokengate cannot decide: ${result.decision.verdict}`);
        } else {
          call.answer(responses.framedFor(result.answer, result.decision.verdict));
        }
        // After answering: the line costs the caller nothing.
        logDecision(result, sources, gate);
      };
      const outcome = edge.decide(sources, gate);
      // A route with limits answers once its counters have.
      if (outcome instanceof Promise) void outcome.then(respond);
      else respond(outcome);
    },
  });
  if (metrics !== undefined) metrics.connections = door.counts;
  let port: number;
  try {
    port = await door.listen(listener.host, listener.port);
  } catch (error) {
    door.closeAll();
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${listener.name} listener cannot listen on ${listener.host}:${listener.port} (${reason})`);
  }
  return {
    name: listener.name,
    host: listener.host,
    port,
    // New calls are refused (Envoy then answers status_on_error or retries elsewhere); calls in flight finish.
    close: () => door.close(),
    closeAll: () => door.closeAll(),
  };
}

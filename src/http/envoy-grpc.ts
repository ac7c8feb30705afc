/**
 * Envoy's gRPC ext_authz: `envoy.service.auth.v3.Authorization/Check` on its own port
 * (@grpc/grpc-js, main thread). The same decision as the HTTP listeners: the original URI is
 * `attributes.request.http.path` (path and query, undecoded), the client IP one configured
 * header of `attributes.request.http.headers` (never `source.address`, which is only the peer
 * that connected to Envoy), and the answer is the listener's pre-built answer turned into a
 * CheckResponse:
 *   allow               → status OK (0), ok_response
 *   deny (403 or 410)   → PERMISSION_DENIED (7), denied_response { status, X-Token-Status, Cache-Control }
 *   cannot decide (503) → the call fails with UNAVAILABLE (14): Envoy answers `status_on_error`
 * A CheckRequest the reader refuses (src/http/check-request.ts) fails the call before the handler
 * runs: grpc-js answers INTERNAL (13), and Envoy `status_on_error` too.
 * Its connections and calls are accepted and bounded by src/http/grpc-connections.ts.
 */
import * as grpc from '@grpc/grpc-js';
import type { GrpcListenerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import { type CheckRequestFields, decodeCheckRequest } from './check-request.js';
import { CheckResponses } from './check-response.js';
import { decisionLogger } from './decision-log.js';
import type { RunningListener, ServiceState } from './engine.js';
import { GrpcConnections } from './grpc-connections.js';
import { listenerEdge, logEdgeProblem } from './listener-edge.js';
import { RequestSources } from './request-sources.js';

/** Largest CheckRequest accepted: Envoy sends every client header in gRPC mode, never a body unless told to. */
const maxRequestBytes = 256 * 1024;

/**
 * The Authorization service with its own codec (src/http/check-request.ts, check-response.ts): a
 * call reads three fields and answers bytes encoded once, where protobufjs through
 * @grpc/proto-loader built every message (`npm run bench:micro -- --only="Envoy gRPC"`: Envoy's
 * 14-header CheckRequest decoded about 3x faster, 2-5 µs of encoding per answer gone;
 * docs/performance.md).
 */
export const authorizationService = {
  Check: {
    path: '/envoy.service.auth.v3.Authorization/Check',
    requestStream: false,
    responseStream: false,
    requestDeserialize: decodeCheckRequest,
    responseSerialize: (bytes: Buffer): Buffer => bytes,
    // The client half of the definition, unused by the server: a client would send encoded bytes.
    requestSerialize: (): Buffer => {
      throw new Error('authorizationService is the server side of Check');
    },
    responseDeserialize: (bytes: Buffer): Buffer => bytes,
  },
} as const satisfies grpc.ServiceDefinition;

export async function listenEnvoyGrpc(
  listener: GrpcListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
): Promise<RunningListener> {
  const edge = listenerEdge(listener, metrics);
  const logDecision = decisionLogger(listener.name, logger);
  const responses = new CheckResponses();
  const connections = new GrpcConnections(listener.name, listener, logger);
  if (metrics !== undefined) metrics.connections = connections.counts;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxRequestBytes,
    'grpc.max_concurrent_streams': 1000,
    ...connections.serverOptions(),
  });
  server.addService(authorizationService, {
    Check(call: grpc.ServerUnaryCall<CheckRequestFields, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      const gate = state.gate;
      const http = call.request;
      const sources = new RequestSources(undefined, listener.clientIpHeader, gate.tokenHeaders);
      // Envoy lower-cases header names and joins repeated ones with ",".
      for (const [name, value] of http.headers) sources.add(name.toLowerCase(), value);
      if (http.path !== undefined) sources.setUri(http.path);
      if (http.method !== undefined) sources.setMethod(http.method);
      const result = edge.decide(sources, gate);
      logEdgeProblem(result, listener, logger);
      if (result.answer.status === 503) {
        callback({ code: grpc.status.UNAVAILABLE, details: `tokengate cannot decide: ${result.decision.verdict}` });
      } else {
        callback(null, responses.bytesFor(result.answer, result.decision.verdict));
      }
      // After answering: the line costs the caller nothing.
      logDecision(result, sources, gate);
    },
  });
  let port: number;
  try {
    port = await connections.listen(server, listener.host, listener.port);
  } catch (error) {
    server.forceShutdown();
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${listener.name} listener cannot listen on ${listener.host}:${listener.port} (${reason})`);
  }
  return {
    name: listener.name,
    host: listener.host,
    port,
    // New calls are refused (Envoy then answers status_on_error or retries elsewhere); calls in flight finish.
    close: () => {
      connections.close();
      server.tryShutdown(() => {});
    },
    closeAll: () => {
      server.forceShutdown();
      connections.closeAll();
    },
  };
}

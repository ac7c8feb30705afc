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
 * Its connections and calls are accepted and bounded by src/http/grpc-connections.ts.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { GrpcListenerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import type { Answer } from './answers.js';
import { decisionLogger } from './decision-log.js';
import type { RunningListener, ServiceState } from './engine.js';
import { GrpcConnections } from './grpc-connections.js';
import { listenerEdge, logEdgeProblem } from './listener-edge.js';
import { RequestSources } from './request-sources.js';

/** The subset of CheckRequest tokengate reads (field names as in the proto: keepCase). */
interface CheckRequest {
  readonly attributes?: {
    readonly request?: {
      readonly http?: { readonly method?: string; readonly path?: string; readonly headers?: Readonly<Record<string, string>> };
    };
  };
}

interface HeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly append: { readonly value: boolean };
}

interface CheckResponse {
  readonly status: { readonly code: number; readonly message?: string };
  readonly denied_response?: { readonly status: { readonly code: number }; readonly headers: readonly HeaderValueOption[] };
  readonly ok_response?: { readonly response_headers_to_add: readonly HeaderValueOption[] };
}

/** src/proto, copied to dist/proto by `npm run build`: a sibling of this module's folder either way. */
const protoDir = fileURLToPath(new URL('../proto/', import.meta.url));

/** Largest CheckRequest accepted: Envoy sends every client header in gRPC mode, never a body unless told to. */
const maxRequestBytes = 256 * 1024;

let service: grpc.ServiceDefinition | undefined;

/** The Authorization service, from the project's wire-compatible subset of Envoy's protos (src/proto). */
export function authorizationService(): grpc.ServiceDefinition {
  if (service === undefined) {
    const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
      includeDirs: [protoDir],
      keepCase: true,
      longs: String,
      enums: Number,
      defaults: false,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } };
    };
    service = loaded.envoy.service.auth.v3.Authorization.service;
  }
  return service;
}

const header = (key: string, value: string): HeaderValueOption => ({ header: { key, value }, append: { value: false } });

/** Each answer as a CheckResponse, built once per answer. */
function responseFor(cache: WeakMap<Answer, CheckResponse>, answer: Answer, verdict: string): CheckResponse {
  let response = cache.get(answer);
  if (response === undefined) {
    const headers = answer.headers.map(([name, value]) => header(name.toLowerCase(), value));
    response =
      answer.status === 200
        ? {
            status: { code: grpc.status.OK },
            // To the client on an allow: the verdict only (its Cache-Control stays the origin's).
            ok_response: { response_headers_to_add: headers.filter((h) => h.header.key === 'x-token-status') },
          }
        : {
            status: { code: grpc.status.PERMISSION_DENIED, message: verdict },
            denied_response: { status: { code: answer.status }, headers },
          };
    cache.set(answer, response);
  }
  return response;
}

export async function listenEnvoyGrpc(
  listener: GrpcListenerConfig,
  state: ServiceState,
  logger: Logger,
  metrics: ListenerMetrics | undefined,
): Promise<RunningListener> {
  const edge = listenerEdge(listener, metrics);
  const logDecision = decisionLogger(listener.name, logger);
  const responses = new WeakMap<Answer, CheckResponse>();
  const connections = new GrpcConnections(listener.name, listener, logger);
  if (metrics !== undefined) metrics.connections = connections.counts;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxRequestBytes,
    'grpc.max_concurrent_streams': 1000,
    ...connections.serverOptions(),
  });
  server.addService(authorizationService(), {
    Check(call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      const gate = state.gate;
      const http = call.request?.attributes?.request?.http;
      const sources = new RequestSources(undefined, listener.clientIpHeader, gate.tokenHeaders);
      // Envoy lower-cases header names and joins repeated ones with ",".
      for (const [name, value] of Object.entries(http?.headers ?? {})) sources.add(name.toLowerCase(), String(value));
      if (typeof http?.path === 'string') sources.setUri(http.path);
      if (typeof http?.method === 'string') sources.setMethod(http.method);
      const result = edge.decide(sources, gate);
      logEdgeProblem(result, listener, logger);
      if (result.answer.status === 503) {
        callback({ code: grpc.status.UNAVAILABLE, details: `tokengate cannot decide: ${result.decision.verdict}` });
      } else {
        callback(null, responseFor(responses, result.answer, result.decision.verdict));
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

/**
 * The Envoy gRPC codec the listener ran before it had its own (src/http/check-request.ts,
 * check-response.ts): protobufjs through @grpc/proto-loader over src/proto, with the listener's
 * options. The oracle of test/unit/envoy-grpc-codec.test.ts and the baseline of bench/micro.ts.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import type { Answer } from '../../src/http/answers.js';

/** src/proto, from test/helpers or from its compiled copy in dist-bench/test/helpers (the bench). */
export const protoDir = ['../../src/proto/', '../../../src/proto/']
  .map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
  .find((dir) => existsSync(dir))!;

const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: false,
  oneofs: true,
});

/** Authorization/Check as grpc-js served it: protobufjs's requestDeserialize, responseSerialize... */
export const protobufjsCheck = (
  definition['envoy.service.auth.v3.Authorization'] as Record<string, MethodDefinition<object, object>>
).Check!;

/** A CheckRequest as protobufjs decoded it (keepCase, defaults off: absent fields are absent). */
export interface ProtobufjsCheckRequest {
  attributes?: { request?: { http?: { method?: string; path?: string; headers?: Record<string, string> } } };
}

export const protobufjsDecode = (bytes: Buffer): ProtobufjsCheckRequest =>
  protobufjsCheck.requestDeserialize(bytes) as ProtobufjsCheckRequest;

/** The CheckResponse object the listener built for an answer (once per answer) and grpc-js encoded per call. */
export function protobufjsResponse(answer: Answer, verdict: string): object {
  const header = (key: string, value: string) => ({ header: { key, value }, append: { value: false } });
  const headers = answer.headers.map(([name, value]) => header(name.toLowerCase(), value));
  return answer.status === 200
    ? { status: { code: 0 }, ok_response: { response_headers_to_add: headers.filter((h) => h.header.key === 'x-token-status') } }
    : { status: { code: 7, message: verdict }, denied_response: { status: { code: answer.status }, headers } };
}

/**
 * What Envoy sends for a browser's GET of `path` (encoded by protobufjs): source and destination
 * addresses, the request time, 14 headers (pseudo-headers included, as Envoy puts them in the map).
 */
export function envoyCheckRequest(path: string, clientIp: string): Buffer {
  const peer = (address: string, port: number) => ({ address: { socket_address: { address, port_value: port } } });
  return protobufjsCheck.requestSerialize({
    attributes: {
      source: peer(clientIp, 53_712),
      destination: peer('10.0.3.17', 8443),
      request: {
        time: { seconds: '1795409174', nanos: 481_516_000 },
        http: {
          id: '15807376409584631489',
          method: 'GET',
          headers: {
            ':authority': 'cdn.example.com',
            ':method': 'GET',
            ':path': path,
            ':scheme': 'https',
            'user-agent':
              'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
            accept: '*/*',
            'accept-encoding': 'gzip, deflate, br, zstd',
            'accept-language': 'en-US,en;q=0.9',
            referer: 'https://www.example.com/watch/movie-1',
            cookie: '_ga=GA1.1.1234567890.1795400000; session=9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60',
            'x-forwarded-proto': 'https',
            'x-request-id': '5f0b8a8e-3c1d-4b6a-9e2f-7d4c1a0b9e83',
            'x-envoy-external-address': clientIp,
            'x-forwarded-for': clientIp,
          },
          path,
          host: 'cdn.example.com',
          scheme: 'https',
          protocol: 'HTTP/2',
        },
      },
    },
  });
}

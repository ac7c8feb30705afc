/**
 * Envoy's ext_authz gRPC messages encoded and decoded by hand, from the field numbers of
 * envoyproxy/envoy's api/ (not from the project's src/proto): the tests send exactly the bytes
 * Envoy would and read the answer the way Envoy would, so they check that src/proto is
 * wire-compatible rather than agreeing with itself.
 */
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';

const varint = (value: number): number[] => {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};

/** A length-delimited field (wire type 2). */
function field(number: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from(varint((number << 3) | 2)), Buffer.from(varint(bytes.length)), bytes]);
}

/** A varint field (wire type 0). */
function numberField(number: number, value: number): Buffer {
  return Buffer.from([...varint(number << 3), ...varint(value)]);
}

export interface EnvoyCheck {
  /** attributes.request.http.path: the original path and query. */
  readonly path?: string;
  /** attributes.request.http.headers (lower-case keys). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly method?: string;
  /** attributes.source.address.socket_address: the peer that connected to Envoy. */
  readonly sourceAddress?: string;
}

/** CheckRequest { attributes = 1 { source = 1, request = 4 { http = 2 { method = 2, headers = 3, path = 4 } } } } */
export function encodeCheckRequest(check: EnvoyCheck): Buffer {
  const http: Buffer[] = [];
  if (check.method !== undefined) http.push(field(2, check.method));
  for (const [key, value] of Object.entries(check.headers ?? {}))
    http.push(field(3, Buffer.concat([field(1, key), field(2, value)])));
  if (check.path !== undefined) http.push(field(4, check.path));
  const attributes: Buffer[] = [];
  if (check.sourceAddress !== undefined) {
    // Peer { address = 1: Address { socket_address = 1: SocketAddress { address = 2, port_value = 3 } } }
    const socketAddress = Buffer.concat([field(2, check.sourceAddress), numberField(3, 51234)]);
    attributes.push(field(1, field(1, field(1, socketAddress))));
  }
  // Request { time = 1 (left out), http = 2 }
  attributes.push(field(4, field(2, Buffer.concat(http))));
  return field(1, Buffer.concat(attributes));
}

/** Reads one message's fields: number → raw values (varints as numbers, the rest as Buffers). */
function readFields(bytes: Buffer): Map<number, (number | Buffer)[]> {
  const fields = new Map<number, (number | Buffer)[]>();
  let at = 0;
  const readVarint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = readVarint();
    const number = Math.floor(key / 8);
    const wireType = key & 7;
    let value: number | Buffer;
    if (wireType === 0) value = readVarint();
    else if (wireType === 2) {
      const length = readVarint();
      value = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`unexpected wire type ${wireType} for field ${number}`);
    fields.set(number, [...(fields.get(number) ?? []), value]);
  }
  return fields;
}

const message = (fields: Map<number, (number | Buffer)[]>, number: number): Map<number, (number | Buffer)[]> | undefined => {
  const raw = fields.get(number)?.at(-1);
  return raw instanceof Buffer ? readFields(raw) : undefined;
};
const text = (fields: Map<number, (number | Buffer)[]> | undefined, number: number) => {
  const raw = fields?.get(number)?.at(-1);
  return raw instanceof Buffer ? raw.toString('utf8') : undefined;
};
const int = (fields: Map<number, (number | Buffer)[]> | undefined, number: number) => {
  const raw = fields?.get(number)?.at(-1);
  return typeof raw === 'number' ? raw : 0;
};

/** What Envoy takes from a CheckResponse. */
export interface EnvoyVerdict {
  /** status.code (google.rpc.Code): 0 lets the request through. */
  readonly code: number;
  /** Which http_response the oneof holds. */
  readonly kind: 'denied' | 'ok' | 'none';
  /** denied_response.status.code: the HTTP status the client gets (0: unset, Envoy sends 403). */
  readonly httpStatus: number;
  /** denied_response.headers (or ok_response.response_headers_to_add), lower-case keys. */
  readonly headers: Readonly<Record<string, string>>;
}

/** CheckResponse { status = 1 { code = 1 }, denied_response = 2 { status = 1 { code = 1 }, headers = 2 }, ok_response = 3 { response_headers_to_add = 6 } } */
export function decodeCheckResponse(bytes: Buffer): EnvoyVerdict {
  const response = readFields(bytes);
  const denied = message(response, 2);
  const ok = message(response, 3);
  const headers: Record<string, string> = {};
  for (const raw of (denied?.get(2) ?? ok?.get(6) ?? []) as Buffer[]) {
    // HeaderValueOption { header = 1: HeaderValue { key = 1, value = 2 } }
    const header = message(readFields(raw), 1);
    const key = text(header, 1);
    if (key !== undefined) headers[key] = text(header, 2) ?? '';
  }
  return {
    code: int(message(response, 1), 1),
    kind: denied !== undefined ? 'denied' : ok !== undefined ? 'ok' : 'none',
    httpStatus: denied === undefined ? 0 : int(message(denied, 1), 1),
    headers,
  };
}

/** A gRPC client for Authorization/Check that sends raw bytes (`encodeCheckRequest` or anything else). */
export function envoyClient(port: number): {
  check(request: Buffer, deadlineMs?: number): Promise<EnvoyVerdict>;
  close(): void;
} {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    check: (request, deadlineMs = 5000) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          '/envoy.service.auth.v3.Authorization/Check',
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          request,
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error, response) => (error ? reject(error) : resolve(decodeCheckResponse(response!))),
        );
      }),
    close: () => client.close(),
  };
}

/** The client connection preface and an empty SETTINGS frame: what an HTTP/2 client sends first (RFC 9113 §3.4). */
export const h2ClientStart = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  // Frame header: length 0, type SETTINGS (4), no flags, stream 0.
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, the bytes. */
export function grpcMessage(bytes: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

/** The request headers of an Authorization/Check call. */
export const checkHeaders = Object.freeze({
  ':method': 'POST',
  ':path': '/envoy.service.auth.v3.Authorization/Check',
  'content-type': 'application/grpc',
  te: 'trailers',
});

/** How much of a Check call a raw HTTP/2 client sends: all of it, or a stalled part. */
export type CheckSent = 'whole' | 'headers only' | 'half a message' | 'no end of stream';

/**
 * Authorization/Check over a raw HTTP/2 session (node:http2), which can stop sending where a real
 * gRPC client never would. Resolves with the grpc-status the server sent (response headers for a
 * trailers-only answer, else trailers) and the decoded answer, or 'no answer' after `waitMs`.
 */
export function rawCheck(
  session: ClientHttp2Session,
  request: Buffer,
  sent: CheckSent,
  waitMs: number,
): Promise<{ grpcStatus: string | undefined; verdict: EnvoyVerdict | undefined } | 'no answer'> {
  const stream = session.request(checkHeaders, { endStream: false });
  const message = grpcMessage(request);
  if (sent === 'whole') stream.end(message);
  else if (sent === 'no end of stream') stream.write(message);
  else if (sent === 'half a message') stream.write(message.subarray(0, Math.ceil(message.length / 2)));
  return new Promise((resolve) => {
    let grpcStatus: string | undefined;
    const body: Buffer[] = [];
    const timer = setTimeout(() => {
      stream.close();
      resolve('no answer');
    }, waitMs);
    const status = (headers: IncomingHttpHeaders) => {
      const value = headers['grpc-status'];
      if (typeof value === 'string') grpcStatus = value;
    };
    stream.on('response', status);
    stream.on('trailers', status);
    stream.on('data', (chunk: Buffer) => body.push(chunk));
    stream.on('error', () => {});
    // The server's end of the stream: a stalled client may still hold its own end open.
    stream.on('end', () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(body);
      resolve({ grpcStatus, verdict: bytes.length > 5 ? decodeCheckResponse(bytes.subarray(5)) : undefined });
      stream.close();
    });
  });
}

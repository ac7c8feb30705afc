/**
 * One unary gRPC call on an HTTP/2 stream (node:http2), per the gRPC spec (PROTOCOL-HTTP2.md):
 * the request is a single length-prefixed message (1 flag byte, 4-byte big-endian length, the
 * bytes), the answer `:status 200`, `content-type: application/grpc`, one message and the
 * `grpc-status` trailer, or a trailers-only error with a percent-encoded `grpc-message`.
 *   more than maxMessageBytes (length prefix, or decompressed) → RESOURCE_EXHAUSTED (8), nothing
 *                                                                 buffered past the limit
 *   flag 1 with grpc-encoding gzip or deflate → inflated, bounded; any other encoding → UNIMPLEMENTED
 *   flag 1 without an encoding (or identity), a flag over 1    → INTERNAL (13)
 *   a second message, or none                                   → UNIMPLEMENTED (12)
 *   grpc-timeout that does not parse                            → INTERNAL
 * The codes and messages are grpc-js's, which served this listener before (src/http/grpc-door.ts
 * lists where this is stricter).
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import { gunzipSync, inflateSync } from 'node:zlib';

/** google.rpc.Code values the listener answers. */
export const grpcStatus = {
  OK: 0,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/**
 * grpc-message: percent-encoded UTF-8 outside printable ASCII, and `%` itself (PROTOCOL-HTTP2.md,
 * "Responses"). Most messages are plain ASCII and go through unchanged.
 */
export function percentEncode(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The headers of a trailers-only answer with `code` and `message` (percent-encoded here). */
export const trailersOnly = (code: number, message: string) => ({
  [constants.HTTP2_HEADER_STATUS]: 200,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
  'grpc-status': String(code),
  'grpc-message': percentEncode(message),
});

// Built once: every answer of a call shares them (node:http2 copies them into the frame).
const answerHeaders = Object.freeze({
  [constants.HTTP2_HEADER_STATUS]: 200,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
});
const okTrailers = Object.freeze({ 'grpc-status': '0' });
const answerOptions = Object.freeze({ waitForTrailers: true });
const endOptions = Object.freeze({ endStream: true });

/** A message with its 5-byte gRPC prefix (uncompressed): what the answer's DATA carries. */
export function grpcFrame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
}

/** grpc-timeout (`1*8DIGIT unit`) in ms; undefined when it does not parse. */
export function timeoutMs(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as 'H'];
  return Number(match[1]) * unitMs;
}

/** Sends a trailers-only answer, unless the stream is gone. */
export function failStream(stream: ServerHttp2Stream, headers: Readonly<Record<string, string | number>>): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(headers, endOptions);
}

/** What reading a request's bytes can end in, before the message is handed on. */
export type Refusal = { readonly code: number; readonly message: string };

const sendWhenAsked = function (this: ServerHttp2Stream) {
  this.sendTrailers(okTrailers);
};

/** Answers with `framed` (a prefixed message) and grpc-status 0. */
export function answerStream(stream: ServerHttp2Stream, framed: Buffer): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(answerHeaders, answerOptions);
  stream.once('wantTrailers', sendWhenAsked);
  stream.end(framed);
}

/**
 * Collects the one message of a call as its DATA arrives. `push` returns a refusal as soon as the
 * bytes are wrong (too large, a second message); `finish` (at the end of the request) returns the
 * message or a refusal. It never holds more than 5 + maxMessageBytes.
 */
export class MessageReader {
  /** The first bytes, until the 5-byte prefix is whole. */
  private head: Buffer | undefined;
  /** The message once its prefix is read: the chunk itself when one chunk holds it all. */
  private body: Buffer | undefined;
  private filled = 0;
  private flag = 0;
  /** Bytes held for this call (for the connection's budget). */
  held = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly encoding: string | undefined,
  ) {}

  push(chunk: Buffer): Refusal | undefined {
    if (this.body === undefined) {
      // The usual case: the first chunk is the whole message, which is then used in place.
      if (this.head === undefined && chunk.length >= 5) return this.start(chunk);
      const head = this.head === undefined ? chunk : Buffer.concat([this.head, chunk]);
      if (head.length < 5) {
        this.head = head;
        return undefined;
      }
      this.head = undefined;
      return this.start(head);
    }
    // More of a message whose prefix was read; anything past its end starts a second one.
    if (chunk.length > this.body.length - this.filled) return secondMessage;
    chunk.copy(this.body, this.filled);
    this.filled += chunk.length;
    return undefined;
  }

  /** Reads the prefix at the start of `bytes`; a message that spans chunks gets its own buffer (`held`). */
  private start(bytes: Buffer): Refusal | undefined {
    this.flag = bytes[0]!;
    const length = bytes.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      return {
        code: grpcStatus.RESOURCE_EXHAUSTED,
        message: `Received message larger than max (${length} vs ${this.maxMessageBytes})`,
      };
    }
    const rest = bytes.length - 5;
    if (rest > length) return secondMessage;
    if (rest === length) {
      this.body = bytes.subarray(5);
      this.filled = length;
      return undefined;
    }
    this.body = Buffer.allocUnsafe(length);
    this.held = length;
    bytes.copy(this.body, 0, 5);
    this.filled = rest;
    return undefined;
  }

  /** At the end of the request: the message (inflated if it was compressed), or why there is none. */
  finish(): Buffer | Refusal {
    if (this.body === undefined || this.filled < this.body.length) return noMessage;
    if (this.flag === 0) return this.body;
    if (this.flag !== 1) return { code: grpcStatus.INTERNAL, message: `Received message with an unknown flag byte ${this.flag}` };
    return this.inflate(this.body);
  }

  private inflate(bytes: Buffer): Buffer | Refusal {
    const encoding = this.encoding;
    if (encoding === undefined || encoding === 'identity') {
      return { code: grpcStatus.INTERNAL, message: 'Received a compressed message without a grpc-encoding' };
    }
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      return { code: grpcStatus.UNIMPLEMENTED, message: `Received message compressed with unsupported encoding "${encoding}"` };
    }
    try {
      const options = { maxOutputLength: this.maxMessageBytes };
      return encoding === 'gzip' ? gunzipSync(bytes, options) : inflateSync(bytes, options);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
        ? {
            code: grpcStatus.RESOURCE_EXHAUSTED,
            message: `Received message that decompresses to a size larger than ${this.maxMessageBytes}`,
          }
        : { code: grpcStatus.INTERNAL, message: 'Failed to decompress message' };
    }
  }
}

const secondMessage: Refusal = {
  code: grpcStatus.UNIMPLEMENTED,
  message: 'Received a second request message for a unary method',
};
const noMessage: Refusal = { code: grpcStatus.UNIMPLEMENTED, message: 'Received no request message for a unary method' };

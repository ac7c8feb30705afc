/**
 * Each answer as CheckResponse bytes (`envoy.service.auth.v3`, src/proto), encoded once per
 * answer and sent as they are (src/http/grpc-door.ts):
 *   allow   → status { code 0 }, ok_response { response_headers_to_add: x-token-status }
 *   a deny  → status { code 7 (PERMISSION_DENIED), message: verdict },
 *             denied_response { status { code: 403 or 410 }, headers: every answer header }
 * Each header is a HeaderValueOption { header { key (lower case), value }, append { value: false } }.
 * The bytes are exactly protobufjs's for the same message (fields by number, zeros that are set
 * written out), which test/unit/envoy-grpc-codec.test.ts checks for every answer a listener gives.
 */
import type { Answer } from './answers.js';
import { grpcFrame } from './grpc-call.js';

const OK = 0;
const PERMISSION_DENIED = 7;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** A varint field (a non-negative int32, an enum, a bool). */
const number = (field: number, value: number): Buffer => Buffer.from([...varint(field << 3), ...varint(value)]);

/** A length-delimited field: a string (UTF-8) or a message. */
function delimited(field: number, value: string | readonly Buffer[]): Buffer {
  const payload = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.concat(value);
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
}

/** HeaderValueOption { header = 1 { key = 1, value = 2 }, append = 2 (BoolValue) { value = 1: false } } */
const headerOption = (field: number, key: string, value: string): Buffer =>
  delimited(field, [delimited(1, [delimited(1, key), delimited(2, value)]), delimited(2, [number(1, 0)])]);

/** CheckResponse { status = 1 (google.rpc.Status { code = 1, message = 2 }), denied_response = 2 | ok_response = 3 } */
export function encodeCheckResponse(answer: Answer, verdict: string): Buffer {
  const headers = answer.headers.map(([name, value]) => [name.toLowerCase(), value] as const);
  if (answer.status === 200) {
    // To the client on an allow: the verdict only (its Cache-Control stays the origin's).
    const toAdd = headers.filter(([key]) => key === 'x-token-status').map(([key, value]) => headerOption(6, key, value));
    return Buffer.concat([delimited(1, [number(1, OK)]), delimited(3, toAdd)]);
  }
  // DeniedHttpResponse { status = 1 (HttpStatus { code = 1 }), headers = 2 }
  const denied = [delimited(1, [number(1, answer.status)]), ...headers.map(([key, value]) => headerOption(2, key, value))];
  return Buffer.concat([delimited(1, [number(1, PERMISSION_DENIED), delimited(2, verdict)]), delimited(2, denied)]);
}

/** The bytes of each answer, encoded on first use (an answer is a listener's, built once). */
export class CheckResponses {
  private readonly encoded = new WeakMap<Answer, Buffer>();
  private readonly framed = new WeakMap<Answer, Buffer>();

  /** The CheckResponse as a gRPC message: its 5-byte prefix and the bytes. */
  framedFor(answer: Answer, verdict: string): Buffer {
    let framed = this.framed.get(answer);
    if (framed === undefined) {
      framed = grpcFrame(this.bytesFor(answer, verdict));
      this.framed.set(answer, framed);
    }
    return framed;
  }

  bytesFor(answer: Answer, verdict: string): Buffer {
    let bytes = this.encoded.get(answer);
    if (bytes === undefined) {
      bytes = encodeCheckResponse(answer, verdict);
      this.encoded.set(answer, bytes);
    }
    return bytes;
  }
}

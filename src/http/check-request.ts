/**
 * Envoy's CheckRequest (`envoy.service.auth.v3`, src/proto) read straight from the wire, keeping
 * only what the Check handler uses: `attributes.request.http` `method` (2), `path` (4) and the
 * `headers` map (3: entries of key 1, value 2), reached through CheckRequest.attributes (1),
 * AttributeContext.request (4) and Request.http (2). One pass: time linear in the message's size.
 *
 * Strict: whatever this accepts, protobufjs (the decoder grpc-js ran before, through
 * @grpc/proto-loader) accepts too and reads the same method, path and headers from
 * (test/unit/envoy-grpc-codec.test.ts checks it on random and mutated messages). So every other field
 * protobufjs knows from src/proto is checked as it would read it, not skipped blindly, and
 * anything a conforming decoder and protobufjs could read differently is refused:
 *   - a known field with another wire type (protobufjs reads it as its declared type regardless);
 *   - a tag or length over 5 bytes or 32 bits (protobufjs reads a 6-9-byte one as 10 bytes, and
 *     drops the bits above 32);
 *   - a 32-bit varint field of 6-9 bytes (same; 10 bytes, a negative int32, is read alike);
 *   - a string or message running past its message (protobufjs cuts such a string short);
 *   - `attributes`, `request` or `http` more than once: a conforming decoder merges the
 *     occurrences, protobufjs keeps only the last; Envoy sends each once, so refusing leaves no
 *     message whose path two decoders could read differently;
 *   - groups (wire types 3 and 4), wire types 6 and 7, field number 0, varints over 10 bytes,
 *     and anything cut short.
 * Repeated `method` or `path`: the last wins (protobuf's rule for scalars, and protobufjs's).
 * Strings decode with Node's UTF-8 decoder, the one protobufjs calls on a Buffer (ASCII ones,
 * which decode to themselves, are cut from a latin1 copy): invalid bytes become U+FFFD exactly
 * as before. A refusal throws; grpc-js then answers INTERNAL, as it did for what protobufjs could
 * not decode.
 */

/** How protobufjs reads a field of the request's schema (src/proto). */
export type FieldKind = 'string' | 'varint32' | 'varint64' | MessageSchema;

export interface MessageSchema {
  /** The proto type's full name (a map's entries: `map<string,string>`). */
  readonly type: string;
  /** Field number → kind; numbers missing here are unknown fields, skipped. */
  readonly fields: readonly (FieldKind | undefined)[];
}

const schema = (type: string, fields: Record<number, FieldKind>): MessageSchema => {
  const byNumber: (FieldKind | undefined)[] = [];
  for (const [number, kind] of Object.entries(fields)) byNumber[Number(number)] = kind;
  return Object.freeze({ type, fields: Object.freeze(byNumber) });
};

// Every message CheckRequest reaches in src/proto, as protobufjs reads it (enums, bool, int32 and
// uint32 are varint32; strings and messages length-delimited; a map is repeated entries).
const stringMap = schema('map<string,string>', { 1: 'string', 2: 'string' });
const timestamp = schema('google.protobuf.Timestamp', { 1: 'varint64', 2: 'varint32' });
const socketAddress = schema('envoy.config.core.v3.SocketAddress', {
  1: 'varint32',
  2: 'string',
  3: 'varint32',
  4: 'string',
  5: 'string',
  6: 'varint32',
});
const pipe = schema('envoy.config.core.v3.Pipe', { 1: 'string', 2: 'varint32' });
const address = schema('envoy.config.core.v3.Address', { 1: socketAddress, 2: pipe });
const peer = schema('envoy.service.auth.v3.AttributeContext.Peer', {
  1: address,
  2: 'string',
  3: stringMap,
  4: 'string',
  5: 'string',
});
const httpRequest = schema('envoy.service.auth.v3.AttributeContext.HttpRequest', {
  1: 'string',
  2: 'string',
  3: stringMap,
  4: 'string',
  5: 'string',
  6: 'string',
  7: 'string',
  8: 'string',
  9: 'varint64',
  10: 'string',
  11: 'string',
});
const request = schema('envoy.service.auth.v3.AttributeContext.Request', { 1: timestamp, 2: httpRequest });
const attributeContext = schema('envoy.service.auth.v3.AttributeContext', { 1: peer, 2: peer, 4: request, 10: stringMap });
export const checkRequestSchema = schema('envoy.service.auth.v3.CheckRequest', { 1: attributeContext });

/** What the Check handler reads of a CheckRequest. */
export interface CheckRequestFields {
  /** attributes.request.http.method; undefined when the field is absent (an empty one is ''). */
  method: string | undefined;
  /** attributes.request.http.path: path and query as Envoy received them, undecoded. */
  path: string | undefined;
  /** attributes.request.http.headers; a key sent twice keeps its last value (protobuf's map rule). */
  readonly headers: Map<string, string>;
}

export class MalformedCheckRequest extends Error {
  readonly code = 'malformed-check-request';
}

const VARINT = 0;
const FIXED64 = 1;
const DELIMITED = 2;
const FIXED32 = 5;

const wireTypeOf = (kind: FieldKind): number => (kind === 'varint32' || kind === 'varint64' ? VARINT : DELIMITED);

type Slice = (this: Buffer, start: number, end: number) => string;
/** Node's own UTF-8 decoder on a Buffer, the function protobufjs's BufferReader calls. */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: Slice }).utf8Slice;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Slice }).latin1Slice;

class WireReader {
  pos = 0;
  /** The whole message as latin1 (one character per byte), made for the first ASCII string. */
  private latin1: string | undefined;
  constructor(private readonly bytes: Buffer) {}

  fail(what: string): never {
    throw new MalformedCheckRequest(`CheckRequest: ${what} at byte ${this.pos}`);
  }

  /** A varint of at most 5 bytes and 32 bits: a tag or a length. */
  uint32(end: number): number {
    const bytes = this.bytes;
    let pos = this.pos;
    if (pos >= end) this.fail('truncated varint');
    let byte = bytes[pos++]!;
    if (byte < 0x80) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) this.fail('truncated varint');
      byte = bytes[pos++]!;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
    }
    if (pos >= end) this.fail('truncated varint');
    byte = bytes[pos++]!;
    // A fifth byte above 0x0f continues the varint or carries bits above 32.
    if (byte > 0x0f) this.fail('tag or length over 32 bits');
    this.pos = pos;
    return (value | (byte << 28)) >>> 0;
  }

  /** A field's tag: its number (never 0) and wire type. */
  tag(end: number): number {
    const tag = this.uint32(end);
    if (tag < 8) this.fail('field number 0');
    return tag;
  }

  /** Skips a varint value; returns how many bytes it took (at most 10). */
  skipVarint(end: number): number {
    const bytes = this.bytes;
    const start = this.pos;
    for (let pos = start; pos < end && pos - start < 10; ) {
      if (bytes[pos++]! < 0x80) {
        this.pos = pos;
        return pos - start;
      }
    }
    return this.fail(end - start < 10 ? 'truncated varint' : 'varint over 10 bytes');
  }

  /** Reads a length; returns where the length-delimited value ends (inside `end`). */
  delimited(end: number): number {
    const length = this.uint32(end);
    if (length > end - this.pos) this.fail('length past the end of its message');
    return this.pos + length;
  }

  /** A string field (wire type checked) as protobufjs decodes it. */
  string(tag: number, end: number): string {
    if ((tag & 7) !== DELIMITED) this.fail('string field with another wire type');
    const stop = this.delimited(end);
    const start = this.pos;
    this.pos = stop;
    return this.text(start, stop);
  }

  /**
   * Bytes as UTF-8, as protobufjs decodes them. ASCII decodes to itself, so an ASCII string is cut
   * from one latin1 copy of the message rather than decoded by a native call per string
   * (`npm run bench:micro -- --only="Envoy gRPC"`: the Check decoded ≈1.4x faster).
   */
  private text(start: number, stop: number): string {
    const bytes = this.bytes;
    for (let i = start; i < stop; i++) if (bytes[i]! >= 0x80) return utf8Slice.call(bytes, start, stop);
    this.latin1 ??= latin1Slice.call(bytes, 0, bytes.length);
    return this.latin1.slice(start, stop);
  }

  /** Where a message field's value ends (wire type checked); the reader stands at its start. */
  message(tag: number, end: number): number {
    if ((tag & 7) !== DELIMITED) this.fail('message field with another wire type');
    return this.delimited(end);
  }

  /** Any field of `fields`'s message that is not extracted: a known one checked by its kind, an unknown one skipped. */
  field(fields: MessageSchema, tag: number, end: number): void {
    const wireType = tag & 7;
    const kind = fields.fields[tag >>> 3];
    if (kind === undefined) {
      this.skip(wireType, end);
    } else if (wireType !== wireTypeOf(kind)) {
      this.fail('known field with another wire type');
    } else if (kind === 'varint64') {
      this.skipVarint(end);
    } else if (kind === 'varint32') {
      const length = this.skipVarint(end);
      if (length > 5 && length < 10) this.fail('32-bit varint of 6 to 9 bytes');
    } else {
      const stop = this.delimited(end);
      if (kind === 'string') this.pos = stop;
      else this.check(kind, stop);
    }
  }

  /** Checks a whole message that is not extracted. */
  check(fields: MessageSchema, end: number): void {
    while (this.pos < end) this.field(fields, this.tag(end), end);
  }

  /** Skips an unknown field's value. */
  skip(wireType: number, end: number): void {
    if (wireType === VARINT) {
      this.skipVarint(end);
    } else if (wireType === DELIMITED) {
      this.pos = this.delimited(end);
    } else if (wireType === FIXED64 || wireType === FIXED32) {
      const size = wireType === FIXED64 ? 8 : 4;
      if (size > end - this.pos) this.fail('fixed-size value past the end of its message');
      this.pos += size;
    } else {
      this.fail(`wire type ${wireType}`);
    }
  }
}

/** One attributes.request.http.headers entry (a map entry: key 1, value 2, both '' when absent). */
function readHeader(reader: WireReader, end: number, headers: Map<string, string>): void {
  let key = '';
  let value = '';
  while (reader.pos < end) {
    const tag = reader.tag(end);
    const number = tag >>> 3;
    if (number === 1) key = reader.string(tag, end);
    else if (number === 2) value = reader.string(tag, end);
    else reader.field(stringMap, tag, end);
  }
  headers.set(key, value);
}

function readHttp(reader: WireReader, end: number, out: CheckRequestFields): void {
  while (reader.pos < end) {
    const tag = reader.tag(end);
    const number = tag >>> 3;
    if (number === 2) out.method = reader.string(tag, end);
    else if (number === 4) out.path = reader.string(tag, end);
    else if (number === 3) readHeader(reader, reader.message(tag, end), out.headers);
    else reader.field(httpRequest, tag, end);
  }
}

function readRequest(reader: WireReader, end: number, out: CheckRequestFields): void {
  let seen = false;
  while (reader.pos < end) {
    const tag = reader.tag(end);
    if (tag >>> 3 !== 2) {
      reader.field(request, tag, end);
      continue;
    }
    if (seen) reader.fail('attributes.request.http twice');
    seen = true;
    readHttp(reader, reader.message(tag, end), out);
  }
}

function readAttributes(reader: WireReader, end: number, out: CheckRequestFields): void {
  let seen = false;
  while (reader.pos < end) {
    const tag = reader.tag(end);
    if (tag >>> 3 !== 4) {
      reader.field(attributeContext, tag, end);
      continue;
    }
    if (seen) reader.fail('attributes.request twice');
    seen = true;
    readRequest(reader, reader.message(tag, end), out);
  }
}

/** The Check method's decoder (src/http/envoy-grpc.ts): throws MalformedCheckRequest on anything it refuses. */
export function decodeCheckRequest(bytes: Buffer): CheckRequestFields {
  const out: CheckRequestFields = { method: undefined, path: undefined, headers: new Map() };
  const reader = new WireReader(bytes);
  const end = bytes.length;
  let seen = false;
  while (reader.pos < end) {
    const tag = reader.tag(end);
    if (tag >>> 3 !== 1) {
      reader.field(checkRequestSchema, tag, end);
      continue;
    }
    if (seen) reader.fail('attributes twice');
    seen = true;
    readAttributes(reader, reader.message(tag, end), out);
  }
  return out;
}

/**
 * The Envoy gRPC listener's own codec (src/http/check-request.ts, check-response.ts) against the
 * one it replaced: protobufjs through @grpc/proto-loader over src/proto, with the options the
 * listener used. Whatever the reader accepts, protobufjs accepts too and reads the same method,
 * path and headers; whatever protobufjs encodes for an answer, the prebuilt bytes equal.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import type { Gate } from '../../src/decision/authorize.js';
import { MemoryLimiter } from '../../src/decision/limits.js';
import { RevocationBook, revocationId } from '../../src/decision/revocations.js';
import {
  type CheckRequestFields,
  checkRequestSchema,
  decodeCheckRequest,
  type FieldKind,
  MalformedCheckRequest,
  type MessageSchema,
} from '../../src/http/check-request.js';
import { CheckResponses, encodeCheckResponse } from '../../src/http/check-response.js';
import { checkMethod } from '../../src/http/envoy-grpc.js';
import { type EdgeListener, listenerEdge } from '../../src/http/listener-edge.js';
import { RequestSources } from '../../src/http/request-sources.js';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import {
  envoyCheckRequest,
  protobufjsCheck,
  protobufjsDecode,
  protobufjsResponse,
  protoDir,
} from '../helpers/envoy-protobufjs.js';
import { gateFor, settled } from '../helpers/gates.js';

/** What the handler reads, in the order it reads the headers (an object's: integer-like keys first). */
interface Seen {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: [string, string][];
}

const isIndex = (key: string) => /^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
const objectOrder = (entries: [string, string][]) => [
  ...entries.filter(([k]) => isIndex(k)).sort(([a], [b]) => Number(a) - Number(b)),
  ...entries.filter(([k]) => !isIndex(k)),
];

const theirs = (bytes: Buffer): Seen => {
  const http = protobufjsDecode(bytes).attributes?.request?.http;
  return { method: http?.method, path: http?.path, headers: Object.entries(http?.headers ?? {}) };
};
const seen = (fields: CheckRequestFields): Seen => ({
  method: fields.method,
  path: fields.path,
  headers: objectOrder([...fields.headers]),
});
const mine = (bytes: Buffer): Seen => seen(decodeCheckRequest(bytes));

/** 'refused', or the reader and protobufjs both accepted and read the same (asserted). */
function compared(bytes: Buffer): 'refused' | 'agreed' {
  let fields: CheckRequestFields;
  try {
    fields = decodeCheckRequest(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedCheckRequest);
    return 'refused';
  }
  expect(seen(fields)).toEqual(theirs(bytes));
  return 'agreed';
}

const refusedByProtobufjs = (bytes: Buffer) => {
  try {
    protobufjsCheck.requestDeserialize(bytes);
    return false;
  } catch {
    return true;
  }
};

// A protobuf writer for test messages: any field, in any order, varints canonical or padded.
type Part =
  | {
      readonly field: number;
      readonly wire: 0;
      readonly value: bigint;
      readonly width?: number | undefined;
      readonly tagWidth?: number | undefined;
    }
  | { readonly field: number; readonly wire: 1 | 5; readonly bytes: Uint8Array; readonly tagWidth?: number | undefined }
  | {
      readonly field: number;
      readonly wire: 2;
      readonly bytes: Uint8Array;
      readonly tagWidth?: number | undefined;
      readonly lengthWidth?: number | undefined;
    }
  | {
      readonly field: number;
      readonly wire: 2;
      readonly parts: readonly Part[];
      readonly tagWidth?: number | undefined;
      readonly lengthWidth?: number | undefined;
    };

/** `value` as a varint of at least `width` bytes (padding: 0x80 continuations and a final 0x00). */
function varint(value: bigint, width = 0): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  while (out.length < width) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}

function encode(parts: readonly Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(varint(BigInt((part.field << 3) | part.wire) & 0xffffffffn, part.tagWidth)));
    if (part.wire === 0) chunks.push(Buffer.from(varint(part.value, part.width)));
    else if (part.wire !== 2) chunks.push(Buffer.from(part.bytes));
    else {
      const payload = 'parts' in part ? encode(part.parts) : Buffer.from(part.bytes);
      chunks.push(Buffer.from(varint(BigInt(payload.length), part.lengthWidth)), payload);
    }
  }
  return Buffer.concat(chunks);
}

const text = (field: number, value: string | Uint8Array): Part => ({
  field,
  wire: 2,
  bytes: typeof value === 'string' ? Buffer.from(value) : value,
});
const message = (field: number, ...parts: Part[]): Part => ({ field, wire: 2, parts });
const header = (key: string | Uint8Array, value: string | Uint8Array): Part => message(3, text(1, key), text(2, value));
/** CheckRequest { attributes = 1 { request = 4 { http = 2 { ...fields } } } } */
const checkRequest = (...http: Part[]): Buffer => encode([message(1, message(4, message(2, ...http)))]);

// Arbitrary messages of the request's schema: known fields of the right kind, unknown fields of
// every wire type, anywhere and repeated; attributes, request and http at most once.
const interestingText = fc.constantFrom(
  '',
  'x-envoy-external-address',
  'X-Envoy-External-Address',
  'cookie',
  'Cookie',
  '__proto__',
  'constructor',
  '123',
  '0',
  'GET',
  '/vod/a.mp4?tg=v1',
  '198.51.100.7',
);
const stringBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  interestingText.map((s) => Buffer.from(s)),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => Buffer.from(s)),
  // Anything, valid UTF-8 or not.
  fc.uint8Array({ maxLength: 12 }),
);
const tagWidth = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 1 },
);

function knownPart(
  field: number,
  kind: FieldKind,
  messageOf: (schema: MessageSchema) => fc.Arbitrary<Part[]>,
): fc.Arbitrary<Part> {
  if (kind === 'string')
    return fc.record({ bytes: stringBytes, tagWidth, lengthWidth: tagWidth }).map((r) => ({ field, wire: 2 as const, ...r }));
  if (kind === 'varint32')
    return fc.oneof(
      fc
        .record({ value: fc.bigInt({ min: 0n, max: 0xffffffffn }), width: fc.integer({ min: 0, max: 5 }), tagWidth })
        .map((r) => ({ field, wire: 0 as const, ...r })),
      // A negative int32 or enum: ten bytes, as protobuf writes it.
      fc.bigInt({ min: -(2n ** 31n), max: -1n }).map((value) => ({ field, wire: 0 as const, value })),
    );
  if (kind === 'varint64')
    return fc
      .record({ value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), width: fc.integer({ min: 0, max: 10 }), tagWidth })
      .map((r) => ({ field, wire: 0 as const, ...r }));
  return fc.record({ parts: messageOf(kind), tagWidth, lengthWidth: tagWidth }).map((r) => ({ field, wire: 2 as const, ...r }));
}

const unknownBytes = fc.uint8Array({ maxLength: 10 });
function unknownPart(known: MessageSchema): fc.Arbitrary<Part> {
  const field = fc
    .oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2 ** 29 - 1 }))
    .filter((n) => known.fields[n] === undefined);
  return fc.oneof(
    fc
      .record({ field, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), width: fc.integer({ min: 0, max: 10 }), tagWidth })
      .map((r): Part => ({ wire: 0, ...r })),
    fc.record({ field, bytes: fc.uint8Array({ minLength: 8, maxLength: 8 }), tagWidth }).map((r): Part => ({ wire: 1, ...r })),
    fc.record({ field, bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }), tagWidth }).map((r): Part => ({ wire: 5, ...r })),
    fc.record({ field, bytes: unknownBytes, tagWidth, lengthWidth: tagWidth }).map((r): Part => ({ wire: 2, ...r })),
  );
}

/** The fields on the way to http: at most one each (the reader refuses a second; see its own test). */
const single = new Map<string, number>([
  ['envoy.service.auth.v3.CheckRequest', 1],
  ['envoy.service.auth.v3.AttributeContext', 4],
  ['envoy.service.auth.v3.AttributeContext.Request', 2],
]);
const keepFirst = (parts: Part[], field: number | undefined) =>
  field === undefined ? parts : parts.filter((p, i) => p.field !== field || parts.findIndex((q) => q.field === field) === i);

const messageArbitraries = new Map<MessageSchema, fc.Arbitrary<Part[]>>();
function messageParts(schema: MessageSchema): fc.Arbitrary<Part[]> {
  let arbitrary = messageArbitraries.get(schema);
  if (arbitrary === undefined) {
    const known = schema.fields.flatMap((kind, field) => (kind === undefined ? [] : [knownPart(field, kind, messageParts)]));
    const onPath = single.has(schema.type) || schema.type.endsWith('HttpRequest');
    arbitrary = fc
      .array(fc.oneof({ arbitrary: fc.oneof(...known), weight: 3 }, { arbitrary: unknownPart(schema), weight: 1 }), {
        maxLength: onPath ? 10 : 4,
      })
      .map((parts) => keepFirst(parts, single.get(schema.type)));
    messageArbitraries.set(schema, arbitrary);
  }
  return arbitrary;
}
const anyCheckRequest = messageParts(checkRequestSchema).map(encode);

/** A few byte edits: change, insert, delete, truncate, repeat a slice. */
const mutated = fc
  .tuple(
    anyCheckRequest,
    fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([bytes, edits]) => {
    let out = Buffer.from(bytes);
    for (const [kind, a, b, byte] of edits) {
      const at = out.length === 0 ? 0 : a % out.length;
      const to = Math.min(out.length, at + (b % 8) + 1);
      if (kind === 0 && out.length > 0) out[at] = byte;
      else if (kind === 1) out = Buffer.concat([out.subarray(0, at), Buffer.from([byte]), out.subarray(at)]);
      else if (kind === 2) out = Buffer.concat([out.subarray(0, at), out.subarray(to)]);
      else if (kind === 3) out = out.subarray(0, at);
      else out = Buffer.concat([out.subarray(0, to), out.subarray(at, to), out.subarray(to)]);
    }
    return out;
  });

describe('the CheckRequest reader against protobufjs', () => {
  it('knows exactly the fields protobufjs knows from src/proto, each read the same way', () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : `${protoDir}${target}`);
    root.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true });
    root.resolveAll();
    const kindOf = (field: protobuf.Field): string => {
      if (field instanceof protobuf.MapField) return `map<${field.keyType},${field.type}>`;
      if (field.resolvedType instanceof protobuf.Type) return field.resolvedType.fullName.slice(1);
      if (field.resolvedType instanceof protobuf.Enum) return 'varint32';
      if (['string', 'bytes'].includes(field.type)) return 'string';
      if (['int32', 'uint32', 'sint32', 'bool'].includes(field.type)) return 'varint32';
      if (['int64', 'uint64', 'sint64'].includes(field.type)) return 'varint64';
      return `unsupported ${field.type}`;
    };
    const visited = new Set<string>();
    const compare = (schema: MessageSchema) => {
      visited.add(schema.type);
      if (schema.type === 'map<string,string>') return;
      const type = root.lookupType(schema.type);
      const theirs = type.fieldsArray.map((f) => [f.id, kindOf(f), f.repeated && !f.map && !f.resolvedType] as const);
      const ours = schema.fields.flatMap((kind, id) =>
        kind === undefined ? [] : [[id, typeof kind === 'string' ? kind : kind.type, false] as const],
      );
      expect(ours, schema.type).toEqual(theirs.sort(([a], [b]) => a - b));
      for (const kind of schema.fields) if (typeof kind === 'object') compare(kind);
    };
    compare(checkRequestSchema);
    expect(visited.size).toBe(10);
  });

  it('random CheckRequests encoded by protobufjs: read, and read alike', () => {
    const text = fc.string({ unit: 'binary', maxLength: 24 });
    const peer = fc.record(
      {
        address: fc.record({
          socket_address: fc.record({ address: text, port_value: fc.nat(65535), protocol: fc.constantFrom(0, 1) }),
        }),
        service: text,
        labels: fc.dictionary(text, text, { maxKeys: 3 }),
        principal: text,
      },
      { requiredKeys: [] },
    );
    const http = fc.record(
      {
        id: text,
        method: fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', ''), text),
        headers: fc.dictionary(fc.oneof(interestingText, text), text, { maxKeys: 16 }),
        path: fc.oneof(fc.constantFrom('/vod/a.mp4?tg=v1~k=k', '/', ''), text),
        host: text,
        scheme: fc.constantFrom('http', 'https'),
        size: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
        protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2'),
      },
      { requiredKeys: [] },
    );
    const request = fc.record(
      {
        attributes: fc.record(
          {
            source: peer,
            destination: peer,
            request: fc.record(
              {
                time: fc.record({ seconds: fc.bigInt({ min: 0n, max: 2n ** 40n }).map(String), nanos: fc.nat(999_999_999) }),
                http,
              },
              { requiredKeys: [] },
            ),
            context_extensions: fc.dictionary(text, text, { maxKeys: 3 }),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(request, (object) => {
        expect(compared(protobufjsCheck.requestSerialize(object))).toBe('agreed');
      }),
      { numRuns: 1000 },
    );
  });

  it('hand-encoded ones with unknown fields of every wire type anywhere, repeated fields and padded varints: read, and read alike', () => {
    fc.assert(
      fc.property(anyCheckRequest, (bytes) => {
        expect(compared(bytes)).toBe('agreed');
      }),
      { numRuns: 1500 },
    );
  });

  it('mutated and random bytes: refused, or read as protobufjs reads them', () => {
    let agreed = 0;
    fc.assert(
      fc.property(mutated, (bytes) => {
        if (compared(bytes) === 'agreed') agreed++;
      }),
      { numRuns: 3000 },
    );
    // Edits inside strings and unknown fields keep a message valid: the comparison is not vacuous.
    expect(agreed).toBeGreaterThan(150);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        compared(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it.each<[string, Buffer, 'protobufjs refuses too' | 'protobufjs accepts']>([
    ['a truncated tag', Buffer.from([0x8a]), 'protobufjs refuses too'],
    ['a truncated length', Buffer.from([0x0a, 0x85]), 'protobufjs refuses too'],
    ['a length past the end', Buffer.from([0x0a, 0x05, 0x00]), 'protobufjs refuses too'],
    [
      'a length of 2^32 - 1 (the listener test’s garbage)',
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      'protobufjs refuses too',
    ],
    ['wire type 6', Buffer.from([0x16, 0x00]), 'protobufjs refuses too'],
    ['wire type 7', Buffer.from([0x17, 0x00]), 'protobufjs refuses too'],
    ['an end-group tag alone (wire type 4)', Buffer.from([0x14]), 'protobufjs refuses too'],
    ['a group (wire types 3 and 4)', Buffer.from([0x13, 0x08, 0x01, 0x14]), 'protobufjs accepts'],
    ['field number 0', Buffer.from([0x00, 0x00]), 'protobufjs accepts'],
    ['a varint of 11 bytes (unknown field)', Buffer.from([0x10, ...Array(10).fill(0x80), 0x00]), 'protobufjs accepts'],
    [
      'a 64-bit varint of 11 bytes (http.size)',
      checkRequest({ field: 9, wire: 0, value: 0n, width: 11 }),
      'protobufjs refuses too',
    ],
    [
      'a tag of 6 bytes (protobufjs reads 10)',
      Buffer.from([0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 0, 0x01]),
      'protobufjs accepts',
    ],
    // 0x0a + 2^32 as a tag: protobufjs drops the 33rd bit and reads field 1, attributes.
    [
      'a tag over 32 bits',
      Buffer.concat([Buffer.from([0x8a, 0x80, 0x80, 0x80, 0x10]), checkRequest(text(4, '/a')).subarray(1)]),
      'protobufjs accepts',
    ],
    ['a length of 6 bytes', Buffer.from([0x12, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x07, 0, 0, 0, 0]), 'protobufjs accepts'],
    [
      'a 32-bit varint of 6 bytes (source.address.socket_address.port_value)',
      // protobufjs takes the 4 bytes after the port's 6 as part of it (they are the next field here).
      encode([message(1, message(1, message(1, message(1, { field: 3, wire: 0, value: 80n, width: 6 }, text(2, 'ab')))))]),
      'protobufjs accepts',
    ],
    ['the path with wire type 0', checkRequest({ field: 4, wire: 0, value: 0n }), 'protobufjs accepts'],
    ['the headers with wire type 5', checkRequest({ field: 3, wire: 5, bytes: Buffer.alloc(4) }), 'protobufjs refuses too'],
    ['source with wire type 0', encode([message(1, { field: 1, wire: 0, value: 0n })]), 'protobufjs accepts'],
    [
      // http is 4 bytes long, its path says 3 of the 2 left: protobufjs cuts the path at http's end.
      'a string running past the end of its message',
      Buffer.from([0x0a, 0x0a, 0x22, 0x08, 0x12, 0x04, 0x22, 0x03, 0x2f, 0x61, 0x18, 0x01]),
      'protobufjs accepts',
    ],
    // protobufjs reads the varint as the key's length and cuts the key at the entry's end: key ''.
    ['a headers entry key with wire type 0', checkRequest(message(3, { field: 1, wire: 0, value: 1n })), 'protobufjs accepts'],
  ])('refused: %s', (_name, bytes, protobufjs) => {
    expect(() => decodeCheckRequest(bytes)).toThrow(MalformedCheckRequest);
    expect(refusedByProtobufjs(bytes)).toBe(protobufjs === 'protobufjs refuses too');
  });

  it('attributes, request or http twice is refused: protobufjs keeps the last, a conforming decoder merges them', () => {
    const first = message(2, text(4, '/vod/signed.mp4?tg=1'));
    const second = message(2, text(2, 'GET'));
    const twice = [
      encode([message(1, message(4, first, second))]),
      encode([message(1, message(4, first)), message(1, message(4, second))]),
      encode([message(1, message(4, first), message(4, second))]),
    ];
    for (const bytes of twice) {
      expect(() => decodeCheckRequest(bytes)).toThrow(/twice/);
      // protobufjs sees no path at all where a merge would see the first one's.
      expect(theirs(bytes)).toEqual({ method: 'GET', path: undefined, headers: [] });
    }
  });

  it('method or path twice: the last wins, as in protobufjs', () => {
    const bytes = checkRequest(text(4, '/first'), text(2, 'POST'), text(4, '/second'), text(2, 'GET'));
    expect(mine(bytes)).toEqual({ method: 'GET', path: '/second', headers: [] });
    expect(compared(bytes)).toBe('agreed');
  });

  it('a header key twice: its last value, in its first place; keys as protobufjs keeps them (__proto__, integer-like)', () => {
    const bytes = checkRequest(
      header('x-a', '1'),
      header('__proto__', 'p'),
      header('x-b', '2'),
      header('x-a', '3'),
      header('7', 'seven'),
      // Entries with no key or no value: both ''.
      message(3, text(2, 'no key')),
      message(3, text(1, 'x-no-value')),
    );
    expect(mine(bytes).headers).toEqual([
      ['7', 'seven'],
      ['x-a', '3'],
      ['__proto__', 'p'],
      ['x-b', '2'],
      ['', 'no key'],
      ['x-no-value', ''],
    ]);
    expect(compared(bytes)).toBe('agreed');
  });

  it('an empty path or method is there (""), an absent one is not; an empty request has neither', () => {
    expect(mine(checkRequest(text(4, ''), text(2, '')))).toEqual({ method: '', path: '', headers: [] });
    expect(mine(checkRequest())).toEqual({ method: undefined, path: undefined, headers: [] });
    expect(mine(Buffer.alloc(0))).toEqual({ method: undefined, path: undefined, headers: [] });
    for (const bytes of [checkRequest(text(4, ''), text(2, '')), checkRequest(), Buffer.alloc(0)])
      expect(compared(bytes)).toBe('agreed');
  });

  it('invalid UTF-8 decodes as protobufjs decodes it: U+FFFD for each maximal bad subpart', () => {
    const bad = Buffer.from([0x2f, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x2f, 0xc0, 0xae, 0xff, 0xe2, 0x82]);
    const bytes = checkRequest(text(4, bad), header(bad, bad));
    expect(mine(bytes).path).toBe('/\ufffd(\ufffd\ufffd\ufffd\ufffd/\ufffd\ufffd\ufffd\ufffd');
    expect(compared(bytes)).toBe('agreed');
  });

  it('reads what Envoy sends for a browser GET (addresses, time, 14 headers) as protobufjs does', () => {
    const bytes = envoyCheckRequest('/vod/a.mp4?tg=v1', '198.51.100.7');
    const fields = mine(bytes);
    expect([fields.method, fields.path, fields.headers.length]).toEqual(['GET', '/vod/a.mp4?tg=v1', 14]);
    expect(fields.headers).toContainEqual(['x-envoy-external-address', '198.51.100.7']);
    expect(compared(bytes)).toBe('agreed');
  });

  it('reads a request inside a larger buffer (grpc-js hands over a slice after the 5-byte frame header)', () => {
    const bytes = checkRequest(text(2, 'GET'), text(4, '/a'), header('x-real-ip', '198.51.100.7'));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, bytes.length]), bytes, Buffer.from([0x0a, 0xff])]);
    expect(mine(framed.subarray(5, 5 + bytes.length))).toEqual({
      method: 'GET',
      path: '/a',
      headers: [['x-real-ip', '198.51.100.7']],
    });
  });
});

describe('the CheckResponse bytes', () => {
  const hmacKey = '5e'.repeat(32);
  // The route checks revocations; one link under /vod/gone/ is revoked (the `revoked` answer).
  const book = new RevocationBook();
  const gone = { kind: 'prefix', value: '/vod/gone/', untilSec: 1_900_000_000, createdSec: 1_800_000_000 } as const;
  book.put({ ...gone, id: revocationId(gone) });
  // /dl/ limits each link to one use (the `over-limit` answer, and the allow no cache may keep).
  const limitedRoutes = [
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], revocation: true },
    { prefix: '/dl/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], limits: { uses: 1 } },
  ];
  const gate = gateFor(limitedRoutes, { K: hmacKey }, undefined, undefined, book, new MemoryLimiter());
  // Counters that cannot be reached: the `store-down` answer.
  const storeDown = gateFor(limitedRoutes, { K: hmacKey }, undefined, undefined, book, {
    check: () => {
      throw new Error('the counters are down');
    },
  });
  const signer = hmacSigner({ keyId: 'k', key: hmacKey });
  const sign = (request: Parameters<typeof signer.sign>[0]) => signer.sign(request);
  const now = 1_800_000_000;
  const client = '198.51.100.7';
  const valid = sign({ path: '/vod/a.mp4', expiresSec: now + 600 });
  const broken = new Proxy(
    {},
    {
      get: () => {
        throw new Error('a bug while deciding');
      },
    },
  ) as Gate;

  /** Every answer a gRPC listener gives: each verdict, and every max-age of an allow. */
  function everyAnswer(listener: EdgeListener) {
    const edge = listenerEdge(listener);
    const ask = (uri: string, at = now, options: { ip?: string | undefined; method?: string; gate?: Gate } = {}) => {
      const sources = new RequestSources(undefined, listener.clientIpHeader, []);
      sources.setUri(uri);
      sources.setMethod(options.method ?? 'GET');
      const ip = 'ip' in options ? options.ip : client;
      if (ip !== undefined) sources.add('x-envoy-external-address', ip);
      return settled(edge.answer(sources, options.gate ?? gate, at));
    };
    return [
      ...Array.from({ length: 620 }, (_, i) => ask(valid, now - 10 + i)),
      ask('/vod/a.mp4'),
      ask(sign({ path: '/vod/gone/a.mp4', expiresSec: now + 600 })),
      ask('/vod/a.mp4?tg=v1~nonsense'),
      ask(valid.replace('/vod/a.mp4', '/vod/b.mp4')),
      ask(valid, now + 700),
      ask(sign({ path: '/vod/a.mp4', expiresSec: now + 600, clientIp: '203.0.113.9' })),
      ask(sign({ path: '/vod/a.mp4', expiresSec: now + 600, notBeforeSec: now + 300 })),
      ask('/vod/%2e%2e/a.mp4'),
      ask('/other/a.mp4'),
      ask(valid, now, { method: 'POST' }),
      ask(valid, now, { ip: undefined }),
      ask(valid, now, { gate: broken }),
      // A link of this listener's own: the counters outlive one call.
      ...[1, 2].map(() => ask(sign({ path: `/dl/${listener.expiredStatus}.zip`, expiresSec: now + 600 }))),
      ask(sign({ path: '/dl/a.zip', expiresSec: now + 600 }), now, { gate: storeDown }),
    ];
  }

  it.each([410, 403] as const)('equal protobufjs’s encoding for every answer of a listener (expired: %i)', (expiredStatus) => {
    const results = everyAnswer({
      name: 'envoy-grpc',
      host: '127.0.0.1',
      port: 0,
      clientIpHeader: 'x-envoy-external-address',
      clientIpHop: undefined,
      expiredStatus,
      cacheMaxAgeSec: 300,
    });
    expect(new Set(results.map((r) => r.decision.verdict))).toEqual(new Set(Object.values(Verdict)));
    const answers = new Map(results.map((r) => [r.answer, r.decision.verdict]));
    // 301 allows (max-age 0 to 300), the no-store allow of a limited route, and one answer per other verdict.
    expect(answers.size).toBe(302 + Object.values(Verdict).length - 1);
    const responses = new CheckResponses();
    for (const [answer, verdict] of answers) {
      const bytes = responses.bytesFor(answer, verdict);
      expect(
        bytes.equals(protobufjsCheck.responseSerialize(protobufjsResponse(answer, verdict))),
        `${answer.status} ${verdict}`,
      ).toBe(true);
      expect(responses.bytesFor(answer, verdict)).toBe(bytes);
    }
  });

  it('decode to what the listener answered', () => {
    const [allow, deny] = [valid, '/vod/a.mp4'].map((uri) => {
      const sources = new RequestSources(undefined, 'x-envoy-external-address', []);
      sources.setUri(uri);
      sources.setMethod('GET');
      sources.add('x-envoy-external-address', client);
      const result = settled(
        listenerEdge({
          name: 'g',
          host: '',
          port: 0,
          clientIpHeader: 'x-envoy-external-address',
          clientIpHop: undefined,
          expiredStatus: 410,
          cacheMaxAgeSec: 60,
        }).answer(sources, gate, now),
      );
      return protobufjsCheck.responseDeserialize(encodeCheckResponse(result.answer, result.decision.verdict));
    });
    expect(allow).toEqual({
      status: { code: 0 },
      ok_response: { response_headers_to_add: [{ header: { key: 'x-token-status', value: 'valid' }, append: { value: false } }] },
      http_response: 'ok_response',
    });
    expect(deny).toEqual({
      status: { code: 7, message: 'missing' },
      denied_response: {
        status: { code: 403 },
        headers: [
          { header: { key: 'x-token-status', value: 'missing' }, append: { value: false } },
          { header: { key: 'cache-control', value: 'no-store' }, append: { value: false } },
        ],
      },
      http_response: 'denied_response',
    });
  });
});

describe('the method the door serves', () => {
  it('is the method protobufjs’s definition describes (unary, same path), with the codec', () => {
    expect([checkMethod.path, false, false]).toEqual([
      protobufjsCheck.path,
      protobufjsCheck.requestStream,
      protobufjsCheck.responseStream,
    ]);
    expect(checkMethod.path).toBe('/envoy.service.auth.v3.Authorization/Check');
    expect(checkMethod.decode).toBe(decodeCheckRequest);
    expect(checkMethod.maxMessageBytes).toBe(256 * 1024);
  });
});

/**
 * Micro-benchmarks of the decision core and the HMAC routes: `npm run bench:micro`.
 * Each table's first line is its baseline; the last column is speed relative to it.
 */
import { createHash, createHmac, generateKeyPairSync, type KeyObject, timingSafeEqual } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import { createLogger } from '../src/base/log.js';
import { isRejection } from '../src/base/verdict.js';
import { authorize, type Gate } from '../src/decision/authorize.js';
import { type Revocation, RevocationBook, revocationId } from '../src/decision/revocations.js';
import type { Answer } from '../src/http/answers.js';
import { decodeCheckRequest } from '../src/http/check-request.js';
import { CheckResponses } from '../src/http/check-response.js';
import { decisionLogger } from '../src/http/decision-log.js';
import { type EdgeOutcome, type EdgeResult, listenerEdge } from '../src/http/listener-edge.js';
import { RequestSources, type SourceFields } from '../src/http/request-sources.js';
import { hmacSigner } from '../src/library/hmac-signer.js';
import { explain } from '../src/links/explain-link.js';
import { noHeaders } from '../src/request/token-headers.js';
import { hmacSha256Key } from '../src/scheme-kit/hmac-sha256.js';
import type { TokenScheme } from '../src/scheme-kit/token-scheme.js';
import { envoyCheckRequest, protobufjsCheck, protobufjsDecode, protobufjsResponse } from '../test/helpers/envoy-protobufjs.js';
import { gateFor } from '../test/helpers/gates.js';
import { signedUrl } from '../test/helpers/signed-url.js';
import { type CostRequest, type CostRoute, costNowSec, costRoutes } from '../test/helpers/worst-inputs.js';
import { benchArgs } from './args.js';
import { compare as compareAll } from './harness.js';

/** An edge result of a route without limits (every route benched here): never a promise. */
function settled(outcome: EdgeOutcome): EdgeResult {
  if (outcome instanceof Promise) throw new Error('a bench route counted limits: its answer is asynchronous');
  return outcome;
}

const { only } = benchArgs('npm run bench:micro --', 'Micro-benchmarks of the decision core and the HMAC routes; printed.', {
  only: { type: 'string', value: 'text', help: 'run only the tables whose title contains this text (e.g. "Envoy gRPC")' },
});
/** `compare`, for the tables `--only` keeps. */
const compare: typeof compareAll = (title, ...rest) =>
  only === undefined || title.includes(only) ? compareAll(title, ...rest) : [];

const hmacHex = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
/** The CDN formats' routes (keys as each takes them), with or without the verdict cache. */
const cdnKeys = {
  D: hmacHex,
  E: Buffer.alloc(16, 7).toString('base64url'),
  F: 'benchmark-bunny-security-key',
  G: 'benchmark-wowza-shared-secret',
  H: 'benchmark-secure-link-secret',
};
const cdnRoutes = (verdictCache: boolean) => [
  { prefix: '/ak/', scheme: 'akamai', keys: [{ id: 'k', env: 'D' }], verdictCache },
  {
    prefix: '/gc/',
    scheme: 'google-cdn',
    keys: [{ id: 'k', env: 'E' }],
    options: { baseUrl: 'https://cdn.example.com' },
    verdictCache,
  },
  { prefix: '/bn/', scheme: 'bunny', keys: [{ id: 'k', env: 'F' }], verdictCache },
  { prefix: '/wz/', scheme: 'wowza', keys: [{ id: 'k', env: 'G' }], verdictCache },
];
/** nginx secure_link makes a gate choose routes on nginx's $uri (a cost for every route): its own gate, azion beside it. */
const secureLinkRoutes = (verdictCache: boolean) => [
  {
    prefix: '/sl/',
    scheme: 'nginx-secure-link',
    keys: [{ id: 'k', env: 'H' }],
    options: { md5: '$secure_link_expires$uri$remote_addr $secret' },
    verdictCache,
  },
  { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }], verdictCache },
];
const secureLinkGate = gateFor(secureLinkRoutes(false), { A: 'benchmark-secret-azion', H: 'benchmark-secure-link-secret' });
const gate = gateFor(
  [
    { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
    { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'C' }] },
    ...cdnRoutes(false),
  ],
  { A: 'benchmark-secret-azion', B: 'benchmark-secret-alta', C: hmacHex, ...cdnKeys },
);
const now = Math.floor(Date.now() / 1000);
const ip = '203.0.113.7';
/** 1024 signed URLs; `bound`: with a start time and the client IP (the formats that sign them). */
const urls = (path: (i: number) => string, bound: boolean) =>
  Array.from({ length: 1024 }, (_, i) =>
    signedUrl(gate, { path: path(i), expiresSec: now + 3600, ...(bound ? { notBeforeSec: now, clientIp: ip } : {}) }),
  );
const azion = urls((i) => `/my/videos/${i}/segment.ts`, false);
const alta = urls((i) => `/tv/channel-${i}/index.m3u8`, true);
const hmac = urls((i) => `/vod/movie-${i}/index.m3u8`, true);
const akamai = urls((i) => `/ak/movie-${i}/index.m3u8`, true);
const googleCdn = urls((i) => `/gc/movie-${i}/index.m3u8`, false);
const bunny = urls((i) => `/bn/movie-${i}/index.m3u8`, false);
const wowza = urls((i) => `/wz/movie-${i}/index.m3u8`, false);
const secureLink = Array.from({ length: 1024 }, (_, i) =>
  signedUrl(secureLinkGate, { path: `/sl/movie-${i}/index.m3u8`, expiresSec: now + 3600, clientIp: ip }),
);
/** The same URLs with the first character of st changed: always a forged signature (the last character of the URL is a digit of e, which a change can leave genuine). */
const forgedAzion = azion.map((url) => url.replace(/st=(.)/, (_m, c: string) => `st=${c === 'A' ? 'B' : 'A'}`));
if (forgedAzion.some((url) => authorize(gate, url, ip, now).verdict !== 'forged')) throw new Error('a forged URL is not forged');

compare('Decision per request (authorize: URI rules, routing, grammar, signature, clock)', {
  'naive azion: URLSearchParams + createHash(md5) + string compare': (i) => {
    const url = azion[i & 1023]!;
    const q = url.indexOf('?');
    const params = new URLSearchParams(url.slice(q + 1));
    return (
      createHash('md5')
        .update(`benchmark-secret-azion${url.slice(0, q)}${params.get('e')}`)
        .digest('base64url') === params.get('st')
    );
  },
  'azion allow (distinct tokens)': (i) => authorize(gate, azion[i & 1023]!, ip, now),
  'alta allow (distinct tokens)': (i) => authorize(gate, alta[i & 1023]!, ip, now),
  'hmac allow (distinct tokens)': (i) => authorize(gate, hmac[i & 1023]!, ip, now),
  'akamai allow (distinct tokens)': (i) => authorize(gate, akamai[i & 1023]!, ip, now),
  'google-cdn allow (distinct tokens)': (i) => authorize(gate, googleCdn[i & 1023]!, ip, now),
  'bunny allow (distinct tokens)': (i) => authorize(gate, bunny[i & 1023]!, ip, now),
  'wowza allow (distinct tokens)': (i) => authorize(gate, wowza[i & 1023]!, ip, now),
  'nginx-secure-link allow (distinct tokens, its own gate)': (i) => authorize(secureLinkGate, secureLink[i & 1023]!, ip, now),
  'azion allow in a gate with an nginx-secure-link route': (i) => authorize(secureLinkGate, azion[i & 1023]!, ip, now),
  'azion forged': (i) => authorize(gate, forgedAzion[i & 1023]!, ip, now),
  'azion malformed (cheapest rejection)': (i) => authorize(gate, `${azion[i & 1023]!}&e=1`, ip, now),
});

const secret = Buffer.from(hmacHex, 'hex');
const messages = Array.from(
  { length: 1024 },
  (_, i) => `tokengate-hmac-v1\nk=2026-11\ne=${1795409174 + i}\nn=\nscope=prefix:/tv/channel-${i}/\ni=203.0.113.7\ns=`,
);
const shipped = hmacSha256Key(secret);
for (const m of messages) {
  if (!shipped.sign(m, 32).equals(createHmac('sha256', secret).update(m).digest())) throw new Error('shipped: wrong HMAC');
}
const provided = Buffer.alloc(16);
const providedText = provided.toString('base64url');
compare('HMAC-SHA256 of a 91-byte signed string + 16-byte timingSafeEqual', {
  'createHmac per request': (i) =>
    timingSafeEqual(
      createHmac('sha256', secret)
        .update(messages[i & 1023]!)
        .digest()
        .subarray(0, 16),
      provided,
    ),
  'shipped: two crypto.hash over prebuilt ipad/opad blocks': (i) => shipped.verify16(messages[i & 1023]!, providedText),
});

// Verdict cache: does a lookup cost less than the verification it saves? Per scheme.
const cachedGate = (maxEntries: number) =>
  gateFor(
    [
      { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }], verdictCache: true },
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }], verdictCache: true },
      { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'C' }], verdictCache: true },
      ...cdnRoutes(true),
    ],
    { A: 'benchmark-secret-azion', B: 'benchmark-secret-alta', C: hmacHex, ...cdnKeys },
    30,
    { maxEntries },
  );
const hitting = cachedGate(100_000); // every token fits: all hits after warm-up
const missing = cachedGate(16); // 1024 tokens cycling through 16 slots: every lookup misses and evicts
for (const [scheme, list] of [
  ['azion', azion],
  ['alta', alta],
  ['hmac', hmac],
  ['akamai', akamai],
  ['google-cdn', googleCdn],
  ['bunny', bunny],
  ['wowza', wowza],
] as const) {
  compare(`Verdict cache, ${scheme} (1024 distinct valid tokens)`, {
    'no cache': (i) => authorize(gate, list[i & 1023]!, ip, now),
    'cache hit': (i) => authorize(hitting, list[i & 1023]!, ip, now),
    'cache miss (lookup + verify + insert + evict)': (i) => authorize(missing, list[i & 1023]!, ip, now),
  });
}

{
  const env = { A: 'benchmark-secret-azion', H: 'benchmark-secure-link-secret' };
  const hit = gateFor(secureLinkRoutes(true), env, 30, { maxEntries: 100_000 });
  const miss = gateFor(secureLinkRoutes(true), env, 30, { maxEntries: 16 });
  compare('Verdict cache, nginx-secure-link (1024 distinct valid tokens)', {
    'no cache': (i) => authorize(secureLinkGate, secureLink[i & 1023]!, ip, now),
    'cache hit': (i) => authorize(hit, secureLink[i & 1023]!, ip, now),
    'cache miss (lookup + verify + insert + evict)': (i) => authorize(miss, secureLink[i & 1023]!, ip, now),
  });
}

// CloudFront: a public-key check per request, against the verdict cache (on by default for it).
{
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = (key: KeyObject, type: 'pkcs8' | 'spki') => key.export({ type, format: 'pem' }) as string;
  const routes = (verdictCache: boolean) =>
    (['rsa', 'ec'] as const).map((kind) => ({
      prefix: `/cf-${kind}/`,
      scheme: 'cloudfront',
      keys: [{ id: `K${kind.toUpperCase()}`, env: kind.toUpperCase() }],
      options: { baseUrl: 'https://cdn.example.com' },
      verdictCache,
    }));
  const signing = gateFor(routes(false), { RSA: pem(rsa.privateKey, 'pkcs8'), EC: pem(ec.privateKey, 'pkcs8') });
  const env = { RSA: pem(rsa.publicKey, 'spki'), EC: pem(ec.publicKey, 'spki') };
  const off = gateFor(routes(false), env);
  const hit = gateFor(routes(true), env, 30, { maxEntries: 100_000 });
  const miss = gateFor(routes(true), env, 30, { maxEntries: 16 });
  for (const kind of ['rsa', 'ec'] as const) {
    const list = Array.from({ length: 1024 }, (_, i) =>
      signedUrl(signing, { path: `/cf-${kind}/movie-${i}/index.m3u8`, expiresSec: now + 3600 }),
    );
    compare(
      `Verdict cache, cloudfront ${kind === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'} canned (1024 distinct valid tokens)`,
      {
        'no cache (a signature check per request)': (i) => authorize(off, list[i & 1023]!, ip, now),
        'cache hit (the default)': (i) => authorize(hit, list[i & 1023]!, ip, now),
        'cache miss (lookup + verify + insert + evict)': (i) => authorize(miss, list[i & 1023]!, ip, now),
      },
      // A signature check costs tens of microseconds: fewer calls per round keep the run short.
      10_000,
    );
  }
}

// Decision log: what one logged line adds to a decision (the listener edge's whole decision, then
// the line: the second parse for key id and fingerprint, pino's JSON, one write to /dev/null).
{
  const devNull = openSync('/dev/null', 'w');
  const logger = createLogger('info', (line) => writeSync(devNull, line));
  const edge = listenerEdge({
    name: 'auth',
    host: '127.0.0.1',
    port: 0,
    uriHeader: 'x-original-uri',
    clientIpHeader: 'x-real-ip',
  } as never);
  const fields = (uri: string): SourceFields => ({
    uri,
    uriCount: 1,
    clientIp: ip,
    clientIpCount: 1,
    method: 'GET',
    methodCount: 1,
    headers: noHeaders,
  });
  const allFields = forgedAzion.map(fields);
  const logged = (decisionLog: Gate['decisionLog']) => ({ ...gate, decisionLog });
  const off = gate;
  const every = logged({ verdicts: 'denials', sample: 1, maxPerSec: 1e9 });
  const sampled = logged({ verdicts: 'denials', sample: 0.01, maxPerSec: 1e9 });
  const log = decisionLogger('auth', logger);
  const run = (g: Gate) => (i: number) => {
    const f = allFields[i & 1023]!;
    const result = settled(edge.answer(f, g, now));
    log(result, f, g);
    return result;
  };
  compare('Decision log, azion forged (1024 distinct tokens): the edge decision plus the log line', {
    'decision log off': run(off),
    'every denial logged (sample 1)': run(every),
    'one denial in a hundred logged (sample 0.01)': run(sampled),
  });
}

// Issue 26: the costliest unsigned request of about 8 KiB we know for each format, beside an
// ordinary forged request of the same route (test/helpers/worst-inputs.ts; test/unit/decision-cost.test.ts
// bounds them). The costliest is picked by a short first measurement.
{
  const decide = (route: CostRoute, request: CostRequest) =>
    authorize(route.gate, request.uri, request.clientIp, costNowSec, request.headers);
  const quick = (run: () => unknown) => {
    let least = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) run();
      least = Math.min(least, Number(process.hrtime.bigint() - start));
    }
    return least;
  };
  const costliest = new Map<string, { route: CostRoute; name: string; request: CostRequest; ns: number }>();
  for (const route of costRoutes()) {
    for (const { name, request } of route.worst) {
      const ns = quick(() => decide(route, request));
      if (ns > (costliest.get(route.scheme)?.ns ?? 0)) costliest.set(route.scheme, { route, name, request, ns });
    }
  }
  for (const [scheme, { route, name, request }] of costliest) {
    compare(
      `Unsigned request, ${scheme} (${route.variant}): the costliest of about 8 KiB against an ordinary forged one`,
      {
        'ordinary forged (a token signed with another key)': () => decide(route, route.ordinary),
        [`costliest: ${name}`]: () => decide(route, request),
      },
      // Hundreds of microseconds a call at worst: fewer calls per round keep the run short.
      500,
    );
  }
}

// Issue 26, rule 12: what the readings of a path cost where one route lies inside another. A gate
// with /vod/ and a nested /vod/premium/ (hmac), a genuine link of the outer route: plain (no reading
// can differ: one scan of the path's first segments), with escapes and capitals (every reading
// computed), and 8 KiB of escaped letters in one segment (the costliest spelling we know), each
// beside the same link in a gate without the nested route (no reading at all).
{
  const routes = (nested: boolean) => [
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'H' }] },
    ...(nested ? [{ prefix: '/vod/premium/', scheme: 'hmac', keys: [{ id: 'p', env: 'P' }] }] : []),
  ];
  const env = { H: hmacHex, P: 'ff'.repeat(32) };
  const flat = gateFor(routes(false), env);
  const nestedGate = gateFor(routes(true), env);
  const link = (path: string) => hmacSigner({ keyId: 'k', key: hmacHex }).sign({ path, expiresSec: now + 3600 });
  const plain = link('/vod/movie/index.m3u8');
  const spelled = link('/vod/Movie%20Night/%C3%A9t%C3%A9.m3u8');
  const long = `/vod/${'%C3%A9'.repeat(1300)}/x.ts?tg=v1~k=k~e=1900000000~m=AAAAAAAAAAAAAAAAAAAAAA`;
  compare('Route readings (rule 12): an outer route with a nested one, against the same gate without it', {
    'plain link, no nested route': () => authorize(flat, plain, ip, now),
    'plain link, nested route': () => authorize(nestedGate, plain, ip, now),
    'escapes and capitals, no nested route': () => authorize(flat, spelled, ip, now),
    'escapes and capitals, nested route (every reading)': () => authorize(nestedGate, spelled, ip, now),
    '8 KiB of escaped é in one segment, no nested route': () => authorize(flat, long, ip, now),
    '8 KiB of escaped é in one segment, nested route': () => authorize(nestedGate, long, ip, now),
  });
}

// Issue 27, part 3: the Envoy gRPC listener's codec. protobufjs (through @grpc/proto-loader, what
// grpc-js ran before) against the hand-written reader, on the CheckRequest Envoy sends for a
// browser's request (14 headers, source and destination, time); the CheckResponse object encoded
// per call against the listener's prebuilt bytes; and the whole call without the network:
// decode, the listener edge's decision (an hmac allow), encode.
{
  const link = hmac[0]!;
  const request = envoyCheckRequest(link, ip);
  const fields = decodeCheckRequest(request);
  const theirs = protobufjsDecode(request).attributes?.request?.http;
  if (fields.path !== link || theirs?.path !== link || fields.headers.size !== 14)
    throw new Error('the CheckRequest does not decode');
  /** The listener before: the CheckResponse object built once per answer, encoded by protobufjs per call. */
  const objects = new WeakMap<Answer, object>();
  const protobufjsEncode = (answer: Answer, verdict: string) => {
    let object = objects.get(answer);
    if (object === undefined) {
      object = protobufjsResponse(answer, verdict);
      objects.set(answer, object);
    }
    return protobufjsCheck.responseSerialize(object);
  };
  compare(
    `Envoy gRPC: decode a CheckRequest (${request.length} bytes, 14 headers)`,
    {
      'protobufjs (decode + toObject, keepCase)': () => protobufjsDecode(request),
      'hand-written reader (method, path, headers)': () => decodeCheckRequest(request),
    },
    20_000,
  );
  const edge = listenerEdge({
    name: 'envoy-grpc',
    host: '127.0.0.1',
    port: 0,
    clientIpHeader: 'x-envoy-external-address',
    clientIpHop: undefined,
    expiredStatus: 410,
    cacheMaxAgeSec: 60,
  });
  const sourcesOf = (headers: Iterable<[string, string]>, path: string | undefined, method: string | undefined) => {
    const sources = new RequestSources(undefined, 'x-envoy-external-address', gate.tokenHeaders);
    for (const [name, value] of headers) sources.add(name.toLowerCase(), value);
    if (path !== undefined) sources.setUri(path);
    if (method !== undefined) sources.setMethod(method);
    return sources;
  };
  const answer = settled(edge.answer(sourcesOf(fields.headers, fields.path, fields.method), gate, now)).answer;
  const responses = new CheckResponses();
  if (answer.status !== 200 || !responses.bytesFor(answer, 'valid').equals(protobufjsEncode(answer, 'valid')))
    throw new Error('the CheckResponse bytes differ');
  compare(
    'Envoy gRPC: encode the CheckResponse of an allow',
    {
      'protobufjs (fromObject + encode of the cached object)': () => protobufjsEncode(answer, 'valid'),
      'prebuilt bytes (WeakMap lookup)': () => responses.bytesFor(answer, 'valid'),
    },
    20_000,
  );
  compare(
    'Envoy gRPC: a Check call without the network (decode, decide an hmac allow, encode)',
    {
      'protobufjs codec (before)': () => {
        const http = protobufjsDecode(request).attributes?.request?.http;
        const result = settled(edge.answer(sourcesOf(Object.entries(http?.headers ?? {}), http?.path, http?.method), gate, now));
        return protobufjsEncode(result.answer, result.decision.verdict);
      },
      'own codec (after)': () => {
        const check = decodeCheckRequest(request);
        const result = settled(edge.answer(sourcesOf(check.headers, check.path, check.method), gate, now));
        return responses.bytesFor(result.answer, result.decision.verdict);
      },
    },
    // Tens of microseconds a call: fewer calls per round keep the run short.
    5_000,
  );
}

// Issue 29: what a route that checks revocations pays per request. The same hmac route (1024
// distinct genuine tokens, each with a session id) without `revocation`, with it and an empty list,
// with 10,000 fingerprint revocations, with 10,000 revocations of every kind but prefix (fp,
// session, key: one map lookup each), with 100 prefix revocations (scanned in order), and the
// deny path (every token revoked by its fingerprint).
{
  const route = (revocation: boolean) => ({ prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'C' }], revocation });
  const bookOf = (entries: Revocation[]) => {
    const book = new RevocationBook();
    for (const entry of entries) book.put(entry);
    return book;
  };
  const entryOf = (kind: Revocation['kind'], value: string, extra: Partial<Revocation> = {}): Revocation => {
    const target = { kind, value, ...extra };
    return { ...target, id: revocationId(target), untilSec: now + 7200, createdSec: now } as Revocation;
  };
  const signer = hmacSigner({ keyId: 'k', key: hmacHex });
  const sessionUrls = Array.from(
    { length: 1024 },
    (_, i) => signer.sign({ path: `/vod/movie-${i}/index.m3u8`, expiresSec: now + 3600, sessionId: `viewer-${i}` }) as string,
  );
  const plain = gateFor([route(false)], { C: hmacHex });
  const gateWith = (entries: Revocation[]) => gateFor([route(true)], { C: hmacHex }, 30, undefined, bookOf(entries));
  const fps = Array.from({ length: 10_000 }, (_, i) => entryOf('fp', `AAAAAA${String(i).padStart(6, '0')}`));
  const mixed = [
    ...fps.slice(0, 5000),
    ...Array.from({ length: 4999 }, (_, i) => entryOf('session', `other-${i}`)),
    entryOf('key', 'retired', { route: '/vod/' }),
  ];
  const prefixes = Array.from({ length: 100 }, (_, i) => entryOf('prefix', `/vod/gone-${i}/`, { issuedBeforeSec: now }));
  const revokedAll = await Promise.all(
    sessionUrls.map(async (url) => entryOf('fp', (await explain(plain, url, undefined, now)).details.fingerprint!)),
  );
  const cases = {
    'no revocation on the route': plain,
    'revocation on, empty list': gateWith([]),
    'revocation on, 10,000 fingerprints': gateWith(fps),
    'revocation on, 10,000 of fp, session and key': gateWith(mixed),
    'revocation on, 100 path prefixes': gateWith(prefixes),
    'revocation on, every token revoked (deny)': gateWith(revokedAll),
  };
  for (const [name, g] of Object.entries(cases)) {
    const expected = name.includes('(deny)') ? 'revoked' : 'valid';
    if (sessionUrls.some((url) => authorize(g, url, ip, now).verdict !== expected)) throw new Error(`${name}: not ${expected}`);
  }
  // The list's lookup alone, on tokens already parsed and verified: what the check adds per kind in force.
  const vod = (gateWith([]) as { routes: readonly { name: string; scheme: TokenScheme }[] }).routes[0]!;
  const parsed = sessionUrls.map((url) => {
    const [path, query] = url.split('?') as [string, string];
    const token = vod.scheme.parse({ path, query, clientIp: undefined, headers: noHeaders });
    if (isRejection(token) || !vod.scheme.verify(token)) throw new Error('a token does not verify');
    return { token, path };
  });
  const books = {
    'empty list': bookOf([]),
    '10,000 fingerprints': bookOf(fps),
    '10,000 session ids': bookOf(Array.from({ length: 10_000 }, (_, i) => entryOf('session', `other-${i}`))),
    'one key': bookOf([entryOf('key', 'retired', { route: vod.name })]),
    '100 path prefixes': bookOf(prefixes),
    'all four kinds (5,000 fp, 4,899 sessions, 1 key, 100 prefixes)': bookOf([
      ...fps.slice(0, 5000),
      ...Array.from({ length: 4899 }, (_, i) => entryOf('session', `other-${i}`)),
      entryOf('key', 'retired', { route: vod.name }),
      ...prefixes,
    ]),
  };
  compare(
    'Revocation list lookup alone (a verified hmac token, 1024 distinct)',
    Object.fromEntries(
      Object.entries(books).map(([name, book]) => [
        name,
        (i: number) => {
          const { token, path } = parsed[i & 1023]!;
          return book.match(vod, token, path, now, 3600);
        },
      ]),
    ),
  );
  compare(
    'Revocation check on an hmac route (1024 distinct tokens with session ids)',
    Object.fromEntries(
      Object.entries(cases).map(([name, g]) => [name, (i: number) => authorize(g, sessionUrls[i & 1023]!, ip, now)]),
    ),
  );
}

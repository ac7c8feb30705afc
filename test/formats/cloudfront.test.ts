/**
 * CloudFront signed URLs and cookies against AWS's own signer (@aws-sdk/cloudfront-signer), with
 * RSA and ECDSA keys made by openssl here: canned and custom policies, wildcards, IP ranges,
 * start times, SHA1 and SHA256, cookies, key rotation; strict policies; tokengate's signer
 * byte-identical to the SDK for the same inputs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { beforeAll, describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { loadConfig } from '../../src/config/load-config.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize, findRoute, type Gate } from '../../src/decision/authorize.js';
import { RevocationBook } from '../../src/decision/revocations.js';
import { configSigner } from '../../src/library/route-signer.js';
import { explain } from '../../src/links/explain-link.js';
import { signLink } from '../../src/links/sign-link.js';
import { cloudfront } from '../../src/schemes/cloudfront/cloudfront.js';
import { decodeCloudFrontBase64, encodeCloudFrontBase64 } from '../../src/schemes/cloudfront/cloudfront-base64.js';
import { parsePolicy, resourceMatches } from '../../src/schemes/cloudfront/cloudfront-policy.js';
import { googleCdn } from '../../src/schemes/google-cdn/google-cdn.js';
import { gateFor, verdictOf } from '../helpers/gates.js';
import { tempDir, writeConfig } from '../helpers/service-process.js';
import { readSignedOrigin, signedOriginCases } from '../helpers/signed-origin-cases.js';
import { route } from '../helpers/test-config.js';

const base = 'https://cdn.example.com';
const now = Math.floor(Date.now() / 1000);
const date = (seconds: number) => new Date(seconds * 1000).toISOString();
const keys: Record<string, { private: string; public: string }> = {};
let gate: Gate;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

beforeAll(() => {
  const dir = tempDir();
  const made: [string, string[]][] = [
    ['rsa', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
    ['rsa2', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
    ['ec', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['rsa1024', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']],
    ['ec384', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']],
  ];
  for (const [name, args] of made) {
    const privateFile = join(dir, `${name}.pem`);
    const publicFile = join(dir, `${name}.pub.pem`);
    openssl([...args, '-out', privateFile]);
    openssl(['pkey', '-in', privateFile, '-pubout', '-out', publicFile]);
    keys[name] = { private: readFileSync(privateFile, 'utf8'), public: readFileSync(publicFile, 'utf8') };
  }
  gate = gateFor(
    [
      route(
        'cdn',
        '/',
        'cloudfront',
        [
          { id: 'KRSA', env: 'RSA' },
          { id: 'KEC', env: 'EC' },
        ],
        { options: { baseUrl: base } },
      ),
    ],
    { RSA: keys.rsa!.public, EC: keys.ec!.public },
  );
});

/** A one-route gate (key KRSA: `pem`, the RSA public key by default) with `options` beside the baseUrl. */
const cdnGate = (options: Record<string, unknown> = {}, pem = keys.rsa!.public, prefix = '/') =>
  gateFor(
    [
      {
        name: 'cdn',
        prefix,
        scheme: 'cloudfront',
        keys: [{ id: 'KRSA', env: 'K' }],
        options: { baseUrl: base, ...options },
      },
    ],
    { K: pem },
  );
const target = (url: string) => url.slice(base.length);
const decide = (uri: string, at = now, ip: string | undefined = '203.0.113.9', cookie?: string) =>
  authorize(gate, uri, ip, at, { get: (name: string) => (name === 'cookie' ? cookie : undefined) }).verdict;
const sdkUrl = (options: Record<string, unknown>) =>
  target(getSignedUrl({ keyPairId: 'KRSA', privateKey: keys.rsa!.private, ...options } as Parameters<typeof getSignedUrl>[0]));

describe('cloudfront: URLs the SDK signs', () => {
  it.each([
    ['RSA', 'SHA1'],
    ['RSA', 'SHA256'],
    ['EC', 'SHA1'],
    ['EC', 'SHA256'],
  ] as const)('canned policy, %s key, %s', (kind, algorithm) => {
    const key =
      kind === 'RSA' ? { keyPairId: 'KRSA', privateKey: keys.rsa!.private } : { keyPairId: 'KEC', privateKey: keys.ec!.private };
    const uri = target(getSignedUrl({ url: `${base}/videos/a.mp4`, dateLessThan: date(now + 600), algorithm, ...key }));
    expect(uri).toContain('Expires=');
    expect(decide(uri)).toBe(Verdict.valid);
    expect(decide(uri, now + 599)).toBe(Verdict.valid);
    expect(decide(uri, now + 600)).toBe(Verdict.expired);
    expect(decide(uri.replace('/videos/a.mp4', '/videos/b.mp4'))).toBe(Verdict.forged);
    // Without the algorithm parameter a SHA256 signature is checked as SHA1, and the other way round.
    const flipped = algorithm === 'SHA256' ? uri.replace('&Hash-Algorithm=SHA256', '') : `${uri}&Hash-Algorithm=SHA256`;
    expect(decide(flipped)).toBe(Verdict.forged);
  });

  it('the URL as received, with its query in order; the SDK encodes the path first', () => {
    const withQuery = sdkUrl({ url: `${base}/v/a.mp4?b=2&a=1`, dateLessThan: date(now + 600) });
    expect(decide(withQuery)).toBe(Verdict.valid);
    expect(decide(withQuery.replace('b=2&a=1', 'a=1&b=2'))).toBe(Verdict.forged);
    expect(decide(withQuery.replace('b=2&a=1&', ''))).toBe(Verdict.forged);
    const spaced = sdkUrl({ url: `${base}/v/a b.mp4`, dateLessThan: date(now + 600) });
    expect(spaced.startsWith('/v/a%20b.mp4?')).toBe(true);
    expect(decide(spaced)).toBe(Verdict.valid);
  });

  it('custom policy: start time, IP range, the SDK writes it when either is given', () => {
    const started = sdkUrl({ url: `${base}/v/s.mp4`, dateLessThan: date(now + 600), dateGreaterThan: date(now + 100) });
    expect(started).toContain('Policy=');
    expect(decide(started, now + 101)).toBe(Verdict.valid);
    expect(decide(started, now + 100 - 31)).toBe(Verdict.premature);
    const ranged = sdkUrl({ url: `${base}/v/r.mp4`, dateLessThan: date(now + 600), ipAddress: '203.0.113.0/24' });
    expect(decide(ranged, now, '203.0.113.200')).toBe(Verdict.valid);
    expect(decide(ranged, now, '198.51.100.1')).toBe(Verdict.wrongIp);
    expect(decide(ranged, now, '2001:db8::1')).toBe(Verdict.wrongIp);
    expect(authorize(gate, ranged, undefined, now).verdict).toBe(Verdict.badSource);
    const single = sdkUrl({ url: `${base}/v/r.mp4`, dateLessThan: date(now + 600), ipAddress: '203.0.113.9' });
    expect(decide(single, now, '203.0.113.9')).toBe(Verdict.valid);
    expect(decide(single, now, '203.0.113.10')).toBe(Verdict.wrongIp);
  });

  it('custom policy: Resource wildcards over the whole URL, query included', () => {
    const policy = (resource: string) =>
      JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': now + 600 } } }] });
    const signed = (resource: string, path: string) => {
      // The SDK appends its parameters to the Resource (with "&" when it holds a "?"): take them alone.
      const url = sdkUrl({ policy: policy(resource) });
      return `${path}${path.includes('?') ? '&' : '?'}${url.slice(url.indexOf('Policy='))}`;
    };
    expect(decide(signed(`${base}/videos/*`, '/videos/a.mp4'))).toBe(Verdict.valid);
    expect(decide(signed(`${base}/videos/*`, '/videos/x/y.ts?q=1'))).toBe(Verdict.valid);
    expect(decide(signed(`${base}/videos/*`, '/other/a.mp4'))).toBe(Verdict.forged);
    // "?" is literal unless the route says questionMarkWildcard (see "a canned signature resent").
    expect(decide(signed(`${base}/v/seg-?.ts`, '/v/seg-1.ts'))).toBe(Verdict.forged);
    expect(decide(signed(`${base}/v/a.ts?x=*`, '/v/a.ts?x=1'))).toBe(Verdict.valid);
    const wildcards = cdnGate({ questionMarkWildcard: true });
    expect(authorize(wildcards, signed(`${base}/v/seg-?.ts`, '/v/seg-1.ts'), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(wildcards, signed(`${base}/v/seg-?.ts`, '/v/seg-10.ts'), undefined, now).verdict).toBe(Verdict.forged);
    expect(decide(signed('*://cdn.example.com/*', '/any'))).toBe(Verdict.valid);
    expect(decide(signed('https://other.example.com/*', '/any'))).toBe(Verdict.forged);
  });

  it('signed cookies, canned and custom', () => {
    const canned = getSignedCookies({
      url: `${base}/c/a.mp4`,
      keyPairId: 'KEC',
      privateKey: keys.ec!.private,
      dateLessThan: date(now + 600),
    }) as unknown as Record<string, string>;
    const header = (cookies: Record<string, string>) =>
      Object.entries(cookies)
        .map(([name, value]) => `${name}=${value}`)
        .join('; ');
    expect(canned['CloudFront-Expires']).toBeDefined();
    expect(decide('/c/a.mp4', now, undefined, header(canned))).toBe(Verdict.valid);
    expect(decide('/c/b.mp4', now, undefined, header(canned))).toBe(Verdict.forged);
    const custom = getSignedCookies({
      policy: JSON.stringify({
        Statement: [{ Resource: `${base}/c/*`, Condition: { DateLessThan: { 'AWS:EpochTime': now + 600 } } }],
      }),
      keyPairId: 'KRSA',
      privateKey: keys.rsa!.private,
      algorithm: 'SHA256',
    }) as unknown as Record<string, string>;
    expect(decide('/c/any/file.ts', now, undefined, header(custom))).toBe(Verdict.valid);
    expect(decide('/d/file.ts', now, undefined, header(custom))).toBe(Verdict.forged);
    expect(decide('/c/x.ts', now, undefined, `${header(custom)}; CloudFront-Signature=x`)).toBe(Verdict.malformed);
  });

  it('the verdict cache is on by default for these routes, and a route may turn it off', () => {
    const route = (extra: object) => [
      { name: 'cdn', prefix: '/', scheme: 'cloudfront', keys: [{ id: 'KEC', env: 'EC' }], options: { baseUrl: base }, ...extra },
    ];
    expect(gateFor(route({}), { EC: keys.ec!.public }).routes[0]!.cache).toBeDefined();
    expect(gateFor(route({ verdictCache: false }), { EC: keys.ec!.public }).routes[0]!.cache).toBeUndefined();
  });
  it('keys: selected by Key-Pair-Id; unknown or removed keys are forged; RSA under 2048 and P-384 refused at load', () => {
    const uri = sdkUrl({ url: `${base}/k.mp4`, dateLessThan: date(now + 600) });
    expect(decide(uri.replace('Key-Pair-Id=KRSA', 'Key-Pair-Id=KEC'))).toBe(Verdict.forged);
    expect(authorize(gate, uri.replace('Key-Pair-Id=KRSA', 'Key-Pair-Id=KNONE'), undefined, now).detail).toMatch(/^Unknown key/);
    const rotated = gateFor(
      [{ name: 'cdn', prefix: '/', scheme: 'cloudfront', keys: [{ id: 'KEC', env: 'EC' }], options: { baseUrl: base } }],
      { EC: keys.ec!.public },
    );
    expect(authorize(rotated, uri, undefined, now).verdict).toBe(Verdict.forged);
    for (const weak of ['rsa1024', 'ec384']) {
      expect(() =>
        gateFor([{ name: 'w', prefix: '/', scheme: 'cloudfront', keys: [{ id: 'KW', env: 'W' }], options: { baseUrl: base } }], {
          W: keys[weak]!.public,
        }),
      ).toThrow(/RSA \(2048 bits or more\) or ECDSA P-256|shorter than 2048/);
    }
  });

  it('every one-character change of the signature or the policy denies, never as expired', () => {
    const uri = sdkUrl({ url: `${base}/m.mp4`, dateLessThan: date(now + 600), ipAddress: '203.0.113.0/24' });
    const query = uri.slice(uri.indexOf('?') + 1);
    const policyStart = uri.indexOf('Policy=') + 7;
    const policyEnd = uri.indexOf('&', policyStart);
    const signatureStart = uri.indexOf('Signature=') + 10;
    let checked = 0;
    for (const [from, to] of [
      [policyStart, policyEnd],
      [signatureStart, uri.length],
    ] as const) {
      for (let i = from; i < to; i++) {
        for (const char of ['A', 'z', '0', '-', '~', '_']) {
          if (uri[i] === char) continue;
          const changed = uri.slice(0, i) + char + uri.slice(i + 1);
          const verdict = decide(changed);
          if (verdict === Verdict.valid || verdict === Verdict.expired) throw new Error(`${changed} gave ${verdict}`);
          checked++;
        }
      }
    }
    expect(query).toContain('Signature=');
    expect(checked).toBeGreaterThan(1000);
  });
});

describe('cloudfront: signed links never open more than asked', () => {
  /** A config file whose routes (name, prefix) all sign with one RSA private key, K1, and the config loaded. */
  const configOf = (routes: [string, string][], extra: Record<string, unknown> = {}) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'k.pem'), keys.rsa!.private);
    const file = writeConfig(dir, {
      ...extra,
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      routes: routes.map(([name, prefix]) => ({
        name,
        prefix,
        scheme: 'cloudfront',
        keys: [{ id: 'K1', file: 'k.pem' }],
        options: { baseUrl: base },
      })),
    });
    return { file, loaded: loadConfig(file, {}) };
  };
  it('a scope that covers a nested route sharing the key is signed, and the nested route refuses it (rule 9)', async () => {
    const { file, loaded } = configOf([
      ['cdn', '/media/'],
      ['inner', '/media/private/'],
    ]);
    const sign = (path: string, scopeDepth: number, cookies?: boolean) =>
      signLink(loaded, { path, expiresSec: now + 600, scopeDepth, cookies }, { nowSec: now });
    // A signer that loads the outer route's keys only makes the same link.
    const alone = await configSigner(file, 'cdn').sign({ path: '/media/a.mp4', expiresSec: now + 600, scopeDepth: 1 });
    for (const query of [(await sign('/media/a.mp4', 1)).query!, alone.query]) {
      expect(authorize(loaded.gate, `/media/show/b.ts?${query}`, undefined, now).verdict).toBe(Verdict.valid);
      const inner = authorize(loaded.gate, `/media/private/b.ts?${query}`, undefined, now);
      expect(inner.verdict).toBe(Verdict.forged);
      expect(inner.detail).toMatch(/inside another route/);
    }
    const deeper = await sign('/media/show/a.mp4', 2);
    const query = deeper.query!;
    expect(authorize(loaded.gate, `/media/show/b.ts?${query}`, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(loaded.gate, `/media/private/b.ts?${query}`, undefined, now).verdict).toBe(Verdict.forged);
  });
  it('a start time is checked one second after it: CloudFront windows exclude DateGreaterThan itself', async () => {
    const { loaded } = configOf([['cdn', '/']], { clockSkewSec: 0 });
    const link = await signLink(loaded, { path: '/a.mp4', expiresSec: now + 600, notBeforeSec: now + 60 }, { nowSec: now });
    const target = `/a.mp4?${link.query}`;
    expect(authorize(loaded.gate, target, undefined, now + 60).verdict).toBe(Verdict.premature);
    expect(authorize(loaded.gate, target, undefined, now + 61).verdict).toBe(Verdict.valid);
  });
});

describe('cloudfront: a canned signature resent as a custom policy', () => {
  // The bytes of a canned policy are also a valid custom policy: whoever holds a canned link can
  // send its signature with Policy=<those bytes>, where the URL's own characters become wildcards.
  const asPolicy = (link: string, path: string) => {
    const expires = Number(/Expires=(\d+)/.exec(link)![1]);
    const signature = /Signature=([^&]+)/.exec(link)![1];
    const url = `${base}${link.slice(0, link.indexOf('Expires=') - 1)}`;
    const policy = encodeCloudFrontBase64(
      Buffer.from(
        `{"Statement":[{"Resource":${JSON.stringify(url)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`,
      ),
    );
    return `${path}?Policy=${policy}&Key-Pair-Id=KRSA&Signature=${signature}`;
  };
  it('the "?" of a canned URL\'s query is a literal "?" unless the route asks for the wildcard', () => {
    const link = sdkUrl({ url: `${base}/v?id=1`, dateLessThan: date(now + 600) });
    expect(decide(link)).toBe(Verdict.valid);
    expect(decide(asPolicy(link, '/v'))).toBe(Verdict.forged); // the policy's URL has the query
    for (const path of ['/v/id=1', '/vXid=1', '/v.id=1']) expect(decide(asPolicy(link, path)), path).toBe(Verdict.forged);
    const wildcards = cdnGate({ questionMarkWildcard: true });
    expect(authorize(wildcards, asPolicy(link, '/v/id=1'), undefined, now).verdict).toBe(Verdict.valid);
  });
  it('tokengate never signs a path with "*", canned included (its canned bytes would be a wildcard policy)', () => {
    const rsa = findRoute(
      gateFor(
        [{ name: 'cdn', prefix: '/', scheme: 'cloudfront', keys: [{ id: 'KRSA', env: 'P' }], options: { baseUrl: base } }],
        {
          P: keys.rsa!.private,
        },
      ),
      '/',
    )!.scheme;
    expect(() => rsa.sign({ path: '/media/free/*', expiresSec: now + 600 })).toThrow(/wildcard/);
    expect(() => rsa.sign({ path: '/media/a*b.mp4', expiresSec: now + 600, cookies: true })).toThrow(/wildcard/);
    const encoded = rsa.sign({ path: '/media/a%2Ab.mp4', expiresSec: now + 600 });
    expect(encoded.carrier === 'query' && decide(`/media/a%2Ab.mp4?${encoded.query}`)).toBe(Verdict.valid);
  });
});

describe('cloudfront: the signed cookies are read in one pass', () => {
  it('cookieValues gives, per name, what reading the header once per name gives', async () => {
    const { cookieValues } = await import('../../src/request/cookie-value.js');
    const { trimOws } = await import('../../src/request/http-whitespace.js');
    /** The reader of one cookie, a pass per name: the oracle. */
    const one = (header: string, name: string) => {
      let found: string | undefined;
      for (const pair of header.split(';')) {
        const eq = pair.indexOf('=');
        if (eq < 0 || trimOws(pair.slice(0, eq)) !== name) continue;
        if (found !== undefined) return null;
        found = trimOws(pair.slice(eq + 1));
      }
      return found;
    };
    const names = ['CloudFront-Policy', 'CloudFront-Signature', 'a', 'b', ''];
    const parts = ['CloudFront-Policy', 'CloudFront-Signature', 'a', 'b', '=', ';', ' ', '\t', ',', 'x', 'cloudfront-policy'];
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const header = Array.from({ length: random(12) }, () => parts[random(parts.length)]).join('');
      expect(cookieValues(header, names), JSON.stringify(header)).toEqual(names.map((name) => one(header, name)));
    }
  });
});

describe("cloudfront: CloudFront's base64, one spelling", () => {
  /** The straightforward strict decoder (charset, then Node's decoder and a round trip): the oracle. */
  const reference = (text: string, maxBytes: number) => {
    if (text.length === 0 || text.length % 4 !== 0 || text.length > ((maxBytes + 2) / 3) * 4 + 4) return undefined;
    if (!/^[A-Za-z0-9~-]+_{0,2}$/.test(text)) return undefined;
    const standard = text.replaceAll('-', '+').replaceAll('_', '=').replaceAll('~', '/');
    const bytes = Buffer.from(standard, 'base64');
    return bytes.toString('base64') === standard ? bytes : undefined;
  };
  it('agrees with the round-trip decoder on random text, every canonical encoding and every one-character change', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~_+/=.%é\u0000 ';
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const length = random(4) === 0 ? random(40) : 4 * (1 + random(10));
      texts.push(Array.from({ length }, () => alphabet[random(alphabet.length)]).join(''));
    }
    for (let n = 0; n <= 40; n++) {
      const canonical = encodeCloudFrontBase64(Buffer.from(Array.from({ length: n }, () => random(256))));
      texts.push(canonical);
      for (let at = 0; at < canonical.length; at++)
        for (const c of ['A', 'B', 'Q', 'g', 'w', '_', '-', '~', '=', '+'])
          texts.push(`${canonical.slice(0, at)}${c}${canonical.slice(at + 1)}`);
    }
    let decoded = 0;
    for (const text of texts) {
      const expected = reference(text, 64);
      expect(decodeCloudFrontBase64(text, 64), JSON.stringify(text)).toEqual(expected);
      if (expected !== undefined) decoded++;
    }
    expect(decoded).toBeGreaterThan(1000);
    expect(decodeCloudFrontBase64('AAAA'.repeat(24), 64)).toBeUndefined(); // 72 bytes: over the cap
  });
});

describe('cloudfront: policies are read strictly and never throw', () => {
  const ok = `{"Statement":[{"Resource":"${base}/x","Condition":{"DateLessThan":{"AWS:EpochTime":${now + 600}}}}]}`;
  it('the shape AWS documents, whitespace allowed', () => {
    expect(parsePolicy(ok)).toMatchObject({ resource: `${base}/x`, dateLessThan: now + 600 });
    expect(parsePolicy(JSON.stringify(JSON.parse(ok), null, 2))).toMatchObject({ resource: `${base}/x` });
  });
  it.each([
    ['duplicate key', ok.replace('"DateLessThan"', '"DateLessThan":{"AWS:EpochTime":9999999999},"DateLessThan"'), /twice/],
    ['unknown field', ok.replace('"Condition"', '"Effect":"Allow","Condition"'), /unknown field/],
    ['two statements', ok.replace('}]}', '},{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}'), /exactly one/],
    ['a string time', ok.replace(`:${now + 600}`, `:"${now + 600}"`), /unix seconds/],
    ['a fraction', ok.replace(`:${now + 600}`, `:${now + 600}.5`), /unexpected/],
    ['no DateLessThan', ok.replace(/"DateLessThan":\{[^}]*\}/, '"DateGreaterThan":{"AWS:EpochTime":1}'), /no "DateLessThan"/],
    ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`, /longer than|nested/],
    ['huge', `{"Statement":[{"Resource":"${'a'.repeat(5000)}"}]}`, /longer than/],
    ['an IPv6 range', ok.replace('"Condition":{', '"Condition":{"IpAddress":{"AWS:SourceIp":"2001:db8::/32"},'), /IPv4/],
    ['a leading zero in an IP', ok.replace('"Condition":{', '"Condition":{"IpAddress":{"AWS:SourceIp":"10.0.0.01/32"},'), /IPv4/],
    ['text after', `${ok} x`, /after the policy/],
    ['not JSON', 'Statement', /unexpected/],
  ])('%s is refused', (_name, text, message) => {
    expect(parsePolicy(text)).toMatch(message);
  });
  it("a refusal's reason never quotes the policy (it reaches the decision log before the signature is checked)", () => {
    const marker = 'sk-live-4f9a';
    for (const text of [
      ok.replace('"Condition"', `"${marker}":1,"Condition"`),
      ok.replace('"Condition"', `"${marker}":1,"${marker}":2,"Condition"`),
      `{"Statement":[${marker}]}`,
      `{"Statement" ${marker}`,
    ]) {
      const uri = `/x?Policy=${encodeCloudFrontBase64(Buffer.from(text))}&Key-Pair-Id=KRSA&Signature=${encodeCloudFrontBase64(Buffer.alloc(256, 1))}`;
      const decision = authorize(gate, uri, '203.0.113.9', now);
      expect(decision.verdict).toBe(Verdict.malformed);
      expect(decision.detail).not.toContain(marker);
      expect(decision.detail).not.toContain('sk-');
    }
  });
  it('a refused policy in a request is malformed, whatever its signature', () => {
    for (const text of ['{', '[]', `${'{"a":'.repeat(50)}1${'}'.repeat(50)}`, '\u0000']) {
      const uri = `/x?Policy=${encodeCloudFrontBase64(Buffer.from(text))}&Key-Pair-Id=KRSA&Signature=${encodeCloudFrontBase64(Buffer.alloc(256, 1))}`;
      expect(decide(uri)).toBe(Verdict.malformed);
    }
  });
  it('a "*" before fixed text never runs into the query: a proxy serves by path', () => {
    const host = 'https://cdn.example.com';
    for (const [pattern, url] of [
      ['http*://cdn.example.com/training/*', `${host}/private/payroll.pdf?a=http://cdn.example.com/training/`],
      ['*://cdn.example.com/training/*', `${host}/private/payroll.pdf?a=://cdn.example.com/training/`],
      [`${host}/users/*/avatar.png`, `${host}/users/bob/private.pdf?/avatar.png`],
      [`${host}/*/hls/*`, `${host}/private/x.mp4?x=/hls/`],
      [`${host}/*.mp4`, `${host}/secret.key?x=.mp4`],
    ]) {
      expect([pattern, url, resourceMatches(pattern!, url!)]).toEqual([pattern, url, false]);
    }
    // What those patterns are for still matches, queries included under a trailing "*".
    expect(resourceMatches('http*://cdn.example.com/training/*', `${host}/training/a.mp4?x=1`)).toBe(true);
    expect(resourceMatches(`${host}/users/*/avatar.png`, `${host}/users/bob/avatar.png`)).toBe(true);
    expect(resourceMatches(`${host}/*/hls/*`, `${host}/a/b/hls/seg.ts?t=1`)).toBe(true);
    expect(resourceMatches(`${host}/*.mp4`, `${host}/a/b.mp4`)).toBe(true);
    expect(resourceMatches(`${host}/*?x=*`, `${host}/a.mp4?x=1`)).toBe(true);
  });
  it('"__proto__" is a key like any other, and a byte-order mark is refused', () => {
    const proto = `{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":${now + 600}}},"__proto__":{"Resource":"${base}/b"}}]}`;
    expect(parsePolicy(proto)).toBe('the statement has an unknown field');
    const uri = `/x?Policy=${encodeCloudFrontBase64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ok)]))}&Key-Pair-Id=KRSA&Signature=${encodeCloudFrontBase64(Buffer.alloc(256, 1))}`;
    expect(decide(uri)).toBe(Verdict.malformed);
  });
  it('wildcards: "*" any run, "?" itself or (questionMarkWildcard) one character, nothing else special', () => {
    expect(resourceMatches('https://h/a*', 'https://h/a')).toBe(true);
    expect(resourceMatches('https://h/*.ts', 'https://h/x/y.ts')).toBe(true);
    expect(resourceMatches('https://h/*.ts', 'https://h/x/y.tsx')).toBe(false);
    expect(resourceMatches('https://h/a?c', 'https://h/abc')).toBe(false);
    expect(resourceMatches('https://h/a?c', 'https://h/a?c')).toBe(true);
    expect(resourceMatches('https://h/a?c', 'https://h/abc', true)).toBe(true);
    expect(resourceMatches('https://h/a?c', 'https://h/ac', true)).toBe(false);
    expect(resourceMatches('*a*a*a*b', `${'a'.repeat(3000)}`)).toBe(false);
    expect(resourceMatches('https://h/[a]', 'https://h/a')).toBe(false);
  });
});

describe("cloudfront: tokengate's signer", () => {
  const signer = (key: 'rsa' | 'ec', signHash = 'SHA1') =>
    findRoute(
      gateFor(
        [
          {
            name: 'cdn',
            prefix: '/',
            scheme: 'cloudfront',
            keys: [{ id: key === 'rsa' ? 'KRSA' : 'KEC', env: 'P' }],
            options: { baseUrl: base, signHash },
          },
        ],
        { P: keys[key]!.private },
      ),
      '/',
    )!.scheme;
  /** What the SDK is given for the same inputs as tokengate's signer: the RSA key, the end in 600 s, and `extra`. */
  const sdkInput = (url: string, algorithm: 'SHA1' | 'SHA256', extra: { notBeforeSec?: number; clientIp?: string }) => ({
    url,
    keyPairId: 'KRSA',
    privateKey: keys.rsa!.private,
    dateLessThan: date(now + 600),
    ...(extra.notBeforeSec === undefined ? {} : { dateGreaterThan: date(extra.notBeforeSec) }),
    ...(extra.clientIp === undefined ? {} : { ipAddress: extra.clientIp }),
    algorithm,
  });
  it.each([
    ['SHA1', {}],
    ['SHA256', {}],
    ['SHA1', { notBeforeSec: now - 60 }],
    ['SHA256', { clientIp: '203.0.113.0/24' }],
    ['SHA1', { clientIp: '203.0.113.9', notBeforeSec: now - 60 }],
  ] as const)('RSA, %s, %j: byte-identical to the SDK', (signHash, extra) => {
    const ours = signer('rsa', signHash).sign({ path: '/v/a%20b.mp4', expiresSec: now + 600, ...extra });
    const theirs = getSignedUrl(sdkInput(`${base}/v/a b.mp4`, signHash, extra));
    expect(ours.carrier === 'query' && `${base}/v/a%20b.mp4?${ours.query}`).toBe(theirs);
    expect(decide(target(theirs))).toBe(Verdict.valid);
  });
  it('ECDSA signatures differ each time: the same parameters and both verify', () => {
    const ours = signer('ec').sign({ path: '/v/e.mp4', expiresSec: now + 600 });
    if (ours.carrier !== 'query') throw new Error('query expected');
    expect(ours.query).toMatch(new RegExp(`^Expires=${now + 600}&Key-Pair-Id=KEC&Signature=[A-Za-z0-9~-]+_{0,2}$`));
    expect(decide(`/v/e.mp4?${ours.query}`)).toBe(Verdict.valid);
  });
  it.each([
    ['SHA1', {}],
    ['SHA256', {}],
    ['SHA1', { notBeforeSec: now - 60 }],
    ['SHA256', { clientIp: '203.0.113.0/24', notBeforeSec: now - 60 }],
  ] as const)('signed cookies, RSA, %s, %j: the cookies getSignedCookies writes, in its order', (signHash, extra) => {
    const ours = signer('rsa', signHash).sign({ path: '/v/c.mp4', expiresSec: now + 600, cookies: true, ...extra });
    const theirs = getSignedCookies(sdkInput(`${base}/v/c.mp4`, signHash, extra));
    if (ours.carrier !== 'cookies') throw new Error('cookies expected');
    expect(ours.cookies.map(({ name, value }) => [name, value])).toEqual(
      Object.entries(theirs).map(([name, value]) => [name, String(value)]),
    );
    const header = Object.entries(theirs)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
    expect(decide('/v/c.mp4', now, '203.0.113.9', header)).toBe(Verdict.valid);
    expect(decide('/v/d.mp4', now, '203.0.113.9', header)).toBe(Verdict.forged);
  });
  it('a scope signs a Resource ending in "*": the policy is the one the SDK signs for that Resource', () => {
    const scoped = signer('rsa').sign({ path: '/v/show/index.m3u8', expiresSec: now + 600, scopeDepth: 2, cookies: true });
    if (scoped.carrier !== 'cookies') throw new Error('cookies expected');
    const policy = JSON.stringify({
      Statement: [{ Resource: `${base}/v/show/*`, Condition: { DateLessThan: { 'AWS:EpochTime': now + 600 } } }],
    });
    const theirs = getSignedCookies({ keyPairId: 'KRSA', privateKey: keys.rsa!.private, policy });
    expect(Object.fromEntries(scoped.cookies.map(({ name, value }) => [name, value]))).toEqual(theirs);
    const header = Object.entries(theirs)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
    for (const path of ['/v/show/index.m3u8', '/v/show/720p/seg-1.ts', '/v/show/a.ts?x=1'])
      expect(decide(path, now, undefined, header), path).toBe(Verdict.valid);
    for (const path of ['/v/other/index.m3u8', '/v/show', '/v/shows/a.ts'])
      expect(decide(path, now, undefined, header), path).toBe(Verdict.forged);
    // The same scope as a signed URL: the policy rides in the query.
    const url = signer('rsa').sign({ path: '/v/show/index.m3u8', expiresSec: now + 600, scopeDepth: 2 });
    if (url.carrier !== 'query') throw new Error('query expected');
    expect(decide(`/v/show/720p/seg-1.ts?${url.query}`)).toBe(Verdict.valid);
    expect(decide(`/v/else/seg-1.ts?${url.query}`)).toBe(Verdict.forged);
  });
  it('refuses what would sign more than asked or what the route cannot read', () => {
    const rsa = signer('rsa');
    const at = { expiresSec: now + 600 };
    // "*" is a wildcard in a custom policy's Resource: a path holding one is refused there.
    expect(() => rsa.sign({ path: '/v/a*.mp4', ...at, notBeforeSec: now })).toThrow(/wildcard/);
    expect(() => rsa.sign({ path: '/v/*/a.mp4', ...at, scopeDepth: 2 })).toThrow(/wildcard/);
    // In a canned policy too: its bytes, resent as a custom policy, would be a wildcard.
    expect(() => rsa.sign({ path: '/v/a*.mp4', ...at })).toThrow(/wildcard/);
    expect(() => rsa.sign({ path: '/v/a.mp4', ...at, scopeDepth: 3 })).toThrow(/does not fit/);
    expect(() => rsa.sign({ path: '/v/a.mp4', ...at, clientIp: '2001:db8::1' })).toThrow(/IPv4/);
    expect(() => rsa.sign({ path: '/v/a.mp4', ...at, clientIp: '203.0.113.9/24/1' })).toThrow(/IPv4/);
    expect(() => rsa.sign({ path: '/v/a.mp4', ...at, sessionId: 's' })).toThrow(/cannot sign sessionId/);
    const nested = (options: Record<string, unknown>) => findRoute(cdnGate(options, keys.rsa!.private, '/v/'), '/v/')!.scheme;
    expect(() => nested({}).sign({ path: '/v/show/a.ts', ...at, scopeDepth: 0 })).toThrow(/outside the route \/v\//);
    expect(() => nested({ cookies: false }).sign({ path: '/v/a.ts', ...at, cookies: true })).toThrow(
      /does not read signed cookies/,
    );
    expect(nested({ cookies: false }).sign({ path: '/v/a.ts', ...at, cookies: false }).carrier).toBe('query');
  });
  it('a route whose key file holds only the public key cannot sign', () => {
    expect(() => findRoute(gate, '/')!.scheme.sign({ path: '/v/a.mp4', expiresSec: now + 600 })).toThrow(/private key/);
  });
});

describe('cloudfront: baseUrl and hostHeader, read as google-cdn reads them', () => {
  it.each(signedOriginCases)('%j', (options, expected) => {
    expect(readSignedOrigin(cloudfront, options)).toEqual(expected);
    expect(readSignedOrigin(googleCdn, options)).toEqual(readSignedOrigin(cloudfront, options));
  });
  it('a base URL with its host in upper case is read in lower case, so the links signed for it verify', () => {
    const uri = sdkUrl({ url: `${base}/v/a.mp4`, dateLessThan: date(now + 600) });
    const upper = gateFor(
      [
        {
          name: 'cdn',
          prefix: '/',
          scheme: 'cloudfront',
          keys: [{ id: 'KRSA', env: 'K' }],
          options: { baseUrl: base.toUpperCase().replace('HTTPS', 'https') },
        },
      ],
      { K: keys.rsa!.public },
    );
    expect(authorize(upper, uri, undefined, now).verdict).toBe(Verdict.valid);
  });
  it('on the uws engine, a route reading cookies or a host header is refused with the way out', () => {
    const refused = parseConfig({
      engine: 'uws',
      listeners: [{ port: 0, pathPrefix: '/t' }],
      routes: [{ prefix: '/', scheme: 'cloudfront', keys: [{ id: 'k', env: 'K' }], options: { baseUrl: 'https://a.b' } }],
    });
    expect(refused).toEqual([
      expect.stringMatching(/engine "uws" cannot read safely .*: use engine "node", or "cookies": false and no hostHeader$/),
    ]);
  });
  it('unknown options are named with the known ones', () => {
    expect(() => cdnGate({ salt: 1 })).toThrow(
      'routes[0].options.salt: unknown field (known: baseUrl, hostHeader, cookies, allowNoResource, signHash, questionMarkWildcard)',
    );
  });
});

describe('docs/formats/cloudfront.md', () => {
  it('the route shown loads with a public key; its sign command signs with a private key file', async () => {
    const { docBlock } = await import('../helpers/doc-blocks.js');
    const { runCli, writeConfig } = await import('../helpers/service-process.js');
    const { writeFileSync } = await import('node:fs');
    const dir = tempDir();
    const shown = JSON.parse(docBlock('docs/formats/cloudfront.md', 'cloudfront-route')) as {
      keys: { id: string; file: string }[];
    };
    writeFileSync(join(dir, 'public.pem'), keys.rsa!.public);
    writeFileSync(join(dir, 'private.pem'), keys.rsa!.private);
    shown.keys[0]!.file = join(dir, 'public.pem');
    const verifying = gateFor([{ ...shown, keys: [{ id: shown.keys[0]!.id, env: 'PUB' }] }], { PUB: keys.rsa!.public });
    shown.keys[0]!.file = join(dir, 'private.pem');
    const configFile = writeConfig(dir, { listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [shown] });
    const page = readFileSync(new URL('../../docs/formats/cloudfront.md', import.meta.url), 'utf8');
    const command = /`tokengate (sign --route cdn [^`]*)`/.exec(page)![1]!.split(/\s+/);
    const result = await runCli([...command, '--config', configFile]);
    expect(result.code, result.stderr).toBe(0);
    const link = result.stdout.trim();
    // The link starts with the route's baseUrl: the host is part of what was signed.
    expect(link).toMatch(
      /^https:\/\/d111111abcdef8\.cloudfront\.net\/videos\/a\.mp4\?Expires=\d{10}&Key-Pair-Id=K2JCJMDEHXQW5F&Signature=[A-Za-z0-9~-]+_{0,2}$/,
    );
    const target = link.slice('https://d111111abcdef8.cloudfront.net'.length);
    expect(authorize(verifying, target, undefined, Math.floor(Date.now() / 1000)).verdict).toBe(Verdict.valid);
    // The cookies command: the link, then a Cookie line whose cookies open the whole stream.
    const cookies = await runCli([
      ...docBlock('docs/formats/cloudfront.md', 'cloudfront-cookies').split(/\s+/).slice(1),
      '--config',
      configFile,
    ]);
    expect(cookies.code, cookies.stderr).toBe(0);
    const [url, cookieLine, ...more] = cookies.stdout.trim().split('\n');
    expect([url, more]).toEqual(['https://d111111abcdef8.cloudfront.net/videos/show/index.m3u8', []]);
    expect(cookieLine).toMatch(
      /^Cookie: CloudFront-Key-Pair-Id=K2JCJMDEHXQW5F; CloudFront-Signature=[^;]+; CloudFront-Policy=[^;]+$/,
    );
    const header = cookieLine!.slice('Cookie: '.length);
    const at = Math.floor(Date.now() / 1000);
    const decideWith = (path: string) =>
      authorize(verifying, path, undefined, at, { get: (name: string) => (name === 'cookie' ? header : undefined) }).verdict;
    expect(decideWith('/videos/show/1080p/seg-9.ts')).toBe(Verdict.valid);
    expect(decideWith('/videos/other/index.m3u8')).toBe(Verdict.forged);
  });
});

describe('cloudfront: the service answers as CloudFront when asked, and says why it denied', () => {
  it("410 by default, 403 with expiredStatus 403 (CloudFront's answer), X-Token-Status expired on both; the reason in tokengate verify", async () => {
    const { startService, runCli, writeConfig } = await import('../helpers/service-process.js');
    const dir = tempDir();
    const route = {
      name: 'cdn',
      prefix: '/',
      scheme: 'cloudfront',
      keys: [{ id: 'KRSA', env: 'RSA' }],
      options: { baseUrl: base },
    };
    const file = writeConfig(dir, {
      listeners: [
        { name: 'tokengate', port: 0, uriHeader: 'X-Original-URI' },
        { name: 'cloudfront-like', port: 0, uriHeader: 'X-Original-URI', expiredStatus: 403 },
      ],
      admin: { port: 0 },
      routes: [route],
    });
    const service = await startService(['serve', '--config', file], { RSA: keys.rsa!.public }, 3);
    try {
      const ask = async (listener: string, uri: string) => {
        const response = await fetch(`http://127.0.0.1:${service.ports.get(listener)}/`, { headers: { 'X-Original-URI': uri } });
        return [response.status, response.headers.get('x-token-status')];
      };
      const valid = sdkUrl({ url: `${base}/v/a.mp4`, dateLessThan: date(now + 600) });
      const expired = sdkUrl({ url: `${base}/v/a.mp4`, dateLessThan: date(now - 5) });
      expect(await ask('tokengate', valid)).toEqual([200, 'valid']);
      expect(await ask('cloudfront-like', valid)).toEqual([200, 'valid']);
      expect(await ask('tokengate', expired)).toEqual([410, 'expired']);
      expect(await ask('cloudfront-like', expired)).toEqual([403, 'expired']);
      // The reasons, as CloudFront's own messages name them.
      const verify = async (uri: string) => {
        const result = await runCli(['verify', `${base}${uri}`, '--config', file], { RSA: keys.rsa!.public });
        return /^reason: +(.*)$/m.exec(result.stdout)?.[1];
      };
      expect(await verify(valid.replace(/&Key-Pair-Id=KRSA/, ''))).toBe('Missing Key-Pair-Id');
      expect(await verify(valid.replace(/&Signature=[^&]*/, ''))).toBe('Missing Signature');
      expect(await verify(valid.replace('Key-Pair-Id=KRSA', 'Key-Pair-Id=KGONE'))).toMatch(/^Unknown key/);
      expect(await verify(valid.replace(/Expires=\d+&/, ''))).toMatch(/^Missing Expires or Policy/);
    } finally {
      await service.stop();
    }
  });
});

describe('cloudfront: an ECDSA signature and its twin are one link', () => {
  /** The DER ECDSA signature with s replaced by n - s (P-256): valid too, and written without the key. */
  function twinSignature(signature: string): string {
    const der = decodeCloudFrontBase64(signature, 1024)!;
    const n = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
    const rLength = der[3]!;
    const r = der.subarray(4, 4 + rLength);
    const s = BigInt(`0x${der.subarray(6 + rLength).toString('hex')}`);
    const integer = (bytes: Buffer) => {
      let body = bytes;
      while (body.length > 1 && body[0] === 0 && body[1]! < 0x80) body = body.subarray(1);
      if (body[0]! >= 0x80) body = Buffer.concat([Buffer.from([0]), body]);
      return Buffer.concat([Buffer.from([0x02, body.length]), body]);
    };
    const twinS = Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex');
    const content = Buffer.concat([integer(r), integer(twinS)]);
    return encodeCloudFrontBase64(Buffer.concat([Buffer.from([0x30, content.length]), content]));
  }

  it('both verify, and a revocation by fingerprint takes both', async () => {
    const book = new RevocationBook();
    const revocable = gateFor(
      [
        {
          name: 'cdn',
          prefix: '/',
          scheme: 'cloudfront',
          keys: [{ id: 'KEC', env: 'EC' }],
          options: { baseUrl: base },
          revocation: { maxLifetimeSec: 86_400 },
        },
      ],
      { EC: keys.ec!.public },
      undefined,
      undefined,
      book,
    );
    const url = getSignedUrl({
      url: `${base}/films/a.mp4`,
      keyPairId: 'KEC',
      privateKey: keys.ec!.private,
      dateLessThan: date(now + 600),
    }).slice(base.length);
    const signature = /Signature=([^&]+)/.exec(url)![1]!;
    const twin = url.replace(signature, twinSignature(signature));
    expect(twin).not.toBe(url);
    expect(await verdictOf(revocable, url, undefined, now)).toBe(Verdict.valid);
    expect(await verdictOf(revocable, twin, undefined, now)).toBe(Verdict.valid);
    const fp = (await explain(revocable, url, undefined, now)).details.fingerprint!;
    expect((await explain(revocable, twin, undefined, now)).details.fingerprint).toBe(fp);
    book.put({ kind: 'fp', value: fp, route: 'cdn', id: 'x', untilSec: now + 3600, createdSec: now });
    expect(await verdictOf(revocable, url, undefined, now)).toBe(Verdict.revoked);
    expect(await verdictOf(revocable, twin, undefined, now)).toBe(Verdict.revoked);
  });
});

/**
 * bunny.net token authentication against the vectors BunnyWay publishes with its SDKs
 * (BunnyCDN.TokenAuthentication e2e/vectors.json, made by its python3/token.py): every HS256
 * vector allowed with its own inputs (client IP, country) and denied with others; the advanced
 * and basic generations by their documented formulas; tokengate's signer reproduces the vectors.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize, findRoute } from '../../src/decision/authorize.js';
import { canonicalIp } from '../../src/request/client-ip.js';
import { type BunnySampleOptions, bunnySampleUrl } from '../helpers/bunny-sample.js';
import { gateFor } from '../helpers/gates.js';

interface Case {
  name: string;
  path: string;
  userIp: string;
  isDirectory: boolean;
  pathAllowed: string;
  countriesAllowed: string;
  countriesBlocked: string;
  ignoreParams: boolean;
  speedLimit: number;
  countryCode: string;
}
const data = JSON.parse(readFileSync(new URL('../vectors/bunny-hs256.json', import.meta.url), 'utf8')) as {
  inputs: { key: string; expires: number; cases: Case[] };
  vectors: { name: string; signedUrl: string; token: string }[];
};
const { key, expires } = data.inputs;
const gateWith = (options: Record<string, unknown> = {}) =>
  gateFor([{ name: 'zone', prefix: '/', scheme: 'bunny', keys: [{ id: 'k', env: 'BUNNY_KEY' }], options }], { BUNNY_KEY: key });
const country = (code: string) => ({ get: (name: string) => (name === 'x-country-code' ? code : undefined) });
const gate = gateWith({ countryHeader: 'X-Country-Code' });
const before = expires - 60;

/** The request a vector's signed URL makes (the path form `/bcdn_token=…/dir/` as it is). */
function requestOf(signedUrl: string): string {
  const url = new URL(signedUrl);
  return `${url.pathname}${url.search}`;
}

describe('HS256: the published vectors', () => {
  const cases = data.inputs.cases;
  it.each(data.vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const input = cases.find((c) => c.name === vector.name)!;
    const uri = requestOf(vector.signedUrl);
    const ip = input.userIp === '' ? '203.0.113.50' : input.userIp;
    expect(authorize(gate, uri, ip, before, country(input.countryCode)).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri, ip, expires + 1, country(input.countryCode)).verdict).toBe(Verdict.expired);
    expect(authorize(gate, uri, ip, expires, country(input.countryCode)).verdict).toBe(Verdict.valid);
    // Any change of the URL's signed parts denies.
    const other = uri.replace(/300kb\.jpg|abc\//, (part) => (part === 'abc/' ? 'abd/' : '301kb.jpg'));
    if (input.pathAllowed === '')
      expect(authorize(gate, other, ip, before, country(input.countryCode)).verdict).toBe(Verdict.forged);
    if (!input.ignoreParams) {
      expect(authorize(gate, `${uri}&extra=1`, ip, before, country(input.countryCode)).verdict).toBe(Verdict.forged);
    } else {
      expect(authorize(gate, `${uri}&extra=1`, ip, before, country(input.countryCode)).verdict).toBe(Verdict.valid);
    }
    if (input.userIp !== '') {
      const elsewhere = input.userIp.includes(':') ? '2001:db8:85a4::1' : '1.2.4.4';
      expect(authorize(gate, uri, elsewhere, before, country(input.countryCode)).verdict).toBe(Verdict.forged);
      expect(authorize(gate, uri, undefined, before, country(input.countryCode)).verdict).toBe(Verdict.badSource);
    }
    if (input.countriesAllowed !== '') expect(authorize(gate, uri, ip, before, country('DE')).verdict).toBe(Verdict.forged);
    if (input.countriesBlocked !== '') expect(authorize(gate, uri, ip, before, country('RU')).verdict).toBe(Verdict.forged);
  });

  it('an IPv6 token covers its /64; an IPv4 token its address (or the /24 when signed for x.y.z.0)', () => {
    const v6 = requestOf(data.vectors.find((v) => v.name === 'ip_v6_only')!.signedUrl);
    expect(authorize(gate, v6, '2001:db8:85a3::ffff:1', before).verdict).toBe(Verdict.valid);
    const v4 = requestOf(data.vectors.find((v) => v.name === 'ip_v4_only')!.signedUrl);
    expect(authorize(gate, v4, '1.2.3.5', before).verdict).toBe(Verdict.forged);
    const signer = findRoute(gate, '/x')!.scheme;
    const network = signer.sign({ path: '/300kb.jpg', expiresSec: expires, clientIp: '1.2.3.0' }) as { query: string };
    expect(authorize(gate, `/300kb.jpg?${network.query}`, '1.2.3.77', before).verdict).toBe(Verdict.valid);
    expect(authorize(gate, `/300kb.jpg?${network.query}`, '1.2.4.77', before).verdict).toBe(Verdict.forged);
  });

  it('token_path scopes the token to the paths under it (a plain string prefix)', () => {
    const uri = requestOf(data.vectors.find((v) => v.name === 'path_only')!.signedUrl);
    expect(authorize(gate, uri.replace('/abc/300kb.jpg', '/abc/deeper/x.ts'), '203.0.113.5', before).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri.replace('/abc/300kb.jpg', '/abx/300kb.jpg'), '203.0.113.5', before).verdict).toBe(Verdict.forged);
  });

  it("a country-restricted token needs the route's countryHeader", () => {
    const uri = requestOf(data.vectors.find((v) => v.name === 'countries_only')!.signedUrl);
    expect(authorize(gateWith(), uri, '203.0.113.5', before, country('CA')).verdict).toBe(Verdict.forged);
    expect(authorize(gate, uri, '203.0.113.5', before, country('ca')).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri, '203.0.113.5', before).verdict).toBe(Verdict.forged);
  });

  it("tokengate's signer makes the vectors' tokens", () => {
    const signer = findRoute(gate, '/x')!.scheme;
    const plain = signer.sign({ path: '/300kb.jpg', expiresSec: expires }) as { query: string };
    expect(plain.query).toBe(new URL(data.vectors.find((v) => v.name === 'plain')!.signedUrl).search.slice(1));
    const ip = signer.sign({ path: '/300kb.jpg', expiresSec: expires, clientIp: '1.2.3.4' }) as { query: string };
    expect(ip.query).toBe(new URL(data.vectors.find((v) => v.name === 'ip_v4_only')!.signedUrl).search.slice(1));
  });
});

describe('the path form: /bcdn_token=…&expires=…/dir/file', () => {
  const now = 1_800_000_000;
  const signer = findRoute(gate, '/x')!.scheme;
  const pathForm = (query: string, rest: string) => `/bcdn_token=${query.replace(/^token=/, '')}${rest}`;

  it('the token covers the path after the segment, on which the route is chosen', () => {
    const { query } = signer.sign({ path: '/abc/', expiresSec: now + 60, clientIp: '1.2.3.4' }) as { query: string };
    expect(authorize(gate, pathForm(query, '/abc/'), '1.2.3.4', now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, pathForm(query, '/abd/'), '1.2.3.4', now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, pathForm(query, '/abc/'), '1.2.3.5', now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, pathForm(query, ''), '1.2.3.4', now).verdict).toBe(Verdict.badUri);
    // token_path travels in the segment percent-encoded ("%2F"): the segment is the token's, not the path.
    const scoped = signer.sign({ path: '/abc/x.ts', expiresSec: now + 60, scopeDepth: 1 }) as { query: string };
    expect(scoped.query).toMatch(/&token_path=%2Fabc%2F&/);
    expect(authorize(gate, pathForm(scoped.query, '/abc/x.ts'), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, pathForm(scoped.query, '/abc/deeper/y.ts'), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, pathForm(scoped.query, '/abd/x.ts'), undefined, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, `/abc/x.ts?${scoped.query}`, undefined, now).verdict).toBe(Verdict.valid);
  });

  it("BunnyWay's own algorithm (written again in test/helpers/bunny-sample.ts) makes the published vectors", () => {
    for (const input of data.inputs.cases) {
      const vector = data.vectors.find((v) => v.name === input.name)!;
      const url = bunnySampleUrl(`https://token-tester.b-cdn.net${input.path}`, key, { ...input, expires });
      expect([input.name, url]).toEqual([input.name, vector.signedUrl]);
    }
  });

  const samples: [string, BunnySampleOptions & { path: string; inside: string; outside: string }][] = [
    ['token_path', { path: '/videos/x.ts', pathAllowed: '/videos/', expires, inside: '/videos/y/z.ts', outside: '/other/x.ts' }],
    [
      'token_path without "/"',
      { path: '/abc/300kb.jpg', pathAllowed: '/abc', expires, inside: '/abcdef/1.jpg', outside: '/ab/1.jpg' },
    ],
    [
      'token_path, IPv4 and countries',
      {
        path: '/live/ch1/i.m3u8',
        pathAllowed: '/live/ch1/',
        userIp: '1.2.3.4',
        countriesAllowed: 'CA,US',
        expires,
        inside: '/live/ch1/seg-9.ts',
        outside: '/live/ch2/i.m3u8',
      },
    ],
    [
      'token_path, IPv6, a speed limit',
      {
        path: '/v/a.mp4',
        pathAllowed: '/v/',
        userIp: '2001:db8:85a3::7334',
        speedLimit: 500,
        expires,
        inside: '/v/b.mp4',
        outside: '/w/a.mp4',
      },
    ],
    [
      'token_path and ignored parameters',
      { path: '/d/f.bin', pathAllowed: '/d/', ignoreParams: true, expires, inside: '/d/g.bin', outside: '/e/f.bin' },
    ],
  ];
  it.each(samples)("the path form with %s, as bunny's samples make it", (_name, sample) => {
    const url = new URL(bunnySampleUrl(`https://zone.b-cdn.net${sample.path}`, key, { ...sample, isDirectory: true }));
    const uri = `${url.pathname}${url.search}`;
    expect(uri).toMatch(/^\/bcdn_token=HS256-[^/]*&token_path=%2F[^/]*&expires=\d{10}\//);
    const ip = sample.userIp ?? '203.0.113.9';
    const ask = (target: string, at = before, from = ip) => authorize(gate, target, from, at, country('CA')).verdict;
    const segment = uri.slice(0, uri.indexOf(sample.path));
    expect(ask(uri)).toBe(Verdict.valid);
    expect(ask(`${segment}${sample.inside}`)).toBe(Verdict.valid);
    expect(ask(`${segment}${sample.outside}`)).toBe(Verdict.forged);
    expect(ask(uri, expires + 1)).toBe(Verdict.expired);
    if (sample.userIp !== undefined)
      expect(ask(uri, before, sample.userIp.includes(':') ? '2001:db8:1::1' : '1.2.3.5')).toBe(Verdict.forged);
    // Another token_path in the segment: another message, a forgery.
    expect(ask(uri.replace('token_path=%2F', 'token_path=%2Fx'))).toBe(Verdict.forged);
  });

  it('the segment keeps to its grammar: no escaped "&" or "%", no ";", no control byte; token_path one plain spelling; the path after it under the URI rules', () => {
    const url = new URL(
      bunnySampleUrl('https://zone.b-cdn.net/videos/x.ts', key, { pathAllowed: '/videos/', expires, isDirectory: true }),
    );
    const uri = `${url.pathname}${url.search}`;
    const ask = (target: string) => authorize(gate, target, '203.0.113.9', before).verdict;
    expect(ask(uri)).toBe(Verdict.valid);
    for (const to of [
      'token_path=%2Fvideos%2F%26expires%3D1',
      'token_path=%2Fvideos%252F',
      'token_path=%2Fvideos%2F%0A',
      'token_path=%2Fvideos%2F;x',
    ])
      expect([to, ask(uri.replace('token_path=%2Fvideos%2F', to))]).toEqual([to, Verdict.badUri]);
    // A spelling a proxy would normalise is refused as a segment (bad-uri); any other unplain one by the format.
    for (const [spelling, verdict] of [
      ['%2F..%2Fvideos%2F', Verdict.badUri],
      ['%2F%2Fvideos%2F', Verdict.badUri],
      ['%2F.%2Fvideos%2F', Verdict.badUri],
      ['videos%2F', Verdict.malformed],
      ['%2Fvideos%5C', Verdict.malformed],
    ] as const)
      expect([spelling, ask(uri.replace('token_path=%2Fvideos%2F', `token_path=${spelling}`))]).toEqual([spelling, verdict]);
    // In the query form the same token_paths are the format's to refuse.
    const queryForm = new URL(bunnySampleUrl('https://zone.b-cdn.net/videos/x.ts', key, { pathAllowed: '/videos/', expires }));
    const asQuery = `${queryForm.pathname}${queryForm.search}`;
    expect(ask(asQuery)).toBe(Verdict.valid);
    for (const spelling of ['%2F..%2Fvideos%2F', '%2F%2Fvideos%2F'])
      expect([spelling, ask(asQuery.replace('token_path=%2Fvideos%2F', `token_path=${spelling}`))]).toEqual([
        spelling,
        Verdict.malformed,
      ]);
    expect(ask(uri.replace('/videos/x.ts', '/videos/../videos/x.ts'))).toBe(Verdict.badUri);
    expect(ask(uri.replace('/videos/x.ts', '/videos%2Fx.ts'))).toBe(Verdict.badUri);
    expect(ask(uri.replace('/videos/x.ts', '?x=/videos/x.ts'))).toBe(Verdict.badUri);
    // The segment ends with its expires, and the query carries none of the token's parameters: a
    // proxy cuts the decoded path at the first "&expires=<digits>/", which must be the segment's.
    const segment = uri.slice(0, uri.indexOf('/videos/x.ts'));
    const token = /bcdn_token=([^&]+)/.exec(segment)![1]!;
    const e = /&expires=(\d+)/.exec(segment)![1]!;
    expect(ask(`/bcdn_token=${token}&expires=${e}&token_path=%2Fvideos%2F/videos/a&expires=1/secret/passwd`)).toBe(
      Verdict.malformed,
    );
    expect(ask(`/bcdn_token=${token}&token_path=%2Fvideos%2F/videos/a&expires=1/secret/passwd?expires=${e}`)).toBe(
      Verdict.malformed,
    );
    expect(ask(`${segment}/videos/x.ts?token_path=%2F`)).toBe(Verdict.malformed);
    expect(ask(`${segment}/videos/x.ts?expires=${e}`)).toBe(Verdict.malformed);
    expect(ask(`${segment}/videos/x.ts?width=100`)).toBe(Verdict.forged);
    // Once decoded, no dot-segment or "//" anywhere in the segment (an unsigned parameter included).
    const ignoring = new URL(
      bunnySampleUrl('https://zone.b-cdn.net/videos/x.ts', key, {
        pathAllowed: '/videos/',
        ignoreParams: true,
        expires,
        isDirectory: true,
      }),
    );
    const ignored = `${ignoring.pathname}${ignoring.search}`;
    expect(ask(ignored)).toBe(Verdict.valid);
    for (const value of ['%2F..%2F..%2Fsecret%2Fpasswd', '%2F.%2F', 'a%2F%2Fb', '%2F%2e%2E%2Fx'])
      expect([value, ask(ignored.replace('&expires=', `&j=${value}&expires=`))]).toEqual([value, Verdict.badUri]);
  });

  it("a path token for a route of another format is no-route, never that route's check with another token", () => {
    const mixed = gateFor(
      [
        { name: 'zone', prefix: '/b/', scheme: 'bunny', keys: [{ id: 'k', env: 'BUNNY_KEY' }] },
        { name: 'own', prefix: '/h/', scheme: 'hmac', keys: [{ id: 'k', env: 'HMAC' }] },
      ],
      { BUNNY_KEY: key, HMAC: 'ab'.repeat(32) },
    );
    const hmacUrl = findRoute(mixed, '/h/')!.scheme.sign({ path: '/h/a.mp4', expiresSec: now + 60 }) as { query: string };
    expect(authorize(mixed, `/h/a.mp4?${hmacUrl.query}`, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(mixed, `/bcdn_token=x&expires=1/h/a.mp4?${hmacUrl.query}`, undefined, now).verdict).toBe(Verdict.noRoute);
  });
});

describe('advanced (SHA256) and basic (MD5) tokens, by their documented formulas', () => {
  const b64 = (digest: Buffer) => digest.toString('base64url');
  const now = 1_800_000_000;
  const exp = String(now + 600);
  it('advanced: SHA256(key + path + expires [+ ip] + sorted params), parameters signed', () => {
    const token = b64(createHash('sha256').update(`${key}/dir/${exp}token_countries_blocked=RU&token_path=/dir/`).digest());
    const uri = `/dir/a.mp4?token=${token}&token_path=%2Fdir%2F&token_countries_blocked=RU&expires=${exp}`;
    expect(authorize(gate, uri, '203.0.113.5', now, country('US')).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri, '203.0.113.5', now, country('RU')).verdict).toBe(Verdict.forged);
    expect(authorize(gate, uri.replace('RU', 'CN'), '203.0.113.5', now, country('US')).verdict).toBe(Verdict.forged);
    const withIp = b64(createHash('sha256').update(`${key}/dir/a.mp4${exp}203.0.113.5`).digest());
    const ipGate = gateWith({ ipValidation: true });
    expect(authorize(ipGate, `/dir/a.mp4?token=${withIp}&expires=${exp}`, '203.0.113.5', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/dir/a.mp4?token=${withIp}&expires=${exp}`, '203.0.113.6', now).verdict).toBe(Verdict.forged);
  });

  it('basic: MD5(key + path + expires), and each generation can be switched off', () => {
    const token = b64(createHash('md5').update(`${key}/dir/a.mp4${exp}`).digest());
    const uri = `/dir/a.mp4?token=${token}&expires=${exp}`;
    expect(authorize(gate, uri, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri.replace('a.mp4', 'b.mp4'), undefined, now).verdict).toBe(Verdict.forged);
    const hs256Only = gateWith({ accept: ['hs256'] });
    expect(authorize(hs256Only, uri, undefined, now).verdict).toBe(Verdict.malformed);
    expect(authorize(hs256Only, uri, undefined, now).detail).toBe('this route does not accept basic tokens');
  });

  it('grammar: one of each parameter, canonical base64url, ten-digit expires', () => {
    const signer = findRoute(gate, '/x')!.scheme;
    const url = `/a.jpg?${(signer.sign({ path: '/a.jpg', expiresSec: now + 60 }) as { query: string }).query}`;
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
    for (const variant of [
      `${url}&token=x`,
      url.replace(/expires=\d+/, 'expires=01'),
      url.replace(/token=HS256-/, 'token=HS512-'),
      url.replace(/(token=HS256-[\w-]{42})(.)/, (_m, head: string, last: string) => `${head}${last === 'A' ? 'B' : 'A'}`),
      url.replace(/&expires=\d+/, ''),
      `${url}&x=%zz`,
    ]) {
      const verdict = authorize(gate, variant, undefined, now).verdict;
      expect([variant, verdict === Verdict.valid || verdict === Verdict.expired]).toEqual([variant, false]);
    }
    expect(authorize(gate, '/a.jpg', undefined, now).verdict).toBe(Verdict.missing);
  });

  it('config refuses unknown generations and options', () => {
    const listeners = [{ port: 0, uriHeader: 'X-Original-URI' }];
    const route = { prefix: '/', scheme: 'bunny', keys: [{ id: 'k', env: 'K' }] };
    expect(
      parseConfig({ listeners, routes: [{ ...route, options: { accept: ['hs512'], ipValidation: 'yes', speed: 1 } }] }),
    ).toEqual([
      'routes[0].options.accept: must list some of "hs256", "advanced", "basic", each once',
      'routes[0].options.ipValidation: must be true or false',
      'routes[0].options.speed: unknown field (known: accept, ipValidation, countryHeader)',
    ]);
  });
});

describe('docs/formats/bunny.md', () => {
  it('the route shown is valid', async () => {
    const { docBlock } = await import('../helpers/doc-blocks.js');
    const shown = JSON.parse(docBlock('docs/formats/bunny.md', 'bunny-route'));
    expect(parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [shown] })).toMatchObject({
      routes: [{ options: { value: { accept: ['hs256', 'advanced'], ipValidation: false, countryHeader: 'x-country-code' } } }],
    });
  });
});

describe('decision details of a path-form token', () => {
  it('the key and fingerprint are found as for the query form', async () => {
    const { decisionDetails } = await import('../../src/decision/decision-details.js');
    const { noHeaders } = await import('../../src/request/token-headers.js');
    const signer = findRoute(gate, '/x')!.scheme;
    const { query } = signer.sign({ path: '/abc/', expiresSec: 1_800_000_060 }) as { query: string };
    const uri = `/bcdn_token=${query.replace(/^token=/, '')}/abc/`;
    const decision = authorize(gate, uri, undefined, 1_800_000_000);
    expect(decision.verdict).toBe(Verdict.valid);
    const details = decisionDetails(gate, uri, undefined, noHeaders, decision);
    expect(details.keyId).toBe('k');
    expect(details).toEqual(
      decisionDetails(gate, `/abc/?${query}`, undefined, noHeaders, authorize(gate, `/abc/?${query}`, undefined, 1_800_000_000)),
    );
  });
});

describe('attacks on a format that joins its fields without separators', () => {
  const now = 1_800_000_000;
  const E = String(now + 600);
  /** An HS256 token as bunny's samples make it. */
  const hs256 = (head: string, ip: Buffer, tail: string, bound: boolean) =>
    `HS256-${bound ? '1-' : ''}${createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(head), ip, Buffer.from(tail)]))
      .digest('base64url')}`;

  it('an IP-bound token cannot be rewritten into an unbound one with a parameter that carries the IP bytes', () => {
    const token = hs256(`/a/${E}`, Buffer.from([10, 1, 2, 3]), 'token_ignore_params=true&token_path=/a/', true);
    const genuine = `/a/x.mp4?token=${token}&token_ignore_params=true&token_path=%2Fa%2F&expires=${E}`;
    expect(authorize(gate, genuine, '10.1.2.3', now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, genuine, '5.6.7.8', now).verdict).toBe(Verdict.forged);
    const unbound = token.replace('HS256-1-', 'HS256-');
    const attack = `/a/other/secret.mp4?token=${unbound}&token_path=%2Fa%2F&expires=${E}&%0A%01%02%03token_ignore_params=true`;
    expect(authorize(gate, attack, '5.6.7.8', now).verdict).toBe(Verdict.malformed);
    // Printable IP bytes ("ABCD" = 65.66.67.68) pass the parameter grammar: ipValidation is what
    // refuses the unbound token (docs/formats/bunny.md says so).
    const printable = hs256(`/a/${E}`, Buffer.from('ABCD'), 'token_path=/a/', true).replace('HS256-1-', 'HS256-');
    const rebuilt = `/a/?token=${printable}&ABCDtoken_path=%2Fa%2F&expires=${E}`;
    expect(authorize(gate, rebuilt, '5.6.7.8', now).verdict).toBe(Verdict.valid);
    expect(authorize(gateWith({ ipValidation: true }), rebuilt, '5.6.7.8', now).verdict).toBe(Verdict.malformed);
  });

  it('"+" in a path is itself, never a space (a token for "a b" does not open "a+b")', () => {
    const advanced = createHash('sha256').update(`${key}/v/a b.mp4${E}`).digest('base64url');
    expect(authorize(gate, `/v/a%20b.mp4?token=${advanced}&expires=${E}`, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, `/v/a+b.mp4?token=${advanced}&expires=${E}`, undefined, now).verdict).toBe(Verdict.forged);
    const scoped = hs256(`/v/a b/${E}`, Buffer.alloc(0), 'token_path=/v/a b/', false);
    expect(authorize(gate, `/v/a%20b/x?token=${scoped}&token_path=%2Fv%2Fa%20b%2F&expires=${E}`, undefined, now).verdict).toBe(
      Verdict.valid,
    );
    expect(authorize(gate, `/v/a+b/x?token=${scoped}&token_path=%2Fv%2Fa%20b%2F&expires=${E}`, undefined, now).verdict).toBe(
      Verdict.forged,
    );
  });

  it("one IP's text cannot continue into a parameter name (advanced with ipValidation)", () => {
    const ipGate = gateWith({ ipValidation: true });
    const advanced = createHash('sha256').update(`${key}/p/f.mp4${E}10.0.0.12x=1`).digest('base64url');
    expect(authorize(ipGate, `/p/f.mp4?token=${advanced}&x=1&expires=${E}`, '10.0.0.12', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/p/f.mp4?token=${advanced}&expires=${E}&2x=1`, '10.0.0.1', now).verdict).toBe(Verdict.malformed);
  });
});

describe('issue 26: an unsigned request costs no more for its parameters (the count is capped before decoding)', () => {
  const now = 1_800_000_000;
  const E = String(now + 600);
  const signer = findRoute(gate, '/x')!.scheme;
  const signed = (signer.sign({ path: '/v/a.mp4', expiresSec: now + 600, clientIp: '198.51.100.7' }) as { query: string }).query;
  const params = (count: number) => Array.from({ length: count }, (_, i) => `p${i}=1`).join('&');

  it('1,150 short parameters are refused before any is decoded', () => {
    const decode = vi.spyOn(globalThis, 'decodeURIComponent');
    try {
      const decision = authorize(gate, `/v/a.mp4?${params(1150)}&${signed}`, '198.51.100.7', now);
      expect([decision.verdict, decision.detail]).toEqual([Verdict.malformed, 'more than 32 query parameters']);
      expect(decode).not.toHaveBeenCalled();
      // The path form's parameters count too.
      const pathForm = `/bcdn_token=${signed.replace(/^token=|&expires=\d+$/g, '')}&${params(40)}&expires=${E}/v/a.mp4`;
      expect(authorize(gate, pathForm, '198.51.100.7', now).detail).toBe('more than 32 query parameters');
      expect(decode).not.toHaveBeenCalled();
    } finally {
      decode.mockRestore();
    }
  });

  it('32 parameters are read: a genuine token beside 29 others (token_ignore_params) is allowed, one more is refused', () => {
    const token = createHmac('sha256', key).update(`/v/${E}token_ignore_params=true&token_path=/v/`).digest('base64url');
    const uri = (others: number) =>
      `/v/a.mp4?token=HS256-${token}&token_ignore_params=true&token_path=%2Fv%2F&${params(others)}&expires=${E}`;
    expect(authorize(gate, uri(28), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri(28), undefined, now).detail).not.toMatch(/more than/);
    expect(authorize(gate, uri(29), undefined, now).verdict).toBe(Verdict.malformed);
  });

  it('"&" alone counts: a query of 8,000 empty pairs is refused as fast', () => {
    expect(authorize(gate, `/v/a.mp4?${'&'.repeat(8000)}${signed}`, '198.51.100.7', now).detail).toBe(
      'more than 32 query parameters',
    );
  });
});

describe('issue 26: advanced tokens with ipValidation, an IPv6 address and the parameters cannot be re-split', () => {
  const now = 1_800_000_000;
  const E = String(now + 600);
  const ipGate = gateWith({ ipValidation: true });
  /** An advanced token as bunny's samples make it: SHA256(key + path + expires + ip + sorted params). */
  const advanced = (path: string, ip: string, data: string) =>
    createHash('sha256').update(`${key}${path}${E}${ip}${data}`).digest('base64url');
  const decide = (path: string, token: string, query: string, ip: string) =>
    authorize(ipGate, `${path}?token=${token}${query === '' ? '' : `&${query}`}&expires=${E}`, ip, now);

  it('a token for 2001:db8::a with bc=1 does not open for 2001:db8::ab with c=1, nor the other way round', () => {
    const toShort = advanced('/f.mp4', '2001:db8::a', 'bc=1');
    expect(decide('/f.mp4', toShort, 'c=1', '2001:db8::ab').verdict).not.toBe(Verdict.valid);
    const toLong = advanced('/f.mp4', '2001:db8::ab', 'c=1');
    expect(decide('/f.mp4', toLong, 'bc=1', '2001:db8::a').verdict).not.toBe(Verdict.valid);
    // Both are the same bytes: the request whose split is ambiguous is refused, whichever it is.
    expect(decide('/f.mp4', toShort, 'bc=1', '2001:db8::a').detail).toMatch(/IPv6 address and the parameters/);
  });

  it('nor for 2001:db8::ab with g=1 (a name that could not continue an address: the address could end earlier)', () => {
    const token = advanced('/f.mp4', '2001:db8::a', 'bg=1');
    expect(decide('/f.mp4', token, 'g=1', '2001:db8::ab').verdict).not.toBe(Verdict.valid);
    const category = advanced('/f.mp4', '2001:db8:1:2:3:4:5:1', 'category=news');
    expect(decide('/f.mp4', category, 'tegory=news', '2001:db8:1:2:3:4:5:1ca').verdict).not.toBe(Verdict.valid);
  });

  it('unambiguous IPv6 clients and every IPv4 client are served as before', () => {
    const scoped = advanced('/d/', '2001:db8::1', 'token_path=/d/');
    expect(decide('/d/x.ts', scoped, 'token_path=%2Fd%2F', '2001:db8::1').verdict).toBe(Verdict.valid);
    expect(decide('/d/x.ts', scoped, 'token_path=%2Fd%2F', '2001:db8::2').verdict).toBe(Verdict.forged);
    const bare = advanced('/f.mp4', '2001:db8::ab', '');
    expect(decide('/f.mp4', bare, '', '2001:db8::ab').verdict).toBe(Verdict.valid);
    const v4 = advanced('/f.mp4', '10.0.0.1', 'bc=1');
    expect(decide('/f.mp4', v4, 'bc=1', '10.0.0.1').verdict).toBe(Verdict.valid);
  });

  it('property: a token issued to one IPv6 address and parameters never opens for another split of the same bytes', () => {
    const hex = fc.constantFrom(...'0123456789abcdef'.split(''));
    const group = fc.array(hex, { minLength: 1, maxLength: 4 }).map((chars) => chars.join('').replace(/^0+(?=.)/, ''));
    const address = fc
      .tuple(fc.array(group, { minLength: 1, maxLength: 3 }), group)
      .map(([head, last]) => `2001:db8:${head.join(':')}::${last}`)
      .filter((text) => canonicalIp(text) === text);
    const name = fc.stringMatching(/^[a-fA-F_g-z][a-z0-9_]{0,5}$/);
    const params = fc.uniqueArray(fc.tuple(name, fc.stringMatching(/^[a-z0-9]{1,3}$/)), {
      minLength: 1,
      maxLength: 3,
      selector: ([n]) => n,
    });
    let resplit = 0;
    fc.assert(
      fc.property(address, params, (ip, pairs) => {
        const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const signedData = sorted.map(([n, v]) => `${n}=${v}`).join('&');
        const token = advanced('/f.mp4', ip, signedData);
        const whole = ip + signedData;
        for (let cut = 1; cut < whole.length; cut++) {
          const other = whole.slice(0, cut);
          if (other === ip || canonicalIp(other) !== other) continue;
          const query = whole.slice(cut);
          // The attacker's parameters as a query (the signed data of a sorted query is itself).
          const attack = decide('/f.mp4', token, query.replaceAll('/', '%2F'), other);
          resplit++;
          expect([ip, other, query, attack.verdict]).not.toEqual([ip, other, query, Verdict.valid]);
        }
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: many runs had another split of the same bytes.
    expect(resplit).toBeGreaterThan(100);
  });
});

describe('issue 26: the signer makes no token the validator refuses', () => {
  it('HS256 binds an IPv6 address as bytes: every signed link opens on an ipValidation route, scoped or not', () => {
    const ipGate = gateWith({ ipValidation: true });
    const signer = findRoute(ipGate, '/x')!.scheme;
    const now = 1_800_000_000;
    fc.assert(
      fc.property(fc.ipV6(), fc.boolean(), (raw, scoped) => {
        const ip = canonicalIp(raw)!;
        const { query } = signer.sign({
          path: '/d/e/f.ts',
          expiresSec: now + 60,
          clientIp: ip,
          ...(scoped ? { scopeDepth: 2 } : {}),
        }) as { query: string };
        expect(query.split('&').length).toBeLessThanOrEqual(32);
        expect(authorize(ipGate, `/d/e/f.ts?${query}`, ip, now).verdict).toBe(Verdict.valid);
      }),
      { numRuns: 300 },
    );
  });
});

describe('issue 26 through the service', () => {
  it('the IPv6 re-split and a query of 1,150 parameters are refused (403), an unambiguous IPv6 client is served', async () => {
    const { startService, tempDir, writeConfig } = await import('../helpers/service-process.js');
    const file = writeConfig(tempDir(), {
      listeners: [{ name: 'auth', port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      admin: { port: 0 },
      routes: [
        { name: 'zone', prefix: '/', scheme: 'bunny', keys: [{ id: 'k', env: 'BUNNY_KEY' }], options: { ipValidation: true } },
      ],
    });
    const service = await startService(['serve', '--config', file], { BUNNY_KEY: key });
    try {
      const ask = async (uri: string, ip: string) => {
        const response = await fetch(`http://127.0.0.1:${service.ports.get('auth')}/`, {
          headers: { 'X-Original-URI': uri, 'X-Real-IP': ip },
        });
        return [response.status, response.headers.get('x-token-status')];
      };
      const E = String(Math.floor(Date.now() / 1000) + 600);
      const advanced = (ip: string, data: string) =>
        createHash('sha256').update(`${key}/f.mp4${E}${ip}${data}`).digest('base64url');
      const issued = advanced('2001:db8::a', 'bc=1');
      expect(await ask(`/f.mp4?token=${issued}&c=1&expires=${E}`, '2001:db8::ab')).toEqual([403, 'malformed']);
      expect(await ask(`/f.mp4?token=${issued}&bc=1&expires=${E}`, '2001:db8::a')).toEqual([403, 'malformed']);
      const plain = advanced('2001:db8::1', 'x=1');
      expect(await ask(`/f.mp4?token=${plain}&x=1&expires=${E}`, '2001:db8::1')).toEqual([200, 'valid']);
      expect(await ask(`/f.mp4?token=${plain}&x=1&expires=${E}`, '2001:db8::2')).toEqual([403, 'forged']);
      const many = Array.from({ length: 1150 }, (_, i) => `p${i}=1`).join('&');
      expect(await ask(`/f.mp4?${many}&token=${plain}&x=1&expires=${E}`, '2001:db8::1')).toEqual([403, 'malformed']);
    } finally {
      await service.stop();
    }
  });
});

describe('a limit of the format that cannot be closed (docs/formats/bunny.md "What cannot be closed")', () => {
  it('path + expires + IP re-split (basic, advanced, HS256 IPv4 with digit bytes), only for the address the digits leave', () => {
    const ipGate = gateWith({ ipValidation: true });
    const E = '1764312345';
    const now = 1_764_312_000;
    const basic = createHash('md5').update(`${key}/seg/a${E}11.2.3.4`).digest('base64url');
    expect(authorize(ipGate, `/seg/a?token=${basic}&expires=${E}`, '11.2.3.4', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/seg/a1?token=${basic}&expires=7643123451`, '1.2.3.4', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/seg/a1?token=${basic}&expires=7643123451`, '1.2.3.5', now).verdict).toBe(Verdict.forged);
    // HS256: only IP bytes that are ASCII digits move, and only with parameters after them.
    const hs256 = createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(`/p${E}`), Buffer.from([49, 2, 3, 4]), Buffer.from('ab=1')]))
      .digest('base64url');
    expect(authorize(ipGate, `/p?token=HS256-1-${hs256}&ab=1&expires=${E}`, '49.2.3.4', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/p1?token=HS256-1-${hs256}&b=1&expires=7643123451`, '2.3.4.97', now).verdict).toBe(Verdict.valid);
    expect(authorize(ipGate, `/p1?token=HS256-1-${hs256}&b=1&expires=7643123451`, '2.3.4.98', now).verdict).toBe(Verdict.forged);
    // A token_path token cannot move: its path is also among the signed parameters.
    const scoped = createHash('sha256').update(`${key}/d/${E}11.2.3.4token_path=/d/`).digest('base64url');
    expect(authorize(ipGate, `/d/x?token=${scoped}&token_path=%2Fd%2F&expires=${E}`, '11.2.3.4', now).verdict).toBe(
      Verdict.valid,
    );
    expect(authorize(ipGate, `/d/1x?token=${scoped}&token_path=%2Fd%2F1&expires=7643123451`, '1.2.3.4', now).verdict).toBe(
      Verdict.forged,
    );
  });
});

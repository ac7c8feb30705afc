/**
 * JWT-signed links against tokens made by other libraries than the verifier (jose): Mux's own
 * signer (@mux/mux-node, the Mux preset) and jsonwebtoken (RS256, ES256, HS256), plus EdDSA
 * made with node:crypto; the attacks RFC 8725 lists (alg "none", algorithm confusion, unknown
 * kid, non-canonical encodings, claims for other paths, audiences or clients), the verdict cache
 * (a hit never verifies again) and the route options that refuse to load.
 */

import { execFileSync } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mux from '@mux/mux-node';
import jsonwebtoken from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { parseRoutes } from '../../src/config/parse-config.js';
import { authorize, type Gate, settle } from '../../src/decision/authorize.js';
import { RevocationBook, revocationValueProblem } from '../../src/decision/revocations.js';
import { CapturedHeaders } from '../../src/http/request-sources.js';
import { explain } from '../../src/links/explain-link.js';
import { noHeaders } from '../../src/request/token-headers.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { gateFor } from '../helpers/gates.js';
import { runCli, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const now = Math.floor(Date.now() / 1000);
const pem = (key: { export(o: object): string | Buffer }, type: 'pkcs8' | 'spki') =>
  key.export({ type, format: 'pem' }) as string;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ed = generateKeyPairSync('ed25519');
const hsSecret = 'a-shared-secret-of-at-least-32-bytes!!';
const env = {
  RSA_PUB: pem(rsa.publicKey, 'spki'),
  RSA_PRIV: pem(rsa.privateKey, 'pkcs8'),
  RSA_OTHER_PUB: pem(rsaOther.publicKey, 'spki'),
  EC_PRIV: pem(ec.privateKey, 'pkcs8'),
  ED_PRIV: pem(ed.privateKey, 'pkcs8'),
  HS: hsSecret,
};

async function decide(gate: Gate, uri: string, ip?: string, at = now, headers?: CapturedHeaders) {
  return settle(authorize(gate, uri, ip, at, headers));
}
const verdict = async (gate: Gate, uri: string, ip?: string, at = now, headers?: CapturedHeaders) =>
  (await decide(gate, uri, ip, at, headers)).verdict;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** A JWT written by hand: for the tokens no library makes (alg none, crit, odd encodings). */
function handMade(header: object, payload: object, sign: (input: string) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input).toString('base64url')}`;
}
const rs256 = (input: string) => cryptoSign('sha256', Buffer.from(input), rsa.privateKey);

describe('Mux signed playback ids, made by @mux/mux-node', () => {
  const keyId = 'MuxSigningKey01';
  const mux = new Mux({ tokenId: 'unused', tokenSecret: 'unused' });
  const keySecret = Buffer.from(env.RSA_PRIV).toString('base64');
  const gate = gateFor(
    [{ name: 'mux', prefix: '/', scheme: 'jwt', keys: [{ id: keyId, env: 'RSA_PUB' }], options: { preset: 'mux' } }],
    env,
  );
  const token = (id: string, extra: object = {}) => mux.jwt.signPlaybackId(id, { keyId, keySecret, expiration: '1h', ...extra });

  it("opens the playback id's playlist and everything under it, nothing else", async () => {
    const jwt = await token('abc123XYZ');
    expect(await verdict(gate, `/abc123XYZ.m3u8?token=${jwt}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/abc123XYZ/1080p/segment-1.ts?token=${jwt}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/abc123XYZ.mp4?token=${jwt}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/other.m3u8?token=${jwt}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/abc123XYZother.m3u8?token=${jwt}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/abc123XY/x.ts?token=${jwt}`)).toBe(Verdict.forged);
  });

  it('refuses a thumbnail token (aud "t") for video, an expired token, and another signing key', async () => {
    expect(await verdict(gate, `/abc.m3u8?token=${await token('abc', { type: 'thumbnail' })}`)).toBe(Verdict.forged);
    const jwt = await token('abc');
    // Mux's SDK reads its own clock: its exp is an hour from when it signed.
    const { exp } = jsonwebtoken.decode(jwt) as { exp: number };
    expect(exp - now).toBeGreaterThanOrEqual(3600);
    expect(await verdict(gate, `/abc.m3u8?token=${jwt}`, undefined, exp)).toBe(Verdict.expired);
    expect(await verdict(gate, `/abc.m3u8?token=${jwt}`, undefined, exp - 1)).toBe(Verdict.valid);
    const other = await mux.jwt.signPlaybackId('abc', { keyId: 'AnotherKey', keySecret, expiration: '1h' });
    expect((await decide(gate, `/abc.m3u8?token=${other}`)).detail).toMatch(/names a key/);
    const wrongKey = await mux.jwt.signPlaybackId('abc', {
      keyId,
      keySecret: Buffer.from(pem(rsaOther.privateKey, 'pkcs8')).toString('base64'),
      expiration: '1h',
    });
    expect(await verdict(gate, `/abc.m3u8?token=${wrongKey}`)).toBe(Verdict.forged);
  });

  it('signs links Mux-shaped tokens would be (tokengate sign on a route with the private key)', async () => {
    const signing = gateFor(
      [{ name: 'mux', prefix: '/', scheme: 'jwt', keys: [{ id: keyId, env: 'RSA_PRIV' }], options: { preset: 'mux' } }],
      env,
    );
    const signed = signing.routes[0]!.scheme.sign({ path: '/abc.m3u8', expiresSec: now + 60 });
    expect(signed.carrier).toBe('query');
    const query = (signed as { query: string }).query;
    // The verifying route (public key only) takes what the signing route made.
    expect(await verdict(gate, `/abc.m3u8?${query}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/abc/seg.ts?${query}`)).toBe(Verdict.valid);
    const claims = jsonwebtoken.verify(query.slice('token='.length), env.RSA_PUB, { algorithms: ['RS256'] }) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ sub: 'abc', aud: 'v', exp: now + 60, kid: keyId });
    expect(() => signing.routes[0]!.scheme.sign({ path: '/abc/seg.ts', expiresSec: now + 60 })).toThrow(/by an id/);
    expect(() => gate.routes[0]!.scheme.sign({ path: '/abc.m3u8', expiresSec: now + 60 })).toThrow(/only public keys/);
  });
});

describe('generic JWTs made by jsonwebtoken', () => {
  const routes = [
    { name: 'rs', prefix: '/rs/', scheme: 'jwt', keys: [{ id: 'r1', env: 'RSA_PUB' }], options: { algorithms: ['RS256'] } },
    {
      name: 'es',
      prefix: '/es/',
      scheme: 'jwt',
      keys: [{ id: 'e1', env: 'EC_PRIV' }],
      options: { algorithms: ['ES256'], pathClaim: 'path' },
    },
    {
      name: 'hs',
      prefix: '/hs/',
      scheme: 'jwt',
      keys: [{ id: 'h1', env: 'HS' }],
      options: {
        algorithms: ['HS256'],
        carrier: 'cookie',
        name: 'session',
        audience: ['files'],
        issuer: ['https://app.example'],
      },
    },
    {
      name: 'ed',
      prefix: '/ed/',
      scheme: 'jwt',
      keys: [{ id: 'd1', env: 'ED_PRIV' }],
      options: { algorithms: ['EdDSA'], carrier: 'bearer', clientIpClaim: 'ip' },
    },
  ];
  const gate = gateFor(routes, env);
  const rsToken = (claims: object, keyid: string | undefined = 'r1') =>
    jsonwebtoken.sign({ exp: now + 600, ...claims }, env.RSA_PRIV, {
      algorithm: 'RS256',
      ...(keyid === undefined ? {} : { keyid }),
    });

  it('RS256: an exact path, and a prefix that ends with "/"', async () => {
    expect(await verdict(gate, `/rs/a/b.mp4?token=${rsToken({ sub: '/rs/a/b.mp4' })}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/rs/a/c.mp4?token=${rsToken({ sub: '/rs/a/b.mp4' })}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/rs/a/c.mp4?x=1&token=${rsToken({ sub: '/rs/a/' })}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/rs/b/c.mp4?token=${rsToken({ sub: '/rs/a/' })}`)).toBe(Verdict.forged);
    // Without a kid the route tries its keys of the token's algorithm.
    expect(await verdict(gate, `/rs/a/b.mp4?token=${rsToken({ sub: '/rs/a/b.mp4' }, undefined)}`)).toBe(Verdict.valid);
  });

  it('a claim outside the route, or not a path the URI rules accept, opens nothing', async () => {
    for (const sub of ['/', '/es/', '/rs', '/rs/a/../b/', '/rs/a//', '/rs/%2e%2e/', 'rs/a/', '/rs/a/?x', 42]) {
      expect(await verdict(gate, `/rs/a/b.mp4?token=${rsToken({ sub })}`), String(sub)).toBe(Verdict.forged);
    }
  });

  it('ES256 with its own path claim; nbf in the future is premature, past exp expired', async () => {
    const token = (claims: object) =>
      jsonwebtoken.sign({ exp: now + 600, ...claims }, env.EC_PRIV, { algorithm: 'ES256', keyid: 'e1' });
    expect(await verdict(gate, `/es/x.ts?token=${token({ path: '/es/x.ts' })}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/es/x.ts?token=${token({ sub: '/es/x.ts' })}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/es/x.ts?token=${token({ path: '/es/x.ts', nbf: now + 120 })}`)).toBe(Verdict.premature);
    expect(await verdict(gate, `/es/x.ts?token=${token({ path: '/es/x.ts', nbf: now + 20 })}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/es/x.ts?token=${token({ path: '/es/x.ts', exp: now })}`)).toBe(Verdict.expired);
    expect(await verdict(gate, `/es/x.ts?token=${token({ path: '/es/x.ts', exp: now + 1 })}`)).toBe(Verdict.valid);
  });

  it('HS256 in a cookie, with audience and issuer', async () => {
    const token = (claims: object) =>
      jsonwebtoken.sign({ sub: '/hs/', exp: now + 600, ...claims }, hsSecret, { algorithm: 'HS256' });
    const cookie = (value: string) => {
      const headers = new CapturedHeaders();
      headers.add('cookie', `theme=dark; session=${value}`);
      return headers;
    };
    const good = token({ aud: 'files', iss: 'https://app.example' });
    expect(await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(good))).toBe(Verdict.valid);
    expect(
      await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(token({ aud: ['x', 'files'], iss: 'https://app.example' }))),
    ).toBe(Verdict.valid);
    expect(await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(token({ aud: 'other', iss: 'https://app.example' })))).toBe(
      Verdict.forged,
    );
    expect(await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(token({ aud: 'files' })))).toBe(Verdict.forged);
    expect(await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(token({ iss: 'https://app.example' })))).toBe(
      Verdict.forged,
    );
    expect(await verdict(gate, `/hs/doc.pdf?token=${good}`)).toBe(Verdict.missing);
    const wrongSecret = jsonwebtoken.sign(
      { sub: '/hs/', exp: now + 600, aud: 'files', iss: 'https://app.example' },
      `${hsSecret}x`,
    );
    expect(await verdict(gate, '/hs/doc.pdf', undefined, now, cookie(wrongSecret))).toBe(Verdict.forged);
  });

  it('EdDSA as a bearer token, bound to a client IP by its claim', async () => {
    const token = (claims: object) =>
      handMade({ alg: 'EdDSA', kid: 'd1' }, { sub: '/ed/', exp: now + 600, ...claims }, (input) =>
        cryptoSign(null, Buffer.from(input), ed.privateKey),
      );
    const bearer = (value: string) => {
      const headers = new CapturedHeaders();
      headers.add('authorization', value);
      return headers;
    };
    expect(await verdict(gate, '/ed/f', undefined, now, bearer(`Bearer ${token({})}`))).toBe(Verdict.valid);
    expect(await verdict(gate, '/ed/f', '2001:db8::1', now, bearer(`bearer ${token({ ip: '2001:DB8:0::1' })}`))).toBe(
      Verdict.valid,
    );
    expect(await verdict(gate, '/ed/f', '2001:db8::2', now, bearer(`Bearer ${token({ ip: '2001:db8::1' })}`))).toBe(
      Verdict.wrongIp,
    );
    expect(await verdict(gate, '/ed/f', undefined, now, bearer(`Bearer ${token({ ip: '2001:db8::1' })}`))).toBe(
      Verdict.badSource,
    );
    expect(await verdict(gate, '/ed/f', '192.0.2.1', now, bearer(`Bearer ${token({ ip: 'not-an-ip' })}`))).toBe(Verdict.forged);
    expect(await verdict(gate, '/ed/f', undefined, now, bearer(`Basic ${token({})}`))).toBe(Verdict.malformed);
    expect(await verdict(gate, '/ed/f', undefined, now, bearer(`Bearer ${token({})} x`))).toBe(Verdict.malformed);
  });

  it('tokengate signs every algorithm: its tokens pass jsonwebtoken (or node:crypto for EdDSA) and the service', async () => {
    for (const [path, extra] of [
      ['/rs/a.ts', {}],
      ['/es/a.ts', {}],
      ['/hs/a.ts', {}],
      ['/ed/a.ts', { clientIp: '192.0.2.7' }],
    ] as const) {
      const route = gate.routes.find((r) => path.startsWith(r.prefix))!;
      if (route.name === 'rs') {
        expect(() => route.scheme.sign({ path, expiresSec: now + 60 })).toThrow(/only public keys/);
        continue;
      }
      const signed = route.scheme.sign({ path, expiresSec: now + 60, notBeforeSec: now - 5, ...extra });
      const headers = new CapturedHeaders();
      let uri: string = path;
      if (signed.carrier === 'query') uri = `${path}?${signed.query}`;
      else if (signed.carrier === 'cookie') headers.add('cookie', `${signed.name}=${signed.value}`);
      else if (signed.carrier === 'header') headers.add(signed.name.toLowerCase(), signed.value);
      expect(await verdict(gate, uri, '192.0.2.7', now, headers), path).toBe(Verdict.valid);
      expect(await verdict(gate, uri, '192.0.2.7', now + 60, headers), path).toBe(Verdict.expired);
      expect(await verdict(gate, uri, '192.0.2.7', now + 59, headers), path).toBe(Verdict.valid);
    }
    const es = gate.routes
      .find((r) => r.name === 'es')!
      .scheme.sign({ path: '/es/dir/a.ts', expiresSec: now + 60, scopeDepth: 2 });
    const jwt = (es as { query: string }).query.slice('token='.length);
    expect(jsonwebtoken.verify(jwt, pem(ec.publicKey, 'spki'), { algorithms: ['ES256'] })).toMatchObject({ path: '/es/dir/' });
    expect(await verdict(gate, `/es/dir/b.ts?token=${jwt}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/es/other/b.ts?token=${jwt}`)).toBe(Verdict.forged);
  });
});

describe('attacks', () => {
  const gate = gateFor(
    [
      { name: 'rs', prefix: '/rs/', scheme: 'jwt', keys: [{ id: 'r1', env: 'RSA_PUB' }], options: { algorithms: ['RS256'] } },
      { name: 'hs', prefix: '/hs/', scheme: 'jwt', keys: [{ id: 'h1', env: 'HS' }], options: { algorithms: ['HS256'] } },
    ],
    env,
  );
  const claims = { sub: '/rs/', exp: now + 600 };
  const good = handMade({ alg: 'RS256', kid: 'r1' }, claims, rs256);

  it('alg "none", an unsigned token, and algorithms the route does not list', async () => {
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    expect(await verdict(gate, `/rs/f?token=${none}`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${b64({ alg: 'none' })}.${b64(claims)}.x`)).toBe(Verdict.malformed);
    for (const alg of ['NONE', 'None', 'HS256', 'RS512', 'PS256', 'ES256', '']) {
      expect(await verdict(gate, `/rs/f?token=${handMade({ alg, kid: 'r1' }, claims, rs256)}`), alg).toBe(Verdict.malformed);
    }
  });

  it('algorithm confusion: the RSA public key as an HMAC secret never verifies', async () => {
    const confused = handMade({ alg: 'HS256', kid: 'r1' }, claims, (input) =>
      createHmac('sha256', env.RSA_PUB).update(input).digest(),
    );
    expect(await verdict(gate, `/rs/f?token=${confused}`)).toBe(Verdict.malformed);
    // On the HS256 route the kid names no key, and its secret is not the public key.
    expect(await verdict(gate, `/hs/f?token=${confused.replace(b64({ alg: 'HS256', kid: 'r1' }), b64({ alg: 'HS256' }))}`)).toBe(
      Verdict.forged,
    );
  });

  it('unknown kids, and a kid of another algorithm, are forged without any key fetched', async () => {
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'other' }, claims, rs256)}`)).toBe(Verdict.forged);
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: '' }, claims, rs256)}`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 7 }, claims, rs256)}`)).toBe(Verdict.malformed);
  });

  it('extensions, encryption, padding and other spellings of the same token are refused', async () => {
    expect(await verdict(gate, `/rs/f?token=${good}`)).toBe(Verdict.valid);
    const crit = handMade({ alg: 'RS256', kid: 'r1', crit: ['exp'] }, claims, rs256);
    expect(await verdict(gate, `/rs/f?token=${crit}`)).toBe(Verdict.malformed);
    const unencoded = handMade({ alg: 'RS256', kid: 'r1', b64: false }, claims, rs256);
    expect(await verdict(gate, `/rs/f?token=${unencoded}`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'r1', typ: 'JWE' }, claims, rs256)}`)).toBe(
      Verdict.malformed,
    );
    expect(await verdict(gate, `/rs/f?token=${good}.x.y`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${good}=`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${good.replaceAll('.', '%2E')}`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${good}&token=${good}`)).toBe(Verdict.malformed);
    // The header's last character with other unused bits: the same bytes, another spelling.
    const [h, p, s] = good.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = (part: string) => {
      const last = alphabet.indexOf(part.at(-1)!);
      return `${part.slice(0, -1)}${alphabet[last ^ 1]}`;
    };
    for (const variant of [`${respelled(h)}.${p}.${s}`, `${h}.${respelled(p)}.${s}`, `${h}.${p}.${respelled(s)}`]) {
      const got = await verdict(gate, `/rs/f?token=${variant}`);
      expect([Verdict.malformed, Verdict.forged]).toContain(got);
    }
    expect(await verdict(gate, `/rs/f?token=${'a'.repeat(5000)}.b.c`)).toBe(Verdict.malformed);
  });

  it('claims that are not what they must be are malformed before any signature work', async () => {
    for (const payload of [
      { sub: '/rs/' },
      { sub: '/rs/', exp: `${now + 600}` },
      { sub: '/rs/', exp: now + 0.5 },
      { sub: '/rs/', exp: now + 600, nbf: 'soon' },
      { sub: '/rs/', exp: -1 },
    ]) {
      const decision = authorize(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'r1' }, payload, rs256)}`, undefined, now);
      expect(decision.pending, JSON.stringify(payload)).toBeUndefined();
      expect(decision.verdict).toBe(Verdict.malformed);
    }
    expect(await verdict(gate, `/rs/f?token=${`${b64('[1]')}.${b64(claims)}.${b64('x')}`}`)).toBe(Verdict.malformed);
    expect(await verdict(gate, `/rs/f?token=${`${b64({ alg: 'RS256', kid: 'r1' })}.${b64('null')}.${b64('x')}`}`)).toBe(
      Verdict.malformed,
    );
  });

  it('an expired token with a forged signature is forged, never expired', async () => {
    const forged = handMade({ alg: 'RS256', kid: 'r1' }, { sub: '/rs/', exp: now - 10 }, (input) =>
      cryptoSign('sha256', Buffer.from(input), rsaOther.privateKey),
    );
    expect(await verdict(gate, `/rs/f?token=${forged}`)).toBe(Verdict.forged);
  });
});

describe('the verdict cache', () => {
  it('a hit decides without verifying again (no pending decision); a changed token misses', async () => {
    const gate = gateFor(
      [{ name: 'rs', prefix: '/rs/', scheme: 'jwt', keys: [{ id: 'r1', env: 'RSA_PUB' }], options: { algorithms: ['RS256'] } }],
      env,
    );
    const token = handMade({ alg: 'RS256', kid: 'r1' }, { sub: '/rs/', exp: now + 600 }, rs256);
    const first = authorize(gate, `/rs/f?token=${token}`, undefined, now);
    expect(first.pending).toBeDefined();
    expect((await settle(first)).verdict).toBe(Verdict.valid);
    const hit = authorize(gate, `/rs/g?token=${token}`, undefined, now);
    expect(hit.pending).toBeUndefined();
    expect(hit.verdict).toBe(Verdict.valid);
    // The claims are still read on a hit: another route's path, expiry.
    expect(authorize(gate, `/rs/g?token=${token}`, undefined, now + 600).verdict).toBe(Verdict.expired);
    const forged = `${token.slice(0, -2)}AA`;
    expect(authorize(gate, `/rs/f?token=${forged}`, undefined, now).pending).toBeDefined();
    // Failures are not cached: the forged token is verified (and refused) each time.
    expect(await verdict(gate, `/rs/f?token=${forged}`)).toBe(Verdict.forged);
    expect(authorize(gate, `/rs/f?token=${forged}`, undefined, now).pending).toBeDefined();
  });

  it('a burst of one token verifies it once', async () => {
    const gate = gateFor(
      [
        {
          name: 'rs',
          prefix: '/rs/',
          scheme: 'jwt',
          keys: [{ id: 'r1', env: 'RSA_PUB' }],
          options: { algorithms: ['RS256'] },
          verdictCache: false,
        },
      ],
      env,
    );
    const token = handMade({ alg: 'RS256', kid: 'r1' }, { sub: '/rs/', exp: now + 600 }, rs256);
    const decisions = Array.from({ length: 20 }, () => authorize(gate, `/rs/f?token=${token}`, undefined, now));
    expect(decisions.every((d) => d.pending !== undefined)).toBe(true);
    const verdicts = await Promise.all(decisions.map(async (d) => (await settle(d)).verdict));
    expect(new Set(verdicts)).toEqual(new Set([Verdict.valid]));
    // While one verification of a token is in flight, asking again joins it (one jose call).
    const { scheme } = gate.routes[0]!;
    const parsed = scheme.parse({ path: '/rs/f', query: `token=${token}`, clientIp: undefined, headers: noHeaders });
    if ('verdict' in parsed) throw new Error(parsed.detail);
    const first = scheme.verify(parsed);
    expect(first).toBeInstanceOf(Promise);
    expect(scheme.verify(parsed)).toBe(first);
    expect(await first).toBe(true);
    // Settled, it is forgotten: the next verification is a new one (failures are never kept).
    expect(scheme.verify(parsed)).not.toBe(first);
  });
});

describe('route options that cannot serve', () => {
  const problem = (route: object, extraEnv: Record<string, string> = {}) => {
    try {
      gateFor([{ name: 'j', prefix: '/j/', scheme: 'jwt', keys: [{ id: 'k', env: 'RSA_PUB' }], ...route }], {
        ...env,
        ...extraEnv,
      });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };
  it('names each one', () => {
    expect(problem({ options: {} })).toMatch(/algorithms: is required/);
    expect(problem({ options: { algorithms: ['none'] } })).toMatch(/algorithms\[0\]/);
    expect(problem({ options: { algorithms: ['RS256', 'HS256'] } })).toMatch(/HS256 \(a shared secret\) cannot share a route/);
    expect(problem({ options: { algorithms: ['HS256'] } })).toMatch(/HS256 route reads its key file as the secret itself/);
    expect(problem({ keys: [{ id: 'k', env: 'SHORT' }], options: { algorithms: ['HS256'] } }, { SHORT: 'short' })).toMatch(
      /32 bytes/,
    );
    expect(problem({ options: { algorithms: ['ES256'] } })).toMatch(/serves RS256, which the route's "algorithms" do not list/);
    expect(problem({ options: { algorithms: ['RS256'], paths: ['{sub}/'] } })).toMatch(/audience: is required with "paths"/);
    for (const template of ['/{sub}/', 'x/{id}/', '{sub}/../', 'a//{sub}', '{sub}{sub}', '%2e/{sub}']) {
      expect(problem({ options: { algorithms: ['RS256'], paths: [template], audience: ['v'] } }), template).toMatch(/paths\[0\]/);
    }
    expect(problem({ options: { algorithms: ['RS256'], carrier: 'bearer', name: 'x' } })).toMatch(/no name/);
    expect(
      problem(
        {
          keys: [
            { id: 'k', env: 'RSA_PUB' },
            { id: 'k2', env: 'JWKS' },
          ],
          options: { algorithms: ['RS256'] },
        },
        {
          JWKS: JSON.stringify({ keys: [{ ...createPublicKey(env.RSA_OTHER_PUB).export({ format: 'jwk' }), kid: 'k' }] }),
        },
      ),
    ).toMatch(/two RS256 keys have the kid "k"/);
  });

  it('reads a JWKS file: each key by its kid', async () => {
    const jwks = JSON.stringify({
      keys: [
        { ...createPublicKey(env.RSA_PUB).export({ format: 'jwk' }), kid: 'one', use: 'sig', alg: 'RS256' },
        { ...createPublicKey(env.RSA_OTHER_PUB).export({ format: 'jwk' }), kid: 'two' },
      ],
    });
    const gate = gateFor(
      [{ name: 'j', prefix: '/j/', scheme: 'jwt', keys: [{ id: 'set', env: 'JWKS' }], options: { algorithms: ['RS256'] } }],
      { JWKS: jwks },
    );
    const two = handMade({ alg: 'RS256', kid: 'two' }, { sub: '/j/', exp: now + 60 }, (input) =>
      cryptoSign('sha256', Buffer.from(input), rsaOther.privateKey),
    );
    expect(
      await verdict(gate, `/j/f?token=${handMade({ alg: 'RS256', kid: 'one' }, { sub: '/j/', exp: now + 60 }, rs256)}`),
    ).toBe(Verdict.valid);
    expect(await verdict(gate, `/j/f?token=${two}`)).toBe(Verdict.valid);
    expect(
      await verdict(gate, `/j/f?token=${handMade({ alg: 'RS256', kid: 'two' }, { sub: '/j/', exp: now + 60 }, rs256)}`),
    ).toBe(Verdict.forged);
    expect(createPrivateKey(env.RSA_PRIV).asymmetricKeyType).toBe('rsa');
  });
});

describe('docs/formats/jwt.md', () => {
  const withEnvKeys = (route: Record<string, unknown>, envName: string) => ({
    ...route,
    keys: (route.keys as { id: string }[]).map((key) => ({ id: key.id, env: envName })),
  });

  it('the Mux route takes what @mux/mux-node signs for its key id', async () => {
    const route = JSON.parse(docBlock('docs/formats/jwt.md', 'jwt-mux-route'));
    const keyId = (route.keys as { id: string }[])[0]!.id;
    const gate = gateFor([withEnvKeys(route, 'RSA_PUB')], env);
    const mux = new Mux({ tokenId: 'unused', tokenSecret: 'unused' });
    const token = await mux.jwt.signPlaybackId('Lzf3a5ZyB7XsQd1u01gM', {
      keyId,
      keySecret: Buffer.from(env.RSA_PRIV).toString('base64'),
      expiration: '1h',
    });
    expect(await verdict(gate, `/Lzf3a5ZyB7XsQd1u01gM.m3u8?token=${token}`)).toBe(Verdict.valid);
  });

  it("the commands that turn Mux's base64 private key into the route's public key file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mux-signing-key.b64'), Buffer.from(env.RSA_PRIV).toString('base64'));
    for (const line of docBlock('docs/formats/jwt.md', 'jwt-mux-public-key').trim().split('\n')) {
      execFileSync('sh', ['-c', line], { cwd: dir, stdio: 'pipe' });
    }
    const route = JSON.parse(docBlock('docs/formats/jwt.md', 'jwt-mux-route'));
    const keyId = (route.keys as { id: string }[])[0]!.id;
    const gate = gateFor([withEnvKeys(route, 'MUX_PUBLIC')], {
      MUX_PUBLIC: readFileSync(join(dir, 'mux-signing-public.pem'), 'utf8'),
    });
    const mux = new Mux({ tokenId: 'unused', tokenSecret: 'unused' });
    const token = await mux.jwt.signPlaybackId('abc', {
      keyId,
      keySecret: readFileSync(join(dir, 'mux-signing-key.b64'), 'utf8'),
    });
    expect(await verdict(gate, `/abc.m3u8?token=${token}`)).toBe(Verdict.valid);
  });

  it('the application route reads its cookie, audience and issuer', async () => {
    const gate = gateFor([JSON.parse(docBlock('docs/formats/jwt.md', 'jwt-app-route'))], { DOWNLOADS_JWT_SECRET: hsSecret });
    const token = jsonwebtoken.sign(
      { path: '/downloads/report.pdf', aud: 'downloads', iss: 'https://app.example.com', exp: now + 60 },
      hsSecret,
    );
    const headers = new CapturedHeaders();
    headers.add('cookie', `session=${token}`);
    expect(await verdict(gate, '/downloads/report.pdf', undefined, now, headers)).toBe(Verdict.valid);
  });

  it('the JWKS route is a valid route; the sign command signs the Mux route with its private key', async () => {
    expect(parseRoutes([JSON.parse(docBlock('docs/formats/jwt.md', 'jwt-jwks-route'))])).not.toHaveProperty('problems');
    const mux = JSON.parse(docBlock('docs/formats/jwt.md', 'jwt-mux-route'));
    const dir = tempDir();
    writeFileSync(join(dir, 'mux.pem'), env.RSA_PRIV);
    const signingRoute = { ...mux, keys: (mux.keys as { id: string }[]).map((key) => ({ id: key.id, file: 'mux.pem' })) };
    const config = writeConfig(dir, testConfig({ routes: [signingRoute] }));
    const args = docBlock('docs/formats/jwt.md', 'jwt-sign').trim().split(/\s+/).slice(1);
    const signed = await runCli([...args, '--config', config]);
    expect(signed.code, signed.stderr).toBe(0);
    const link = signed.stdout.trim();
    expect(link).toMatch(/^\/Lzf3a5ZyB7XsQd1u01gM\.m3u8\?token=/);
    const gate = gateFor([withEnvKeys(mux, 'RSA_PUB')], env);
    expect(await verdict(gate, link)).toBe(Verdict.valid);
    const claims = jsonwebtoken.verify(link.slice(link.indexOf('=') + 1), env.RSA_PUB, { algorithms: ['RS256'] });
    expect(claims).toMatchObject({ sub: 'Lzf3a5ZyB7XsQd1u01gM', aud: 'v' });
  });
});

describe('review: links, keys and routes an attacker could stretch', () => {
  const ecOther = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const es256 = (key: typeof ec.privateKey) => (input: string) =>
    cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  /** The other valid form of an ES256 signature: s replaced by n - s (no key needed). */
  function twin(token: string): string {
    const n = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
    const [h, p, s] = token.split('.') as [string, string, string];
    const signature = Buffer.from(s, 'base64url');
    const low = BigInt(`0x${signature.subarray(32).toString('hex')}`);
    const flipped = Buffer.from((n - low).toString(16).padStart(64, '0'), 'hex');
    return `${h}.${p}.${Buffer.concat([signature.subarray(0, 32), flipped]).toString('base64url')}`;
  }

  it('an ES256 signature and its twin (s, n - s) are one link: one fingerprint, revoked together', async () => {
    const book = new RevocationBook();
    const gate = gateFor(
      [
        {
          name: 'es',
          prefix: '/es/',
          scheme: 'jwt',
          keys: [{ id: 'e1', env: 'EC_PRIV' }],
          options: { algorithms: ['ES256'] },
          revocation: { maxLifetimeSec: 86_400 },
        },
      ],
      env,
      undefined,
      undefined,
      book,
    );
    const token = handMade({ alg: 'ES256', kid: 'e1' }, { sub: '/es/', exp: now + 600 }, es256(ec.privateKey));
    const other = twin(token);
    expect(other).not.toBe(token);
    expect(await verdict(gate, `/es/f?token=${token}`)).toBe(Verdict.valid);
    expect(await verdict(gate, `/es/f?token=${other}`)).toBe(Verdict.valid);
    const fp = (await explain(gate, `/es/f?token=${token}`, undefined, now)).details.fingerprint!;
    expect((await explain(gate, `/es/f?token=${other}`, undefined, now)).details.fingerprint).toBe(fp);
    book.put({ kind: 'fp', value: fp, route: 'es', id: 'x', untilSec: now + 3600, createdSec: now });
    expect(await verdict(gate, `/es/f?token=${token}`)).toBe(Verdict.revoked);
    expect(await verdict(gate, `/es/f?token=${other}`)).toBe(Verdict.revoked);
  });

  it('a route with several keys of one algorithm needs the kid; revocation by key then holds for every token of that key', async () => {
    const book = new RevocationBook();
    const gate = gateFor(
      [
        {
          name: 'rs',
          prefix: '/rs/',
          scheme: 'jwt',
          keys: [
            { id: 'r1', env: 'RSA_PUB' },
            { id: 'r2', env: 'RSA_OTHER_PUB' },
          ],
          options: { algorithms: ['RS256'] },
          revocation: { maxLifetimeSec: 86_400 },
        },
      ],
      env,
      undefined,
      undefined,
      book,
    );
    const claims = { sub: '/rs/', exp: now + 600 };
    expect((await decide(gate, `/rs/f?token=${handMade({ alg: 'RS256' }, claims, rs256)}`)).detail).toMatch(/must name its key/);
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'r1' }, claims, rs256)}`)).toBe(Verdict.valid);
    book.put({ kind: 'key', value: 'r1', route: 'rs', id: 'y', untilSec: now + 3600, createdSec: now });
    expect(await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'r1' }, claims, rs256)}`)).toBe(Verdict.revoked);
    // One key of the algorithm: no kid needed, and revoking it still holds.
    const single = gateFor(
      [
        {
          name: 'one',
          prefix: '/one/',
          scheme: 'jwt',
          keys: [{ id: 'k1', env: 'RSA_PUB' }],
          options: { algorithms: ['RS256'] },
          revocation: { maxLifetimeSec: 86_400 },
        },
      ],
      env,
      undefined,
      undefined,
      book,
    );
    book.put({ kind: 'key', value: 'k1', route: 'one', id: 'z', untilSec: now + 3600, createdSec: now });
    expect(await verdict(single, `/one/f?token=${handMade({ alg: 'RS256' }, { sub: '/one/', exp: now + 600 }, rs256)}`)).toBe(
      Verdict.revoked,
    );
    // A JWKS kid is a key id revocations take.
    expect(revocationValueProblem('key', 'jwks.0')).toBeUndefined();
    expect(revocationValueProblem('key', 'a'.repeat(40))).toBeUndefined();
  });

  it('two id routes that share a key and an audience are refused; their own audiences, or keys, load', () => {
    const routes = (second: object) => [
      { name: 'free', prefix: '/free/', scheme: 'jwt', keys: [{ id: 'k', env: 'RSA_PUB' }], options: { preset: 'mux' } },
      { name: 'paid', prefix: '/paid/', scheme: 'jwt', ...second },
    ];
    expect(() => gateFor(routes({ keys: [{ id: 'k2', env: 'RSA_PUB' }], options: { preset: 'mux' } }), env)).toThrow(
      /routes "free" and "paid" share a key and the audience "v"/,
    );
    // The same key as a private key file: the same public key.
    expect(() => gateFor(routes({ keys: [{ id: 'k2', env: 'RSA_PRIV' }], options: { preset: 'mux' } }), env)).toThrow(
      /share a key/,
    );
    expect(() =>
      gateFor(routes({ keys: [{ id: 'k2', env: 'RSA_PUB' }], options: { preset: 'mux', audience: ['paid'] } }), env),
    ).not.toThrow();
    expect(() => gateFor(routes({ keys: [{ id: 'k2', env: 'RSA_OTHER_PUB' }], options: { preset: 'mux' } }), env)).not.toThrow();
  });

  it('times past ten digits are malformed (they would break stores that expire by them)', async () => {
    const gate = gateFor(
      [{ name: 'rs', prefix: '/rs/', scheme: 'jwt', keys: [{ id: 'r1', env: 'RSA_PUB' }], options: { algorithms: ['RS256'] } }],
      env,
    );
    for (const payload of [
      { sub: '/rs/', exp: 9_007_199_254_740_991 },
      { sub: '/rs/', exp: 10_000_000_000 },
      { sub: '/rs/', exp: now + 60, nbf: 10_000_000_000 },
    ]) {
      expect(
        await verdict(gate, `/rs/f?token=${handMade({ alg: 'RS256', kid: 'r1' }, payload, rs256)}`),
        JSON.stringify(payload),
      ).toBe(Verdict.malformed);
    }
  });

  it('a JWK whose key_ops do not allow verify is refused', () => {
    const jwk = { ...createPublicKey(env.RSA_PUB).export({ format: 'jwk' }), kid: 'enc', key_ops: ['encrypt'] };
    expect(() =>
      gateFor(
        [{ name: 'j', prefix: '/j/', scheme: 'jwt', keys: [{ id: 'set', env: 'JWKS' }], options: { algorithms: ['RS256'] } }],
        {
          JWKS: JSON.stringify({ keys: [jwk] }),
        },
      ),
    ).toThrow(/"key_ops" does not allow "verify"/);
    expect(ecOther.privateKey.asymmetricKeyType).toBe('ec');
  });
});

describe('tokengate sign on jwt routes', () => {
  it('signs ES256, RS256 and HS256 links from key files, and the service takes them', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'es.pem'), env.EC_PRIV);
    writeFileSync(join(dir, 'rs.pem'), env.RSA_PRIV);
    writeFileSync(join(dir, 'hs.key'), hsSecret);
    const routes = [
      { name: 'es', prefix: '/es/', scheme: 'jwt', keys: [{ id: 'e1', file: 'es.pem' }], options: { algorithms: ['ES256'] } },
      { name: 'rs', prefix: '/rs/', scheme: 'jwt', keys: [{ id: 'r1', file: 'rs.pem' }], options: { algorithms: ['RS256'] } },
      {
        name: 'hs',
        prefix: '/hs/',
        scheme: 'jwt',
        keys: [{ id: 'h1', file: 'hs.key' }],
        options: { algorithms: ['HS256'], pathClaim: 'path' },
      },
    ];
    const config = writeConfig(dir, testConfig({ routes }));
    const gate = gateFor(
      routes.map((route) => ({
        ...route,
        keys: [{ id: route.keys[0]!.id, env: { es: 'EC_PRIV', rs: 'RSA_PRIV', hs: 'HS' }[route.name]! }],
      })),
      env,
    );
    for (const [path, algorithm] of [
      ['/es/show/index.m3u8', 'ES256'],
      ['/rs/reports/2026.pdf', 'RS256'],
      ['/hs/a/b.txt', 'HS256'],
    ] as const) {
      const signed = await runCli(['sign', '--config', config, '--path', path, '--ttl', '600', '--scope-depth', '2']);
      expect(signed.code, signed.stderr).toBe(0);
      const link = signed.stdout.trim();
      const jwt = link.slice(link.indexOf('token=') + 'token='.length);
      expect(JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: algorithm, typ: 'JWT' });
      expect(await verdict(gate, link), path).toBe(Verdict.valid);
      const sibling = link.replace(/\/[^/?]+\?/, '/other-file?');
      expect(await verdict(gate, sibling), sibling).toBe(Verdict.valid);
    }
  });
});

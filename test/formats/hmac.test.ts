/**
 * tokengate's own hmac format: the published spec (docs/formats/hmac.md), key ids and rotation,
 * scopes inside the route, IP ranges, cookie and header carriers, and the library signer.
 *
 * Over 250 lines: one case per rule of the format's spec.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { authorize } from '../../src/decision/authorize.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { parseClientIp, parseIpRange } from '../../src/request/client-ip.js';
import { hmacSha256Key } from '../../src/scheme-kit/hmac-sha256.js';
import { hmacSignedString } from '../../src/schemes/hmac.js';
import { gateFor } from '../helpers/gates.js';

const keyHex = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex');
const otherHex = 'ab'.repeat(32);
const now = 1_800_000_000;
const route = (keys: { id: string; env: string; encoding?: string }[], options?: object) => ({
  prefix: '/vod/',
  scheme: 'hmac',
  keys,
  ...(options ? { options } : {}),
});
const gate = gateFor(
  [
    route([
      { id: '2026-11', env: 'K1' },
      { id: '2026-05', env: 'K2' },
    ]),
  ],
  { K1: keyHex, K2: otherHex },
);
const decide = (uri: string, ip: string | undefined = '203.0.113.7', at = now) => authorize(gate, uri, ip, at);
const signer = hmacSigner({ keyId: '2026-11', key: keyHex });

describe('hmac: independent implementations agree (docs/formats/hmac.md)', () => {
  const signed = hmacSignedString({ kid: '2026-11', exp: '1900000000', nbf: '', scope: 'prefix:/vod/movie/', ip: '', sid: '' });
  const pyMac = execFileSync('python3', [
    '-c',
    'import sys,hmac,hashlib,base64;k=bytes.fromhex(sys.argv[1]);print(base64.urlsafe_b64encode(hmac.new(k,sys.argv[2].encode(),hashlib.sha256).digest()[:16]).decode().rstrip("="))',
    keyHex,
    signed,
  ])
    .toString()
    .trim();

  it('Python hmac and openssl dgst -hmac compute the same MAC for the documented example', () => {
    const opensslHex = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${keyHex}`], {
      input: signed,
    })
      .toString()
      .trim()
      .split(/\s+/)
      .at(-1)!;
    expect(Buffer.from(opensslHex, 'hex').subarray(0, 16).toString('base64url')).toBe(pyMac);
    expect(readFileSync(new URL('../../docs/formats/hmac.md', import.meta.url), 'utf8')).toContain(`m=${pyMac}`);
  });

  it('the service accepts the token built by Python, over its whole scope, and no further', () => {
    const token = `tg=v1~k=2026-11~e=1900000000~p=2~m=${pyMac}`;
    expect(decide(`/vod/movie/index.m3u8?${token}`).verdict).toBe(Verdict.valid);
    expect(decide(`/vod/movie/720p/seg-1.ts?${token}`).verdict).toBe(Verdict.valid);
    expect(decide(`/vod/other/index.m3u8?${token}`).verdict).toBe(Verdict.forged);
    expect(decide(`/vod/movie/index.m3u8?${token}`, '203.0.113.7', 1900000001).verdict).toBe(Verdict.expired);
  });

  it('our signer produces the same token as the independent MAC', () => {
    const vod = hmacSigner({ keyId: '2026-11', key: keyHex, routePrefix: '/vod/' });
    const url = vod.sign({ path: '/vod/movie/index.m3u8', expiresSec: 1900000000, scopeDepth: 2 });
    expect(url).toBe(`/vod/movie/index.m3u8?tg=v1~k=2026-11~e=1900000000~p=2~m=${pyMac}`);
  });
});

describe('hmac: grammar', () => {
  const good = signer.sign({ path: '/vod/a.mp4', expiresSec: now + 600 }).split('tg=')[1]!;
  const mac = good.split('~m=')[1]!;
  it.each([
    ['v2~k=2026-11~e=1800000600~m=MAC', /start with "v1~"/],
    ['v1~e=1800000600~k=2026-11~m=MAC', /order/],
    ['v1~k=2026-11~k=2026-11~e=1800000600~m=MAC', /order/],
    ['v1~k=2026-11~e=1800000600~x=1~m=MAC', /order/],
    ['v1~k=2026-11~e=1800000600~MAC', /order/],
    ['v1~k=2026-11~e=1800000600', /order/],
    ['v1~k=2026-11~e=1800000600~m=MAC~', /order/],
    ['v1~k=~e=1800000600~m=MAC', /k must be/],
    ['v1~k=a.b~e=1800000600~m=MAC', /k must be/],
    ['v1~k=2026-11~e=0800000600~m=MAC', /leading zero/],
    ['v1~k=2026-11~e=1800000600~n=1800000601~m=MAC', /n is after e/],
    ['v1~k=2026-11~e=1800000600~p=02~m=MAC', /p must be/],
    ['v1~k=2026-11~e=1800000600~p=33~m=MAC', /p must be/],
    ['v1~k=2026-11~e=1800000600~p=5~m=MAC', /more segments than the path/],
    ['v1~k=2026-11~e=1800000600~i=203.0.113.1/24~m=MAC', /canonical/],
    ['v1~k=2026-11~e=1800000600~i=2001:DB8::/32~m=MAC', /canonical/],
    ['v1~k=2026-11~e=1800000600~i=203.0.113.7/32~m=MAC', /canonical/],
    ['v1~k=2026-11~e=1800000600~i=::ffff:203.0.113.7~m=MAC', /canonical/],
    ['v1~k=2026-11~e=1800000600~s=a.b~m=MAC', /s must be/],
    ['v1~k=2026-11~e=1800000600~m=MAC=', /m must be/],
    [`v1~k=2026-11~e=1800000600~m=${mac.slice(0, -1)}x`, /m must be/],
    [`v1~k=2026-11~e=1800000600~s=${'a'.repeat(250)}~m=MAC`, /longer than 256/],
  ])('%s is malformed', (token, reason) => {
    const decision = decide(`/vod/a.mp4?tg=${token.replace('MAC', mac)}`);
    expect(decision.verdict).toBe(Verdict.malformed);
    expect(decision.detail).toMatch(reason);
  });

  it('a canonical token allows, and the CIDR parser accepts only canonical ranges', () => {
    expect(decide(`/vod/a.mp4?tg=${good}`).verdict).toBe(Verdict.valid);
    const within = (range: string, ip: string) => parseIpRange(range)?.contains(parseClientIp(ip)!);
    expect(within('10.0.0.0/8', '10.200.1.1')).toBe(true);
    expect(within('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(within('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(within('2001:db8::/32', '10.0.0.1')).toBe(false);
    expect(within('0.0.0.0/0', '192.0.2.1')).toBe(true);
    // An IPv4-mapped client is the IPv4 client.
    expect(within('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(within('::/0', '::ffff:10.1.2.3')).toBe(false);
    for (const bad of ['10.0.0.0/08', '10.0.0.1/8', '10.0.0.0/33', '2001:db8::/129', '::/128', '10.0.0.0/', '/8']) {
      expect(parseIpRange(bad), bad).toBeUndefined();
    }
  });
});

describe('hmac: keys, scope, client binding', () => {
  it('the token names its key: rotation works and a removed key stops at once', () => {
    const old = hmacSigner({ keyId: '2026-05', key: otherHex }).sign({ path: '/vod/a.mp4', expiresSec: now + 600 });
    expect(decide(old).verdict).toBe(Verdict.valid);
    const rotated = gateFor([route([{ id: '2026-11', env: 'K1' }])], { K1: keyHex });
    const decision = authorize(rotated, old, undefined, now);
    expect([decision.verdict, decision.detail]).toEqual([
      Verdict.forged,
      expect.stringMatching(/key id this route does not have/),
    ]);
    // Same key id, other key material: forged, never allowed.
    const impostor = hmacSigner({ keyId: '2026-11', key: otherHex }).sign({ path: '/vod/a.mp4', expiresSec: now + 600 });
    expect(decide(impostor).verdict).toBe(Verdict.forged);
  });

  it('binds to an address or a range; a wrong client is wrong-ip after the signature proved genuine', () => {
    const one = signer.sign({ path: '/vod/a.mp4', expiresSec: now + 600, clientIp: '203.0.113.7' });
    expect(decide(one, '203.0.113.7').verdict).toBe(Verdict.valid);
    expect(decide(one, '::ffff:203.0.113.7').verdict).toBe(Verdict.valid);
    expect(decide(one, '203.0.113.8').verdict).toBe(Verdict.wrongIp);
    expect(decide(one.replace('a.mp4', 'b.mp4'), '203.0.113.8').verdict).toBe(Verdict.forged);
    expect(authorize(gate, one, undefined, now).verdict).toBe(Verdict.badSource);
    const range = signer.sign({ path: '/vod/a.mp4', expiresSec: now + 600, clientIp: '2001:db8:1::/48' });
    expect(decide(range, '2001:db8:1:2::9').verdict).toBe(Verdict.valid);
    expect(decide(range, '2001:db8:2::9').verdict).toBe(Verdict.wrongIp);
    expect(() => signer.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(60), clientIp: '2001:DB8::1' })).toThrow(
      'client IP "2001:DB8::1" is not written canonically (write 2001:db8::1)',
    );
    // Not an address at all is another problem than an address written another way.
    expect(() => signer.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(60), clientIp: '999.1.1.1' })).toThrow(
      'client IP "999.1.1.1" is not an IPv4 or IPv6 address',
    );
    expect(() => signer.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(60), clientIp: '2001:db8::1/200' })).toThrow(
      'client IP range "2001:db8::1/200" is not written canonically',
    );
  });

  it('tokens without a client binding need no client IP at all', () => {
    expect(authorize(gate, signer.sign({ path: '/vod/a.mp4', expiresSec: now + 600 }), undefined, now).verdict).toBe(
      Verdict.valid,
    );
  });

  it('session id and start time are signed', () => {
    const url = signer.sign({ path: '/vod/a.mp4', expiresSec: now + 600, sessionId: 'user-42', notBeforeSec: now + 100 });
    expect(url).toMatch(/~n=1800000100~s=user-42~m=/);
    expect(decide(url, '203.0.113.7', now + 100).verdict).toBe(Verdict.valid);
    expect(decide(url, '203.0.113.7', now + 69).verdict).toBe(Verdict.premature);
    expect(decide(url.replace('user-42', 'user-43')).verdict).toBe(Verdict.forged);
  });

  it('key material: hex or base64, at least 32 bytes, strictly decoded', () => {
    const base64 = Buffer.from(keyHex, 'hex').toString('base64');
    const fromBase64 = gateFor([route([{ id: '2026-11', env: 'K', encoding: 'base64' }])], { K: base64 });
    expect(authorize(fromBase64, signer.sign({ path: '/vod/a.mp4', expiresSec: now + 60 }), undefined, now).verdict).toBe(
      Verdict.valid,
    );
    expect(() => gateFor([route([{ id: 'k', env: 'K' }])], { K: 'ab'.repeat(31) })).toThrow(/at least 32 bytes/);
    expect(() => gateFor([route([{ id: 'k', env: 'K' }])], { K: `${'ab'.repeat(32)}g` })).toThrow(/not valid hex/);
    expect(() => gateFor([route([{ id: 'k', env: 'K', encoding: 'base64' }])], { K: `${base64}!` })).toThrow(/not valid base64/);
    expect(() => gateFor([route([{ id: 'k', env: 'K', encoding: 'text' }])], { K: keyHex })).toThrow(
      /encoding: must be "hex" or "base64"/,
    );
    expect(() => hmacSigner({ keyId: 'k', key: 'abcd' })).toThrow(/at least 32 bytes/);
  });
});

describe('hmac: a token opens only the route it was signed for (docs/security.md rule 9)', () => {
  // One key id and key on every route: a normal configuration.
  const shared = [{ id: '2026-11', env: 'K1' }];
  const routes = gateFor(
    [
      { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: shared },
      { name: 'premium', prefix: '/vod/premium/', scheme: 'hmac', keys: shared },
      { name: 'cookie', prefix: '/ck/', scheme: 'hmac', keys: shared, options: { carrier: 'cookie' } },
      { name: 'header', prefix: '/hd/', scheme: 'hmac', keys: shared, options: { carrier: 'header' } },
      { name: 'top', prefix: '/top', scheme: 'hmac', keys: shared },
    ],
    { K1: keyHex },
  );
  /** A token with any scope, MAC computed independently (Python's reference HMAC is tested above). */
  const scoped = (path: string, depth: number) => {
    const prefix = `${path
      .split('/')
      .slice(0, depth + 1)
      .join('/')}/`;
    const signed = hmacSignedString({ kid: '2026-11', exp: '1900000000', nbf: '', scope: `prefix:${prefix}`, ip: '', sid: '' });
    const mac = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${keyHex}`], { input: signed })
      .toString()
      .trim()
      .split(/\s+/)
      .at(-1)!;
    return `v1~k=2026-11~e=1900000000~p=${depth}~m=${Buffer.from(mac, 'hex').subarray(0, 16).toString('base64url')}`;
  };
  const cookie = (value: string) => ({ get: (name: string) => (name === 'cookie' ? `tg=${value}` : undefined) });
  const header = (value: string) => ({ get: (name: string) => (name === 'x-tokengate' ? value : undefined) });
  const on = (uri: string, token: string) => authorize(routes, `${uri}?tg=${token}`, undefined, now).verdict;

  it('a scope wider than the route is refused on every route it would reach', () => {
    const depth0 = scoped('/vod/free/x', 0); // prefix "/": what `sign --scope-depth 0` made
    expect(on('/vod/free/x', depth0)).toBe(Verdict.forged);
    expect(on('/vod/premium/anything', depth0)).toBe(Verdict.forged);
    expect(authorize(routes, '/ck/anything', undefined, now, cookie(depth0)).verdict).toBe(Verdict.forged);
    expect(authorize(routes, '/hd/anything', undefined, now, header(depth0)).verdict).toBe(Verdict.forged);
    expect(on('/topsecret/x', depth0)).toBe(Verdict.forged);
  });

  it('a scope that covers a nested route does not open it', () => {
    const depth1 = scoped('/vod/free/x', 1); // prefix "/vod/": the whole /vod/ route
    expect(on('/vod/free/x', depth1)).toBe(Verdict.valid);
    expect(on('/vod/other/y', depth1)).toBe(Verdict.valid);
    expect(on('/vod/premium/y', depth1)).toBe(Verdict.forged);
    expect(on('/vod/premium/sub/y', depth1)).toBe(Verdict.forged);
  });

  it('a scope inside the route opens it, and only under its prefix', () => {
    const depth2 = scoped('/vod/premium/x', 2);
    expect(on('/vod/premium/z', depth2)).toBe(Verdict.valid);
    expect(on('/vod/free/z', depth2)).toBe(Verdict.forged);
    const cookieScope = scoped('/ck/books/x', 2);
    expect(authorize(routes, '/ck/books/y', undefined, now, cookie(cookieScope)).verdict).toBe(Verdict.valid);
    expect(authorize(routes, '/ck/music/y', undefined, now, cookie(cookieScope)).verdict).toBe(Verdict.forged);
  });

  it('the signer refuses a scope wider than its route, and needs the route to sign a scope at all', () => {
    const vod = hmacSigner({ keyId: '2026-11', key: keyHex, routePrefix: '/vod/' });
    expect(() => vod.sign({ path: '/vod/free/x', expiresSec: now + 60, scopeDepth: 0 })).toThrow(/outside the route/);
    expect(() => vod.sign({ path: '/ck/x', expiresSec: now + 60 })).toThrow(/not under the route/);
    const wide = vod.sign({ path: '/vod/free/x', expiresSec: now + 60, scopeDepth: 1 });
    expect(authorize(routes, wide.replace('/free/x', '/other/y'), undefined, now).verdict).toBe(Verdict.valid);
    expect(() => signer.sign({ path: '/vod/free/x', expiresSec: now + 60, scopeDepth: 1 })).toThrow(/routePrefix/);
  });
});

describe('signers refuse what the service refuses and sign text as UTF-8 (docs/security.md rule 10)', () => {
  it('a non-ASCII path is percent-encoded as UTF-8: its token never opens the latin1 look-alike', () => {
    // "ų" is U+0173: latin1 encoding kept only its low byte, "s", so the token opened /vod/secret.mp4.
    const signed = signer.token({ path: '/vod/ųecret.mp4', expiresSec: now + 600 });
    expect(signed.path).toBe('/vod/%C5%B3ecret.mp4');
    const token = (signed as { query: string }).query;
    expect(decide(`/vod/%C5%B3ecret.mp4?${token}`).verdict).toBe(Verdict.valid);
    expect(decide(`/vod/secret.mp4?${token}`).verdict).toBe(Verdict.forged);
    expect(signer.sign({ path: '/films/été.mp4', expiresSec: now + 600 })).toMatch(/^\/films\/%C3%A9t%C3%A9\.mp4\?tg=/);
  });

  it.each([
    ['/vod/a.mp4?x=1', /"\?"/],
    ['/vod/a#b', /#/],
    ['/vod/../secret', /dot-segment/],
    ['/vod/..;/secret', /dot-segment/],
    ['/vod/%2e%2e/secret', /dot-segment/],
    ['/vod/%252e%252e/secret', /double/],
    ['/vod/a b.mp4', /pchar/],
    ['/vod//a', /\/\//],
    ['/vod/a%2Fb', /%2F/],
    ['/vod/%C0%AE', /UTF-8/],
    ['/vod/é%41', /mixes raw non-ASCII/],
    ['/vod/\ud800', /surrogate/],
    ['/vod/\u0085', /UTF-8/],
    ['vod/a', /start with/],
    ['', /empty/],
  ])('the library refuses %j', (path, reason) => {
    expect(() => signer.sign({ path: path, expiresSec: now + 600 })).toThrow(reason);
    expect(() => signer.token({ path: path, expiresSec: now + 600 })).toThrow(reason);
  });

  it('the HMAC of a UTF-8 message equals Python and openssl over the same UTF-8 bytes', () => {
    const message = 'tokengate-hmac-v1\nk=x\ne=1900000000\nn=\nscope=exact:/films/été\ni=\ns=';
    const ours = hmacSha256Key(Buffer.from(keyHex, 'hex')).sign(message, 32).toString('hex');
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${keyHex}`], {
      input: Buffer.from(message, 'utf8'),
    })
      .toString()
      .trim()
      .split(/\s+/)
      .at(-1);
    expect(ours).toBe(openssl);
  });
});

describe('hmac cookie and header carriers read HTTP whitespace only', () => {
  const ck = gateFor([{ prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], options: { carrier: 'cookie' } }], {
    K: keyHex,
  });
  const token = hmacSigner({ keyId: 'k', key: keyHex, carrier: 'cookie' }).token({ path: '/ck/a', expiresSec: now + 600 });
  const value = (token as { value: string }).value;
  const withCookie = (cookie: string) =>
    authorize(ck, '/ck/a', undefined, now, { get: (name) => (name === 'cookie' ? cookie : undefined) }).verdict;
  it('space and tab around a cookie pair are stripped; no-break space, line separator and BOM are not', () => {
    expect(withCookie(`a=1; tg=${value}`)).toBe(Verdict.valid);
    expect(withCookie(`\ttg=${value}\t`)).toBe(Verdict.valid);
    // "\xa0tg" read as "tg" by String.prototype.trim: the node engine hands header bytes over as latin1.
    expect(withCookie(`\u00a0tg=${value}`)).toBe(Verdict.missing);
    expect(withCookie(`tg=${value}\u00a0`)).toBe(Verdict.malformed);
    expect(withCookie(`\u2028tg=${value}`)).toBe(Verdict.missing);
    expect(withCookie(`tg=\ufeff${value}`)).toBe(Verdict.malformed);
  });
});

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authorize } from '../src/core/authorize.js';
import { parseIpRange } from '../src/core/client-ip.js';
import { Verdict } from '../src/core/verdict.js';
import { hmacSigner } from '../src/hmac-signer.js';
import { hmacSignedString } from '../src/schemes/hmac.js';
import { gateFor } from './helpers/gates.js';

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

describe('hmac: independent implementations agree (docs/token-format.md)', () => {
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
    expect(readFileSync(new URL('../docs/token-format.md', import.meta.url), 'utf8')).toContain(`m=${pyMac}`);
  });

  it('the service accepts the token built by Python, over its whole scope, and no further', () => {
    const token = `tg=v1~k=2026-11~e=1900000000~p=2~m=${pyMac}`;
    expect(decide(`/vod/movie/index.m3u8?${token}`).verdict).toBe(Verdict.allow);
    expect(decide(`/vod/movie/720p/seg-1.ts?${token}`).verdict).toBe(Verdict.allow);
    expect(decide(`/vod/other/index.m3u8?${token}`).verdict).toBe(Verdict.forged);
    expect(decide(`/vod/movie/index.m3u8?${token}`, '203.0.113.7', 1900000001).verdict).toBe(Verdict.expired);
  });

  it('our signer produces the same token as the independent MAC', () => {
    const url = signer.sign('/vod/movie/index.m3u8', { ttlSec: 1900000000 - now, nowSec: now, scopeDepth: 2 });
    expect(url).toBe(`/vod/movie/index.m3u8?tg=v1~k=2026-11~e=1900000000~p=2~m=${pyMac}`);
  });
});

describe('hmac: grammar', () => {
  const good = signer.sign('/vod/a.mp4', { ttlSec: 600, nowSec: now }).split('tg=')[1]!;
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
    expect(decide(`/vod/a.mp4?tg=${good}`).verdict).toBe(Verdict.allow);
    expect(parseIpRange('10.0.0.0/8')?.contains('10.200.1.1')).toBe(true);
    expect(parseIpRange('10.0.0.0/8')?.contains('11.0.0.1')).toBe(false);
    expect(parseIpRange('2001:db8::/32')?.contains('2001:db8:ffff::1')).toBe(true);
    expect(parseIpRange('2001:db8::/32')?.contains('10.0.0.1')).toBe(false);
    expect(parseIpRange('0.0.0.0/0')?.contains('192.0.2.1')).toBe(true);
    for (const bad of ['10.0.0.0/08', '10.0.0.1/8', '10.0.0.0/33', '2001:db8::/129', '::/128', '10.0.0.0/', '/8']) {
      expect(parseIpRange(bad), bad).toBeUndefined();
    }
  });
});

describe('hmac: keys, scope, client binding', () => {
  it('the token names its key: rotation works and a removed key stops at once', () => {
    const old = hmacSigner({ keyId: '2026-05', key: otherHex }).sign('/vod/a.mp4', { ttlSec: 600, nowSec: now });
    expect(decide(old).verdict).toBe(Verdict.allow);
    const rotated = gateFor([route([{ id: '2026-11', env: 'K1' }])], { K1: keyHex });
    const decision = authorize(rotated, old, undefined, now);
    expect([decision.verdict, decision.detail]).toEqual([
      Verdict.forged,
      expect.stringMatching(/key id this route does not have/),
    ]);
    // Same key id, other key material: forged, never allowed.
    const impostor = hmacSigner({ keyId: '2026-11', key: otherHex }).sign('/vod/a.mp4', { ttlSec: 600, nowSec: now });
    expect(decide(impostor).verdict).toBe(Verdict.forged);
  });

  it('binds to an address or a range; a wrong client is wrong-ip after the signature proved genuine', () => {
    const one = signer.sign('/vod/a.mp4', { ttlSec: 600, nowSec: now, clientIp: '203.0.113.7' });
    expect(decide(one, '203.0.113.7').verdict).toBe(Verdict.allow);
    expect(decide(one, '::ffff:203.0.113.7').verdict).toBe(Verdict.allow);
    expect(decide(one, '203.0.113.8').verdict).toBe(Verdict.wrongIp);
    expect(decide(one.replace('a.mp4', 'b.mp4'), '203.0.113.8').verdict).toBe(Verdict.forged);
    expect(authorize(gate, one, undefined, now).verdict).toBe(Verdict.badSource);
    const range = signer.sign('/vod/a.mp4', { ttlSec: 600, nowSec: now, clientIp: '2001:db8:1::/48' });
    expect(decide(range, '2001:db8:1:2::9').verdict).toBe(Verdict.allow);
    expect(decide(range, '2001:db8:2::9').verdict).toBe(Verdict.wrongIp);
    expect(() => signer.sign('/vod/a.mp4', { ttlSec: 60, clientIp: '2001:DB8::1' })).toThrow(/not canonical/);
  });

  it('tokens without a client binding need no client IP at all', () => {
    expect(authorize(gate, signer.sign('/vod/a.mp4', { ttlSec: 600, nowSec: now }), undefined, now).verdict).toBe(Verdict.allow);
  });

  it('session id and start time are signed', () => {
    const url = signer.sign('/vod/a.mp4', { ttlSec: 600, nowSec: now, sessionId: 'user-42', notBeforeSec: now + 100 });
    expect(url).toMatch(/~n=1800000100~s=user-42~m=/);
    expect(decide(url, '203.0.113.7', now + 100).verdict).toBe(Verdict.allow);
    expect(decide(url, '203.0.113.7', now + 69).verdict).toBe(Verdict.premature);
    expect(decide(url.replace('user-42', 'user-43')).verdict).toBe(Verdict.forged);
  });

  it('key material: hex or base64, at least 32 bytes, strictly decoded', () => {
    const base64 = Buffer.from(keyHex, 'hex').toString('base64');
    const fromBase64 = gateFor([route([{ id: '2026-11', env: 'K', encoding: 'base64' }])], { K: base64 });
    expect(authorize(fromBase64, signer.sign('/vod/a.mp4', { ttlSec: 60, nowSec: now }), undefined, now).verdict).toBe(
      Verdict.allow,
    );
    expect(() => gateFor([route([{ id: 'k', env: 'K' }])], { K: 'ab'.repeat(31) })).toThrow(/at least 32 bytes/);
    expect(() => gateFor([route([{ id: 'k', env: 'K' }])], { K: `${'ab'.repeat(32)}g` })).toThrow(/not valid hex/);
    expect(() => gateFor([route([{ id: 'k', env: 'K', encoding: 'base64' }])], { K: `${base64}!` })).toThrow(/not valid base64/);
    expect(() => gateFor([route([{ id: 'k', env: 'K', encoding: 'text' }])], { K: keyHex })).toThrow(
      /encoding: must be one of hex, base64/,
    );
    expect(() => hmacSigner({ keyId: 'k', key: 'abcd' })).toThrow(/at least 32 bytes/);
  });
});

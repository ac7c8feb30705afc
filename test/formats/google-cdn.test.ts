/**
 * Google Cloud CDN signed URLs, URL-prefix URLs and signed cookies: Google's published vectors
 * (python-docs-samples cdn/snippets_test.py, test/vectors/google-cloud-cdn.json) verify; the
 * whole URL is signed (scheme and host included); a prefix is a plain string prefix; the
 * signature's grammar is strict; tokengate's signer makes what Google's samples make.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize, findRoute } from '../../src/decision/authorize.js';
import { cloudfront } from '../../src/schemes/cloudfront/cloudfront.js';
import { googleCdn } from '../../src/schemes/google-cdn/google-cdn.js';
import { gateFor } from '../helpers/gates.js';
import { readSignedOrigin, signedOriginCases } from '../helpers/signed-origin-cases.js';

const vectors = JSON.parse(readFileSync(new URL('../vectors/google-cloud-cdn.json', import.meta.url), 'utf8')) as {
  key_base64url: string;
  key_name: string;
  expires: number;
  cases: { name: string; string_to_sign: string; signature: string }[];
};
const expires = vectors.expires;
const route = (baseUrl: string, options: Record<string, unknown> = {}, prefix = '/') => ({
  name: 'cdn',
  prefix,
  scheme: 'google-cdn',
  keys: [{ id: vectors.key_name, env: 'GOOGLE_KEY' }],
  options: { baseUrl, ...options },
});
const gateWith = (baseUrl: string, options: Record<string, unknown> = {}) =>
  gateFor([route(baseUrl, options)], { GOOGLE_KEY: vectors.key_base64url });
const cookies = (value: string) => ({ get: (name: string) => (name === 'cookie' ? value : undefined) });
const vector = (name: string) => vectors.cases.find((c) => c.name === name)!;
const before = expires - 10;

describe("Google's published vectors", () => {
  it.each(['url1', 'url2', 'url3'])('%s: the signed URL is allowed until Expires, then expired', (name) => {
    const { string_to_sign: signed, signature } = vector(name);
    const url = new URL(signed);
    const gate = gateWith(url.origin);
    const uri = `${url.pathname}${url.search}&Signature=${signature}`;
    expect(authorize(gate, uri, undefined, before).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri, undefined, expires + 1).verdict).toBe(Verdict.expired);
    // Another host, scheme, path or query: the URL is signed whole.
    expect(authorize(gateWith(url.origin.replace('http:', 'https:')), uri, undefined, before).verdict).toBe(Verdict.forged);
    expect(authorize(gateWith('http://other.example.com'), uri, undefined, before).verdict).toBe(Verdict.forged);
    expect(authorize(gate, uri.replace(url.pathname, '/other'), undefined, before).verdict).toBe(Verdict.forged);
    expect(authorize(gate, `${url.pathname}?x=1&${url.search.slice(1)}&Signature=${signature}`, undefined, before).verdict).toBe(
      Verdict.forged,
    );
  });

  it.each(['prefix1', 'prefix3'])('%s: URLPrefix URLs cover every URL starting with the prefix, as a plain string', (name) => {
    const { string_to_sign: signed, signature } = vector(name);
    const prefix = Buffer.from(/URLPrefix=([^&]+)/.exec(signed)![1]!, 'base64url').toString('latin1');
    const origin = new URL(prefix).origin;
    const gate = gateWith(origin);
    const under = new URL(prefix).pathname;
    const ask = (path: string, query = '') =>
      authorize(gate, `${path}?${query}${signed}&Signature=${signature}`, undefined, before).verdict;
    expect(ask(`${under}index.m3u8`)).toBe(Verdict.valid);
    expect(ask(`${under}a/b/c.ts`, 'quality=hd&')).toBe(Verdict.valid);
    expect(ask(`${under}index.m3u8`.replace(/^\/[^/]*/, '/zzz'))).toBe(under === '/' ? Verdict.valid : Verdict.forged);
    expect(
      authorize(gateWith('https://elsewhere.example'), `${under}x?${signed}&Signature=${signature}`, undefined, before).verdict,
    ).toBe(Verdict.forged);
    expect(authorize(gate, `${under}x?${signed}&Signature=${signature}`, undefined, expires + 1).verdict).toBe(Verdict.expired);
  });

  it.each(['cookie1', 'cookie2'])('%s: the Cloud-CDN-Cookie covers its prefix', (name) => {
    const { string_to_sign: signed, signature } = vector(name);
    const prefix = Buffer.from(/URLPrefix=([^:]+)/.exec(signed)![1]!, 'base64url').toString('latin1');
    const url = new URL(prefix);
    const gate = gateWith(url.origin);
    const cookie = cookies(`theme=dark; Cloud-CDN-Cookie=${signed}:Signature=${signature}`);
    const path = url.pathname.endsWith('/') ? `${url.pathname}seg-1.ts` : url.pathname;
    expect(authorize(gate, path, undefined, before, cookie).verdict).toBe(Verdict.valid);
    expect(authorize(gate, '/elsewhere/x', undefined, before, cookie).verdict).toBe(Verdict.forged);
    expect(authorize(gate, path, undefined, expires + 1, cookie).verdict).toBe(Verdict.expired);
    expect(authorize(gateWith(url.origin, { cookies: false }), path, undefined, before, cookie).verdict).toBe(Verdict.missing);
  });
});

describe('grammar and keys', () => {
  const gate = gateWith('https://cdn.example.com');
  const signer = findRoute(gate, '/a')!.scheme;
  const signed = (path: string, scopeDepth?: number) => {
    const token = signer.sign({ path, expiresSec: 1_900_000_000, ...(scopeDepth === undefined ? {} : { scopeDepth }) });
    return `${path}?${(token as { query: string }).query}`;
  };
  const now = 1_800_000_000;

  it('sign then verify; the signature is padded base64url and strictly so', () => {
    const url = signed('/vod/a.mp4');
    expect(url).toMatch(/^\/vod\/a\.mp4\?Expires=1900000000&KeyName=my-key&Signature=[\w-]{27}=$/);
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
    const unpadded = url.slice(0, -1);
    expect(authorize(gate, unpadded, undefined, now).verdict).toBe(Verdict.malformed);
    // The last character before "=" carries two unused bits: another spelling of the same bytes.
    const last = url.at(-2)!;
    const sibling = String.fromCharCode(last.charCodeAt(0) + 1);
    expect(authorize(gate, `${url.slice(0, -2)}${sibling}=`, undefined, now).verdict).toBe(Verdict.malformed);
  });

  it('the signed parameters come last, in order, once; anything else is malformed', () => {
    const url = signed('/vod/a.mp4');
    const [path, query] = url.split('?') as [string, string];
    const [expiresParam, keyName, signature] = query.split('&') as [string, string, string];
    for (const variant of [
      `${path}?${keyName}&${expiresParam}&${signature}`,
      `${path}?${expiresParam}&${keyName}&${signature}&x=1`,
      `${path}?Expires=1&${expiresParam}&${keyName}&${signature}`,
      `${path}?%45xpires=1900000000&${keyName}&${signature}`,
      `${path}?${expiresParam}&${signature}`,
      `${path}?${expiresParam}&KeyName=&${signature}`,
      `${path}?Signature=x`,
    ]) {
      expect([variant, authorize(gate, variant, undefined, now).verdict]).toEqual([variant, Verdict.malformed]);
    }
    expect(authorize(gate, `${path}?${expiresParam}&KeyName=other-key&${signature}`, undefined, now).verdict).toBe(
      Verdict.forged,
    );
    expect(authorize(gate, path, undefined, now).verdict).toBe(Verdict.missing);
  });

  it('a scope makes a URLPrefix URL for the directory, inside the route', () => {
    const url = signed('/vod/movie/index.m3u8', 2);
    expect(url).toMatch(/^\/vod\/movie\/index\.m3u8\?URLPrefix=[\w-]+=*&Expires=1900000000&KeyName=my-key&Signature=[\w-]{27}=$/);
    const prefix = Buffer.from(/URLPrefix=([^&]+)/.exec(url)![1]!, 'base64url').toString('latin1');
    expect(prefix).toBe('https://cdn.example.com/vod/movie/');
    expect(authorize(gate, url.replace('index.m3u8', '720p/seg.ts'), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, url.replace('/movie/', '/other/'), undefined, now).verdict).toBe(Verdict.forged);
  });

  it("the signature is what Google's sample computes: HMAC-SHA1 over the URL, padded base64url", () => {
    const url = signed('/vod/a.mp4');
    const toSign = `https://cdn.example.com${url.slice(0, url.indexOf('&Signature='))}`;
    const expected = createHmac('sha1', Buffer.from(vectors.key_base64url, 'base64url')).update(toSign).digest('base64url');
    expect(url.endsWith(`&Signature=${expected}=`)).toBe(true);
  });

  it('the host can come from a proxy-set header (multi-host routes); without one the request is bad-source', () => {
    const multi = gateWith('https://cdn.example.com', { hostHeader: 'X-Forwarded-Host' });
    const url = signed('/vod/a.mp4');
    const host = (value: string | undefined) => ({ get: (name: string) => (name === 'x-forwarded-host' ? value : undefined) });
    expect(authorize(multi, url, undefined, now, host('cdn.example.com')).verdict).toBe(Verdict.valid);
    expect(authorize(multi, url, undefined, now, host('other.example.com')).verdict).toBe(Verdict.forged);
    expect(authorize(multi, url, undefined, now, host(undefined)).verdict).toBe(Verdict.badSource);
    expect(authorize(multi, url, undefined, now, host('evil.com/x')).verdict).toBe(Verdict.badSource);
  });

  it('config: baseUrl is required and an origin; keys are 16 bytes of base64url', () => {
    const listeners = [{ port: 0, uriHeader: 'X-Original-URI' }];
    expect(
      parseConfig({
        listeners,
        routes: [{ ...route('https://cdn.example.com/'), options: { baseUrl: 'https://cdn.example.com/x' } }],
      }),
    ).toEqual(['routes[0].options.baseUrl: must be "http(s)://host[:port]": no path, no trailing "/"']);
    expect(() =>
      gateFor([route('https://cdn.example.com')], { GOOGLE_KEY: Buffer.from('x'.repeat(32)).toString('base64url') }),
    ).toThrow(/16 bytes/);
  });
});

describe('baseUrl and hostHeader: read as cloudfront reads them', () => {
  it.each(signedOriginCases)('%j', (options, expected) => {
    expect(readSignedOrigin(googleCdn, options)).toEqual(expected);
    expect(readSignedOrigin(cloudfront, options)).toEqual(readSignedOrigin(googleCdn, options));
  });
  it('a base URL with its host in upper case is read in lower case, so the links signed for it verify', () => {
    const url = new URL(vector('url1').string_to_sign);
    const uri = `${url.pathname}${url.search}&Signature=${vector('url1').signature}`;
    expect(authorize(gateWith(url.origin.replace(url.host, url.host.toUpperCase())), uri, undefined, before).verdict).toBe(
      Verdict.valid,
    );
  });
  it('on the uws engine, a route reading cookies or a host header is refused with the way out', () => {
    const refused = parseConfig({
      engine: 'uws',
      listeners: [{ port: 0, pathPrefix: '/t' }],
      routes: [{ prefix: '/', scheme: 'google-cdn', keys: [{ id: 'k', env: 'K' }], options: { baseUrl: 'https://a.b' } }],
    });
    expect(refused).toEqual([
      expect.stringMatching(/engine "uws" cannot read safely .*: use engine "node", or "cookies": false and no hostHeader$/),
    ]);
  });
  it('unknown options are named with the known ones', () => {
    expect(
      parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [route('https://a.b', { salt: 1 })] }),
    ).toEqual(['routes[0].options.salt: unknown field (known: baseUrl, hostHeader, cookies)']);
  });
});

describe('docs/formats/google-cdn.md', () => {
  it('the route shown is valid', async () => {
    const { docBlock } = await import('../helpers/doc-blocks.js');
    const shown = JSON.parse(docBlock('docs/formats/google-cdn.md', 'google-cdn-route'));
    expect(parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [shown] })).toMatchObject({
      routes: [{ scheme: { id: 'google-cdn' }, options: { value: { baseUrl: 'https://media.example.com', cookies: true } } }],
    });
  });
});

describe('a URLPrefix must have a path after the host', () => {
  it('"https://cdn.example.com" alone (no "/") is malformed: it would cover other hosts and ports', () => {
    const gate = gateWith('https://cdn.example.com', { hostHeader: 'X-Fwd-Host' });
    const prefix = Buffer.from('https://cdn.example.com').toString('base64url');
    const padded = prefix + '='.repeat((4 - (prefix.length % 4)) % 4);
    const policy = `URLPrefix=${padded}&Expires=1900000000&KeyName=my-key`;
    const signature = createHmac('sha1', Buffer.from(vectors.key_base64url, 'base64url')).update(policy).digest('base64url');
    const host = (value: string) => ({ get: (name: string) => (name === 'x-fwd-host' ? value : undefined) });
    const uri = `/x?${policy}&Signature=${signature}=`;
    expect(authorize(gate, uri, undefined, 1_800_000_000, host('cdn.example.com.evil.net')).verdict).toBe(Verdict.malformed);
    expect(authorize(gate, uri, undefined, 1_800_000_000, host('cdn.example.com')).verdict).toBe(Verdict.malformed);
  });
});

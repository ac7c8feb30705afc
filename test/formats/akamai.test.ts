/**
 * Akamai EdgeAuth 2.0 against its own generator: the npm package akamai-edgeauth (the official
 * Node SDK) makes the tokens, with every option it has, and tokengate must give each the verdict
 * Akamai's edge gives; the published vectors of EdgeAuth-Token-Node (test/vectors); the Python
 * SDK's escaping against Python's own urllib; tokengate's signer byte for byte like the SDK's.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRejection, Verdict } from '../../src/base/verdict.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize, findRoute, type Gate } from '../../src/decision/authorize.js';
import { parseClientIp } from '../../src/request/client-ip.js';
import { noHeaders } from '../../src/request/token-headers.js';
import { escaper } from '../../src/schemes/akamai/akamai-escape.js';
import { aclMatches } from '../../src/schemes/akamai/akamai-token.js';
import { gateFor } from '../helpers/gates.js';

const EdgeAuth = createRequire(import.meta.url)('akamai-edgeauth') as new (
  options: Record<string, unknown>,
) => { generateURLToken(url: string): string; generateACLToken(acl: string | string[]): string };

const vectors = JSON.parse(readFileSync(new URL('../vectors/akamai-edgeauth.json', import.meta.url), 'utf8')) as {
  key_hex: string;
  cases: { name: string; algorithm: string; signed_string: string; hmac: string }[];
};
const key = vectors.key_hex;
const route = (options: Record<string, unknown> = {}, prefix = '/') => ({
  name: prefix === '/' ? 'akamai' : `akamai${prefix}`,
  prefix,
  scheme: 'akamai',
  keys: [{ id: 'k', env: 'AKAMAI_KEY' }],
  options,
});
const gateWith = (options: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
  gateFor([route(options)], { AKAMAI_KEY: key, ...env });
const decide = (gate: Gate, uri: string, nowSec: number, ip?: string) => authorize(gate, uri, ip, nowSec).verdict;
const withToken = (path: string, token: string, name = '__token__') => `${path}?${name}=${token}`;

describe('published vectors (EdgeAuth-Token-Node test_local.json)', () => {
  /** The token the generator sends for a vector: the signed string without url= and salt=, then hmac=. */
  const tokenOf = (signed: string, d = '~') =>
    signed
      .split(d)
      .filter((field) => !field.startsWith('url=') && !field.startsWith('salt='))
      .concat(`hmac=${''}`)
      .join(d);
  const at = (signed: string) => Number(/st=(\d+)/.exec(signed)?.[1] ?? /exp=(\d+)/.exec(signed)![1]);
  const end = (signed: string) => Number(/exp=(\d+)/.exec(signed)![1]);

  it.each(vectors.cases.filter((c) => /^atk([1-9]|10|11)$/.test(c.name)))(
    '$name: allowed in its window, expired after',
    (vector) => {
      const d = vector.name === 'atk10' ? '@' : '~';
      const salt = /salt=([^~@]+)/.exec(vector.signed_string)?.[1];
      const url = /url=([^~@]+)/.exec(vector.signed_string)?.[1];
      const escaped = url?.startsWith('%2f') === true;
      // "#" cannot travel raw in a URL (it starts the fragment): these vectors' session ids go in a cookie.
      const inCookie = vector.signed_string.includes('#');
      const options = {
        ...(inCookie ? { carrier: 'cookie' } : {}),
        ...(d === '@' ? { fieldDelimiter: '@' } : {}),
        ...(salt === undefined ? {} : { salt: { env: 'AKAMAI_SALT' } }),
        ...(escaped ? { escapeEarly: 'node' } : {}),
      };
      const gate = gateWith(options, salt === undefined ? {} : { AKAMAI_SALT: salt });
      const token = tokenOf(vector.signed_string, d) + vector.hmac;
      const path = url === undefined ? (/acl=\/\*/.test(vector.signed_string) ? '/any/where' : '/path1') : '/target/url';
      const ip = /ip=([^~@]+)/.exec(vector.signed_string)?.[1];
      const cookie = { get: (name: string) => (name === 'cookie' ? `__token__=${token}` : undefined) };
      const ask = (p: string, nowSec: number, addr = ip ?? '203.0.113.1') =>
        inCookie ? authorize(gate, p, addr, nowSec, cookie).verdict : decide(gate, withToken(p, token), nowSec, addr);
      expect(ask(path, at(vector.signed_string))).toBe(Verdict.valid);
      expect(ask(path, end(vector.signed_string) + 1)).toBe(Verdict.expired);
      // Another path: a URL token signs its path; an ACL token covers only what its ACL matches.
      if (!/acl=\/\*/.test(vector.signed_string)) expect(ask('/other/path', at(vector.signed_string))).toBe(Verdict.forged);
      if (ip !== undefined) expect(ask(path, at(vector.signed_string), '192.168.0.2')).toBe(Verdict.wrongIp);
    },
  );

  it.each(vectors.cases.filter((c) => /^atk1[2-4]$/.test(c.name)))(
    '$name ($algorithm): genuine, and its escaped ACL covers no path the URI rules admit',
    (vector) => {
      const gate = gateWith({ algorithm: vector.algorithm, salt: { env: 'AKAMAI_SALT' } }, { AKAMAI_SALT: 'passwd' });
      const token = tokenOf(vector.signed_string) + vector.hmac;
      const uri = withToken('/path1/', token);
      const now = 1492404500;
      const scheme = findRoute(gate, '/path1/')!.scheme;
      const parsed = scheme.parse({
        path: '/path1/',
        query: uri.slice(uri.indexOf('?') + 1),
        clientIp: parseClientIp('192.168.0.1'),
        headers: noHeaders,
      });
      expect(isRejection(parsed)).toBe(false);
      expect(scheme.verify(parsed as never)).toBe(true);
      expect(decide(gate, uri, now, '192.168.0.1')).toBe(Verdict.forged);
      expect(authorize(gate, uri, '192.168.0.1', now).detail).toMatch(/acl does not cover this path/);
    },
  );
});

describe('tokens of the official Node SDK (akamai-edgeauth), every option', () => {
  const now = 1_800_000_000;
  const sdk = (options: Record<string, unknown>) => new EdgeAuth({ key, startTime: now - 60, endTime: now + 600, ...options });

  it('URL tokens: the signed path only, each algorithm, with ip, id and payload, escape early on and off', () => {
    for (const algorithm of ['sha256', 'sha1', 'md5']) {
      for (const escapeEarly of [false, true]) {
        // Unescaped values must be URL-safe themselves (a raw space cannot travel in a URL).
        const sessionId = escapeEarly ? 'session 42/~x' : 'session-42';
        const options = { algorithm, escapeEarly, ip: '203.0.113.9', sessionId, payload: 'plan=gold' };
        const token = sdk(options).generateURLToken('/vod/movie/index.m3u8');
        const gate = gateWith({ algorithm, escapeEarly: escapeEarly ? 'node' : 'off' });
        expect(decide(gate, withToken('/vod/movie/index.m3u8', token), now, '203.0.113.9')).toBe(Verdict.valid);
        expect(decide(gate, withToken('/vod/movie/other.m3u8', token), now, '203.0.113.9')).toBe(Verdict.forged);
        expect(decide(gate, withToken('/vod/movie/index.m3u8', token), now, '203.0.113.10')).toBe(Verdict.wrongIp);
        expect(decide(gate, withToken('/vod/movie/index.m3u8', token), now + 601, '203.0.113.9')).toBe(Verdict.expired);
        expect(decide(gate, withToken('/vod/movie/index.m3u8', token), now - 600, '203.0.113.9')).toBe(Verdict.premature);
        // The wrong escaping mode on the route: the URL's escaped form differs, so nothing verifies.
        const other = gateWith({ algorithm, escapeEarly: escapeEarly ? 'off' : 'node' });
        expect(decide(other, withToken('/vod/movie/index.m3u8', token), now, '203.0.113.9')).toBe(Verdict.forged);
      }
    }
  });

  it('ACL tokens: * spans segments, ? is one character, several ACLs joined by !', () => {
    const gate = gateWith();
    const token = sdk({}).generateACLToken(['/vod/movie/*', '/live/ch?/index.m3u8']);
    const cases: [string, Verdict][] = [
      ['/vod/movie/index.m3u8', Verdict.valid],
      ['/vod/movie/720p/seg-1.ts', Verdict.valid],
      ['/vod/movie/', Verdict.valid],
      ['/vod/movies/a.ts', Verdict.forged],
      ['/vod/other/a.ts', Verdict.forged],
      ['/live/ch1/index.m3u8', Verdict.valid],
      ['/live/ch12/index.m3u8', Verdict.forged],
      ['/live/ch/index.m3u8', Verdict.forged],
    ];
    for (const [path, verdict] of cases) expect([path, decide(gate, withToken(path, token), now)]).toEqual([path, verdict]);
  });

  it('no start time, a token in a cookie or a header, custom delimiters, a salt, a transition key', () => {
    const acl = sdk({ startTime: undefined, fieldDelimiter: '@', aclDelimiter: ';' }).generateACLToken(['/a/*', '/b/*']);
    expect(acl).not.toMatch(/st=/);
    const custom = gateWith({ fieldDelimiter: '@', aclDelimiter: '^' });
    expect(decide(custom, withToken('/a/x', acl), now)).toBe(Verdict.forged); // ";" is not this route's ACL delimiter
    const semicolon = gateFor([route({ fieldDelimiter: '@' })], { AKAMAI_KEY: key });
    expect(decide(semicolon, withToken('/a/x', acl), now)).toBe(Verdict.forged);
    const cookieGate = gateWith({ carrier: 'cookie' });
    const url = sdk({}).generateURLToken('/vod/a.mp4');
    const headers = { get: (name: string) => (name === 'cookie' ? `other=1; __token__=${url}` : undefined) };
    expect(authorize(cookieGate, '/vod/a.mp4', undefined, now, headers).verdict).toBe(Verdict.valid);
    const headerGate = gateWith({ carrier: 'header', name: 'Akamai-Token' });
    const header = { get: (name: string) => (name === 'akamai-token' ? url : undefined) };
    expect(authorize(headerGate, '/vod/a.mp4', undefined, now, header).verdict).toBe(Verdict.valid);
    const salted = sdk({ salt: 'pepper' }).generateURLToken('/vod/a.mp4');
    expect(decide(gateWith({ salt: { env: 'SALT' } }, { SALT: 'pepper' }), withToken('/vod/a.mp4', salted), now)).toBe(
      Verdict.valid,
    );
    expect(decide(gateWith({ salt: { env: 'SALT' } }, { SALT: 'paprika' }), withToken('/vod/a.mp4', salted), now)).toBe(
      Verdict.forged,
    );
    expect(decide(gateWith(), withToken('/vod/a.mp4', salted), now)).toBe(Verdict.forged);
    // Transition key: the second key of the route still verifies.
    const old = new EdgeAuth({ key: 'ab'.repeat(32), endTime: now + 60 }).generateURLToken('/vod/a.mp4');
    const rotating = gateFor(
      [
        {
          ...route(),
          keys: [
            { id: 'new', env: 'AKAMAI_KEY' },
            { id: 'transition', env: 'OLD' },
          ],
        },
      ],
      { AKAMAI_KEY: key, OLD: 'ab'.repeat(32) },
    );
    expect(decide(rotating, withToken('/vod/a.mp4', old), now)).toBe(Verdict.valid);
    expect(decide(gateWith(), withToken('/vod/a.mp4', old), now)).toBe(Verdict.forged);
  });

  it('URL tokens in a cookie sign the query too, unless ignoreQueryString', () => {
    const token = sdk({}).generateURLToken('/vod/a.mp4?quality=hd');
    const cookie = { get: (name: string) => (name === 'cookie' ? `__token__=${token}` : undefined) };
    const signsQuery = gateWith({ carrier: 'cookie' });
    expect(authorize(signsQuery, '/vod/a.mp4?quality=hd', undefined, now, cookie).verdict).toBe(Verdict.valid);
    expect(authorize(signsQuery, '/vod/a.mp4?quality=sd', undefined, now, cookie).verdict).toBe(Verdict.forged);
    const ignores = gateWith({ carrier: 'cookie', ignoreQueryString: true });
    const bare = sdk({}).generateURLToken('/vod/a.mp4');
    const bareCookie = { get: (name: string) => (name === 'cookie' ? `__token__=${bare}` : undefined) };
    expect(authorize(ignores, '/vod/a.mp4?quality=sd', undefined, now, bareCookie).verdict).toBe(Verdict.valid);
  });

  it('every one-character change of an SDK token denies, and never reads as expired or allowed', () => {
    const gate = gateWith({ escapeEarly: 'node' });
    const token = sdk({ escapeEarly: true, ip: '198.51.100.7', sessionId: 'abc', payload: 'd' }).generateACLToken('/vod/*');
    const uri = withToken('/vod/a.ts', token);
    expect(decide(gate, uri, now, '198.51.100.7')).toBe(Verdict.valid);
    const prefix = '/vod/a.ts?__token__='.length;
    for (let i = prefix; i < uri.length; i++) {
      for (const c of ['0', 'a', 'f', '~', '=', '*', '!', '%', '']) {
        const variant = uri.slice(0, i) + c + uri.slice(i + 1);
        if (variant === uri) continue;
        const verdict = decide(gate, variant, now, '198.51.100.7');
        expect([variant, verdict === Verdict.valid || verdict === Verdict.expired]).toEqual([variant, false]);
      }
    }
  });

  it('fuzz: random SDK options and paths, the SDK token allows exactly its own path or ACL', () => {
    const segment = fc.stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,7}$/); // no dot-segments (bad-uri)
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('sha256', 'sha1', 'md5'),
        fc.boolean(),
        fc.option(fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/), { nil: undefined }),
        (segments, algorithm, asAcl, sessionId) => {
          const path = `/${segments.join('/')}`;
          const options = { algorithm, ...(sessionId === undefined ? {} : { sessionId }) };
          const token = asAcl ? sdk(options).generateACLToken(`${path}/*`) : sdk(options).generateURLToken(path);
          const gate = gateWith({ algorithm });
          const target = asAcl ? `${path}/x` : path;
          expect(decide(gate, withToken(target, token), now)).toBe(Verdict.valid);
          expect(decide(gate, withToken(`${path}x${asAcl ? '/x' : ''}`, token), now)).toBe(Verdict.forged);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("tokengate's signer makes what the SDK makes", () => {
  const now = 1_800_000_000;
  it('URL and ACL tokens, with ip, start and session id, byte for byte', () => {
    for (const escapeEarly of [false, true]) {
      const gate = gateWith({ escapeEarly: escapeEarly ? 'node' : 'off' });
      const scheme = findRoute(gate, '/vod/')!.scheme;
      const request = {
        path: '/vod/movie/index.m3u8',
        expiresSec: now + 600,
        notBeforeSec: now,
        clientIp: '203.0.113.9',
        sessionId: 'abc-1',
      };
      const ours = scheme.sign(request);
      const theirs = new EdgeAuth({
        key,
        startTime: now,
        endTime: now + 600,
        ip: '203.0.113.9',
        sessionId: 'abc-1',
        escapeEarly,
      });
      expect(ours).toEqual({ carrier: 'query', query: `__token__=${theirs.generateURLToken('/vod/movie/index.m3u8')}` });
      expect(scheme.sign({ ...request, scopeDepth: 2 })).toEqual({
        carrier: 'query',
        query: `__token__=${theirs.generateACLToken('/vod/movie/*')}`,
      });
    }
  });
});

describe('escape early', () => {
  it('"python" is urllib.parse.quote_plus(text, safe="") with lowercase escapes', () => {
    const samples = fc.sample(fc.string({ unit: 'grapheme', maxLength: 12 }), 300).concat(["a~b c'*!()/:@", '/vod/été 1.ts', '']);
    const python = execFileSync(
      'python3',
      [
        '-c',
        'import json,re,sys\nfrom urllib.parse import quote_plus\nprint(json.dumps([re.sub("%..", lambda m: m.group(0).lower(), quote_plus(s, safe="")) for s in json.load(sys.stdin)]))',
      ],
      { input: JSON.stringify(samples), encoding: 'utf8' },
    );
    expect(samples.map(escaper('python'))).toEqual(JSON.parse(python));
  });

  it('"node" is what the SDK signs (an escaped URL token verifies only with it)', () => {
    expect(escaper('node')("a~b c'*!()/:@")).toBe('a%7eb%20c%27%2a!()%2f%3a%40');
  });
});

describe('ACL matching', () => {
  it('agrees with a regular-expression oracle on random ACLs and paths', () => {
    const char = fc.constantFrom('a', 'b', '/', '*', '?', '.');
    fc.assert(
      fc.property(
        fc.array(char, { maxLength: 10 }),
        fc.array(fc.constantFrom('a', 'b', '/', '.'), { maxLength: 12 }),
        (acl, path) => {
          const pattern = acl.map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c === '.' ? '\\.' : c)).join('');
          expect(aclMatches(acl.join(''), path.join(''))).toBe(new RegExp(`^${pattern}$`, 's').test(path.join('')));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a pathological signed ACL against an 8 KiB path stays fast (single backtrack point)', () => {
    const started = performance.now();
    expect(aclMatches(`${'*a'.repeat(30)}*b`, `/${'a'.repeat(8000)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('configuration', () => {
  const listeners = [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }];
  it('refuses what cannot work, with the reason', () => {
    const problems = parseConfig({
      listeners,
      routes: [
        route({ carrier: 'query', ignoreQueryString: false }, '/a/'),
        route({ carrier: 'header', name: '__token__' }, '/b/'),
        route({ salt: 'inline-secret' }, '/c/'),
        route({ algorithm: 'sha512', escapeEarly: true, fieldDelimiter: 'x', aclDelimiter: '~' }, '/d/'),
      ],
    });
    expect(problems).toEqual([
      'routes[0].options.ignoreQueryString: must be true when the token travels in the query (a URL cannot sign its own token)',
      'routes[1].options.name: header names with "_" (such as __token__) are dropped by nginx and other proxies (and hang the uWS engine): choose another name',
      'routes[2].options.salt: must be { "file": PATH } or { "env": NAME } (a secret, never inline)',
      'routes[3].options.algorithm: must be "sha256", "sha1" or "md5"',
      'routes[3].options.escapeEarly: must be "off", "node" or "python" (node: the Node SDK, python: the Python SDK)',
      'routes[3].options.fieldDelimiter: must be one printable character other than letters, digits and A-Za-z0-9=&/\\\\:%;,?#*',
      'routes[3].options.aclDelimiter: must differ from fieldDelimiter',
    ]);
  });

  it('the salt loads like a key: from a file (one final newline stripped) or the environment, with its problems named', async () => {
    const { loadConfig } = await import('../../src/config/load-config.js');
    const { tempDir, writeConfig } = await import('../helpers/service-process.js');
    const dir = tempDir();
    writeFileSync(join(dir, 'key.hex'), `${key}\n`);
    writeFileSync(join(dir, 'salt'), 'pepper\n');
    const config = (salt: unknown) =>
      writeConfig(dir, { listeners, routes: [{ ...route({ salt }), keys: [{ id: 'k', file: 'key.hex' }] }] });
    const loaded = loadConfig(config({ file: 'salt' }), {});
    const token = new EdgeAuth({ key, endTime: 1_800_000_600, salt: 'pepper' }).generateURLToken('/a.zip');
    expect(decide(loaded.gate, withToken('/a.zip', token), 1_800_000_000)).toBe(Verdict.valid);
    expect(() => loadConfig(config({ file: 'absent' }), {})).toThrow(
      /routes\[0\]\.options\.salt: cannot read key file .*absent \(ENOENT\)/,
    );
    expect(() => loadConfig(config({ env: 'SALT' }), {})).toThrow(
      /routes\[0\]\.options\.salt: environment variable SALT is not set or empty/,
    );
  });

  it('keys are hex: odd length or a non-hex digit is a config error', () => {
    for (const bad of ['abc', 'zz'.repeat(16)]) expect(() => gateFor([route()], { AKAMAI_KEY: bad })).toThrow(/not valid hex/);
  });
});

describe('docs/formats/akamai.md', () => {
  it('the route shown is valid', async () => {
    const { docBlock } = await import('../helpers/doc-blocks.js');
    const shown = JSON.parse(docBlock('docs/formats/akamai.md', 'akamai-route'));
    const config = parseConfig({
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [shown],
    });
    expect(config).toMatchObject({
      routes: [
        {
          name: 'downloads',
          options: {
            value: { algorithm: 'sha256', carrier: 'query', name: '__token__', escapeEarly: 'off', ignoreQueryString: true },
          },
        },
      ],
    });
  });
});

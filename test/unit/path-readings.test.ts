/**
 * One reading of a path chooses the route (docs/security.md rule 12): an outer route's token never
 * opens a nested route's file under any spelling an origin reads as that file (escapes of plain
 * characters in either hex case, ";" parameters as Tomcat and Jetty cut them, letter case), for
 * every format with a scope, keys shared and not; and every plain path of the outer route stays
 * open with its genuine token.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { loadConfig } from '../../src/config/load-config.js';
import { authorize, findRoute, type Gate } from '../../src/decision/authorize.js';
import { CapturedHeaders } from '../../src/http/request-sources.js';
import { LinkRequestError, signLink } from '../../src/links/sign-link.js';
import { decodedPath, foldedPath, routeTable, withoutParams } from '../../src/request/path-readings.js';
import { canonicalSpelling, signablePath } from '../../src/scheme-kit/signable-path.js';
import type { SignedToken } from '../../src/scheme-kit/token-scheme.js';
import { gateFor } from '../helpers/gates.js';
import { tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const now = 1_800_000_000;
const ip = '198.51.100.7';

function ecKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Each format with a scope: its options, two keys, and how a token covering `/o/<dir>/` is signed. */
interface Scoped {
  readonly scheme: string;
  readonly options?: object;
  readonly keys: readonly [string, string];
  /** The route of the outer token (a stream route for Alta). */
  readonly outer?: object;
  /** Sign a token for a file in `dir` (e.g. "/o/free/") that covers the whole outer route. */
  readonly request: (file: string) => object;
}

const hexKey = (byte: number) => byte.toString(16).padStart(2, '0').repeat(32);
const cdnKey = (byte: number) => Buffer.alloc(16, byte).toString('base64url');
const scoped: readonly Scoped[] = [
  { scheme: 'hmac', keys: [hexKey(0x11), hexKey(0x22)], request: (file) => ({ path: file, scopeDepth: 1 }) },
  { scheme: 'akamai', keys: [hexKey(0x33), hexKey(0x44)], request: (file) => ({ path: file, scopeDepth: 1 }) },
  {
    scheme: 'bunny',
    keys: ['bunny-key-one-0123456789', 'bunny-key-two-0123456789'],
    request: (file) => ({ path: file, scopeDepth: 1 }),
  },
  {
    scheme: 'google-cdn',
    options: { baseUrl: 'https://cdn.example.com' },
    keys: [cdnKey(0x55), cdnKey(0x66)],
    request: (file) => ({ path: file, scopeDepth: 1 }),
  },
  {
    scheme: 'cloudfront',
    options: { baseUrl: 'https://cdn.example.com' },
    keys: [ecKey(), ecKey()],
    request: (file) => ({ path: file, scopeDepth: 1 }),
  },
  // A stream route: the token for /o/<channel>/index.m3u8 covers every file under /o/<channel>/.
  {
    scheme: 'alta',
    keys: ['alta-secret-one-0123456', 'alta-secret-two-0123456'],
    outer: { stream: { playlist: 'index.m3u8', depth: 1 } },
    request: (file) => ({ path: `${file.slice(0, file.lastIndexOf('/') + 1)}index.m3u8`, clientIp: ip, notBeforeSec: now - 60 }),
  },
];

/** The URI and headers a client sends for `path` with a token. */
function present(path: string, token: SignedToken): { uri: string; headers: CapturedHeaders } {
  const headers = new CapturedHeaders();
  if (token.carrier === 'query') return { uri: `${path}?${token.query}`, headers };
  if (token.carrier === 'cookies') headers.add('cookie', token.cookies.map((c) => `${c.name}=${c.value}`).join('; '));
  else
    headers.add(
      token.carrier === 'cookie' ? 'cookie' : token.name.toLowerCase(),
      token.carrier === 'cookie' ? `${token.name}=${token.value}` : token.value,
    );
  return { uri: path, headers };
}

/** Alta streams: the nested route lies inside the channel the token covers. */
const dirOf = (format: Scoped) => (format.outer === undefined ? '/o/' : '/o/free/');

function gateOf(format: Scoped, sharedKey: boolean): Gate {
  const inner = dirOf(format);
  return gateFor(
    [
      {
        prefix: '/o/',
        scheme: format.scheme,
        keys: [{ id: 'outer', env: 'K1' }],
        ...format.outer,
        ...(format.options ? { options: format.options } : {}),
      },
      {
        prefix: `${inner}in/`,
        scheme: format.scheme,
        keys: [{ id: sharedKey ? 'outer' : 'inner', env: sharedKey ? 'K1' : 'K2' }],
        ...(format.options ? { options: format.options } : {}),
      },
    ],
    { K1: format.keys[0], K2: format.keys[1] },
  );
}

/** Spellings of one segment an origin reads as `plain`: escapes (either hex case), other letter case, ";" parameters. */
function spellingOf(plain: string): fc.Arbitrary<string> {
  const char = (c: string) =>
    fc.oneof(
      fc.constant(c),
      fc.constant(c.toUpperCase()),
      fc.constant(`%${c.charCodeAt(0).toString(16).toUpperCase()}`),
      fc.constant(`%${c.charCodeAt(0).toString(16).toLowerCase()}`),
      fc.constant(`%${c.toUpperCase().charCodeAt(0).toString(16)}`),
    );
  // Path parameters (Tomcat, Jetty), and what Windows drops: trailing dots and spaces, NTFS stream names.
  const params = fc.oneof(
    fc.constant(''),
    fc.constantFrom(
      ';',
      ';x',
      ';jsessionid=1',
      '%3B',
      '%3bx',
      ';a=b;c',
      '.',
      '%2E',
      '%20',
      '. .',
      '::$INDEX_ALLOCATION',
      ':$i30:$INDEX_ALLOCATION',
    ),
  );
  return fc.tuple(fc.tuple(...[...plain].map(char)), params).map(([chars, param]) => chars.join('') + param);
}

/** Parameters or escapes on the segments around the nested one, as an origin would cut or decode them. */
const around = fc.constantFrom('', ';v', '%3Bv');

describe('path readings: one reading chooses the route (rule 12)', () => {
  for (const format of scoped) {
    for (const sharedKey of [false, true]) {
      describe(`${format.scheme}, ${sharedKey ? 'one key for both routes' : 'a key per route'}`, () => {
        const gate = gateOf(format, sharedKey);
        const dir = dirOf(format);
        const outer = findRoute(gate, '/o/')!;
        const token = outer.scheme.sign({ expiresSec: now + 600, ...format.request(`${dir}free-file.mp4`) } as never);
        const decide = (path: string) => {
          const { uri, headers } = present(path, token);
          return authorize(gate, uri, ip, now, headers).verdict;
        };

        it('the outer token opens plain paths of the outer route, and the nested route under no spelling', () => {
          expect(decide(`${dir}free-file.mp4`)).toBe(Verdict.valid);
          expect(decide(`${dir}in/secret.mp4`)).not.toBe(Verdict.valid);
          // An 8.3 short name may be the nested directory's: no reading can tell.
          expect(decide(`${dir}IN~1/secret.mp4`)).toBe(Verdict.badUri);
          fc.assert(
            fc.property(spellingOf('in'), around, fc.constantFrom('secret.mp4', 'a/b.ts'), (segment, before, file) => {
              const head = before === '' ? dir : `${dir.slice(0, -1)}${before}/`;
              const path = `${head}${segment}/${file}`;
              const served = foldedPath(withoutParams(decodedPath(path)));
              fc.pre(served.startsWith(`${dir}in/`));
              expect(decide(path), path).not.toBe(Verdict.valid);
            }),
            { numRuns: 300, seed: 26 },
          );
        });

        it('every plain path outside the nested route stays allowed', () => {
          const name = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/).filter((n) => n !== 'in' && !/^\.+$/.test(n));
          fc.assert(
            fc.property(fc.array(name, { minLength: 1, maxLength: 3 }), (segments) => {
              expect(decide(`${dir}${segments.join('/')}`)).toBe(Verdict.valid);
            }),
            { numRuns: 100, seed: 27 },
          );
        });
      });
    }
  }

  it('a gate without nested routes compares no readings: escapes and case reach the one route as before', () => {
    const gate = gateFor([{ prefix: '/o/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] }], { K: hexKey(0x11) });
    expect(gate.readings).toBeUndefined();
    const nested = gateOf(scoped[0]!, false);
    expect(nested.readings?.outer.has(findRoute(nested, '/o/')!)).toBe(true);
    expect(nested.readings?.outer.has(findRoute(nested, '/o/in/')!)).toBe(false);
  });

  it('the readings: decoded, parameters cut per segment, folded', () => {
    expect(decodedPath('/vod/%70remium/%C3%A9t%c3%a9')).toBe('/vod/premium/\u00c3\u00a9t\u00c3\u00a9');
    expect(withoutParams('/vod/premium;x/a;b=1/c')).toBe('/vod/premium/a/c');
    expect(withoutParams('/a;x')).toBe('/a');
    expect(foldedPath('/VOD/Premium/')).toBe('/vod/premium/');
    expect(foldedPath('/vod/premium::$INDEX_ALLOCATION/a. /b:c.mp4')).toBe('/vod/premium/a/b');
    // Fullwidth "ｐ" (U+FF50) is "p" once NFKC-normalised; Kelvin sign is "k".
    expect(foldedPath(decodedPath('/vod/%EF%BD%90remium/%E2%84%AA'))).toBe('/vod/premium/k');
    const table = routeTable([{ prefix: '/vod/' }, { prefix: '/vod/premium/' }, { prefix: '/ck/' }]);
    expect([...table.outer].map((e) => e.prefix)).toEqual(['/vod/']);
  });
});

describe('signers sign one spelling', () => {
  it('a path escaping a plain character is refused, naming the plain spelling', () => {
    expect(() => signablePath('/vod/%70remium/x.mp4')).toThrow(/sign \/vod\/premium\/x\.mp4/);
    expect(() => signablePath('/vod/a%7Eb')).toThrow(/sign \/vod\/a~b/);
    expect(canonicalSpelling('/a%2Db%2e%5F%7e%41%7a%30')).toBe('/a-b._~Az0');
    // Reserved and non-ASCII escapes stay: they are the only spelling of those bytes.
    expect(signablePath('/films/%C3%A9t%C3%A9%20%21.mp4').path).toBe('/films/%C3%A9t%C3%A9%20%21.mp4');
  });

  it('signLink refuses a spelling that origins read as a nested route, and a route prefix that escapes a letter', async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        routes: [
          { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', env: 'K1' }] },
          { name: 'premium', prefix: '/vod/premium/', scheme: 'hmac', keys: [{ id: 'k2', env: 'K2' }] },
        ],
      }),
    );
    const loaded = loadConfig(file, { K1: hexKey(1), K2: hexKey(2) });
    const sign = (path: string, route?: string) =>
      signLink(loaded, { path, expiresSec: now + 600, scopeDepth: 1 }, { nowSec: now, route });
    expect((await sign('/vod/free/x.mp4')).route).toBe('vod');
    for (const spelled of [
      '/vod/premium;x/secret.mp4',
      '/vod/premium%3Bx/secret.mp4',
      '/vod/PREMIUM/secret.mp4',
      '/vod/Premium;a/x',
    ]) {
      await expect(sign(spelled, 'vod'), spelled).rejects.toThrow(LinkRequestError);
      await expect(sign(spelled), spelled).rejects.toThrow(/reaches another route/);
    }
    await expect(sign('/vod/%70remium/secret.mp4')).rejects.toThrow(/sign \/vod\/premium\/secret\.mp4/);
    const configWith = (prefixes: string[], name: string) =>
      writeConfig(
        dir,
        testConfig({
          listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
          routes: prefixes.map((prefix) => ({ prefix, scheme: 'hmac', keys: [{ id: 'k1', env: 'K1' }] })),
        }),
        name,
      );
    expect(() => loadConfig(configWith(['/v%6Fd/', '/a;b/', '/c%3Bd/'], 'bad.json'), { K1: hexKey(1) })).toThrow(
      /escaped \(\/vod\/\)[\s\S]*routes\[1\]\.prefix: must not contain ";"[\s\S]*routes\[2\]\.prefix: must not contain ";"/,
    );
    expect(() => loadConfig(configWith(['/Media/', '/media/'], 'case.json'), { K1: hexKey(1) })).toThrow(
      /"\/Media\/" and "\/media\/" are the same prefix/,
    );
  });
});

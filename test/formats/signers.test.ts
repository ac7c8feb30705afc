/**
 * No signer hands out a link the service refuses, for every scheme and carrier: random valid
 * sign requests (UTF-8 paths, start times, client IPs and ranges, scopes) through the library's
 * `configSigner` (which loads one route's keys) are allowed by the service's full gate, built
 * separately from the same config; and a path the service would refuse, or one another route
 * serves, is refused by the signer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRejection, Verdict } from '../../src/base/verdict.js';
import { loadConfig } from '../../src/config/load-config.js';
import { configSigner, routeSigner, type SignedLink } from '../../src/library/route-signer.js';
import { LinkRequestError, signLink } from '../../src/links/sign-link.js';
import { parseRequestTarget } from '../../src/request/request-target.js';
import { findScheme } from '../../src/schemes/registry.js';
import { covers, fixtureEnv, fixtureRoute, registeredFixtures } from '../helpers/formats/index.js';
import { verdictOf } from '../helpers/gates.js';
import { tempDir, writeConfig } from '../helpers/service-process.js';
import { altaStream, route, testConfig } from '../helpers/test-config.js';

const dir = tempDir();
writeFileSync(join(dir, 'vod.key'), 'a1'.repeat(32));
writeFileSync(join(dir, 'free.key'), 'b2'.repeat(32));
const env = { AZION: 'azion-secret-signers', ALTA: 'alta-secret-signers' };
const file = writeConfig(
  dir,
  testConfig({
    routes: [
      { name: 'my', prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'AZION' }] },
      route('tv', '/tv/', 'alta', [{ id: 't', env: 'ALTA' }], altaStream),
      { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'vod.key' }] },
      { name: 'free', prefix: '/vod/free/', scheme: 'hmac', keys: [{ id: 'f', file: 'free.key' }] },
      { name: 'ck', prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k', file: 'vod.key' }], options: { carrier: 'cookie' } },
      { name: 'hd', prefix: '/hd/', scheme: 'hmac', keys: [{ id: 'k', file: 'vod.key' }], options: { carrier: 'header' } },
    ],
  }),
);
/** The service's gate: every route, every key, loaded on its own. */
const service = loadConfig(file, env).gate;
const now = Math.floor(Date.now() / 1000);

const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_~-][A-Za-z0-9._~!$&'()*+,;=:@-]{0,10}$/),
  fc.constantFrom('été', '本', '第1話', 'ünï cödé', '🎬', '%C3%A9t%C3%A9', 'a%20b'),
);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]`).hostname.slice(1, -1));

/** What the auth listener of `gate` (default: the service's) decides for the link, from `ip`, at `at`. */
function serviceVerdict(link: SignedLink, ip: string | undefined, at: number, gate = service) {
  const headers = {
    get: (name: string) =>
      name === 'cookie' && link.cookie
        ? `${link.cookie.name}=${link.cookie.value}`
        : name === link.header?.name
          ? link.header.value
          : undefined,
  };
  return verdictOf(gate, `${link.path}${link.query === undefined ? '' : `?${link.query}`}`, ip, at, headers);
}

describe('every link any signer makes is accepted by the service', () => {
  const signers = Object.fromEntries(['my', 'tv', 'vod', 'ck', 'hd'].map((name) => [name, configSigner(file, name, { env })]));

  it('azion, alta (stream), hmac on query, cookie and header: random paths, times, IPs, ranges and scopes', async () => {
    let signed = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('my', 'tv', 'vod', 'ck', 'hd'),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: -100_000, max: 20 }),
        fc.oneof(ipv4, ipv6),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(4),
        async (name, segments, ttl, startOffset, ip, rangeKind, depth) => {
          const prefix = name === 'my' ? '/my/' : name === 'tv' ? '/tv/' : `/${name}/`;
          // hmac under /vod/: keep clear of the nested /vod/free/ route.
          const path = `${prefix}${segments.map((s) => (s === 'free' ? 'fre' : s)).join('/')}`;
          const encodedPath = /[^\x00-\x7f]/.test(path) && path.includes('%') ? path.replace(/%/g, 'pct') : path;
          const isHmac = ['vod', 'ck', 'hd'].includes(name);
          const start = now + startOffset;
          const range =
            isHmac && rangeKind > 0
              ? rangeKind === 1
                ? ip
                : ip.includes(':')
                  ? `${new URL(`http://[${ip}]`).hostname.slice(1, -1).split(':').slice(0, 2).join(':')}::/32`
                  : `${ip.split('.').slice(0, 2).join('.')}.0.0/16`
              : undefined;
          const segmentsInPath = encodedPath.split('/').length - 1;
          const scopeDepth = isHmac && depth > 0 && depth < segmentsInPath ? depth : undefined;
          let link: SignedLink;
          try {
            link = await signers[name]!.sign({
              path: encodedPath,
              expiresSec: (name === 'my' ? now : start) + ttl,
              notBeforeSec: name === 'my' ? undefined : start,
              clientIp: name === 'my' ? undefined : name === 'tv' ? ip : range,
              scopeDepth,
            });
          } catch (error) {
            if (!(error instanceof LinkRequestError)) throw error;
            refused++;
            // Refused only for a path the service refuses, or a range that is not canonical.
            // As the signers do: raw non-ASCII text is percent-encoded as UTF-8, nothing else.
            const target = parseRequestTarget(encodedPath.replace(/[^\x00-\x7f]+/g, (run) => encodeURIComponent(run)));
            expect(
              isRejection(target) || /canonical|expired|stream directory/.test(error.message),
              `${encodedPath}: ${error.message}`,
            ).toBe(true);
            return;
          }
          signed++;
          const at = name === 'my' ? now : Math.max(now, start);
          const client = name === 'my' ? '203.0.113.9' : name === 'tv' ? ip : range === undefined ? ip : range.split('/')[0]!;
          expect(await serviceVerdict(link, client, at), `${link.url} from ${client}`).toBe(Verdict.valid);
          if (name === 'tv')
            expect(await serviceVerdict(link, ip === '192.0.2.1' ? '192.0.2.2' : '192.0.2.1', at)).toBe(Verdict.forged);
        },
      ),
      { numRuns: 400, seed: 0x5eed },
    );
    // Most requests are valid: the property is about links, not about refusals.
    expect(signed).toBeGreaterThan(refused);
  });

  it('refuses a path the service refuses, another route serves, or a field the format cannot sign', async () => {
    const expiresSec = now + 60;
    for (const path of [
      '/vod/../my/a',
      '/vod/a%2Fb',
      '/vod/%252e',
      '/vod/a/./b',
      '/vod/%C0%AE',
      '/vod/a?x=1',
      '/vod//a',
      '/vod/..;/a',
    ]) {
      await expect(signers.vod!.sign({ path, expiresSec }), path).rejects.toThrow(LinkRequestError);
    }
    await expect(signers.vod!.sign({ path: '/vod/free/a', expiresSec })).rejects.toThrow(/served by route "free"/);
    await expect(signers.my!.sign({ path: '/my/a', expiresSec, clientIp: '192.0.2.1' })).rejects.toThrow(/cannot sign clientIp/);
    await expect(signers.my!.sign({ path: '/my/a', expiresSec, notBeforeSec: now })).rejects.toThrow(/cannot sign notBeforeSec/);
    await expect(signers.tv!.sign({ path: '/tv/a/index.m3u8', expiresSec })).rejects.toThrow(/binds tokens to the client IP/);
    await expect(signers.tv!.sign({ path: '/tv/a/index.m3u8', expiresSec, clientIp: '192.0.2.01' })).rejects.toThrow(
      'client IP "192.0.2.01" is not an IPv4 or IPv6 address',
    );
    await expect(signers.tv!.sign({ path: '/tv/a/index.m3u8', expiresSec, clientIp: '999.1.1.1' })).rejects.toThrow(
      'client IP "999.1.1.1" is not an IPv4 or IPv6 address',
    );
    await expect(signers.vod!.sign({ path: '/vod/a/b', expiresSec, scopeDepth: 0 })).rejects.toThrow(/outside the route/);
  });

  it('hands out nothing the service would refuse: a signing bug is caught by the self-check', async () => {
    const loaded = loadConfig(file, env);
    const scheme = loaded.gate.routes.find((r) => r.name === 'vod')!.scheme;
    const real = scheme.sign.bind(scheme);
    // A bug in a scheme's signer: one character of the MAC changed.
    scheme.sign = (request) => {
      const token = real(request);
      return token.carrier === 'query'
        ? { ...token, query: token.query.replace(/m=(.)/, (_, c) => `m=${c === 'A' ? 'B' : 'A'}`) }
        : token;
    };
    await expect(signLink(loaded, { path: '/vod/a', expiresSec: now + 60 }, { nowSec: now })).rejects.toThrow(
      /the service would refuse this link \(forged: .*\); nothing was handed out/,
    );
  });

  it('loads only the keys of its route', async () => {
    // The alta secret is absent: a signer for another route still works, one for alta says which key is missing.
    expect(
      (await configSigner(file, 'my', { env: { AZION: env.AZION } }).sign({ path: '/my/a', expiresSec: now + 60 })).url,
    ).toMatch(/^\/my\/a\?st=/);
    expect(() => configSigner(file, 'tv', { env: { AZION: env.AZION } })).toThrow(
      /routes\[1\]\.keys\[0\]: environment variable ALTA/,
    );
    expect(() => configSigner(file, 'nope', { env })).toThrow(/no route named "nope"/);
    // The other routes are matched without their keys: a path of the nested route is never signed for the outer one.
    const vod = configSigner(file, 'vod', { env: {} });
    expect((await vod.sign({ path: '/vod/a.mp4', expiresSec: now + 60 })).route).toBe('vod');
    await expect(vod.sign({ path: '/vod/free/a.mp4', expiresSec: now + 60 })).rejects.toThrow(
      /served by route "free" \(\/vod\/free\/\), not "vod"/,
    );
    // Nor the signing API's access token: another secret this signer does not need.
    const withApi = writeConfig(
      dir,
      { ...JSON.parse(readFileSync(file, 'utf8')), signing: { tokenFile: 'absent.token' } },
      'api.json',
    );
    expect((await configSigner(withApi, 'my', { env }).sign({ path: '/my/b', expiresSec: now + 60 })).route).toBe('my');
    expect(() => loadConfig(withApi, env)).toThrow(/signing: cannot read key file/);
  });
});

describe('every registered format: the links its config signer makes are accepted by the service', () => {
  const fixtures = registeredFixtures();
  const formatsFile = writeConfig(
    dir,
    testConfig({
      routes: fixtures.map((fixture) => fixtureRoute(fixture)),
    }),
    'formats.json',
  );
  const formatsEnv = fixtureEnv(fixtures);
  const formatsGate = loadConfig(formatsFile, formatsEnv).gate;

  for (const fixture of fixtures) {
    const scheme = findScheme(fixture.id)!;
    it(`${fixture.id}: random paths, times and client IPs ${covers(fixture.id)}`, async () => {
      const signer = configSigner(formatsFile, fixture.id, { env: formatsEnv });
      let signed = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(segment, { minLength: 1, maxLength: 4 }),
          // At least two minutes: `now` was read when the file loaded.
          fc.integer({ min: 120, max: 10_000_000 }),
          fc.integer({ min: -100_000, max: 20 }),
          ipv4,
          async (segments, ttl, startOffset, ip) => {
            const joined = `${fixture.prefix}${segments.join('/')}`;
            // The signers take raw non-ASCII text or percent-encoded text, not both in one path.
            const path = /[^\x00-\x7f]/.test(joined) ? joined.replace(/%/g, 'pct') : joined;
            const hasStart = scheme.signOptions.includes('notBeforeSec');
            const start = hasStart ? now + startOffset : now;
            let link: SignedLink;
            try {
              link = await signer.sign({
                path,
                expiresSec: Math.max(now, start) + ttl,
                ...(hasStart ? { notBeforeSec: start } : {}),
                ...(scheme.clientIp === 'unused' ? {} : { clientIp: ip }),
              });
            } catch (error) {
              if (!(error instanceof LinkRequestError)) throw error;
              // Refused only for a path the service refuses, or one the format cannot express (a CloudFront wildcard).
              const target = parseRequestTarget(path.replace(/[^\x00-\x7f]+/g, (run) => encodeURIComponent(run)));
              expect(isRejection(target) || /reads "\*" as a wildcard/.test(error.message), `${path}: ${error.message}`).toBe(
                true,
              );
              return;
            }
            signed++;
            const at = Math.max(now, start);
            expect(await serviceVerdict(link, ip, at, formatsGate), `${link.url} from ${ip}`).toBe(Verdict.valid);
          },
        ),
        { numRuns: 60, seed: 0x5eed },
      );
      expect(signed).toBeGreaterThan(30);
    });
  }
});

describe('routeSigner: one route written as in a config file, no config file', () => {
  it('signs links the service allows, and refuses an invalid route with every problem', async () => {
    const vod = routeSigner(
      { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'vod.key' }] },
      { baseDir: dir },
    );
    const link = await vod.sign({ path: '/vod/été.mp4', expiresSec: now + 60, clientIp: '192.0.2.0/24' });
    expect(await serviceVerdict(link, '192.0.2.77', now)).toBe(Verdict.valid);
    const tv = routeSigner(
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 't', env: 'ALTA' }], stream: { playlist: 'index.m3u8', depth: 1 } },
      { env },
    );
    const channel = await tv.sign({ path: '/tv/news/seg-9.ts', expiresSec: now + 60, clientIp: '192.0.2.5' });
    expect(channel.path).toBe('/tv/news/seg-9.ts');
    expect(await serviceVerdict(channel, '192.0.2.5', now)).toBe(Verdict.valid);
    expect(() => routeSigner({ prefix: '/x/', scheme: 'nope', keys: [] })).toThrow(
      /unknown scheme "nope"[\s\S]*keys: must be a non-empty array/,
    );
    expect(() => routeSigner({ prefix: '/x/', scheme: 'hmac', keys: [{ id: 'k', env: 'MISSING_KEY' }] }, { env: {} })).toThrow(
      /environment variable MISSING_KEY is not set/,
    );
  });
});

/** What the HTTP benchmarks send, the config they serve it with, and how they wait for a server (bench/http.ts, bench/profile.ts). */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { defaultConfig } from '../src/config/default-config.js';
import { revocationId } from '../src/decision/revocations.js';
import { hmacSigner } from '../src/library/hmac-signer.js';
import { findScheme } from '../src/schemes/registry.js';
import { registeredFixtures } from '../test/helpers/formats/index.js';
import { gateFor } from '../test/helpers/gates.js';
import { signedUrl } from '../test/helpers/signed-url.js';

export const clientIp = '203.0.113.7';
export const secrets = { azion: 'bench-azion-secret-0123456789', alta: 'bench-alta-secret-0123456789', hmac: 'ab'.repeat(32) };
export const schemes = ['azion', 'alta', 'hmac'] as const;

const now = Math.floor(Date.now() / 1000);

/** The token lists, one per scenario, for wrk's Lua script and for autocannon. */
export function tokenLists(): Record<string, string[]> {
  const gate = gateFor(
    [
      { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
      { prefix: '/myc/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tvc/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
    ],
    { A: secrets.azion, B: secrets.alta },
  );
  const hmac = hmacSigner({ keyId: 'k', key: secrets.hmac });
  const sign = {
    azion: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl }),
    alta: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl, notBeforeSec: now - 7200, clientIp }),
    hmac: (path: string, ttl: number) => hmac.sign({ path: path, expiresSec: now + ttl }),
  };
  const prefix = { azion: '/my', alta: '/tv', hmac: '/vod' };
  const lists: Record<string, string[]> = {};
  for (const scheme of schemes) {
    const distinct = Array.from({ length: 10_000 }, (_, i) => sign[scheme](`${prefix[scheme]}/title-${i}/seg-${i % 7}.ts`, 3600));
    lists[`${scheme} valid, distinct tokens`] = distinct;
    lists[`${scheme} valid, one token repeated, verdict cache on`] = [sign[scheme](`${prefix[scheme]}c/title/seg.ts`, 3600)];
    // One character inside the signed fields or the signature (never the grammar-checked last one).
    lists[`${scheme} forged`] = distinct
      .slice(0, 1000)
      .map((url) => `${url.slice(0, -5)}${url.at(-5) === '1' ? '2' : '1'}${url.slice(-4)}`);
    lists[`${scheme} expired`] = Array.from({ length: 1000 }, (_, i) => sign[scheme](`${prefix[scheme]}/old-${i}.ts`, -60));
  }
  // One file, distinct tokens (each a different expiry): the same URLs for both nginx setups,
  // since nginx's secure_link_md5 "secret$uri$secure_link_expires" is the Azion construction.
  lists['nginx file'] = Array.from({ length: 10_000 }, (_, i) =>
    signedUrl(gate, { path: '/my/video.ts', expiresSec: now + 3600 + i }),
  );
  return lists;
}

/** Every registered format (its fixture: test/helpers/formats/), each a route with the verdict cache off (`/f/<scheme>/`) and one with it on (`/fc/<scheme>/`). */
const formatFixtureList = registeredFixtures();
export const formatSchemes: readonly string[] = formatFixtureList.map((fixture) => fixture.id);
export type FormatScheme = string;
const fixtureOf = (scheme: FormatScheme) => formatFixtureList.find((fixture) => fixture.id === scheme)!;
/** Each format's key as its route reads it (file contents): its fixture's first key. */
const formatKey = (scheme: FormatScheme) => fixtureOf(scheme).keys[0].material;
/** The fixture's options; signed cookies off (the uws engine reads no header). */
const formatOptions = (scheme: FormatScheme): object | undefined => {
  const { options } = fixtureOf(scheme);
  return options !== undefined && 'baseUrl' in options ? { ...options, cookies: false } : options;
};

/**
 * The routes of a formats service. The nginx-secure-link route makes the service choose routes
 * on nginx's $uri, which costs every other route too: it gets a service of its own (`nginx`),
 * with azion beside it to show that cost.
 */
export function formatRoutes(which: 'raw' | 'nginx', key: (scheme: FormatScheme) => object): object[] {
  const chosen =
    which === 'nginx' ? (['azion', 'nginx-secure-link'] as const) : formatSchemes.filter((s) => s !== 'nginx-secure-link');
  return chosen.flatMap((scheme) =>
    [false, true].map((verdictCache) => ({
      name: `${scheme}${verdictCache ? '-cached' : ''}`,
      prefix: `/${verdictCache ? 'fc' : 'f'}/${scheme}/`,
      scheme,
      keys: [{ id: fixtureOf(scheme).keys[0].id, ...key(scheme) }],
      ...(formatOptions(scheme) === undefined ? {} : { options: formatOptions(scheme) }),
      verdictCache,
    })),
  );
}

/** Per format: 10,000 distinct valid tokens (cache off) and one token repeated (cache on), for the target form's client IP. */
export function formatLists(): Record<string, string[]> {
  const env = Object.fromEntries(formatSchemes.map((scheme) => [`K_${scheme.replaceAll('-', '_')}`, formatKey(scheme)]));
  const gate = gateFor(
    [
      ...formatRoutes('raw', (s) => ({ env: `K_${s.replaceAll('-', '_')}` })),
      ...formatRoutes('nginx', (s) => ({ env: `K_${s.replaceAll('-', '_')}` })),
    ].filter(
      (route, i, all) => all.findIndex((r) => (r as { prefix: string }).prefix === (route as { prefix: string }).prefix) === i,
    ),
    env,
  );
  const lists: Record<string, string[]> = {};
  for (const scheme of formatSchemes) {
    const sign = (path: string) =>
      signedUrl(gate, {
        path,
        expiresSec: now + 3600,
        // Bound to the client wherever the format can bind one (the target form carries its IP).
        ...(findScheme(scheme)!.clientIp === 'unused' ? {} : { clientIp }),
      });
    lists[`${scheme} valid, distinct tokens`] = Array.from({ length: 10_000 }, (_, i) =>
      sign(`/f/${scheme}/title-${i}/seg-${i % 7}.ts`),
    );
    lists[`${scheme} valid, one token repeated, verdict cache on`] = [sign(`/fc/${scheme}/title/seg.ts`)];
  }
  return lists;
}

/** CloudFront's key pairs for the bench, made once per run (RSA 2048 and ECDSA P-256). */
let cloudfrontPairs: Record<'rsa' | 'ec', { privatePem: string; publicPem: string }> | undefined;
function cloudfrontKeys(): Record<'rsa' | 'ec', { privatePem: string; publicPem: string }> {
  const pair = (made: { privateKey: KeyObject; publicKey: KeyObject }) => ({
    privatePem: made.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: made.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  });
  cloudfrontPairs ??= {
    rsa: pair(generateKeyPairSync('rsa', { modulusLength: 2048 })),
    ec: pair(generateKeyPairSync('ec', { namedCurve: 'prime256v1' })),
  };
  return cloudfrontPairs;
}

/** The public-key formats measured alike (the same RSA 2048 and ECDSA P-256 keys): their prefixes and options. */
const publicKeyFormats = {
  cloudfront: { off: 'cf', on: 'cfc', options: () => ({ baseUrl: 'https://cdn.example.com', cookies: false }) },
  jwt: { off: 'jw', on: 'jwc', options: (kind: 'rsa' | 'ec') => ({ algorithms: [kind === 'rsa' ? 'RS256' : 'ES256'] }) },
} as const;
export type PublicKeyFormat = keyof typeof publicKeyFormats;

/**
 * The routes of a public-key format's service: azion (the baseline) and, per key type, a route
 * with the verdict cache off (`/cf/<kind>/`, jwt `/jw/`) and one with it on (`/cfc/<kind>/`,
 * `/jwc/`: the default for both formats).
 */
function cloudfrontRoutes(azion: object, key: (kind: 'rsa' | 'ec') => object, format: PublicKeyFormat = 'cloudfront'): object[] {
  const { off, on, options } = publicKeyFormats[format];
  return [
    { name: 'azion', prefix: '/f/azion/', scheme: 'azion', keys: [{ id: 'k', ...azion }], verdictCache: false },
    ...(['rsa', 'ec'] as const).flatMap((kind) =>
      [false, true].map((verdictCache) => ({
        name: `${format}-${kind}${verdictCache ? '-cached' : ''}`,
        prefix: `/${verdictCache ? on : off}/${kind}/`,
        scheme: format,
        keys: [{ id: `K${kind.toUpperCase()}`, ...key(kind) }],
        options: options(kind),
        verdictCache,
      })),
    ),
  ];
}

/**
 * Per key type, canned-policy URLs as the SDK writes them: 10,000 distinct (cache off: a check
 * per request); one repeated (cache on: HLS, every segment with the same policy); and a mix of
 * 10,000 requests where every tenth is one of 1,000 tokens seen once per pass and the rest go to
 * 100 hot tokens (with a 500-entry cache the cold ones are evicted before they return: about
 * 10% misses, 90% hits). Also azion's distinct tokens, the baseline.
 */
export function cloudfrontLists(format: PublicKeyFormat = 'cloudfront'): Record<string, string[]> {
  const keys = cloudfrontKeys();
  const { off, on } = publicKeyFormats[format];
  const signing = gateFor(
    cloudfrontRoutes({ env: 'AZION' }, (kind) => ({ env: kind.toUpperCase() }), format),
    {
      AZION: secrets.azion,
      RSA: keys.rsa.privatePem,
      EC: keys.ec.privatePem,
    },
  );
  const lists: Record<string, string[]> = {
    'azion valid, distinct tokens': Array.from({ length: 10_000 }, (_, i) =>
      signedUrl(signing, { path: `/f/azion/title-${i}/seg-${i % 7}.ts`, expiresSec: now + 3600 }),
    ),
  };
  for (const kind of ['rsa', 'ec'] as const) {
    const sign = (prefix: string, path: string) =>
      signedUrl(signing, { path: `/${prefix}/${kind}/${path}`, expiresSec: now + 3600 });
    const name = format === 'jwt' ? (kind === 'rsa' ? 'RS256' : 'ES256') : kind === 'rsa' ? 'RSA 2048' : 'ECDSA P-256';
    lists[`${format} ${name} valid, distinct tokens, verdict cache off`] = Array.from({ length: 10_000 }, (_, i) =>
      sign(off, `title-${i}/seg-${i % 7}.ts`),
    );
    lists[`${format} ${name} valid, one token repeated, verdict cache on`] = [sign(on, 'title/seg.ts')];
    const hot = Array.from({ length: 100 }, (_, i) => sign(on, `hot-${i}/seg.ts`));
    lists[`${format} ${name} valid, 90% repeated and 10% new tokens, verdict cache on (500 entries)`] = Array.from(
      { length: 10_000 },
      (_, i) => (i % 10 === 0 ? sign(on, `cold-${i / 10}/seg.ts`) : hot[i % 100]!),
    );
  }
  return lists;
}

/** Writes each format's key file into `work` (for `routes: "formats"`). */
function formatKeyFiles(work: string): (scheme: FormatScheme) => object {
  for (const scheme of formatSchemes) writeFileSync(join(work, `format-${scheme}.key`), formatKey(scheme));
  return (scheme) => ({ file: `format-${scheme}.key` });
}

/** A public-key format's service routes, its public keys and azion's secret written into `work`. */
function cloudfrontRouteFiles(work: string, format: PublicKeyFormat): object[] {
  const keys = cloudfrontKeys();
  writeFileSync(join(work, 'azion.key'), secrets.azion);
  for (const kind of ['rsa', 'ec'] as const) writeFileSync(join(work, `cloudfront-${kind}.pem`), keys[kind].publicPem);
  return cloudfrontRoutes({ file: 'azion.key' }, (kind) => ({ file: `cloudfront-${kind}.pem` }), format);
}

/** Where the auth listener reads the original request: headers, or the auth request's own target. */
export type SourceForm = 'headers' | 'target';

export interface BenchServiceOptions {
  readonly metrics: boolean;
  readonly workers: number;
  /** Default uws: the fast engine, which takes the target form only. */
  readonly engine?: 'uws' | 'node';
  /** Default: target for uws (its only form), headers for node (the embedded default config's). */
  readonly form?: SourceForm;
  readonly extraListeners?: readonly object[];
  /**
   * Default: the azion, alta and hmac routes; "formats": every other format's; "formats-nginx":
   * nginx-secure-link and azion; "cloudfront": azion and cloudfront (RSA, ECDSA; cache off and on).
   */
  readonly routes?: 'default' | 'formats' | 'formats-nginx' | 'cloudfront' | 'jwt' | 'state';
  /** `routes: "state"`: the config's `state` (default: the file store, with 10,000 revocations written beside the config). */
  readonly state?: object;
  /** The verdict cache's entries per route (default: the service's 100,000). */
  readonly cacheEntries?: number;
}

/** The form a service built from `options` reads. */
export const formOf = (options: Pick<BenchServiceOptions, 'engine' | 'form'>): SourceForm =>
  options.form ?? ((options.engine ?? 'uws') === 'uws' ? 'target' : 'headers');

/** The prefix of target-form listeners: what nginx.example.conf sends (`/tokengate/$remote_addr$request_uri`). */
export const targetPrefix = '/tokengate';

function listenerSources(form: SourceForm) {
  return form === 'target'
    ? { pathPrefix: targetPrefix, clientIpInPath: true }
    : { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' };
}

export function tokengateConfig(work: string, port: number, adminPort: number, options: BenchServiceOptions): string {
  writeFileSync(join(work, 'azion.key'), secrets.azion);
  writeFileSync(join(work, 'alta.key'), secrets.alta);
  writeFileSync(join(work, 'hmac.key'), secrets.hmac);
  const route = (name: string, prefix: string, scheme: string, file: string, verdictCache: boolean) => ({
    name,
    prefix,
    scheme,
    keys: [{ id: 'k', file }],
    verdictCache,
  });
  const file = join(work, `config-${port}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      workers: options.workers,
      metrics: options.metrics,
      engine: options.engine ?? 'uws',
      listeners: [{ port, ...listenerSources(formOf(options)) }, ...(options.extraListeners ?? [])],
      admin: { port: adminPort },
      ...(options.cacheEntries === undefined ? {} : { verdictCache: { maxEntries: options.cacheEntries } }),
      ...(options.state === undefined ? {} : { state: options.state }),
      routes:
        options.routes === 'state'
          ? stateRoutes(file)
          : options.routes === 'cloudfront' || options.routes === 'jwt'
            ? cloudfrontRouteFiles(work, options.routes)
            : options.routes === 'formats' || options.routes === 'formats-nginx'
              ? formatRoutes(options.routes === 'formats' ? 'raw' : 'nginx', formatKeyFiles(work))
              : [
                  route('azion', '/my/', 'azion', 'azion.key', false),
                  route('alta', '/tv/', 'alta', 'alta.key', false),
                  route('hmac', '/vod/', 'hmac', 'hmac.key', false),
                  route('azion-cached', '/myc/', 'azion', 'azion.key', true),
                  route('alta-cached', '/tvc/', 'alta', 'alta.key', true),
                  route('hmac-cached', '/vodc/', 'hmac', 'hmac.key', true),
                ],
    }),
  );
  return file;
}

/**
 * The state group's routes: one hmac key, the same route plain (`/vod/`), with revocation and
 * 10,000 fingerprint revocations in force (`/rv/`), and with each limit set so high that every
 * request stays within it (`/lu/` uses, `/lr/` perSecond, `/li/` clientIps, `/lv/` viewers): what
 * the checks cost, not what they refuse. The revocations file is written beside `configFile`.
 */
export const stateRouteLimits: Readonly<Record<string, object | undefined>> = {
  '/vod/': undefined,
  '/rv/': undefined,
  '/lu/': { uses: 1_000_000_000 },
  '/lr/': { perSecond: 1_000_000 },
  '/li/': { clientIps: { max: 1000, windowSec: 60 } },
  '/lv/': { viewers: { max: 1000, windowSec: 30 } },
};

function stateRoutes(configFile: string): object[] {
  const revocations = Array.from({ length: 10_000 }, (_, i) => {
    const target = { kind: 'fp', value: `AAAAAA${String(i).padStart(6, '0')}` } as const;
    return { ...target, id: revocationId(target), untilSec: now + 7 * 86400, createdSec: now };
  });
  writeFileSync(
    join(dirname(configFile), 'revocations.json'),
    JSON.stringify({ tokengate: 'revocations', version: 1, revocations }),
  );
  return Object.entries(stateRouteLimits).map(([prefix, limits]) => ({
    name: prefix.slice(1, -1),
    prefix,
    scheme: 'hmac',
    keys: [{ id: 'k', file: 'hmac.key' }],
    ...(prefix === '/rv/' ? { revocation: true } : {}),
    ...(limits === undefined ? {} : { limits }),
  }));
}

/** The state group's token lists: 10,000 distinct hmac links per route of `stateRouteLimits`. */
export function stateLists(): Record<string, string[]> {
  const hmac = hmacSigner({ keyId: 'k', key: secrets.hmac });
  return Object.fromEntries(
    Object.keys(stateRouteLimits).map((prefix) => [
      prefix,
      Array.from({ length: 10_000 }, (_, i) => hmac.sign({ path: `${prefix}title-${i}/seg.ts`, expiresSec: now + 3600 })),
    ]),
  );
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (10 s at most). */
export function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  return new Promise((ok, fail) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        ok();
      });
      socket.once('error', () =>
        Date.now() > deadline ? fail(new Error(`port ${port} never opened`)) : setTimeout(attempt, 50),
      );
    };
    attempt();
  });
}

/**
 * The production group (issue 27): the embedded default config as shipped (its demo routes, their
 * published secrets, `workers`, X-Original-Method), with only the ports, the thread count and,
 * for the uws rows, the engine and its target form changed.
 */
export function productionConfig(
  work: string,
  port: number,
  adminPort: number,
  options: { workers: number; engine: 'node' | 'uws'; grpcPort?: number },
): string {
  const shipped = JSON.parse(JSON.stringify(defaultConfig)) as {
    listeners: Record<string, unknown>[];
    admin: Record<string, unknown>;
    [key: string]: unknown;
  };
  const [listener] = shipped.listeners;
  if (listener === undefined) throw new Error('the embedded default config has no listener');
  listener.port = port;
  if (options.engine === 'uws') {
    delete listener.uriHeader;
    delete listener.clientIpHeader;
    Object.assign(listener, { pathPrefix: targetPrefix, clientIpInPath: true });
  }
  if (options.grpcPort !== undefined) {
    shipped.listeners.push({
      name: 'envoy-grpc',
      protocol: 'envoy-grpc',
      port: options.grpcPort,
      clientIpHeader: 'x-envoy-external-address',
    });
  }
  shipped.admin.port = adminPort;
  const file = join(work, `production-${port}.json`);
  writeFileSync(file, JSON.stringify({ ...shipped, workers: options.workers, engine: options.engine }));
  return file;
}

/** 10,000 distinct valid tokens for the default config's Azion demo route (its published secret), and the same for one file (nginx). */
export function productionLists(): { distinct: string[]; oneFile: string[]; secret: string } {
  const route = defaultConfig.routes.find((r) => r.scheme === 'azion');
  if (route === undefined) throw new Error('the embedded default config has no azion route');
  const secret = route.keys[0].publicDemoSecret;
  const gate = gateFor([{ prefix: route.prefix, scheme: 'azion', keys: [{ id: 'k', env: 'A' }] }], { A: secret });
  return {
    distinct: Array.from({ length: 10_000 }, (_, i) =>
      signedUrl(gate, { path: `${route.prefix}title-${i}/seg-${i % 7}.ts`, expiresSec: now + 3600 }),
    ),
    oneFile: Array.from({ length: 10_000 }, (_, i) =>
      signedUrl(gate, { path: `${route.prefix}video.ts`, expiresSec: now + 3600 + i }),
    ),
    secret,
  };
}

/**
 * The sum and count of tokengate_decision_duration_seconds over every listener: the time spent
 * deciding, measured inside the serving process (caches as cold as real traffic leaves them).
 */
export async function decisionTotals(adminPort: number | undefined): Promise<[number, number]> {
  if (adminPort === undefined) return [Number.NaN, Number.NaN];
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let sum = 0;
  let count = 0;
  for (const match of text.matchAll(/^tokengate_decision_duration_seconds_(sum|count)\{[^}]*\} (\S+)$/gm)) {
    if (match[1] === 'sum') sum += Number(match[2]);
    else count += Number(match[2]);
  }
  return [sum, count];
}

/**
 * The origin oracle's tokengate config: every format, nested routes with keys of their own and
 * routes that share a key, and the files each route serves. The origin tree is derived from the
 * same table, plus files no route covers.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type EngineName = 'uws' | 'node';
/** "raw": routes chosen on the raw path; "mixed": a route signs nginx's $uri, so every route is chosen on it too. */
export type GateName = 'raw' | 'mixed';

export interface OracleRoute {
  readonly name: string;
  readonly prefix: string;
  readonly scheme: string;
  /** Environment variable of its key: routes naming the same one share the key. */
  readonly keyEnv: string;
  readonly keyId: string;
  readonly options?: (engine: EngineName) => Record<string, unknown>;
  readonly stream?: { readonly playlist: string; readonly depth: number };
  /** Tokens in a cookie or header: the node engine's config only (uws trims header values). */
  readonly readsHeaders?: boolean;
  /** Signs nginx's $uri: in the "mixed" gate only (it changes how every route is chosen). */
  readonly mixedOnly?: boolean;
  /** Sign its links for the client's address (formats that always hash it). */
  readonly boundToClient?: boolean;
  /** Files under the prefix (relative to it) the route serves; the links are signed for them and their directories. */
  readonly files: readonly string[];
}

/** The client as every door sees it: the tests connect from loopback. */
export const clientIp = '127.0.0.1';
export const baseUrl = 'https://files.example';

const cdn = (engine: EngineName) => ({ baseUrl, cookies: engine === 'node' });

export const oracleRoutes: readonly OracleRoute[] = [
  { name: 'my', prefix: '/my/', scheme: 'azion', keyEnv: 'ORACLE_AZION', keyId: 'az', files: ['a.mp4', 'x/b.mp4', 'index.html'] },
  {
    name: 'tv',
    prefix: '/tv/',
    scheme: 'alta',
    keyEnv: 'ORACLE_ALTA',
    keyId: 'tv',
    stream: { playlist: 'index.m3u8', depth: 1 },
    boundToClient: true,
    files: ['news/seg-0.ts', 'news/720p/seg-1.ts', 'sport/seg-0.ts'],
  },
  {
    name: 'tv-premium',
    prefix: '/tv/premium/',
    scheme: 'alta',
    keyEnv: 'ORACLE_ALTA_PREMIUM',
    keyId: 'tvp',
    stream: { playlist: 'index.m3u8', depth: 1 },
    boundToClient: true,
    files: ['gold/seg-0.ts', 'gold/720p/seg-1.ts'],
  },
  {
    name: 'vod',
    prefix: '/vod/',
    scheme: 'hmac',
    keyEnv: 'ORACLE_HMAC',
    keyId: 'h',
    files: [
      'a.mp4',
      'x/c.mp4',
      'x/y/d.mp4',
      'index.html',
      'secret.mp4',
      'ųecret.mp4',
      'été.mp4',
      'semi;colon.mp4',
      '100%.mp4',
      'premium;x/secret.mp4',
      'books/本',
    ],
  },
  {
    name: 'vod-premium',
    prefix: '/vod/premium/',
    scheme: 'hmac',
    keyEnv: 'ORACLE_HMAC_PREMIUM',
    keyId: 'hp',
    files: ['secret.mp4', 'x/deep.mp4', 'index.html'],
  },
  { name: 'music', prefix: '/music/', scheme: 'hmac', keyEnv: 'ORACLE_HMAC', keyId: 'h', files: ['a.mp3', 'x/b.mp3'] },
  {
    name: 'ck',
    prefix: '/ck/',
    scheme: 'hmac',
    keyEnv: 'ORACLE_HMAC',
    keyId: 'h',
    options: () => ({ carrier: 'cookie' }),
    readsHeaders: true,
    files: ['books/本', 'books/a.mp4', 'b.mp4'],
  },
  {
    name: 'hd',
    prefix: '/hd/',
    scheme: 'hmac',
    keyEnv: 'ORACLE_HMAC',
    keyId: 'h',
    options: () => ({ carrier: 'header' }),
    readsHeaders: true,
    files: ['a.mp4', 'x/b.mp4'],
  },
  { name: 'dl', prefix: '/dl/', scheme: 'akamai', keyEnv: 'ORACLE_AKAMAI', keyId: 'ak', files: ['f.zip', 'x/g.zip'] },
  {
    name: 'dl-vip',
    prefix: '/dl/vip/',
    scheme: 'akamai',
    keyEnv: 'ORACLE_AKAMAI_VIP',
    keyId: 'akv',
    files: ['v.zip', 'x/w.zip'],
  },
  {
    name: 'gcdn',
    prefix: '/gcdn/',
    scheme: 'google-cdn',
    keyEnv: 'ORACLE_GOOGLE',
    keyId: 'g',
    options: cdn,
    files: ['g.bin', 'x/h.bin'],
  },
  {
    name: 'gcdn-private',
    prefix: '/gcdn/private/',
    scheme: 'google-cdn',
    keyEnv: 'ORACLE_GOOGLE_PRIVATE',
    keyId: 'gp',
    options: cdn,
    files: ['p.bin', 'x/q.bin'],
  },
  { name: 'bn', prefix: '/bn/', scheme: 'bunny', keyEnv: 'ORACLE_BUNNY', keyId: 'b', files: ['b.bin', 'x/c.bin'] },
  {
    name: 'bn-members',
    prefix: '/bn/members/',
    scheme: 'bunny',
    keyEnv: 'ORACLE_BUNNY',
    keyId: 'b',
    files: ['m.bin', 'x/n.bin'],
  },
  {
    name: 'wz',
    prefix: '/wz/',
    scheme: 'wowza',
    keyEnv: 'ORACLE_WOWZA',
    keyId: 'w',
    files: ['cam1/w.ts', 'cam1/sub/z.ts', 'cam2/w.ts'],
  },
  {
    name: 'cf',
    prefix: '/cf/',
    scheme: 'cloudfront',
    keyEnv: 'ORACLE_CLOUDFRONT',
    keyId: 'KORACLE',
    options: cdn,
    files: ['c.bin', 'x/d.bin'],
  },
  {
    name: 'cf-paid',
    prefix: '/cf/paid/',
    scheme: 'cloudfront',
    keyEnv: 'ORACLE_CLOUDFRONT',
    keyId: 'KORACLE',
    options: cdn,
    files: ['p.bin', 'x/q.bin'],
  },
  {
    name: 'sl',
    prefix: '/sl/',
    scheme: 'nginx-secure-link',
    keyEnv: 'ORACLE_SECURE_LINK',
    keyId: 's',
    options: () => ({ md5: '$secure_link_expires$uri$remote_addr $secret' }),
    mixedOnly: true,
    boundToClient: true,
    files: ['s.bin', 'x/t.bin'],
  },
];

/** Files no route covers: a 2xx for any of them is a failure whatever the token. */
export const unroutedFiles: readonly string[] = [
  '/index.html',
  '/secret.txt',
  '/elsewhere/file.txt',
  '/vodka/a.mp4',
  '/VOD/a.mp4',
  '/premium/secret.mp4',
  '/tokengate/127.0.0.1/vod/a.mp4',
];

/** Every file of the origin. */
export function originPaths(): string[] {
  return [...oracleRoutes.flatMap((route) => route.files.map((file) => route.prefix + file)), ...unroutedFiles];
}

/** The routes of a gate on an engine. */
export function routesOf(engine: EngineName, gate: GateName): OracleRoute[] {
  return oracleRoutes.filter(
    (route) => (engine === 'node' || route.readsHeaders !== true) && (gate === 'mixed' || route.mixedOnly !== true),
  );
}

/** The keys, as the service and the signers read them (a fresh CloudFront key pair per run). */
export function oracleKeys(dir: string): Record<string, string> {
  const cloudfront = join(dir, 'cloudfront.pem');
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(cloudfront, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  return {
    ORACLE_AZION: 'oracle-azion-secret',
    ORACLE_ALTA: 'oracle-alta-secret',
    ORACLE_ALTA_PREMIUM: 'oracle-alta-premium-secret',
    ORACLE_HMAC: '1a'.repeat(32),
    ORACLE_HMAC_PREMIUM: '2b'.repeat(32),
    ORACLE_AKAMAI: '3c'.repeat(32),
    ORACLE_AKAMAI_VIP: '4d'.repeat(32),
    ORACLE_GOOGLE: Buffer.alloc(16, 0x5e).toString('base64url'),
    ORACLE_GOOGLE_PRIVATE: Buffer.alloc(16, 0x6f).toString('base64url'),
    ORACLE_BUNNY: 'oracle-bunny-secret',
    ORACLE_WOWZA: 'oracle-wowza-secret',
    ORACLE_SECURE_LINK: 'oracle-secure-link-secret',
    ORACLE_CLOUDFRONT_FILE: cloudfront,
  };
}

/** A tokengate config: the routes of `gate` on `engine`, with the listeners given. */
export function oracleConfig(
  engine: EngineName,
  gate: GateName,
  listeners: readonly Record<string, unknown>[],
  keys: Record<string, string>,
) {
  return {
    engine,
    workers: 1,
    admin: { port: 0 },
    listeners,
    routes: routesOf(engine, gate).map((route) => ({
      name: route.name,
      prefix: route.prefix,
      scheme: route.scheme,
      keys: [
        route.scheme === 'cloudfront'
          ? { id: route.keyId, file: keys.ORACLE_CLOUDFRONT_FILE }
          : { id: route.keyId, env: route.keyEnv },
      ],
      ...(route.options === undefined ? {} : { options: route.options(engine) }),
      ...(route.stream === undefined ? {} : { stream: route.stream }),
    })),
  };
}

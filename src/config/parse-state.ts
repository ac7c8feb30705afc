import type { Fields, Problems, SecretSource } from '../base/problems.js';

/**
 * `state`: where revocations (and the counters of limits) live. A file beside the config for
 * one instance (the default), or Redis (Valkey speaks the same protocol) shared by every instance.
 */
export type StateConfig = FileStateConfig | RedisStateConfig;

export interface FileStateConfig {
  readonly store: 'file';
  /** Relative paths start at the config file's directory; default `revocations.json` there. */
  readonly file: string;
}

export interface RedisStateConfig {
  readonly store: 'redis';
  readonly redis: RedisConfig;
  /** Seconds between full resyncs of the revocation list (the subscription carries each change at once). */
  readonly resyncSec: number;
  /** How long a request on a route with `limits` waits for its counters before `onStoreDown` decides. */
  readonly limitTimeoutMs: number;
}

/** One Redis deployment: exactly one of a URL (standalone), Sentinel or Cluster. */
export interface RedisConfig {
  readonly mode: 'standalone' | 'sentinel' | 'cluster';
  /** Standalone: the server. Sentinel and Cluster: the nodes to start from. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** Sentinel: the master group's name. */
  readonly sentinelName: string | undefined;
  /** Standalone and Sentinel: the database number. */
  readonly db: number;
  /** ACL user (Redis 6+); default user when absent. */
  readonly username: string | undefined;
  readonly password: SecretSource | undefined;
  /** Sentinel's own password, when the sentinels require one. */
  readonly sentinelPassword: SecretSource | undefined;
  /** TLS to Redis (`rediss://`, or `tls`): CA, client certificate and key files. */
  readonly tls: RedisTls | undefined;
  /** Every key and channel starts with it; one Redis can serve several tokengate deployments. */
  readonly keyPrefix: string;
}

export interface RedisTls {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** The name the server's certificate must carry, when it is not the host connected to. */
  readonly servername: string | undefined;
}

export const defaultStateFile = 'revocations.json';

const hostPortPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;
const keyPrefixPattern = /^[A-Za-z0-9:._{}-]{1,64}$/;
const usernamePattern = /^[\x21-\x7e]{1,128}$/;
const sentinelNamePattern = /^[A-Za-z0-9._-]{1,128}$/;

function hostPort(text: unknown): { host: string; port: number } | undefined {
  if (typeof text !== 'string') return undefined;
  const match = hostPortPattern.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function readNodes(fields: Fields, name: string): { host: string; port: number }[] {
  const raw = fields.array(name, 'must be a non-empty array of "host:port"');
  return raw.flatMap((entry, i) => {
    const node = hostPort(entry);
    if (node === undefined) fields.add(`${name}[${i}]`, 'must be "host:port" ("[::1]:6379" for an IPv6 address)');
    return node === undefined ? [] : [node];
  });
}

/** `url`: `redis://host:port[/db]` or `rediss://…` (TLS); credentials never in it. */
function readUrl(fields: Fields): { node: { host: string; port: number }; db: number; tls: boolean } | undefined {
  const text = fields.string('url');
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const db = /^\/?$/.test(url?.pathname ?? '') ? 0 : Number(url?.pathname.slice(1));
  const node = url === undefined ? undefined : hostPort(`${url.hostname}:${url.port === '' ? '6379' : url.port}`);
  if (
    url === undefined ||
    (url.protocol !== 'redis:' && url.protocol !== 'rediss:') ||
    node === undefined ||
    url.search !== '' ||
    url.hash !== '' ||
    !Number.isInteger(db) ||
    db < 0 ||
    db > 15
  ) {
    if (text !== '') fields.add('url', 'must be "redis://host:port[/db]" or "rediss://host:port[/db]" (TLS), db 0 to 15');
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    fields.add('url', 'must not carry credentials: give "username" and "password": { "file" } or { "env" }');
    return undefined;
  }
  return { node, db, tls: url.protocol === 'rediss:' };
}

function readTls(fields: Fields, impliedByUrl: boolean): RedisTls | undefined {
  const raw = fields.value('tls');
  if (raw === undefined || raw === false) return impliedByUrl ? emptyTls : undefined;
  if (raw === true) return emptyTls;
  const tls = fields.problems.fields(raw, `${fields.path}.tls`);
  const out: RedisTls = {
    caFile: tls.optionalString('caFile'),
    certFile: tls.optionalString('certFile'),
    keyFile: tls.optionalString('keyFile'),
    servername: tls.optionalString('servername'),
  };
  if ((out.certFile === undefined) !== (out.keyFile === undefined)) tls.add('certFile', 'and keyFile come together');
  tls.done();
  return out;
}

const emptyTls: RedisTls = { caFile: undefined, certFile: undefined, keyFile: undefined, servername: undefined };

function readRedis(fields: Fields): RedisConfig {
  const mode = fields.exactlyOne(['url', 'sentinel', 'cluster'], 'needs exactly one of "url", "sentinel" or "cluster"');
  const url = mode === 'url' ? readUrl(fields) : undefined;
  let nodes: { host: string; port: number }[] = url === undefined ? [] : [url.node];
  let sentinelName: string | undefined;
  let sentinelPassword: SecretSource | undefined;
  if (mode === 'sentinel') {
    const sentinel = fields.problems.fields(fields.value('sentinel'), `${fields.path}.sentinel`);
    sentinelName = sentinel.matching('name', sentinelNamePattern, 'must be the master group name from [A-Za-z0-9._-]');
    if (sentinelName === undefined) sentinel.add('name', 'is required (the master group name the sentinels monitor)');
    nodes = readNodes(sentinel, 'nodes');
    sentinelPassword = sentinel.secret('password');
    sentinel.done();
  } else if (mode === 'cluster') {
    const cluster = fields.problems.fields(fields.value('cluster'), `${fields.path}.cluster`);
    nodes = readNodes(cluster, 'nodes');
    cluster.done();
  }
  const db = mode === 'cluster' ? 0 : fields.int('db', url?.db ?? 0, 0, 15);
  if (mode === 'cluster' && fields.has('db')) fields.add('db', 'does not apply to a Cluster (it has database 0 only)');
  const config: RedisConfig = {
    mode: mode === 'url' ? 'standalone' : mode === 'sentinel' ? 'sentinel' : 'cluster',
    nodes,
    sentinelName,
    db,
    username: fields.matching('username', usernamePattern, 'must be an ACL user name (visible ASCII)'),
    password: fields.secret('password'),
    sentinelPassword,
    tls: readTls(fields, url?.tls === true),
    keyPrefix:
      fields.matching('keyPrefix', keyPrefixPattern, 'must be 1 to 64 characters from [A-Za-z0-9:._{}-]', 'tokengate:') ??
      'tokengate:',
  };
  fields.done();
  return config;
}

/** `state`: absent means the file store with its default file. */
export function parseState(raw: unknown, p: Problems): StateConfig {
  if (raw === undefined) return { store: 'file', file: defaultStateFile };
  const fields = p.fields(raw, 'state');
  const store = fields.oneOf('store', ['file', 'redis'], 'file', 'file: one instance; redis: shared by every instance');
  const file = fields.value('file');
  const redisRaw = fields.value('redis');
  const resyncSec = fields.int('resyncSec', 30, 1, 3600);
  const limitTimeoutMs = fields.int('limitTimeoutMs', 250, 10, 10_000);
  let state: StateConfig;
  if (store === 'redis') {
    if (file !== undefined) fields.add('file', 'is for store "file" only');
    state = { store, redis: readRedis(p.fields(redisRaw, 'state.redis')), resyncSec, limitTimeoutMs };
  } else {
    if (redisRaw !== undefined) fields.add('redis', 'is for store "redis" only (set "store": "redis")');
    if (fields.has('resyncSec')) fields.add('resyncSec', 'is for store "redis" only (the file is watched)');
    if (fields.has('limitTimeoutMs')) fields.add('limitTimeoutMs', 'is for store "redis" only (the file store counts in memory)');
    state = { store, file: file === undefined ? defaultStateFile : fields.string('file') };
  }
  fields.done();
  return state;
}

/** A route's `revocation`: `true` or `{ "maxLifetimeSec": N }`; undefined when absent or false. */
export interface RouteRevocationConfig {
  /** Links that end further ahead are refused; bounds how long a revocation must be kept. */
  readonly maxLifetimeSec: number | undefined;
}

export function parseRouteRevocation(fields: Fields): RouteRevocationConfig | undefined {
  const raw = fields.value('revocation');
  if (raw === undefined || raw === false) return undefined;
  if (raw === true) return { maxLifetimeSec: undefined };
  const inner = fields.problems.fields(raw, `${fields.path}.revocation`);
  const maxLifetimeSec = inner.optionalInt('maxLifetimeSec', 1, 10 * 365 * 86400);
  inner.done();
  return { maxLifetimeSec };
}

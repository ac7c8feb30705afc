/**
 * Revocations in Redis (or Valkey), shared by every instance: one hash `<keyPrefix>revocations`
 * (id → entry as JSON) and one channel of the same name that carries each change. Through
 * ioredis, which speaks to a standalone server, Sentinel and Cluster with one API, reconnects
 * with backoff on its own, and carries TLS and ACL users.
 *
 * Every instance applies a change from the channel at once and reads the whole hash again after
 * each reconnect and every `resyncSec`, so a message missed while disconnected is never lost.
 * Writes are acknowledged only once Redis has them (no offline queue): a revoke that Redis did not
 * take fails loudly instead of waiting in memory.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { loadSecret } from '../config/load-keys.js';
import type { RedisConfig } from '../config/parse-state.js';
import type { Revocation } from '../decision/revocations.js';
import { type RevocationStore, readEntries, type StoreListener, type StoreLoad } from './revocation-store.js';

/** Backoff between reconnection attempts: 100 ms doubling to 5 s, with jitter. */
export function reconnectDelayMs(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt, 10), 5000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

const commandTimeoutMs = 2000;
const scanCount = 1000;

export type Client = Redis | Cluster;

/** What a config's relative file paths and secrets resolve against. */
export interface StateEnvironment {
  readonly baseDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

function secretText(source: RedisConfig['password'], label: string, where: StateEnvironment): string | undefined {
  if (source === undefined) return undefined;
  const loaded = loadSecret({ id: label, ...source }, { ...where, readFile: readFileSync });
  if (typeof loaded === 'string') throw new Error(`state.redis.${label}: ${loaded}`);
  return loaded.toString('utf8');
}

function readTlsFile(path: string | undefined, label: string, where: StateEnvironment): Buffer | undefined {
  if (path === undefined) return undefined;
  const full = isAbsolute(path) ? path : resolve(where.baseDir, path);
  try {
    return readFileSync(full);
  } catch (error) {
    throw new Error(`state.redis.tls.${label}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** An object without its undefined fields (ioredis's option types take no explicit undefined). */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/** The connection options every node gets: credentials, TLS, timeouts, no offline queue. */
function nodeOptions(config: RedisConfig, where: StateEnvironment, timeoutMs: number) {
  const { tls } = config;
  return defined({
    username: config.username,
    password: secretText(config.password, 'password', where),
    db: config.db,
    connectTimeout: commandTimeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: reconnectDelayMs,
    tls:
      tls === undefined
        ? undefined
        : defined({
            ca: readTlsFile(tls.caFile, 'caFile', where),
            cert: readTlsFile(tls.certFile, 'certFile', where),
            key: readTlsFile(tls.keyFile, 'keyFile', where),
            servername: tls.servername,
          }),
  });
}

/**
 * A client for `config`, connecting lazily, failing a command after `timeoutMs` and at once while
 * disconnected (no offline queue); `pipelined` sends the commands of one tick in one write.
 */
export function makeClient(
  config: RedisConfig,
  where: StateEnvironment,
  timeoutMs = commandTimeoutMs,
  pipelined = false,
): Client {
  const options = { ...nodeOptions(config, where, timeoutMs), ...(pipelined ? { enableAutoPipelining: true } : {}) };
  if (config.mode === 'cluster') {
    const { retryStrategy: _perNode, enableOfflineQueue: _queue, ...redisOptions } = options;
    return new Cluster(
      config.nodes.map((node) => ({ ...node })),
      {
        redisOptions,
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: reconnectDelayMs,
        ...(pipelined ? { enableAutoPipelining: true } : {}),
      },
    );
  }
  if (config.mode === 'sentinel') {
    const sentinelPassword = secretText(config.sentinelPassword, 'sentinel.password', where);
    return new Redis({
      ...options,
      sentinels: config.nodes.map((node) => ({ ...node })),
      name: config.sentinelName!,
      ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
      sentinelRetryStrategy: reconnectDelayMs,
      ...(options.tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: options.tls }),
    });
  }
  const [node] = config.nodes;
  return new Redis({ ...options, host: node!.host, port: node!.port });
}

/** "standalone 10.0.0.5:6379", "sentinel mymaster via 3 nodes", "cluster via 6 nodes": for logs. */
export function describe(config: RedisConfig): string {
  const first = config.nodes[0];
  const at = first === undefined ? '' : `${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}`;
  if (config.mode === 'standalone') return `redis ${at} db ${config.db}${config.tls ? ' (TLS)' : ''}`;
  if (config.mode === 'sentinel')
    return `redis sentinel "${config.sentinelName}" via ${config.nodes.length} node(s)${config.tls ? ' (TLS)' : ''}`;
  return `redis cluster via ${config.nodes.length} node(s)${config.tls ? ' (TLS)' : ''}`;
}

/** A message on the channel: one entry put, or entries removed. */
type ChannelMessage = { readonly put: unknown } | { readonly remove: readonly string[] };

export class RedisStore implements RevocationStore {
  readonly kind = 'redis';
  readonly where: string;
  private readonly client: Client;
  private subscriber: Client | undefined;
  private resync: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private readonly hashKey: string;
  private readonly channel: string;
  /** Why the last connection attempt failed, for the errors that would only say "Connection is closed." */
  private lastError: string | undefined;
  /** Set while a full read for the watcher runs: the messages that arrive meanwhile, applied again after it. */
  private during: { put: Revocation[]; remove: string[] }[] | undefined;

  constructor(
    config: RedisConfig,
    where: StateEnvironment,
    private readonly resyncSec: number,
  ) {
    this.where = describe(config);
    this.client = makeClient(config, where);
    // Connection errors reach `watch`'s status; an unhandled 'error' event would end the process.
    // The last one says why a connection failed (refused, a certificate, a password), never a credential.
    this.client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    this.hashKey = `${config.keyPrefix}revocations`;
    this.channel = `${config.keyPrefix}revocations`;
  }

  /** Connects once (lazily, so a CLI that fails to connect says so in its own words). */
  private ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.connecting !== undefined) return this.connecting;
    if (this.client.status === 'wait' || this.client.status === 'end') {
      this.connecting ??= this.client
        .connect()
        .catch((error: Error) => {
          throw new Error(this.lastError ?? error.message);
        })
        .finally(() => {
          this.connecting = undefined;
        });
      return this.connecting;
    }
    const why = this.lastError === undefined ? '' : `: ${this.lastError}`;
    return Promise.reject(new Error(`${this.where} is not reachable (${this.client.status}${why})`));
  }

  async load(nowSec: number): Promise<StoreLoad> {
    await this.ready();
    const raw: unknown[] = [];
    const refusedJson: string[] = [];
    let cursor = '0';
    do {
      const [next, pairs] = await this.client.hscan(this.hashKey, cursor, 'COUNT', scanCount);
      cursor = next;
      for (let i = 1; i < pairs.length; i += 2) {
        try {
          raw.push(JSON.parse(pairs[i]!));
        } catch {
          refusedJson.push(`${this.hashKey} field ${i >> 1}: not valid JSON`);
        }
      }
    } while (cursor !== '0');
    const read = readEntries(raw, this.hashKey, nowSec);
    return { entries: read.entries, refused: [...refusedJson, ...read.refused] };
  }

  async put(entry: Revocation): Promise<void> {
    await this.ready();
    await this.client.hset(this.hashKey, entry.id, JSON.stringify(entry));
    // Stored: acknowledged. The message only speeds up the others; the resync carries it anyway.
    await this.client.publish(this.channel, JSON.stringify({ put: entry })).catch(() => 0);
  }

  async remove(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    await this.ready();
    const removed = await this.client.hdel(this.hashKey, ...ids);
    await this.client.publish(this.channel, JSON.stringify({ remove: ids })).catch(() => 0);
    return removed;
  }

  watch(listener: StoreListener): void {
    // A scan is a snapshot of some moment while it ran: a change that reached this instance by a
    // message during the scan (made here or elsewhere: every write publishes one) may be missing
    // from it, so such messages are applied again after it.
    let running = false;
    let again = false;
    const full = async (): Promise<void> => {
      // One scan at a time; a request meanwhile (a reconnect during the periodic resync) runs once after it.
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await scan();
      } finally {
        running = false;
      }
      if (again) {
        again = false;
        await full();
      }
    };
    const scan = async (): Promise<void> => {
      const arrived: { put: Revocation[]; remove: string[] }[] = [];
      this.during = arrived;
      let read: StoreLoad;
      try {
        read = await this.load(Math.floor(Date.now() / 1000));
      } catch (error) {
        listener.status(false, (error as Error).message);
        return;
      } finally {
        this.during = undefined;
      }
      listener.status(true);
      listener.change({ full: read.entries, refused: read.refused });
      for (const change of arrived) listener.change(change);
    };
    const subscriber: Client = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      const change = this.readMessage(text);
      if (change === undefined) return;
      this.during?.push(change);
      listener.change(change);
    });
    // Each (re)connection subscribes again, then reads the whole list: nothing sent meanwhile is missed.
    subscriber.on('ready', () => {
      subscriber.subscribe(this.channel).then(
        () => full(),
        (error: Error) => listener.status(false, error.message),
      );
    });
    this.client.on('close', () => listener.status(false, `${this.where}: connection closed`));
    subscriber.connect().catch(() => {});
    this.resync = setInterval(() => void full(), this.resyncSec * 1000);
    this.resync.unref();
  }

  private readMessage(text: string): { put: Revocation[]; remove: string[] } | undefined {
    let message: ChannelMessage;
    try {
      message = JSON.parse(text) as ChannelMessage;
    } catch {
      return undefined;
    }
    if ('remove' in message && Array.isArray(message.remove)) {
      return { put: [], remove: message.remove.filter((id): id is string => typeof id === 'string') };
    }
    if ('put' in message) {
      const { entries } = readEntries([message.put], this.channel, Math.floor(Date.now() / 1000));
      return { put: [...entries], remove: [] };
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.resync !== undefined) clearInterval(this.resync);
    this.subscriber?.disconnect();
    this.client.disconnect();
  }
}

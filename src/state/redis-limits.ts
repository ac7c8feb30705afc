/**
 * The counters of route `limits` in Redis, shared by every instance: one Lua script per request
 * checks every limit of the route and counts the request only when all hold, atomically (two
 * instances can never both take the last use). A subject's three keys share one hash tag, so in a
 * Cluster they live on one shard and the script runs there:
 *
 *   <keyPrefix>limit:{<subject>}:c   hash: u (uses), s (second), n (requests in it)
 *   <keyPrefix>limit:{…}:ips                           sorted set: client IP → last seen (ms)
 *   <keyPrefix>limit:{…}:viewers                       sorted set: client IP → last seen (ms)
 *
 * Time is Redis's own (`TIME`): instances whose clocks differ still count the same windows. Each
 * key expires when it stops mattering (countersUntilMs). Checks issued in the same tick go out in
 * one write (ioredis auto-pipelining); a command fails after the configured timeout, and at once
 * while disconnected: the route's `onStoreDown` decides then.
 */
import { createHash } from 'node:crypto';
import type { RedisConfig } from '../config/parse-state.js';
import {
  type LimitCheck,
  type LimitName,
  type LimitOutcome,
  type LimitSpec,
  limitNames,
  withinLimits,
} from '../decision/limits.js';
import { type Client, describe, makeClient, type StateEnvironment } from './redis-store.js';

/**
 * KEYS: counters hash, ips set, viewers set. ARGV: the client IP, the link's end (ms), the route's
 * limits as "uses perSecond ipsMax ipsWindowMs viewersMax viewersWindowMs" (0: off; one argument
 * built once per route: each argument costs the client an encoding per request). Returns 0, or
 * the number of the limit reached (1-4, limitNames order).
 */
const script = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = tonumber(t[1])
local ip = ARGV[1]
local endMs = tonumber(ARGV[2])
local spec = {}
for n in string.gmatch(ARGV[3], '%d+') do spec[#spec + 1] = tonumber(n) end
local uses, perSecond, ipsMax, ipsWindow, viewersMax, viewersWindow = spec[1], spec[2], spec[3], spec[4], spec[5], spec[6]
local c = redis.call('HMGET', KEYS[1], 'u', 's', 'n')
local used = tonumber(c[1]) or 0
local second = tonumber(c[2]) or 0
local inSecond = tonumber(c[3]) or 0
if uses > 0 and used >= uses then return 1 end
if perSecond > 0 and second == sec and inSecond >= perSecond then return 2 end
local function full(key, max, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  return redis.call('ZSCORE', key, ip) == false and redis.call('ZCARD', key) >= max
end
if ipsMax > 0 and full(KEYS[2], ipsMax, ipsWindow) then return 3 end
if viewersMax > 0 and full(KEYS[3], viewersMax, viewersWindow) then return 4 end
local untilMs = now + 1000
if second == sec then
  redis.call('HSET', KEYS[1], 'u', used + 1, 'n', inSecond + 1)
else
  redis.call('HSET', KEYS[1], 'u', used + 1, 's', sec, 'n', 1)
end
if uses > 0 and endMs + 1000 > untilMs then untilMs = endMs + 1000 end
if ipsMax > 0 then
  redis.call('ZADD', KEYS[2], now, ip)
  redis.call('PEXPIRE', KEYS[2], ipsWindow)
  if now + ipsWindow > untilMs then untilMs = now + ipsWindow end
end
if viewersMax > 0 then
  redis.call('ZADD', KEYS[3], now, ip)
  redis.call('PEXPIRE', KEYS[3], viewersWindow)
  if now + viewersWindow > untilMs then untilMs = now + viewersWindow end
end
redis.call('PEXPIREAT', KEYS[1], untilMs)
return 0
`;

/** The script's SHA-1, as EVALSHA names it. */
const scriptSha = createHash('sha1').update(script).digest('hex');

const outcomes: readonly LimitOutcome[] = [withinLimits, ...limitNames.map((over: LimitName) => Object.freeze({ over }))];

const specArguments = new WeakMap<LimitSpec, string>();

/** A route's limits as the script reads them, built once per spec (a config load makes each spec once). */
function specArgument(spec: LimitSpec): string {
  let text = specArguments.get(spec);
  if (text === undefined) {
    const window = (limit: LimitSpec['clientIps']) => (limit === undefined ? '0 0' : `${limit.max} ${limit.windowSec * 1000}`);
    text = `${spec.uses ?? 0} ${spec.perSecond ?? 0} ${window(spec.clientIps)} ${window(spec.viewers)}`;
    specArguments.set(spec, text);
  }
  return text;
}

export class RedisLimiter {
  readonly where: string;
  private readonly client: Client;
  private readonly keyPrefix: string;
  /** Why the last connection attempt failed (never a credential). */
  lastError: string | undefined;

  constructor(config: RedisConfig, where: StateEnvironment, timeoutMs: number) {
    this.where = describe(config);
    this.keyPrefix = config.keyPrefix;
    const client = makeClient(config, where, timeoutMs, true);
    client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    this.client = client;
  }

  /** Connects (once; ioredis reconnects with backoff after that). Rejects with the reason when it cannot. */
  async connect(): Promise<void> {
    if (this.client.status === 'wait') await this.client.connect();
  }

  get up(): boolean {
    return this.client.status === 'ready';
  }

  check(request: LimitCheck): Promise<LimitOutcome> {
    // The subject (a hash of the route and the link or session) is the hash tag: one shard per link.
    const base = `${this.keyPrefix}limit:{${request.subject}}`;
    const args = [
      `${base}:c`,
      `${base}:ips`,
      `${base}:viewers`,
      request.clientIp ?? '',
      request.expiresSec * 1000,
      specArgument(request.spec),
    ] as const;
    // EVALSHA; EVAL once where the server does not hold the script (first use, or a restart
    // emptied its cache). EVALSHA directly: ioredis's defineCommand cost ~5 µs more per call here.
    return (this.client.evalsha(scriptSha, 3, ...args) as Promise<number>)
      .catch((error: Error) => {
        if (!error.message.startsWith('NOSCRIPT')) throw error;
        return this.client.eval(script, 3, ...args) as Promise<number>;
      })
      .then((answer) => {
        const outcome = outcomes[answer];
        if (outcome === undefined) throw new Error(`the limit script answered ${answer}`);
        return outcome;
      });
  }

  close(): void {
    this.client.disconnect();
  }
}

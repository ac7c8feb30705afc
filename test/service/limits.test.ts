/**
 * Route limits on running services (the real service; Debian's redis-server on a free port, in a
 * directory of its own). Exact under concurrency: 1,000 parallel requests for one link whose
 * route allows 100 uses get exactly 100 allows, on one instance counting in memory across its
 * worker threads, and on two instances sharing Redis. Distinct client IPs and requests per second
 * through a running service. Redis killed: a route with onStoreDown "deny" answers 503
 * store-down, one with "allow" allows uncounted; the failures are counted and logged; Redis back:
 * counting resumes where the append-only file left it.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { formFor, header, listenerSources, rawRequest, sourcedRequest } from '../helpers/raw-http.js';
import { type RunningRedis, startRedis } from '../helpers/redis.js';
import { uwsLoads } from '../helpers/runtime.js';
import {
  logLines,
  type RunningService,
  runCli,
  startService,
  tempDir,
  waitForLog,
  writeConfig,
} from '../helpers/service-process.js';
import { route, testConfig } from '../helpers/test-config.js';

const key = 'd4'.repeat(32);
const signer = hmacSigner({ keyId: 'k1', key });
const sign = (path: string) => signer.sign({ path, expiresSec: Math.floor(Date.now() / 1000) + 600 }) as string;
const engine = uwsLoads ? 'uws' : 'node';
const hmacKeys = [{ id: 'k1', env: 'K1' }];
const routes = [
  route('files', '/files/', 'hmac', hmacKeys, { limits: { uses: 100 } }),
  route('shared', '/shared/', 'hmac', hmacKeys, { limits: { clientIps: { max: 2, windowSec: 600 } } }),
  route('rate', '/rate/', 'hmac', hmacKeys, { limits: { perSecond: 5 } }),
  route('open', '/open/', 'hmac', hmacKeys, { limits: { uses: 1, onStoreDown: 'allow' } }),
  route('plain', '/plain/', 'hmac', hmacKeys),
];

/** The ACL user docs/limits.md describes: the counters' keys, the script and the commands it runs. */
const aclUser =
  'user tokengate on >redis-password-for-tests ~tg-*:limit:* +evalsha +eval +time +hmget +hset +zremrangebyscore +zscore +zcard +zadd +pexpire +pexpireat +ping +auth +hello +info +select +cluster|slots';

const started: RunningService[] = [];
let redis: RunningRedis | undefined;

function configFor(dir: string, form: 'uws' | 'node', state: unknown, name: string): string {
  return writeConfig(
    dir,
    testConfig({
      engine: form,
      workers: form === 'uws' ? 2 : 1,
      listeners: [{ port: 0, ...listenerSources(formFor(form)) }],
      ...(state === undefined ? {} : { state }),
      decisionLog: { verdicts: 'denials', sample: 1, maxPerSec: 10_000 },
      routes,
    }),
    name,
  );
}

async function start(config: string): Promise<RunningService> {
  const service = await startService(['serve', '--config', config], { K1: key });
  started.push(service);
  return service;
}

/** One request on a connection of its own: "status x-token-status". */
async function ask(service: RunningService, form: 'uws' | 'node', url: string, ip = '192.0.2.1'): Promise<string> {
  const response = await rawRequest(service.ports.get('auth')!, sourcedRequest(formFor(form), url, ip));
  return `${response.status} ${header(response, 'x-token-status')}`;
}

/** `count` requests for `url` at once, spread over `targets`; the tally of their answers. */
async function burst(targets: readonly [RunningService, 'uws' | 'node'][], url: string, count: number) {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const [service, form] = targets[i % targets.length]!;
      return ask(service, form, url);
    }),
  );
  const tally: Record<string, number> = {};
  for (const answer of answers) tally[answer] = (tally[answer] ?? 0) + 1;
  return tally;
}

const metrics = async (service: RunningService) => (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();

afterAll(async () => {
  try {
    // The ACL user sufficed: Redis refused no command of it.
    if (redis !== undefined) expect((await redis.cli('ACL', 'LOG')).trim()).toBe('');
  } finally {
    await Promise.all(started.map((service) => service.stop()));
    await redis?.kill();
  }
});

describe(`limits counted in memory (${engine}, ${engine === 'uws' ? 2 : 1} worker thread(s))`, () => {
  let service: RunningService;
  let config: string;
  beforeAll(async () => {
    config = configFor(tempDir(), engine, undefined, 'memory.json');
    service = await start(config);
  }, 30_000);

  it('1,000 parallel requests for a link limited to 100 uses: exactly 100 allowed, every thread counting one set', async () => {
    const link = sign('/files/report.pdf');
    expect(await burst([[service, engine]], link, 1000)).toEqual({ '200 valid': 100, '403 over-limit': 900 });
    // Another link of the route has its own count; a route without limits counts nothing.
    expect(await ask(service, engine, sign('/files/other.pdf'))).toBe('200 valid');
    const plain = sign('/plain/a');
    expect(await burst([[service, engine]], plain, 150)).toEqual({ '200 valid': 150 });
    const text = await metrics(service);
    expect(text).toMatch(/tokengate_limit_exceeded_total\{route="files",limit="uses"\} 900\n/);
    expect(text).toMatch(/tokengate_limit_store_up\{store="memory"\} 1\n/);
    expect(text).toMatch(/tokengate_requests_total\{[^}]*route="files"[^}]*verdict="over-limit"[^}]*\} 900\n/);
  }, 60_000);

  it('distinct client IPs: the third address is refused while the first two keep their access', async () => {
    const link = sign('/shared/film.mp4');
    expect(await ask(service, engine, link, '192.0.2.1')).toBe('200 valid');
    expect(await ask(service, engine, link, '2001:db8::7')).toBe('200 valid');
    expect(await ask(service, engine, link, '198.51.100.9')).toBe('403 over-limit');
    expect(await ask(service, engine, link, '192.0.2.1')).toBe('200 valid');
    // The same client written IPv4-mapped is the same client.
    expect(await ask(service, engine, link, '::ffff:192.0.2.1')).toBe('200 valid');
  });

  it('requests per second: at most 5 of 40 at once within one second', async () => {
    const tally = await burst([[service, engine]], sign('/rate/live.m3u8'), 40);
    // The burst may straddle a second boundary: 5 in each second it touched.
    expect([5, 10]).toContain(tally['200 valid']);
    expect(tally['403 over-limit']).toBe(40 - tally['200 valid']!);
  });

  it('verify says the route counts, and counts nothing itself', async () => {
    const link = sign('/files/verified.pdf');
    for (let i = 0; i < 3; i++) {
      const verified = await runCli(['verify', '--config', config, link], { K1: key });
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toContain('hint:    the route limits each link (uses 100): the service counts this request');
    }
    expect(await burst([[service, engine]], link, 120)).toEqual({ '200 valid': 100, '403 over-limit': 20 });
    // A route that counts client IPs needs one to explain: a missing input, in its own words.
    const shared = await runCli(['verify', '--config', config, sign('/shared/x.mp4')], { K1: key });
    expect(shared.code).toBe(3);
    expect(shared.stdout).toMatch(/^reason: +the route counts client IPs \(limits\) and none was given \(--ip\)$/m);
    expect(shared.stdout).toMatch(/^hint: +this route counts client IPs: give --ip$/m);
  });

  it('logs the refusal like every denial, by verdict and route, without the token', async () => {
    const link = sign('/shared/logged.pdf');
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await ask(service, engine, link, ip);
    const line = await waitForLog(service, (l) => l.verdict === 'over-limit' && l.route === 'shared');
    expect(line.reason).toMatch(/limits\.clientIps/);
    expect(JSON.stringify(line)).not.toContain(link.split('?')[1]!);
  }, 30_000);
});

describe(`limits turned on by a reload (${engine})`, () => {
  it('a route that gains limits on SIGHUP counts from then on; one that loses them stops counting', async () => {
    const dir = tempDir();
    const config = (limits: object | undefined) =>
      testConfig({
        engine,
        workers: engine === 'uws' ? 2 : 1,
        listeners: [{ port: 0, ...listenerSources(formFor(engine)) }],
        routes: [route('files', '/files/', 'hmac', hmacKeys, limits === undefined ? {} : { limits })],
      });
    const file = writeConfig(dir, config(undefined));
    const service = await start(file);
    const link = sign('/files/reloaded.pdf');
    expect(await burst([[service, engine]], link, 5)).toEqual({ '200 valid': 5 });
    writeFileSync(file, JSON.stringify(config({ uses: 3 })));
    service.process.kill('SIGHUP');
    await waitForLog(service, (line) => line.msg === 'config reloaded');
    await waitForLog(service, (line) => line.msg === 'limits: counters in memory');
    expect(await burst([[service, engine]], link, 10)).toEqual({ '200 valid': 3, '403 over-limit': 7 });
    writeFileSync(file, JSON.stringify(config(undefined)));
    service.process.kill('SIGHUP');
    await expect.poll(() => logLines(service.stderr()).filter((line) => line.msg === 'config reloaded').length).toBe(2);
    expect(await burst([[service, engine]], link, 5)).toEqual({ '200 valid': 5 });
  }, 60_000);
});

describe('limits shared through Redis by two instances', { shuffle: false }, () => {
  let a: RunningService;
  let b: RunningService;
  const once = sign('/open/once.zip');
  let keyPrefix: string;
  beforeAll(async () => {
    redis = await startRedis([aclUser]);
    const dir = tempDir();
    writeFileSync(join(dir, 'redis.password'), 'redis-password-for-tests\n');
    keyPrefix = `tg-${randomBytes(4).toString('hex')}:`;
    const credentials = { username: 'tokengate', password: { file: 'redis.password' } };
    // A generous wait for the counters: 1,000 requests at once on a shared 2-core machine is a
    // test of exactness; with the default 250 ms some answered store-down in a run of the suite.
    const state = { store: 'redis', redis: { url: redis.url, keyPrefix, ...credentials }, limitTimeoutMs: 5000 };
    [a, b] = await Promise.all([start(configFor(dir, 'node', state, 'a.json')), start(configFor(dir, engine, state, 'b.json'))]);
  }, 60_000);

  it('1,000 parallel requests over both instances for a link limited to 100 uses: exactly 100 allowed', async () => {
    const link = sign('/files/shared.iso');
    const targets: [RunningService, 'uws' | 'node'][] = [
      [a, 'node'],
      [b, engine],
    ];
    expect(await burst(targets, link, 1000)).toEqual({ '200 valid': 100, '403 over-limit': 900 });
    const [exceededA, exceededB] = await Promise.all(
      [a, b].map(async (s) => {
        const match = /tokengate_limit_exceeded_total\{route="files",limit="uses"\} (\d+)\n/.exec(await metrics(s));
        return Number(match?.[1] ?? 0);
      }),
    );
    expect(exceededA! + exceededB!).toBe(900);
    expect(await metrics(a)).toMatch(/tokengate_limit_store_up\{store="redis"\} 1\n/);
  }, 60_000);

  it("every counter key expires: a use count at its link's end, an IP window when it has passed", async () => {
    const keys = (await redis!.cli('--scan', '--pattern', `${keyPrefix}limit:*`)).trim().split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttlMs = Number(await redis!.cli('PTTL', key));
      // Links here end within 600 s; the distinct-IP window is 600 s (plus the second the script adds).
      expect(ttlMs, key).toBeGreaterThan(0);
      expect(ttlMs, key).toBeLessThanOrEqual(602_000);
    }
  });

  it('a distinct-IP limit counts the clients of both instances together', async () => {
    const link = sign('/shared/both.mp4');
    expect(await ask(a, 'node', link, '192.0.2.1')).toBe('200 valid');
    expect(await ask(b, engine, link, '192.0.2.2')).toBe('200 valid');
    expect(await ask(a, 'node', link, '192.0.2.3')).toBe('403 over-limit');
    expect(await ask(b, engine, link, '192.0.2.3')).toBe('403 over-limit');
  });

  it('Redis killed: onStoreDown "deny" answers 503 store-down, "allow" allows uncounted; failures counted and logged', async () => {
    expect(await ask(a, 'node', once)).toBe('200 valid');
    expect(await ask(a, 'node', once)).toBe('403 over-limit');
    await redis!.kill();
    await expect.poll(() => ask(b, engine, sign('/files/down.pdf')), { timeout: 10_000 }).toBe('503 store-down');
    expect(await ask(a, 'node', sign('/files/down.pdf'))).toBe('503 store-down');
    expect(await ask(a, 'node', once)).toBe('200 valid');
    expect(await ask(b, engine, once)).toBe('200 valid');
    // A route without limits never waits for the counters.
    expect(await ask(a, 'node', sign('/plain/x'))).toBe('200 valid');
    await waitForLog(a, (line) => line.msg.startsWith('limits: counters unreachable'));
    expect(await metrics(b)).toMatch(/tokengate_limit_store_failures_total [1-9]/);
    expect(await metrics(a)).toMatch(/tokengate_limit_store_up\{store="redis"\} 0\n/);
  }, 60_000);

  it('Redis back: counting resumes where it was (the link used up before the outage stays used up)', async () => {
    await redis!.restart();
    await expect.poll(() => ask(a, 'node', once), { timeout: 20_000 }).toBe('403 over-limit');
    await expect.poll(() => ask(b, engine, once), { timeout: 20_000 }).toBe('403 over-limit');
    const fresh = sign('/files/after.pdf');
    expect(await ask(b, engine, fresh)).toBe('200 valid');
  }, 60_000);
});

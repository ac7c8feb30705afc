/**
 * /metrics on the admin listener: every decision counted exactly once, by route, scheme and
 * verdict, merged across worker threads; cache, reload, key and info series as documented.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeSharesPorts } from '../../src/http/node-engine.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { authStatus, formFor, header, listenerSources, rawRequest, type SourceForm } from '../helpers/raw-http.js';
import { uwsLoads } from '../helpers/runtime.js';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { altaStream, route, testConfig } from '../helpers/test-config.js';

const key = 'c3'.repeat(32);
const signer = hmacSigner({ keyId: 'k1', key });

/** One worker: the default node engine; more: uws where it loads, else node (where it shares a port between threads). */
function setUp(workers: number, extra: Record<string, unknown> = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, 'key.hex'), key);
  const engine = workers > 1 && uwsLoads ? 'uws' : 'node';
  const form = formFor(engine);
  const file = writeConfig(
    dir,
    testConfig({
      workers,
      engine,
      listeners: [{ port: 0, ...listenerSources(form) }],
      routes: [
        { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', file: 'key.hex' }] },
        { name: 'live', prefix: '/live/', scheme: 'hmac', keys: [{ id: 'k1', file: 'key.hex' }], verdictCache: true },
      ],
      ...extra,
    }),
  );
  return { dir, file, engine, form };
}

/** Sends each URI on its own connection (so SO_REUSEPORT spreads them over the workers). */
const send = (port: number, uris: readonly string[], form: SourceForm = 'headers'): Promise<number[]> =>
  Promise.all(uris.map((uri) => authStatus(port, uri, '192.0.2.1', form)));

async function scrape(service: RunningService, path = '/metrics'): Promise<{ status: number; text: string; type: string }> {
  const response = await rawRequest(service.ports.get('admin')!, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return { status: response.status, text: response.body, type: header(response, 'content-type') ?? '' };
}

/**
 * A scrape once `name{labels}` reads `value`: with a worker pool the main thread waits at most 1 s
 * for each worker and otherwise serves that worker's previous snapshot, so a scrape can lag.
 */
async function scrapeUntil(
  service: RunningService,
  name: string,
  labels: Record<string, string>,
  value: number,
): Promise<{ status: number; text: string; type: string }> {
  let last: Awaited<ReturnType<typeof scrape>> | undefined;
  await expect
    .poll(async () => {
      last = await scrape(service);
      return sample(last.text, name, labels);
    })
    .toBe(value);
  return last!;
}

/** The value of one sample line, matched by name and exact label set; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = (match[2] ?? '')
      .split(/,(?=[a-z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}

const requests = (route: string, scheme: string, verdict: string) => ({ listener: 'auth', route, scheme, verdict });

// Two workers need an engine that shares a port between threads: uws, or node from Node 22.12.
describe.each(uwsLoads || nodeSharesPorts ? [1, 2] : [1])('metrics with %i worker(s)', (workers) => {
  it('count every decision once by route, scheme and verdict, with latency, cache and info series', async () => {
    const { file, engine, form } = setUp(workers);
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      const valid = Array.from({ length: 7 }, (_, i) => signer.sign({ path: `/vod/a-${i}.ts`, expiresSec: expiresIn(600) }));
      const forged = valid
        .slice(0, 3)
        .map((url) => url.replace(/.(.{4})$/, (_, tail) => `${url.at(-5) === 'A' ? 'B' : 'A'}${tail}`));
      const expired = [signer.sign({ path: '/vod/old.ts', expiresSec: Math.floor(Date.now() / 1000) - 3600 + 60 })];
      const cached = signer.sign({ path: '/live/ch1/seg.ts', expiresSec: expiresIn(600) });
      const statuses = await send(port, [...valid, ...forged, ...expired, '/nowhere/x', cached, cached, cached], form);
      expect(statuses).toEqual([...valid.map(() => 200), 403, 403, 403, 410, 403, 200, 200, 200]);

      const { status, text, type } = await scrapeUntil(
        service,
        'tokengate_decision_duration_seconds_count',
        { listener: 'auth' },
        statuses.length,
      );
      expect(status).toBe(200);
      expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sample(text, 'tokengate_requests_total', requests('vod', 'hmac', 'valid'))).toBe(7);
      expect(sample(text, 'tokengate_requests_total', requests('vod', 'hmac', 'forged'))).toBe(3);
      expect(sample(text, 'tokengate_requests_total', requests('vod', 'hmac', 'expired'))).toBe(1);
      expect(sample(text, 'tokengate_requests_total', requests('', '', 'no-route'))).toBe(1);
      expect(sample(text, 'tokengate_requests_total', requests('live', 'hmac', 'valid'))).toBe(3);
      // Declared routes show at 0 before any request of that verdict.
      expect(sample(text, 'tokengate_requests_total', requests('live', 'hmac', 'forged'))).toBe(0);
      const count = sample(text, 'tokengate_decision_duration_seconds_count', { listener: 'auth' });
      expect(count).toBe(statuses.length);
      expect(sample(text, 'tokengate_decision_duration_seconds_bucket', { listener: 'auth', le: '+Inf' })).toBe(count);
      expect(sample(text, 'tokengate_decision_duration_seconds_sum', { listener: 'auth' })).toBeGreaterThan(0);
      // Three lookups of one token: at least one miss; with one worker exactly one miss, two hits.
      const hits = sample(text, 'tokengate_verdict_cache_hits_total', { route: 'live', scheme: 'hmac' })!;
      const misses = sample(text, 'tokengate_verdict_cache_misses_total', { route: 'live', scheme: 'hmac' })!;
      expect(hits + misses).toBe(3);
      if (workers === 1) expect([hits, misses]).toEqual([2, 1]);
      expect(sample(text, 'tokengate_verdict_cache_entries', { route: 'live', scheme: 'hmac' })).toBe(misses);
      expect(sample(text, 'tokengate_keys', { route: 'vod', scheme: 'hmac', key_id: 'k1' })).toBe(1);
      expect(sample(text, 'tokengate_workers')).toBe(workers);
      expect(sample(text, 'tokengate_engine_info', { engine })).toBe(1);
      expect(text).toContain(`node_version="${process.version}"`);
      expect(text).toMatch(/^tokengate_build_info\{version="\d+\.\d+\.\d+",node_version="v\d+\./m);
      expect(text).toMatch(/^tokengate_config_info\{source="[^"]+config\.json",digest="[0-9a-f]{64}"\} 1$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(text).not.toContain(key);

      // Scrapes add nothing: the counters only move with auth requests.
      const again = await scrape(service);
      expect(sample(again.text, 'tokengate_requests_total', requests('vod', 'hmac', 'valid'))).toBe(7);
    } finally {
      await service.stop();
    }
  });
});

describe('metric names and series', () => {
  it('standard process_* and nodejs_* names, no gauge named _total, no series that cannot move, a restart counter', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key.hex'), key);
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ name: 'auth', port: 0, ...listenerSources('headers') }],
        routes: [
          { name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'AZ' }] },
          { name: 'tv', prefix: '/tv/', scheme: 'alta', keys: [{ id: 'b', env: 'AL' }] },
          route('vod', '/vod/', 'hmac', [{ id: 'k1', file: 'key.hex' }], altaStream),
        ],
      }),
    );
    const service = await startService(['serve', '--config', file], {
      AZ: 'azion-secret-long-enough',
      AL: 'alta-secret-long-enough',
    });
    try {
      expect(await send(service.ports.get('auth')!, ['/elsewhere/x'])).toEqual([403]);
      const { text } = await scrape(service);
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? \\S+$`, 'm'));
      }
      // Declared from the start; its series appear with the process's first garbage collection,
      // which a young process that has allocated little may not have had yet (this flaked).
      expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
      expect(text).not.toMatch(/^tokengate_(process|nodejs)_/m);
      const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!);
      expect(gauges.length).toBeGreaterThan(10);
      expect(gauges.filter((name) => name.endsWith('_total'))).toEqual([]);
      expect(sample(text, 'tokengate_worker_restarts_total')).toBe(0);
      expect(text).toMatch(
        /^# HELP tokengate_decision_duration_seconds .*Excludes waiting for the thread, socket I\/O and HTTP parsing\.$/m,
      );
      const series = (route: string) =>
        [
          ...text.matchAll(
            new RegExp(
              `^tokengate_requests_total\\{listener="auth",route="${route}",scheme="[a-z]*",verdict="([a-z-]+)"\\} \\d+$`,
              'gm',
            ),
          ),
        ]
          .map((m) => m[1]!)
          .sort();
      expect(series('')).toEqual(['bad-source', 'bad-uri', 'error', 'no-route']);
      expect(series('files')).toEqual(['bad-method', 'expired', 'forged', 'malformed', 'missing', 'valid']);
      expect(series('tv')).toEqual([
        'bad-method',
        'bad-source',
        'expired',
        'forged',
        'malformed',
        'missing',
        'not-yet-valid',
        'valid',
        'wrong-ip',
      ]);
      expect(series('vod')).toEqual([
        'bad-method',
        'bad-source',
        'expired',
        'forged',
        'malformed',
        'missing',
        'no-route',
        'not-yet-valid',
        'valid',
        'wrong-ip',
      ]);
    } finally {
      await service.stop();
    }
  });
});

describe('worker restarts in the exposition', () => {
  it('tokengate_worker_restarts_total is what the pool counted', async () => {
    const { serviceMetrics } = await import('../../src/metrics/exposition.js');
    let restarts = 0;
    const metrics = serviceMetrics({
      engine: 'uws',
      engineFallback: false,
      version: '0.0.0',
      workers: () => 2,
      workerRestarts: () => restarts,
      snapshots: async () => [],
    });
    expect(sample(await metrics.render(), 'tokengate_worker_restarts_total')).toBe(0);
    restarts = 3;
    expect(sample(await metrics.render(), 'tokengate_worker_restarts_total')).toBe(3);
  });
});

describe('metrics across reloads', () => {
  it('count reloads by result, keep counters and cache totals across a reload, and follow key changes', async () => {
    const { dir, file } = setUp(1);
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      const cached = signer.sign({ path: '/live/ch1/seg.ts', expiresSec: expiresIn(600) });
      expect(await send(port, [cached, cached])).toEqual([200, 200]);
      const before = (await scrape(service)).text;
      expect(sample(before, 'tokengate_config_reloads_total', { result: 'success' })).toBe(0);
      expect(sample(before, 'tokengate_config_reloads_total', { result: 'failure' })).toBe(0);

      writeFileSync(join(dir, 'config.json'), '{ not json');
      service.process.kill('SIGHUP');
      await expect
        .poll(async () => sample((await scrape(service)).text, 'tokengate_config_reloads_total', { result: 'failure' }))
        .toBe(1);

      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify(
          testConfig({
            routes: [
              { name: 'live', prefix: '/live/', scheme: 'hmac', keys: [{ id: 'k2', file: 'key.hex' }], verdictCache: true },
            ],
          }),
        ),
      );
      service.process.kill('SIGHUP');
      await expect
        .poll(async () => sample((await scrape(service)).text, 'tokengate_config_reloads_total', { result: 'success' }))
        .toBe(1);
      const after = (await scrape(service)).text;
      expect(sample(after, 'tokengate_keys', { route: 'live', scheme: 'hmac', key_id: 'k2' })).toBe(1);
      expect(sample(after, 'tokengate_keys', { route: 'vod', scheme: 'hmac', key_id: 'k1' })).toBeUndefined();
      // Counted before the reload, still counted after it; the new cache starts empty.
      expect(sample(after, 'tokengate_requests_total', requests('live', 'hmac', 'valid'))).toBe(2);
      expect(sample(after, 'tokengate_verdict_cache_hits_total', { route: 'live', scheme: 'hmac' })).toBe(1);
      expect(sample(after, 'tokengate_verdict_cache_misses_total', { route: 'live', scheme: 'hmac' })).toBe(1);
      expect(sample(after, 'tokengate_verdict_cache_entries', { route: 'live', scheme: 'hmac' })).toBe(0);
      const digestBefore = /digest="([0-9a-f]+)"/.exec(before)![1];
      const digestAfter = /digest="([0-9a-f]+)"/.exec(after)![1];
      expect(digestAfter).not.toBe(digestBefore);
    } finally {
      await service.stop();
    }
  });

  it('are served on the admin listener only, and "metrics": false stops recording decisions', async () => {
    const { file } = setUp(1, { metrics: false });
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      // On the auth listener /metrics is just another auth request (no source headers: 503, no body).
      const onAuth = await rawRequest(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      expect([onAuth.status, onAuth.body]).toEqual([503, '']);
      expect(await send(port, [signer.sign({ path: '/vod/a.ts', expiresSec: expiresIn(60) })])).toEqual([200]);
      const { text } = await scrape(service);
      expect(sample(text, 'tokengate_requests_total', requests('vod', 'hmac', 'valid'))).toBeUndefined();
      expect(sample(text, 'tokengate_engine_info', { engine: 'node' })).toBe(1);
    } finally {
      await service.stop();
    }
  });
});

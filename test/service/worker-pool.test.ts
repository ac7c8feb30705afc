/**
 * The main thread supervises its auth workers: one that fails is logged and replaced while the
 * others keep answering. (A thread killed abruptly, by terminate() or a heap limit, takes the
 * whole process down with this uWS build: its open sockets trip Node's uv_loop_close assertion.
 * The process supervisor restarts it; docs/operations.md "Workers" says so.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../dist/base/log.js';
import { loadConfig, recordingReader } from '../../dist/config/load-config.js';
import { startWorkerPool } from '../../dist/service/worker-pool.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { authStatus, listenerSources } from '../helpers/raw-http.js';
import { configIn, route, uwsPool } from '../helpers/test-config.js';

const key = 'd4'.repeat(32);

/** One request on a fresh connection; a connection that the dying worker held may be reset (null). */
const ask = (port: number, uri: string): Promise<number | null> => authStatus(port, uri, '192.0.2.1', 'target').catch(() => null);

describe('worker pool supervision', () => {
  it('replaces a worker that dies while the others keep answering', async () => {
    const { dir, file } = configIn(
      { 'key.hex': key },
      {
        ...uwsPool,
        listeners: [{ port: 0, ...listenerSources('target') }],
        routes: [route('vod', '/vod/', 'hmac', [{ id: 'k', file: 'key.hex' }])],
      },
    );
    // Workers inherit the environment: the wrapper entry makes the first worker throw once crash.go exists.
    process.env.TEST_CRASH_LOCK = join(dir, 'crash.lock');
    process.env.TEST_CRASH_GO = join(dir, 'crash.go');
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    const reader = recordingReader();
    loadConfig(file, process.env, reader.read);
    const pool = await startWorkerPool({
      configFile: file,
      files: reader.files,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      count: 2,
      engine: 'uws',
      logger,
      entry: new URL('../helpers/crashing-auth-worker.mjs', import.meta.url),
    });
    try {
      const port = pool.ports[0]!;
      const url = hmacSigner({ keyId: 'k', key }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
      expect(pool.size()).toBe(2);

      // Load on fresh connections while one worker fails with an uncaught JavaScript error.
      let loading = true;
      const answered: (number | null)[] = [];
      const load = (async () => {
        while (loading) answered.push(await ask(port, url));
      })();
      await expect.poll(() => answered.length).toBeGreaterThan(5);
      expect(pool.ready()).toBe(true);
      writeFileSync(join(dir, 'crash.go'), '');
      // Not ready (/readyz 503) while a worker is missing, ready again once replaced.
      // Bounds generous for a busy machine: the crash comes within 20 ms of crash.go, the replacement takes a thread start.
      await expect.poll(() => pool.ready(), { timeout: 8000, interval: 5 }).toBe(false);
      await expect.poll(() => lines.join(''), { timeout: 10_000 }).toMatch(/"msg":"auth worker replaced"/);
      // Load goes on after the replacement, by count (not time), so the shares below rest on enough answers.
      const atReplaced = answered.length;
      await expect.poll(() => answered.length).toBeGreaterThanOrEqual(Math.max(atReplaced + 20, 40));
      loading = false;
      await load;

      expect(pool.size()).toBe(2);
      expect(pool.ready()).toBe(true);
      // Exactly one worker failed (the other kept serving) and was replaced.
      const exits = lines.join('').match(/"code":70,"thread":(\d+),"msg":"auth worker exited; starting a replacement"/g) ?? [];
      expect(exits).toHaveLength(1);
      expect(pool.restarts()).toBe(1);
      const victimId = /"thread":(\d+)/.exec(exits[0]!)![1];
      expect(lines.join('')).toMatch(new RegExp(`"workers":2,"replaced":${victimId},"msg":"auth worker replaced"`));
      // Nothing was ever allowed wrongly or denied: every answer was 200 or a reset connection.
      expect(answered.length).toBeGreaterThan(20);
      expect(answered.filter((status) => status !== 200 && status !== null)).toEqual([]);
      expect(answered.filter((status) => status === 200).length).toBeGreaterThan(answered.length * 0.9);
      // And the replacement serves: every fresh connection is answered.
      const afterwards = await Promise.all(Array.from({ length: 24 }, () => ask(port, url)));
      expect(afterwards).toEqual(afterwards.map(() => 200));
    } finally {
      delete process.env.TEST_CRASH_LOCK;
      delete process.env.TEST_CRASH_GO;
      await pool.shutdown();
    }
  });
});

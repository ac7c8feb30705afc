/**
 * The node engine on worker threads (issue 27.1). Where the runtime shares a listening port
 * between threads (`reusePort`, Node 22.12+/23.1+ on Linux: the Node 24 pass, test/node24.sh),
 * N workers all serve one port, reload together, drain and stop, and a second instance is
 * refused. Where it cannot (Node 20), "auto" serves one thread and says so in one line, and a
 * fixed `workers` above 1 is refused. This file runs in both passes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../dist/base/log.js';
import { loadConfig, recordingReader } from '../../dist/config/load-config.js';
import { startWorkerPool } from '../../dist/service/worker-pool.js';
import { nodeSharesPorts, reusePortOn } from '../../src/http/node-engine.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { cpuBudget } from '../../src/service/cpu-budget.js';
import { authStatus, listenerSources, RawConnection, sourcedRequest } from '../helpers/raw-http.js';
import { logLines, runCli, startService, tempDir, waitForLog, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const keyA = 'a1'.repeat(32);
const keyB = 'b2'.repeat(32);
const shares = nodeSharesPorts;
const here = `Node ${process.version}`;

function config(workers: number | 'auto', port = 0, extra: Record<string, unknown> = {}): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'key.hex'), keyA);
  return writeConfig(
    dir,
    testConfig({
      workers,
      engine: 'node',
      listeners: [{ port, ...listenerSources('headers') }],
      routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'key.hex' }] }],
      ...extra,
    }),
  );
}

/** One request on each of `count` fresh connections (SO_REUSEPORT spreads connections by their 4-tuple). */
async function statuses(port: number, uri: string, count = 24): Promise<number[]> {
  const results: number[] = [];
  // In batches, so the client side stays within a few dozen open sockets.
  for (let sent = 0; sent < count; sent += 25) {
    const batch = Math.min(25, count - sent);
    const connections = await Promise.all(Array.from({ length: batch }, () => RawConnection.open(port)));
    results.push(
      ...(await Promise.all(
        connections.map(async (connection) => {
          connection.write(sourcedRequest('headers', uri, '192.0.2.1'));
          const response = await connection.read();
          connection.destroy();
          return response.status;
        }),
      )),
    );
  }
  return results;
}

/** The distinct worker threads that logged a decision line so far. */
function decidingThreads(stderr: string): Set<unknown> {
  return new Set(logLines(stderr).flatMap((line) => (line.msg === 'decision' ? [line.thread] : [])));
}

async function metric(adminPort: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]);
}

describe('which runtimes share a port between node:http threads', () => {
  it.each([
    ['20.20.2', 'linux', false],
    ['22.11.0', 'linux', false],
    ['22.12.0', 'linux', true],
    ['23.0.0', 'linux', false],
    ['23.1.0', 'linux', true],
    ['24.11.1', 'linux', true],
    ['24.11.1', 'darwin', false],
  ] as const)('Node %s on %s: %s', (version, platform, expected) => {
    expect(reusePortOn(version, platform)).toBe(expected);
  });
});

describe.skipIf(!shares)(
  `the node engine on two worker threads (skipped where the runtime cannot share a port: ${here} ${shares ? 'can' : 'cannot'})`,
  () => {
    it('every thread answers on one port; they reload together, count into one /metrics, and stop with exit 0', async () => {
      const file = config(2, 0, { decisionLog: { verdicts: 'all', maxPerSec: 10_000 } });
      const service = await startService(['serve', '--config', file]);
      try {
        const port = service.ports.get('auth')!;
        const admin = service.ports.get('admin')!;
        expect(service.stderr()).toMatch(/"listener":"auth".*"workers":2/);
        const url = hmacSigner({ keyId: 'k', key: keyA }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
        // Fresh connections until both threads have decided some (bounded: at most 200 connections).
        let sent = 0;
        while (decidingThreads(service.stderr()).size < 2 && sent < 200) {
          expect(new Set(await statuses(port, url, 25))).toEqual(new Set([200]));
          sent += 25;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // Decision lines are written after the answer: the last ones may still be on their way.
        await expect.poll(() => decidingThreads(service.stderr()).size).toBe(2);
        // Every decision counted once, whichever thread made it (a scrape may serve a busy thread's
        // previous snapshot, after waiting 1 s for it).
        expect(await metric(admin, 'tokengate_workers')).toBe(2);
        await expect.poll(() => metric(admin, 'tokengate_decision_duration_seconds_count\\{listener="auth"\\}')).toBe(sent);

        writeFileSync(join(file, '..', 'key.hex'), keyB);
        service.process.kill('SIGHUP');
        expect(await waitForLog(service, (line) => line.msg === 'config reloaded')).toMatchObject({ workers: 2 });
        expect(new Set(await statuses(port, url, 50))).toEqual(new Set([403]));
        const newUrl = hmacSigner({ keyId: 'k', key: keyB }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
        expect(new Set(await statuses(port, newUrl, 50))).toEqual(new Set([200]));

        // The node engine's limits hold on every thread: a 40 KiB head is read (Node's default
        // would refuse it), a 70 KiB one is refused with 431 (64 KiB limit), on fresh connections.
        const padded = (bytes: number) =>
          sourcedRequest('headers', newUrl, '192.0.2.1').replace(/\r\n\r\n$/, `\r\nX-Pad: ${'a'.repeat(bytes)}\r\n\r\n`);
        for (const [bytes, status] of [
          [40 * 1024, 200],
          [70 * 1024, 431],
        ] as const) {
          const answers = await Promise.all(
            Array.from({ length: 20 }, async () => {
              const connection = await RawConnection.open(port);
              connection.write(padded(bytes));
              const response = await connection.read();
              connection.destroy();
              return response.status;
            }),
          );
          expect(new Set(answers), `${bytes} bytes`).toEqual(new Set([status]));
        }

        const idle = await RawConnection.open(port);
        idle.write(sourcedRequest('headers', newUrl, '192.0.2.1'));
        expect((await idle.read()).status).toBe(200);
        expect(await service.stop('SIGTERM')).toBe(0);
        expect(await idle.waitClosed()).toBe(true);
        expect(service.stderr()).not.toMatch(/"level":"(error|fatal)"/);
      } finally {
        service.process.kill('SIGKILL');
      }
    });

    it('a second instance on the same port exits 71; the first keeps serving', async () => {
      const first = await startService(['serve', '--config', config(2)]);
      try {
        const port = first.ports.get('auth')!;
        const second = await runCli(['serve', '--config', config(2, port)]);
        expect(second.code).toBe(71);
        expect(second.stderr).toMatch(/cannot listen/);
        const url = hmacSigner({ keyId: 'k', key: keyA }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
        expect(new Set(await statuses(port, url, 10))).toEqual(new Set([200]));
      } finally {
        await first.stop();
      }
    });
  },
);

describe.skipIf(!shares)(
  `the node engine's worker pool (skipped where the runtime cannot share a port: ${here} ${shares ? 'can' : 'cannot'})`,
  () => {
    it('replaces a node worker that dies while the other keeps answering; nothing is wrongly answered', async () => {
      const file = config(2);
      // Workers inherit the environment: the wrapper entry makes the first worker throw once crash.go exists.
      process.env.TEST_CRASH_LOCK = join(file, '..', 'crash.lock');
      process.env.TEST_CRASH_GO = join(file, '..', 'crash.go');
      const lines: string[] = [];
      const reader = recordingReader();
      loadConfig(file, process.env, reader.read);
      const pool = await startWorkerPool({
        configFile: file,
        files: reader.files,
        listeners: [{ host: '127.0.0.1', port: 0 }],
        count: 2,
        engine: 'node',
        logger: createLogger('info', (line) => lines.push(line)),
        entry: new URL('../helpers/crashing-auth-worker.mjs', import.meta.url),
      });
      try {
        const port = pool.ports[0]!;
        const url = hmacSigner({ keyId: 'k', key: keyA }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
        const ask = () => authStatus(port, url, '192.0.2.1', 'headers').catch(() => null);
        let loading = true;
        const answered: (number | null)[] = [];
        const load = (async () => {
          while (loading) answered.push(await ask());
        })();
        writeFileSync(join(file, '..', 'crash.go'), '');
        await expect.poll(() => lines.join(''), { timeout: 10_000 }).toMatch(/"msg":"auth worker replaced"/);
        loading = false;
        await load;
        expect(pool.restarts()).toBe(1);
        expect(pool.size()).toBe(2);
        expect(pool.ready()).toBe(true);
        // Every answer was 200, or a connection the failing worker held was reset.
        expect(answered.filter((status) => status !== 200 && status !== null)).toEqual([]);
        const afterwards = await Promise.all(Array.from({ length: 24 }, ask));
        expect(afterwards).toEqual(afterwards.map(() => 200));
      } finally {
        delete process.env.TEST_CRASH_LOCK;
        delete process.env.TEST_CRASH_GO;
        await pool.shutdown();
      }
    });
  },
);

describe.skipIf(shares)(
  `the node engine where the runtime cannot share a port (skipped where it can: ${here} ${shares ? 'can' : 'cannot'})`,
  () => {
    it('workers "auto" serves on one thread and says so in one line', async () => {
      const service = await startService(['serve', '--config', config('auto')]);
      try {
        const lines = logLines(service.stderr()).filter((line) => /cannot share a port between threads/.test(line.msg));
        // The line appears when "auto" would have chosen more than one thread.
        expect(lines).toHaveLength(cpuBudget().cpus > 1 ? 1 : 0);
        if (lines.length > 0) {
          expect(lines[0]).toMatchObject({ level: 'warn', workers: 1 });
          expect(lines[0]!.msg).toContain(`node engine on Node ${process.versions.node} cannot share a port between threads`);
          expect(lines[0]!.msg).toContain('Node 22.12+/24 shares it');
        }
        expect(await metric(service.ports.get('admin')!, 'tokengate_workers')).toBe(1);
      } finally {
        await service.stop();
      }
    });

    it('a fixed workers: 2 is refused with exit 78 and what to change', async () => {
      const result = await runCli(['serve', '--config', config(2)]);
      expect(result.code).toBe(78);
      const fatal = logLines(result.stderr).filter((line) => line.level === 'fatal');
      expect(fatal).toHaveLength(1);
      expect(fatal[0]!.msg).toContain('config.workers: 2 needs the node engine to share a port between threads');
      expect(fatal[0]!.msg).toContain('set workers to 1 or "auto", or run Node 22.12+/24');
    });
  },
);

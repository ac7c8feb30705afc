/**
 * The Redis store's full scans and its channel (a real redis-server): a change that arrives by a
 * message while a scan runs is not undone by that scan's older snapshot. The hash holds 20,000
 * entries so each scan takes long enough for messages to land inside it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Problems } from '../../src/base/problems.js';
import { parseState } from '../../src/config/parse-state.js';
import { applyChange, type Revocation, RevocationBook, revocationId } from '../../src/decision/revocations.js';
import { RedisStore } from '../../src/state/redis-store.js';
import { type RunningRedis, startRedis } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.kill();
});

function entry(value: string): Revocation {
  const now = Math.floor(Date.now() / 1000);
  const target = { kind: 'session', value } as const;
  return { ...target, id: revocationId(target), untilSec: now + 3600, createdSec: now };
}

it('a revocation that arrives by message during a scan stays applied after the scan', async () => {
  const state = parseState({ store: 'redis', redis: { url: redis.url, keyPrefix: 'scan:' }, resyncSec: 1 }, new Problems());
  if (state.store !== 'redis') throw new Error('expected the redis store');
  const where = { baseDir: process.cwd(), env: {} };
  const writer = new RedisStore(state.redis, where, 60);
  // Filler the scans must read (straight into the hash: no message).
  const filler = Array.from({ length: 20_000 }, (_, i) => entry(`filler-${i}`));
  for (let i = 0; i < filler.length; i += 1000) {
    const args = filler.slice(i, i + 1000).flatMap((e) => [e.id, JSON.stringify(e)]);
    await redis.cli('HSET', 'scan:revocations', ...args);
  }
  const watcher = new RedisStore(state.redis, where, 1);
  const book = new RevocationBook();
  watcher.watch({ change: (change) => applyChange(book, change), status: () => {} });
  try {
    await expect.poll(() => book.size, { timeout: 20_000 }).toBe(filler.length);
    // Puts from another instance every few milliseconds for 3.5 s (several periodic scans);
    // meanwhile, an entry once applied must never go missing again.
    const seen = new Set<string>();
    const lost = new Set<string>();
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        for (const id of seen) if (book.get(id) === undefined) lost.add(id);
        for (const e of book.list()) if (e.value.startsWith('viewer-')) seen.add(e.id);
        await sleep(2);
      }
    })();
    const until = Date.now() + 3500;
    for (let i = 0; Date.now() < until; i++) {
      await writer.put(entry(`viewer-${i}`));
      await sleep(5);
    }
    writing = false;
    await sampler;
    expect(seen.size).toBeGreaterThan(50);
    expect([...lost]).toEqual([]);
  } finally {
    await Promise.all([watcher.close(), writer.close()]);
  }
}, 90_000);

/**
 * The file store under writes from two processes' worth of stores: the watcher's reads and this
 * store's own writes never cross, so a list read before a write of ours is never applied after
 * it (a revocation taken back must not come back, one made must not vanish, even briefly).
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Revocation, revocationId } from '../../src/decision/revocations.js';
import { FileStore } from '../../src/state/file-store.js';
import { tempDir } from '../helpers/service-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function entry(i: number): Revocation {
  const now = Math.floor(Date.now() / 1000);
  const target = { kind: 'session', value: `viewer-${i}` } as const;
  return { ...target, id: revocationId(target), untilSec: now + 600, createdSec: now };
}

it('a full list read before a write of this store is never applied after that write', async () => {
  const path = join(tempDir(), 'revocations.json');
  const mine = new FileStore(path);
  // Another writer (the CLI) on the same file.
  const other = new FileStore(path);
  const applied: { atMs: number; ids: readonly string[] }[] = [];
  mine.watch({
    change: (change) => {
      if ('full' in change) applied.push({ atMs: performance.now(), ids: change.full.map((e) => e.id) });
    },
    status: () => {},
  });
  const removedAt = new Map<string, number>();
  try {
    for (let i = 0; i < 12; i++) {
      const target = entry(i);
      await other.put(target);
      // Lands anywhere in the watcher's 250 ms poll, before or during its read.
      await sleep((i * 47) % 300);
      await mine.remove([target.id]);
      removedAt.set(target.id, performance.now());
    }
    await sleep(700);
  } finally {
    await mine.close();
  }
  expect(applied.length).toBeGreaterThan(0);
  const stale = applied.flatMap(({ atMs, ids }) => ids.filter((id) => atMs > removedAt.get(id)!));
  expect(stale).toEqual([]);
});

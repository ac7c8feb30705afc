import { LRUCache } from 'lru-cache';
import type { VerdictCache } from '../core/token-scheme.js';

/** An LRU of genuine signed material, bounded by entries and by bytes (keys are as long as URIs). */
export function verdictCache(maxEntries: number, maxBytes: number): VerdictCache {
  const lru = new LRUCache<string, true>({
    max: maxEntries,
    maxSize: maxBytes,
    // UTF-16 key storage plus the entry's own bookkeeping.
    sizeCalculation: (_value, key) => key.length * 2 + 64,
  });
  let hits = 0;
  let misses = 0;
  return {
    has(key) {
      if (lru.get(key) === true) {
        hits++;
        return true;
      }
      misses++;
      return false;
    },
    add(key) {
      lru.set(key, true);
      return true;
    },
    // Plain counters, read at scrape time: counting costs nothing on the hot path.
    stats: () => ({ hits, misses, entries: lru.size, bytes: lru.calculatedSize }),
  };
}

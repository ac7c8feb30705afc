import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { VerdictCache } from '../decision/verdict-cache.js';

/**
 * docs/security.md rule 7: entries are keyed by a digest of the signed material (every hashed field, the
 * IP included), SHA-256 in base64: 44 characters whatever the URI length, and no two different
 * materials share a key in practice (a collision would let one token pass as another).
 */
const digest = (material: string): string => hash('sha256', material, 'base64');

/**
 * An LRU of genuine signed material, bounded by its number of entries: each is one 44-character
 * key, so entries bound memory too (docs/configuration.md gives the measured bytes per entry).
 */
export function verdictCache(maxEntries: number): VerdictCache {
  const lru = new LRUCache<string, true>({ max: maxEntries });
  let hits = 0;
  let misses = 0;
  return {
    // A miss digests the material once: the key serves the lookup and the insertion.
    keyOf: digest,
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
    stats: () => ({ hits, misses, entries: lru.size }),
  };
}

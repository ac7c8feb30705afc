/**
 * Remembers signed material whose signature proved genuine (docs/security.md rule 7). Only successes are
 * added, so junk cannot evict good entries; the clock is still checked on every hit.
 */
export interface VerdictCache {
  /** The entry key of signed material (a digest of it): computed once per request, then looked up or added. */
  keyOf(material: string): string;
  has(key: string): boolean;
  /** Records a genuine signature under its `keyOf` key; returns true, for use in expressions. */
  add(key: string): true;
  /** Counters since the cache was built, read at scrape time. */
  stats(): VerdictCacheStats;
}

export interface VerdictCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
}

import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { verdictCache } from '../../src/config/lru-verdict-cache.js';
import { authorize } from '../../src/decision/authorize.js';
import { gateFor } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

const now = 1_800_000_000;
const routes = (cache: boolean | undefined, key = 'K') => [
  { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: key }], ...(cache === undefined ? {} : { verdictCache: cache }) },
];
const env = { K: 'verdict-cache-secret', L: 'another-verdict-cache-secret' };
const statsOf = (gate: ReturnType<typeof gateFor>) => gate.routes[0]!.cache!.stats();

describe('verdict cache (docs/security.md rule 7)', () => {
  it('is off by default for plain routes, on for stream routes, and per route on request', () => {
    expect(gateFor(routes(undefined), env).routes[0]!.cache).toBeUndefined();
    expect(gateFor(routes(true), env).routes[0]!.cache).toBeDefined();
    const stream = gateFor(
      [{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'K' }], stream: { playlist: 'index.m3u8', depth: 1 } }],
      env,
    );
    expect(stream.routes[0]!.cache).toBeDefined();
  });

  it('a hit is still checked against the clock: nothing cached outlives its token', () => {
    const gate = gateFor(routes(true), env);
    const url = signedUrl(gate, { path: '/my/a.mp4', expiresSec: now + 10 });
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, url, undefined, now + 10).verdict).toBe(Verdict.valid);
    expect(statsOf(gate)).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    expect(authorize(gate, url, undefined, now + 11).verdict).toBe(Verdict.expired);
    expect(statsOf(gate).hits).toBe(2);
  });

  it('failures are never cached, so junk cannot evict genuine entries', () => {
    const gate = gateFor(routes(true), env, 30, { maxEntries: 2 });
    const url = signedUrl(gate, { path: '/my/a.mp4', expiresSec: now + 10 });
    authorize(gate, url, undefined, now);
    for (let i = 0; i < 100; i++) {
      expect(authorize(gate, `/my/a.mp4?st=${'A'.repeat(21)}${'AQgw'[i % 4]}&e=${now + i}`, undefined, now).verdict).toBe(
        Verdict.forged,
      );
    }
    expect(statsOf(gate).entries).toBe(1);
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
    expect(statsOf(gate).hits).toBe(1);
  });

  it('a new config builds new caches: a removed key stops at once, even for cached tokens', () => {
    const before = gateFor(routes(true, 'K'), env);
    const url = signedUrl(before, { path: '/my/a.mp4', expiresSec: now + 10 });
    expect(authorize(before, url, undefined, now).verdict).toBe(Verdict.valid);
    const after = gateFor(routes(true, 'L'), env);
    expect(authorize(after, url, undefined, now).verdict).toBe(Verdict.forged);
  });

  it('is bounded by entries, each keyed by a fixed-size digest however long the material', () => {
    const byEntries = verdictCache(3);
    for (let i = 0; i < 10; i++) byEntries.add(byEntries.keyOf(`key-${i}`));
    expect(byEntries.stats().entries).toBe(3);
    // The oldest went first: the three most recent remain.
    expect([7, 8, 9].every((i) => byEntries.has(byEntries.keyOf(`key-${i}`)))).toBe(true);
    expect(byEntries.has(byEntries.keyOf('key-0'))).toBe(false);
    const long = verdictCache(10);
    long.add(long.keyOf('x'.repeat(8192)));
    expect(long.has(long.keyOf('x'.repeat(8192)))).toBe(true);
    expect(long.has(long.keyOf(`${'x'.repeat(8191)}y`))).toBe(false);
    // The key is a fixed-length digest of the material, never the material itself.
    expect(long.keyOf('x'.repeat(8192))).toHaveLength(44);
  });
});

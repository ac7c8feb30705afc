/**
 * Memory and lookup cost of a full verdict cache: `npm run bench:cache-memory`.
 * Fills one route's cache with 1M distinct Azion-sized keys and reports RSS and heap growth,
 * then times hits and misses at that size.
 */
import { verdictCache } from '../src/config/verdict-cache.js';
import { benchArgs } from './args.js';
import { measure } from './harness.js';

benchArgs('npm run bench:cache-memory --', 'Memory and lookup cost of a full verdict cache (1M entries); printed.', {});

const entries = 1_000_000;
const key = (i: number) => `/my/videos/title-${i}/segment-${i % 997}.ts\n1795412388\nm6WCATfRgS_5lcyChCPgr${'AQgw'[i & 3]}`;
globalThis.gc?.();
const before = process.memoryUsage();
const cache = verdictCache(entries);
for (let i = 0; i < entries; i++) cache.add(cache.keyOf(key(i)));
globalThis.gc?.();
const after = process.memoryUsage();
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
process.stdout.write(
  `verdict cache with ${cache.stats().entries.toLocaleString('en-US')} entries (keys ≈${key(123456).length} chars): ` +
    `RSS +${mib(after.rss - before.rss)}, heap +${mib(after.heapUsed - before.heapUsed)}\n`,
);
const hit = measure('hit', (i) => cache.has(cache.keyOf(key((i * 7919) % entries))));
const miss = measure('miss', (i) => cache.has(cache.keyOf(key(entries + i))));
const build = measure('building the key alone', (i) => key((i * 7919) % entries));
process.stdout.write(
  `lookup at 1M entries, key built per call: hit ${hit.medianNs.toFixed(0)} ns, miss ${miss.medianNs.toFixed(0)} ns (key building alone ${build.medianNs.toFixed(0)} ns)\n`,
);

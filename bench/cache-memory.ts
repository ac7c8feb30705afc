/**
 * Memory and lookup cost of a full verdict cache: `npm run bench:cache-memory`.
 * Fills one route's cache with 1M distinct Azion-sized keys and reports RSS and heap growth,
 * then times hits and misses at that size.
 */
import { verdictCache } from '../src/config/lru-verdict-cache.js';
import { benchArgs } from './args.js';
import { measure } from './harness.js';

const args = benchArgs('npm run bench:cache-memory --', 'Memory and lookup cost of a full verdict cache (1M entries); printed.', {
  material: {
    type: 'string',
    value: 'azion|cloudfront',
    help: "the signed material per entry: an Azion token's (default) or a CloudFront canned policy and RSA signature",
  },
});
const material = args.material ?? 'azion';
if (material !== 'azion' && material !== 'cloudfront') {
  process.stderr.write('npm run bench:cache-memory --: --material must be azion or cloudfront\n');
  process.exit(64);
}

const entries = 1_000_000;
/** A CloudFront RSA 2048 signature's text: 344 characters of CloudFront's base64 (fixed here; the key differs by URL). */
const signature = `${'Rk9vYmFy'.repeat(42)}aA__`;
const key =
  material === 'azion'
    ? (i: number) => `/my/videos/title-${i}/segment-${i % 997}.ts\n1795412388\nm6WCATfRgS_5lcyChCPgr${'AQgw'[i & 3]}`
    : (i: number) =>
        `KRSA\nsha1\n{"Statement":[{"Resource":"https://cdn.example.com/videos/title-${i}/index.m3u8","Condition":{"DateLessThan":{"AWS:EpochTime":1795412388}}}]}\n${signature}`;
globalThis.gc?.();
const before = process.memoryUsage();
const cache = verdictCache(entries);
for (let i = 0; i < entries; i++) cache.add(cache.keyOf(key(i)));
globalThis.gc?.();
const after = process.memoryUsage();
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
process.stdout.write(
  `verdict cache with ${cache.stats().entries.toLocaleString('en-US')} entries (${material} material ≈${key(123456).length} chars): ` +
    `RSS +${mib(after.rss - before.rss)}, heap +${mib(after.heapUsed - before.heapUsed)}\n`,
);
const hit = measure('hit', (i) => cache.has(cache.keyOf(key((i * 7919) % entries))));
const miss = measure('miss', (i) => cache.has(cache.keyOf(key(entries + i))));
const build = measure('building the key alone', (i) => key((i * 7919) % entries));
process.stdout.write(
  `lookup at 1M entries, key built per call: hit ${hit.medianNs.toFixed(0)} ns, miss ${miss.medianNs.toFixed(0)} ns (key building alone ${build.medianNs.toFixed(0)} ns)\n`,
);

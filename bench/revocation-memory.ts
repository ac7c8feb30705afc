/**
 * Memory and check cost of a large revocation list: `npm run bench:revocation-memory`.
 * Fills one thread's list with 1M fingerprint revocations (what a leak-hunting operator makes
 * most), reports RSS and heap growth and the list's JSON size (what the file or Redis holds and
 * a full resync reads), then times the check of a genuine hmac token at that size. Each auth
 * worker holds its own copy: multiply by the workers, plus the main thread's.
 */
import { authorize } from '../src/decision/authorize.js';
import { type Revocation, RevocationBook, revocationId } from '../src/decision/revocations.js';
import { hmacSigner } from '../src/library/hmac-signer.js';
import { gateFor } from '../test/helpers/gates.js';
import { benchArgs } from './args.js';
import { measure } from './harness.js';

const args = benchArgs('npm run bench:revocation-memory --', 'Memory and check cost of 1M revocations in one thread; printed.', {
  entries: { type: 'string', value: 'n', help: 'revocations in the list (default 1000000)' },
});
const entries = Number(args.entries ?? 1_000_000);
if (!Number.isInteger(entries) || entries < 1 || entries > 10_000_000) {
  process.stderr.write('npm run bench:revocation-memory --: --entries must be a whole number from 1 to 10000000\n');
  process.exit(64);
}
const now = Math.floor(Date.now() / 1000);
const fingerprintOf = (i: number) =>
  Buffer.from(`fp${String(i).padStart(7, '0')}`)
    .toString('base64url')
    .slice(0, 12);
const entryOf = (i: number): Revocation => {
  const target = { kind: 'fp' as const, value: fingerprintOf(i), route: 'vod' };
  return { ...target, id: revocationId(target), untilSec: now + 86_400, createdSec: now, by: 'cli' };
};

// Measured in two steps: the entries as a thread receives them (structured clone) and keeps them,
// then the book's indexes over them.
globalThis.gc?.();
const start = process.memoryUsage();
const list = Array.from({ length: entries }, (_, i) => entryOf(i));
globalThis.gc?.();
const before = process.memoryUsage();
const book = new RevocationBook();
for (const entry of list) book.put(entry);
globalThis.gc?.();
const after = process.memoryUsage();
const jsonBytes = list.reduce((sum, entry) => sum + Buffer.byteLength(JSON.stringify(entry)) + 1, 2);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
process.stdout.write(
  `revocation list with ${book.size.toLocaleString('en-US')} fingerprints: the entries RSS +${mib(before.rss - start.rss)} (heap +${mib(before.heapUsed - start.heapUsed)}), ` +
    `the book's indexes RSS +${mib(after.rss - before.rss)} (heap +${mib(after.heapUsed - before.heapUsed)}); as JSON ${mib(jsonBytes)}\n`,
);

const key = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const signer = hmacSigner({ keyId: 'k', key });
const urls = Array.from({ length: 1024 }, (_, i) => signer.sign({ path: `/vod/m-${i}.mp4`, expiresSec: now + 3600 }) as string);
const route = (revocation: boolean) => ({
  name: 'vod',
  prefix: '/vod/',
  scheme: 'hmac',
  keys: [{ id: 'k', env: 'K' }],
  revocation,
});
const plain = gateFor([route(false)], { K: key });
const checked = gateFor([route(true)], { K: key }, 30, undefined, book);
if (urls.some((url) => authorize(checked, url, undefined, now).verdict !== 'valid')) throw new Error('a token is not allowed');
const without = measure('without', (i) => authorize(plain, urls[i & 1023]!, undefined, now));
const withList = measure('with', (i) => authorize(checked, urls[i & 1023]!, undefined, now));
process.stdout.write(
  `an hmac allow (1024 distinct tokens): ${without.medianNs.toFixed(0)} ns on a route without revocation, ${withList.medianNs.toFixed(0)} ns with ${book.size.toLocaleString('en-US')} revocations (+${(withList.medianNs - without.medianNs).toFixed(0)} ns)\n`,
);

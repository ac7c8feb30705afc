/**
 * Micro-benchmark of the pure decision (no HTTP): `npm run bench:micro`.
 * Baseline in the same run: what a naive validator does per request (createHash + string compare).
 * The end-to-end HTTP benchmarks with autocannon and wrk belong to the performance issue.
 */
import { createHash } from 'node:crypto';
import { bench, describe } from 'vitest';
import { authorize } from '../src/core/authorize.js';
import { gateFor } from '../test/helpers/gates.js';
import { signedUrl } from '../test/helpers/signed-url.js';

const gate = gateFor(
  [
    { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
    { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
  ],
  { A: 'benchmark-secret-azion', B: 'benchmark-secret-alta' },
);
const now = Math.floor(Date.now() / 1000);
const ip = '203.0.113.7';
const sign = (path: string) => signedUrl(gate, { path, expiresSec: now + 3600, notBeforeSec: now, clientIp: ip });
const azionUrls = Array.from({ length: 1024 }, (_, i) => sign(`/my/videos/${i}/segment.ts`));
const altaUrls = Array.from({ length: 1024 }, (_, i) => sign(`/tv/channel-${i}/index.m3u8`));
let i = 0;

describe('decision per request', () => {
  bench('naive: createHash(md5) + string compare (baseline)', () => {
    const url = azionUrls[i++ & 1023]!;
    const q = url.indexOf('?');
    const params = new URLSearchParams(url.slice(q + 1));
    const expected = createHash('md5')
      .update(`benchmark-secret-azion${url.slice(0, q)}${params.get('e')}`)
      .digest('base64url');
    if (expected !== params.get('st')) throw new Error('naive baseline mismatch');
  });
  bench('azion allow (distinct tokens)', () => {
    if (authorize(gate, azionUrls[i++ & 1023]!, ip, now).verdict !== 'allow') throw new Error('not allowed');
  });
  bench('alta allow (distinct tokens)', () => {
    if (authorize(gate, altaUrls[i++ & 1023]!, ip, now).verdict !== 'allow') throw new Error('not allowed');
  });
  bench('azion forged', () => {
    authorize(gate, `${azionUrls[i++ & 1023]!.slice(0, -1)}1`, ip, now);
  });
});

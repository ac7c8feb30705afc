import { signedUrl } from '../signed-url.js';
import { type FormatFixture, lazyGate, twoKeys, unixNow } from './fixture.js';

const gate = lazyGate(() => azion);

/** Azion: md5(secret + path + expiry); no reference generator in the suites, so tokengate's signer. */
export const azion: FormatFixture = {
  id: 'azion',
  prefix: '/azion/',
  keys: twoKeys('azion', ['one', 'two'], ['6b'.repeat(32), '7c'.repeat(32)]),
  madeBy: "tokengate's signer",
  link: (path, { nowSec = unixNow(), ttlSec = 600 } = {}) => signedUrl(gate(), { path, expiresSec: nowSec + ttlSec }),
  tokenParams: ['st', 'e'],
  bindsClientIp: false,
};

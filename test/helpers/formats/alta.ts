import { signedUrl } from '../signed-url.js';
import { type FormatFixture, lazyGate, twoKeys, unixNow } from './fixture.js';

const gate = lazyGate(() => alta);

/** Alta: the client IP is in the hash; tokengate's signer (valid from an hour ago). */
export const alta: FormatFixture = {
  id: 'alta',
  prefix: '/alta/',
  keys: twoKeys('alta', ['one', 'two'], ['6b'.repeat(32), '7c'.repeat(32)]),
  madeBy: "tokengate's signer",
  link: (path, { nowSec = unixNow(), ttlSec = 600, clientIp = '192.0.2.1' } = {}) =>
    signedUrl(gate(), { path, expiresSec: nowSec + ttlSec, notBeforeSec: nowSec - 3600, clientIp }),
  tokenParams: ['token'],
  bindsClientIp: true,
};

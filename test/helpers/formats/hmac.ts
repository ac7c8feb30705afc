import { hmacSigner } from '../../../src/library/hmac-signer.js';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const keys = twoKeys('hmac', ['one', 'two'], ['6b'.repeat(32), '7c'.repeat(32)]);
let made: ReturnType<typeof hmacSigner> | undefined;
/** Made at first use: importing the fixtures builds no signer. */
function signer(): ReturnType<typeof hmacSigner> {
  made ??= hmacSigner({ keyId: keys[0].id, key: keys[0].material });
  return made;
}

/** tokengate's own format: its published signer (the library's hmacSigner); links bound to no IP. */
export const hmac: FormatFixture = {
  id: 'hmac',
  prefix: '/hmac/',
  keys,
  madeBy: 'hmacSigner (the library)',
  link: (path, { nowSec = unixNow(), ttlSec = 600 } = {}) => signer().sign({ path, expiresSec: nowSec + ttlSec }),
  tokenParams: ['tg'],
  bindsClientIp: false,
};

import { generateKeyPairSync } from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const baseUrl = 'https://cdn.example.com';
const ecKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
// Private keys: a route reads the public key out of them, and can then sign too.
const keys = twoKeys('cloudfront', ['KONE', 'KTWO'], [ecKey(), ecKey()]);

/** CloudFront canned-policy URLs as AWS's own SDK signs them (@aws-sdk/cloudfront-signer). */
export const cloudfront: FormatFixture = {
  id: 'cloudfront',
  prefix: '/cloudfront/',
  options: { baseUrl },
  keys,
  madeBy: '@aws-sdk/cloudfront-signer (AWS SDK)',
  link: (path, { nowSec = unixNow(), ttlSec = 600 } = {}) =>
    getSignedUrl({
      url: `${baseUrl}${path}`,
      keyPairId: keys[0].id,
      privateKey: keys[0].material,
      dateLessThan: new Date((nowSec + ttlSec) * 1000).toISOString(),
    }).slice(baseUrl.length),
  tokenParams: ['Expires', 'Key-Pair-Id', 'Signature'],
  bindsClientIp: false,
  exclusiveWindow: true,
};

import { createHmac } from 'node:crypto';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const baseUrl = 'https://cdn.example.com';
const keys = twoKeys(
  'google-cdn',
  ['key-one', 'key-two'],
  [Buffer.alloc(16, 0x6b).toString('base64url'), Buffer.alloc(16, 0x7c).toString('base64url')],
);

/** Cloud CDN signed URLs as Google's samples make them: HMAC-SHA1 over the whole URL (the host too), padded base64url. */
export const googleCdn: FormatFixture = {
  id: 'google-cdn',
  prefix: '/google-cdn/',
  options: { baseUrl },
  keys,
  madeBy: "Google's signing sample",
  link: (path, { nowSec = unixNow(), ttlSec = 600 } = {}) => {
    const policy = `Expires=${nowSec + ttlSec}&KeyName=${keys[0].id}`;
    const signature = createHmac('sha1', Buffer.from(keys[0].material, 'base64url'))
      .update(`${baseUrl}${path}?${policy}`)
      .digest('base64url');
    return `${path}?${policy}&Signature=${signature}=`;
  },
  tokenParams: ['Expires', 'KeyName', 'Signature'],
  bindsClientIp: false,
};

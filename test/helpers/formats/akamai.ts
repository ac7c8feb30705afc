import { createRequire } from 'node:module';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const keys = twoKeys('akamai', ['one', 'two'], ['5c'.repeat(32), '6d'.repeat(32)]);

/** Akamai EdgeAuth URL tokens from Akamai's own Node SDK (akamai-edgeauth), bound to the client IP. */
export const akamai: FormatFixture = {
  id: 'akamai',
  prefix: '/akamai/',
  keys,
  madeBy: 'akamai-edgeauth (Akamai SDK)',
  link: (path, { nowSec = unixNow(), ttlSec = 600, clientIp } = {}) => {
    const EdgeAuth = createRequire(import.meta.url)('akamai-edgeauth');
    const sdk = new EdgeAuth({
      key: keys[0].material,
      startTime: nowSec - 60,
      endTime: nowSec + ttlSec,
      ...(clientIp === undefined ? {} : { ip: clientIp }),
    });
    return `${path}?__token__=${sdk.generateURLToken(path)}`;
  },
  tokenParams: ['__token__'],
  bindsClientIp: true,
};

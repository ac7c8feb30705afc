import { createHash } from 'node:crypto';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const keys = twoKeys('wowza', ['one', 'two'], ['fixture-wowza-secret-1', 'fixture-wowza-secret-2']);

/**
 * Wowza SecureToken v2 by the documented procedure (docs/formats/wowza.md's generator): SHA-256 of the
 * content path and the sorted items. Every character of the path signed (contentPath "file"),
 * the client IP included.
 */
export const wowza: FormatFixture = {
  id: 'wowza',
  prefix: '/wowza/',
  options: { contentPath: 'file', includeClientIp: true },
  keys,
  madeBy: "Wowza's documented procedure (docs/formats/wowza.md)",
  link: (path, { nowSec = unixNow(), ttlSec = 600, clientIp } = {}) => {
    const params = [`wowzatokenstarttime=${nowSec - 60}`, `wowzatokenendtime=${nowSec + ttlSec}`];
    const items = [...params, keys[0].material, ...(clientIp === undefined ? [] : [clientIp])].sort();
    const digest = createHash('sha256')
      .update(`${path.slice(1)}?${items.join('&')}`)
      .digest('base64')
      .replaceAll('+', '-')
      .replaceAll('/', '_');
    return `${path}?${params.join('&')}&wowzatokenhash=${digest}`;
  },
  tokenParams: ['wowzatokenstarttime', 'wowzatokenendtime', 'wowzatokenhash'],
  bindsClientIp: true,
  signedOptional: ['wowzatokenstarttime'],
};

import { createHmac } from 'node:crypto';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const keys = twoKeys('bunny', ['one', 'two'], ['fixture-bunny-security-key-1', 'fixture-bunny-security-key-2']);

/** bunny.net HS256 tokens as BunnyWay's samples make them: HMAC-SHA256(key, path + expires + IPv4 bytes). */
export const bunny: FormatFixture = {
  id: 'bunny',
  prefix: '/bunny/',
  keys,
  madeBy: "BunnyWay's signing sample",
  link: (path, { nowSec = unixNow(), ttlSec = 600, clientIp } = {}) => {
    const expires = String(nowSec + ttlSec);
    const ipBytes = clientIp === undefined ? Buffer.alloc(0) : Buffer.from(clientIp.split('.').map(Number));
    const mac = createHmac('sha256', keys[0].material)
      .update(Buffer.concat([Buffer.from(`${path}${expires}`), ipBytes]))
      .digest('base64url');
    return `${path}?token=HS256-1-${mac}&expires=${expires}`;
  },
  tokenParams: ['token', 'expires'],
  bindsClientIp: true,
};

import { createHash } from 'node:crypto';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const keys = twoKeys('nginx-secure-link', ['one', 'two'], ['fixture-secure-link-secret-1', 'fixture-secure-link-secret-2']);

/** nginx secure_link with nginx's documented expression, links made as its documentation does: md5(expires + $uri + $remote_addr + " secret"). */
export const nginxSecureLink: FormatFixture = {
  id: 'nginx-secure-link',
  prefix: '/nginx-secure-link/',
  options: { md5: '$secure_link_expires$uri$remote_addr $secret' },
  keys,
  madeBy: "nginx's secure_link documentation",
  link: (path, { nowSec = unixNow(), ttlSec = 600, clientIp = '' } = {}) => {
    const expires = nowSec + ttlSec;
    const md5 = createHash('md5').update(`${expires}${path}${clientIp} ${keys[0].material}`).digest('base64url');
    return `${path}?md5=${md5}&expires=${expires}`;
  },
  tokenParams: ['md5', 'expires'],
  bindsClientIp: true,
  mappedIsOtherAddress: true,
};

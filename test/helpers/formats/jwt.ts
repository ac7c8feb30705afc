import { generateKeyPairSync } from 'node:crypto';
import jsonwebtoken from 'jsonwebtoken';
import { type FormatFixture, twoKeys, unixNow } from './fixture.js';

const ecKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
// Private keys: a route verifies with their public halves, and can then sign too.
const keys = twoKeys('jwt', ['KONE', 'KTWO'], [ecKey(), ecKey()]);

/** ES256 JWTs whose `sub` is the path, made by another library than the verifier (jsonwebtoken, not jose). */
export const jwt: FormatFixture = {
  id: 'jwt',
  prefix: '/jwt/',
  options: { algorithms: ['ES256'], clientIpClaim: 'ip' },
  keys,
  madeBy: 'jsonwebtoken (auth0)',
  link: (path, { nowSec = unixNow(), ttlSec = 600 } = {}) =>
    `${path}?token=${jsonwebtoken.sign({ sub: path, exp: nowSec + ttlSec, iat: nowSec }, keys[0].material, {
      algorithm: 'ES256',
      keyid: keys[0].id,
    })}`,
  tokenParams: ['token'],
  bindsClientIp: false,
  exclusiveWindow: true,
  inclusiveStart: true,
};

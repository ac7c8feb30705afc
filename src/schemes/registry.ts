import type { Scheme } from '../scheme-kit/scheme-definition.js';
import { akamai } from './akamai/akamai.js';
import { alta } from './alta.js';
import { azion } from './azion.js';
import { bunny } from './bunny/bunny.js';
import { cloudfront } from './cloudfront/cloudfront.js';
import { googleCdn } from './google-cdn/google-cdn.js';
import { hmac } from './hmac.js';
import { jwt } from './jwt/jwt.js';
import { nginxSecureLink } from './nginx-secure-link/nginx-secure-link.js';
import { wowza } from './wowza.js';

/** Every token format tokengate knows, listed once. Config, CLI help, docs and tests derive from this. */
export const schemes: readonly Scheme[] = [azion, alta, hmac, akamai, googleCdn, bunny, nginxSecureLink, wowza, cloudfront, jwt];

export function findScheme(id: string): Scheme | undefined {
  return schemes.find((scheme) => scheme.id === id);
}

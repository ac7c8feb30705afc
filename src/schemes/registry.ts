import { akamai } from './akamai.js';
import { alta } from './alta.js';
import { azion } from './azion.js';
import { bunny } from './bunny.js';
import { cloudfront } from './cloudfront.js';
import { googleCdn } from './google-cdn.js';
import { hmac } from './hmac.js';
import { nginxSecureLink } from './nginx-secure-link.js';
import type { SchemeDefinition } from './scheme.js';
import { wowza } from './wowza.js';

/** Every token format tokengate knows, listed once. Config, CLI help, docs and tests derive from this. */
export const schemes: readonly SchemeDefinition[] = [
  azion,
  alta,
  hmac,
  akamai,
  googleCdn,
  bunny,
  nginxSecureLink,
  wowza,
  cloudfront,
];

export function findScheme(id: string): SchemeDefinition | undefined {
  return schemes.find((scheme) => scheme.id === id);
}

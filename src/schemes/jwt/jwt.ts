/**
 * JWT-signed links (docs/formats/jwt.md): a compact JWS (RFC 7515) whose claims (RFC 7519) say
 * what it opens, carried as `?token=<jwt>` (or another parameter), a cookie, or
 * `Authorization: Bearer <jwt>`:
 *   header  {"alg": one of the route's "algorithms", "kid": a key id (required by "requireKid"), "typ"?: "JWT"}
 *   payload {<pathClaim>: a path, a prefix ending in "/", or an id that "paths" templates place
 *            under the route prefix; "exp" (required); "nbf"?; "aud" in "audience"?; "iss" in
 *            "issuer"?; <clientIpClaim>?: the client's address}
 * Verified with jose (panva/jose) against the route's keys: PEM files, JWK or JWKS files, or an
 * HS256 secret; never "none", never a key of another type than the algorithm's. The preset "mux"
 * reads Mux signed playback tokens (RS256, kid, sub = playback id, aud "v": /{sub}.m3u8 and /{sub}/).
 * References: RFC 7515, RFC 7519, RFC 8725 (JWT best practices); Mux "Secure video playback".
 */

import { defineScheme } from '../../scheme-kit/scheme-definition.js';
import { jwtKeyRing, keyDigest } from './jwt-keys.js';
import { type JwtOptions, readJwtOptions } from './jwt-options.js';
import { jwtSigner } from './jwt-sign.js';
import { jwtTokens } from './jwt-token.js';

export const jwt = defineScheme<JwtOptions>({
  id: 'jwt',
  summary: 'JWT-signed links (RS256, ES256, EdDSA or HS256 by kid; path, prefix or id claims; aud, iss, client IP), Mux preset',
  signOptions: ['notBeforeSec', 'scopeDepth', 'clientIp'],
  clientIp: 'optional',
  ipBinding: 'signed',
  keyEncodings: ['text', 'hex', 'base64'],
  verdictCacheByDefault: true,
  uwsHint: '"carrier": "query"',
  keyProblem: () => undefined,
  readOptions: readJwtOptions,
  warnings: (options) =>
    options.jwksUrl !== undefined && options.audience === undefined && options.issuer === undefined
      ? [
          'the route takes keys from a JWKS URL and names no "issuer" or "audience": every token those keys sign whose path claim covers a path opens it (tokens made for other applications too)',
        ]
      : [],
  tokenHeaders: (options) => (options.carrier === 'query' ? [] : [options.carrier === 'cookie' ? 'cookie' : 'authorization']),
  remoteDocuments: (options) =>
    options.jwksUrl === undefined ? [] : [{ option: 'jwksUrl', url: options.jwksUrl, refreshSec: options.jwksRefreshSec }],
  keysProblem(options, keys, secrets) {
    const ring = jwtKeyRing(keys, options.algorithms, secrets.get('jwksUrl'));
    return typeof ring === 'string' ? ring : undefined;
  },
  create(route, options) {
    const ring = jwtKeyRing(route.keys, options.algorithms, route.secrets.get('jwksUrl'));
    // keysProblem refused every key ring that does not read: this cannot fail for a loaded route.
    const keys = typeof ring === 'string' ? [] : ring;
    const idTokens =
      options.paths === undefined ? undefined : { keyDigests: keys.map(keyDigest), audiences: options.audience ?? [] };
    return { ...jwtTokens(keys, route, options), sign: jwtSigner(keys, options, route.prefix), idTokens };
  },
});

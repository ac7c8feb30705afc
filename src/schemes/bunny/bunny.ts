/**
 * bunny.net token authentication, the three generations a pull zone accepts (docs/formats/bunny.md),
 * told apart by the token's shape:
 *   HS256     token=HS256-[1-]<43 b64url>  HMAC-SHA256(key, path + expires + ip bytes + signed params)
 *   advanced  token=<43 b64url>            base64url(SHA256(key + path + expires [+ ip] + signed params))
 *   basic     token=<22 b64url>            base64url(MD5(key + path + expires [+ ip]))
 * with `expires` (unix seconds) beside it in the query. Signed params are the query's other
 * parameters, decoded, sorted by name, joined "k=v&k=v" (HS256 with token_ignore_params=true:
 * only that and token_path). token_path replaces the path in the hash and scopes the token to
 * the paths under it. HS256 binds an IP as bytes: IPv4 exactly or its /24 (signed as x.y.z.0),
 * IPv6 its /64. Follows BunnyWay/BunnyCDN.TokenAuthentication's code and published vectors.
 */
import { hmacKey } from '../../scheme-kit/hmac-sha256.js';
import { defineScheme, type SchemeRoute, type TokenScheme } from '../../scheme-kit/scheme-definition.js';
import { textSecretProblem } from '../../scheme-kit/text-secret.js';
import { type BunnyOptions, readBunnyOptions } from './bunny-options.js';
import { bunnySigner, bunnySignOptions } from './bunny-sign.js';
import { type BunnyRoute, type BunnyToken, identifyBunnyToken, parseBunnyToken, pathMarker } from './bunny-token.js';

function create({ keys, prefix, nested }: SchemeRoute, options: BunnyOptions): TokenScheme<BunnyToken> {
  const route: BunnyRoute = {
    options,
    keys,
    macs: keys.map((key) => hmacKey('sha256', key.secret)),
    texts: keys.map((key) => key.secret.toString('utf8')),
    prefix,
    nested,
  };
  return {
    parse: (input) => parseBunnyToken(route, input),
    verify: (token) => identifyBunnyToken(route, token) !== undefined,
    cacheKey(token) {
      return `${token.kind}\n${token.messages.map((message) => message.toString('base64')).join('\n')}\n${token.digest}`;
    },
    signature: (token) => token.digest,
    identify: (token) => ({ keyId: identifyBunnyToken(route, token), signature: token.digest }),
    sign: bunnySigner(keys[0]!.secret, prefix),
  };
}

export const bunny = defineScheme<BunnyOptions>({
  id: 'bunny',
  signOptions: bunnySignOptions,
  summary: 'bunny.net: ?token=HS256-[1-]<HMAC-SHA256>&expires= (also advanced SHA256 and basic MD5 tokens), token_path, IP lock',
  clientIp: 'optional',
  ipBinding: 'hashed',
  pathToken: pathMarker,
  keyEncodings: ['text'],
  tokenHeaders: (options) => (options.countryHeader === undefined ? [] : [options.countryHeader]),
  keyProblem: textSecretProblem,
  readOptions: readBunnyOptions,
  create,
});

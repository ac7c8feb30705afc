/**
 * AWS CloudFront signed URLs and signed cookies (docs/formats/cloudfront.md): a public-key format.
 *   canned: <url>[?query&]Expires=<t>&Key-Pair-Id=<id>&Signature=<sig>[&Hash-Algorithm=SHA256]
 *           signs {"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<t>}}}]}
 *   custom: <url>[?query&]Policy=<b64>&Key-Pair-Id=<id>&Signature=<sig>[&Hash-Algorithm=SHA256]
 *           signs the policy's bytes (cloudfront-policy.ts reads it)
 *   cookies: CloudFront-Expires or CloudFront-Policy, CloudFront-Signature, CloudFront-Key-Pair-Id,
 *            CloudFront-Hash-Algorithm
 * b64 is CloudFront's base64 ("+" "=" "/" written "-" "_" "~"), sig the RSA (PKCS#1 v1.5) or
 * ECDSA (DER) signature of SHA-1, or SHA-256 when the request says so, by the public key that
 * Key-Pair-Id names. <url> is the route's base URL, the path and the query before the
 * CloudFront parameters, as received. Valid while now < DateLessThan and, if given,
 * now > DateGreaterThan. The Resource and the client IP are compared only after the signature.
 * Reference: AWS CloudFront Developer Guide, "Serve private content with signed URLs and signed
 * cookies"; tested against AWS's own signer, @aws-sdk/cloudfront-signer.
 */

import { defineScheme } from '../../scheme-kit/scheme-definition.js';
import { cookieAndHostHeaders } from '../../scheme-kit/signed-origin.js';
import { cloudFrontKeys, readCloudFrontKey } from './cloudfront-key.js';
import { type CloudFrontOptions, readCloudFrontOptions } from './cloudfront-options.js';
import { cloudFrontSigner, cloudFrontSignOptions } from './cloudfront-sign.js';
import { cloudFrontTokens } from './cloudfront-token.js';

export const cloudfront = defineScheme<CloudFrontOptions>({
  id: 'cloudfront',
  signOptions: cloudFrontSignOptions,
  summary:
    'AWS CloudFront signed URLs and cookies: canned (Expires) and custom (Policy) policies, RSA or ECDSA public keys by Key-Pair-Id',
  clientIp: 'optional',
  keyEncodings: ['text'],
  verdictCacheByDefault: true,
  uwsHint: '"cookies": false and no hostHeader',
  keyProblem(secret) {
    const read = readCloudFrontKey('k', secret);
    return typeof read === 'string' ? read : undefined;
  },
  readOptions: readCloudFrontOptions,
  tokenHeaders: (options) => cookieAndHostHeaders(options.cookies, options),
  create(route, options) {
    const keys = cloudFrontKeys(route.keys);
    return {
      linkBase: options.baseUrl,
      ...cloudFrontTokens(keys, route, options),
      sign: cloudFrontSigner(keys, route, options),
    };
  },
});

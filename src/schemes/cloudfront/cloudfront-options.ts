import type { Fields } from '../../base/problems.js';
import { readSignedOrigin, type SignedOrigin } from '../../scheme-kit/signed-origin.js';

/** A cloudfront route's options; `baseUrl` and `hostHeader` are read as google-cdn reads them (signed-origin.ts). */
export interface CloudFrontOptions extends SignedOrigin {
  /** Read the CloudFront-* signed cookies (on by default). */
  readonly cookies: boolean;
  /** Accept custom policies without a Resource (every URL of the route): off unless said. */
  readonly allowNoResource: boolean;
  /** What `tokengate sign` hashes with: SHA1 (the SDK's default) or SHA256. */
  readonly signHash: 'SHA1' | 'SHA256';
  /** "?" in a Resource is CloudFront's one-character wildcard (off: "?" is itself). */
  readonly questionMarkWildcard: boolean;
}

export function readCloudFrontOptions(fields: Fields): CloudFrontOptions {
  return {
    ...readSignedOrigin(fields),
    cookies: fields.bool('cookies', true),
    allowNoResource: fields.bool('allowNoResource', false),
    signHash: fields.oneOf('signHash', ['SHA1', 'SHA256'], 'SHA1'),
    questionMarkWildcard: fields.bool('questionMarkWildcard', false),
  };
}

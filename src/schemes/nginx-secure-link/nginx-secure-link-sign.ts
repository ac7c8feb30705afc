import { isRejection } from '../../base/verdict.js';
import { canonicalIp, parseClientIp } from '../../request/client-ip.js';
import { nginxTarget } from '../../request/nginx-uri.js';
import type { RouteKey, SignedToken, SignRequest } from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime } from '../../scheme-kit/unix-time.js';
import { nginxAddressText } from './nginx-address-text.js';
import type { NginxSecureLinkOptions } from './nginx-secure-link-options.js';
import { readsAddress } from './nginx-secure-link-token.js';
import { secretText, secureLinkDigest, secureLinkParts } from './secure-link-digest.js';
import { describeSource, sourceOf, type ValueSource } from './secure-link-expression.js';

export const nginxSecureLinkSignOptions: readonly SignOption[] = ['clientIp'];

/**
 * The parameter of the end time, when tokengate can sign the route's links: not for a token
 * outside the query, a request value in the expression, or tokens that never expire.
 */
function signableExpires({ hash, expires, md5 }: NginxSecureLinkOptions): ValueSource {
  const outside = [hash, expires].find((source) => source !== undefined && source.from !== 'arg');
  if (outside !== undefined) {
    throw new SignRequestError(
      'path',
      `this route reads ${describeSource(outside)}: tokengate signs only links with query parameters`,
    );
  }
  const read = md5.map(sourceOf).find((source) => source !== undefined);
  if (read !== undefined) {
    throw new SignRequestError(
      'path',
      `the expression signs ${describeSource(read)}, a value of the request the signer cannot know: sign such links where it is known`,
    );
  }
  if (expires === undefined) {
    throw new SignRequestError(
      'expiresSec',
      "this route's tokens never expire (secureLink has no end time): tokengate signs no such link",
    );
  }
  return expires;
}

/** nginx's text of the client IP a link is for, as `$remote_addr` will read. */
function signedAddress(clientIp: string | undefined): string {
  if (clientIp === undefined) {
    throw new SignRequestError('clientIp', 'the expression signs $remote_addr: give the client IP the link is for');
  }
  const ip = canonicalIp(clientIp) === undefined ? undefined : parseClientIp(clientIp);
  if (ip === undefined) throw new SignRequestError('clientIp', 'the client IP must be one IPv4 or IPv6 address');
  return nginxAddressText(ip);
}

/** The route's signer, with its first key: `?<hash>=<md5>&<expires>=<t>`. */
export function nginxSecureLinkSigner(key: RouteKey, options: NginxSecureLinkOptions): (request: SignRequest) => SignedToken {
  const secret = secretText(key);
  const address = readsAddress(options);
  return (request) => {
    checkSignRequest(request, address ? nginxSecureLinkSignOptions : [], 'nginx-secure-link');
    const expiresSource = signableExpires(options);
    const addressText = address ? signedAddress(request.clientIp) : '';
    const uri = nginxTarget(request.path);
    if (isRejection(uri)) throw new SignRequestError('path', `nginx would refuse this path: ${uri.detail}`);
    const expires = formatUnixTime(request.expiresSec);
    const parts = secureLinkParts(options.md5, [], uri.path, expires, addressText, []);
    const md5 = Buffer.from(secureLinkDigest(parts, false, secret), 'latin1').toString('base64url');
    return { carrier: 'query', query: `${options.hash.name}=${md5}&${expiresSource.name}=${expires}` };
  };
}

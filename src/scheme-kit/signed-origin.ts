/**
 * The origin a format signs before the path (google-cdn, cloudfront): the route's `baseUrl`, or
 * its scheme with the host that a proxy-set header names (`hostHeader`, routes serving several
 * hosts). Read and applied here once, so both formats give the same input the same answer.
 */

import type { Fields } from '../base/problems.js';
import { type Rejection, rejection, Verdict } from '../base/verdict.js';
import type { TokenHeaders } from '../request/token-headers.js';

export interface SignedOrigin {
  /** "http(s)://host[:port]" in lowercase, as the signers wrote it before the path. */
  readonly baseUrl: string;
  /** Lowercase name of a proxy-set header holding the request's host; the base URL's scheme stays. */
  readonly hostHeader: string | undefined;
}

export function readSignedOrigin(fields: Fields): SignedOrigin {
  return { baseUrl: fields.origin('baseUrl'), hostHeader: fields.headerName('hostHeader') };
}

/** What a route of such a format reads besides the URL: the signed cookies if on, and the host header. */
export function cookieAndHostHeaders(cookies: boolean, { hostHeader }: SignedOrigin): readonly string[] {
  return [...(cookies ? ['cookie'] : []), ...(hostHeader === undefined ? [] : [hostHeader])];
}

const badHost = rejection(Verdict.badSource, 'the host header is missing, repeated or not a host name');
const hostPattern = /^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$/;

/** The request's origin as signed: the base URL, or its scheme and the host header's host in lowercase. */
export function requestOrigin({ baseUrl, hostHeader }: SignedOrigin): (headers: TokenHeaders) => string | Rejection {
  if (hostHeader === undefined) return () => baseUrl;
  const scheme = baseUrl.slice(0, baseUrl.indexOf('://') + 3);
  return (headers) => {
    const host = headers.get(hostHeader);
    return typeof host === 'string' && hostPattern.test(host) ? `${scheme}${host.toLowerCase()}` : badHost;
  };
}

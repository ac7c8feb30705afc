import { createSign } from 'node:crypto';
import { parseClientIp } from '../../request/client-ip.js';
import { prefixOf } from '../../request/signed-path.js';
import type { SchemeRoute, SignedToken, SignRequest } from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime } from '../../scheme-kit/unix-time.js';
import { encodeCloudFrontBase64 } from './cloudfront-base64.js';
import type { CloudFrontKey } from './cloudfront-key.js';
import type { CloudFrontOptions } from './cloudfront-options.js';
import { cannedPolicy } from './cloudfront-policy.js';

export const cloudFrontSignOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'cookies'];

/** `a.b.c.d/n` for a policy from a signer's IPv4 address or range; anything else is refused. */
function sourceRange(clientIp: string): string {
  const [address = '', bits, extra] = clientIp.split('/');
  const ip = parseClientIp(address);
  if (
    extra !== undefined ||
    ip === undefined ||
    ip.v6 !== undefined ||
    ip.text !== address ||
    (bits !== undefined && !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(bits))
  ) {
    throw new SignRequestError('clientIp', 'CloudFront binds IPv4 addresses or ranges only (a.b.c.d or a.b.c.d/n)');
  }
  return `${address}/${bits ?? '32'}`;
}

/** The Resource a link is signed for: its URL, or with a scope the URL of the scope's directory and "*". */
function resourceOf(baseUrl: string, { path, scopeDepth }: SignRequest, routePrefix: string): string {
  // "*" is a Resource wildcard, in a canned policy too: its bytes, resent as a custom policy
  // with the same signature, would open every path the "*" matches. Signable paths hold no "?".
  if (path.includes('*')) {
    throw new SignRequestError('path', 'a CloudFront policy reads "*" as a wildcard: percent-encode it (%2A) to sign this path');
  }
  if (scopeDepth === undefined) return `${baseUrl}${path}`;
  const prefix = Number.isInteger(scopeDepth) && scopeDepth >= 0 ? prefixOf(path, scopeDepth) : undefined;
  if (prefix === undefined) throw new SignRequestError('scopeDepth', `scope depth ${scopeDepth} does not fit the path ${path}`);
  if (!prefix.startsWith(routePrefix)) {
    throw new SignRequestError(
      'scopeDepth',
      `scope depth ${scopeDepth} covers ${prefix}, outside the route ${routePrefix}: the link would be wider than the route`,
    );
  }
  return `${baseUrl}${prefix}*`;
}

/** The custom policy's JSON, for a start time, a client IP or range, or a scope. */
function customPolicy(resource: string, expires: number, request: SignRequest): string {
  const condition: Record<string, unknown> = { DateLessThan: { 'AWS:EpochTime': expires } };
  if (request.notBeforeSec !== undefined)
    condition.DateGreaterThan = { 'AWS:EpochTime': Number(formatUnixTime(request.notBeforeSec)) };
  if (request.clientIp !== undefined) condition.IpAddress = { 'AWS:SourceIp': sourceRange(request.clientIp) };
  return JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
}

/** The fields as the SDK writes them: getSignedUrl's query, or getSignedCookies' cookies in their order. */
function carried(fields: [string, string][], asCookies: boolean): SignedToken {
  if (!asCookies) return { carrier: 'query', query: fields.map(([name, value]) => `${name}=${value}`).join('&') };
  const order = ['Key-Pair-Id', 'Signature', 'Expires', 'Policy', 'Hash-Algorithm'];
  fields.sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  return { carrier: 'cookies', cookies: fields.map(([name, value]) => ({ name: `CloudFront-${name}`, value })) };
}

/** The route's signer: with its first key, which must be a private key. */
export function cloudFrontSigner(
  keys: ReadonlyMap<string, CloudFrontKey>,
  route: SchemeRoute,
  options: CloudFrontOptions,
): (request: SignRequest) => SignedToken {
  const { baseUrl, hostHeader, cookies, signHash } = options;
  return (request) => {
    checkSignRequest(request, cloudFrontSignOptions, 'cloudfront');
    const key = keys.get(route.keys[0]!.id)!;
    const privateKey = key.privateKey;
    if (privateKey === undefined) {
      throw new SignRequestError('path', "this route's first key file holds a public key: signing needs the private key");
    }
    if (hostHeader !== undefined)
      throw new SignRequestError('path', 'this route takes the host from a header: sign with a fixed baseUrl');
    const asCookies = request.cookies === true;
    if (asCookies && !cookies)
      throw new SignRequestError('cookies', 'this route does not read signed cookies (its option "cookies" is false)');
    const expires = Number(formatUnixTime(request.expiresSec));
    const resource = resourceOf(baseUrl, request, route.prefix);
    const custom = request.notBeforeSec !== undefined || request.clientIp !== undefined || request.scopeDepth !== undefined;
    const policy = custom ? customPolicy(resource, expires, request) : cannedPolicy(resource, expires);
    const signer = createSign(signHash === 'SHA256' ? 'sha256' : 'sha1');
    signer.update(policy);
    const signature = encodeCloudFrontBase64(signer.sign(key.ec ? { key: privateKey, dsaEncoding: 'der' } : privateKey));
    const fields: [string, string][] = [
      custom ? ['Policy', encodeCloudFrontBase64(Buffer.from(policy, 'utf8'))] : ['Expires', String(expires)],
      ['Key-Pair-Id', key.id],
      ['Signature', signature],
      ...(signHash === 'SHA256' ? [['Hash-Algorithm', 'SHA256'] as [string, string]] : []),
    ];
    return carried(fields, asCookies);
  };
}

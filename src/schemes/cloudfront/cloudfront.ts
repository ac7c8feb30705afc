/**
 * AWS CloudFront signed URLs and signed cookies (docs/cloudfront.md): a public-key format.
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
 */

import { createPrivateKey, createPublicKey, createSign, type KeyObject, verify } from 'node:crypto';
import { type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { parseClientIp } from '../../request/client-ip.js';
import { cookieValues } from '../../request/cookie-value.js';
import { prefixOf } from '../../request/signed-path.js';
import { forEachQueryPair, safeDecode } from '../../request/token-params.js';
import { fixedPrefix, outerScope, scopeFitsRoute, urlPath } from '../../scheme-kit/nested-scope.js';
import {
  OptionProblems,
  type ParsedToken,
  type RouteKey,
  type SchemeDefinition,
  type TokenScheme,
} from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime, timeFieldParser } from '../../scheme-kit/unix-time.js';
import { type CloudFrontPolicy, maxPolicyBytes, parsePolicy, resourceMatches, type SourceRange } from './cloudfront-policy.js';

export interface CloudFrontOptions {
  /** "https://host[:port]" as the signers wrote it before the path. */
  readonly baseUrl: string;
  /** Lowercase name of a proxy-set header holding the request's host (multi-host routes). */
  readonly hostHeader: string | undefined;
  /** Read the CloudFront-* signed cookies (on by default). */
  readonly cookies: boolean;
  /** Accept custom policies without a Resource (every URL of the route): off unless said. */
  readonly allowNoResource: boolean;
  /** What `tokengate sign` hashes with: SHA1 (the SDK's default) or SHA256. */
  readonly signHash: 'SHA1' | 'SHA256';
  /** "?" in a Resource is CloudFront's one-character wildcard (off: "?" is itself). */
  readonly questionMarkWildcard: boolean;
}

interface RouteCloudFrontKey {
  readonly id: string;
  readonly publicKey: KeyObject;
  readonly ec: boolean;
  /** The private key when the file holds one (signing for tests and migrations). */
  readonly privateKey: KeyObject | undefined;
}

interface CloudFrontToken extends ParsedToken {
  readonly key: RouteCloudFrontKey;
  readonly hash: 'sha1' | 'sha256';
  /**
   * What the signature covers, as text: the canned policy built from the request, or the custom
   * policy's CloudFront base64 as sent (canonical, so one text per policy). The cache key's
   * material; the bytes are made only to verify.
   */
  readonly signedText: string;
  readonly canned: boolean;
  /** CloudFront's base64 of the signature, checked canonical; decoded only to verify (a cache hit never needs it). */
  readonly signatureText: string;
}

const m = (detail: string) => rejection(Verdict.malformed, detail);
const noToken = rejection(Verdict.missing, 'no CloudFront Signature in the query and no CloudFront-Signature cookie');
const missingKeyPairId = m('Missing Key-Pair-Id');
const missingSignature = m('Missing Signature');
const missingPolicy = m('Missing Expires or Policy (one of them)');
const bothPolicies = m('Expires and Policy given together');
const badHashAlgorithm = m('Hash-Algorithm must be SHA256 (or absent: SHA1)');
const badSignature = m("Signature must be CloudFront's base64 (A-Z a-z 0-9 - ~, padded with _)");
const badPolicyEncoding = m("Policy must be CloudFront's base64 of a UTF-8 JSON policy");
const repeated = m('a CloudFront parameter or cookie is given more than once');
const notTrailing = m('the CloudFront parameters must end the query (Expires or Policy, Key-Pair-Id, Signature, Hash-Algorithm)');
const otherSpelling = m('a CloudFront parameter is named in another case or percent-encoded');
const unknownKey = rejection(Verdict.forged, 'Unknown key: Key-Pair-Id names no public key of this route');
const outsideResource = rejection(Verdict.forged, "the URL is outside the policy's Resource (a genuine policy for other URLs)");
const outsideRange = rejection(Verdict.wrongIp, "the client IP is outside the policy's AWS:SourceIp");
const noClientIp = rejection(Verdict.badSource, 'the policy binds an IP range but the request has no usable IPv4 client IP');
const noResource = m('the policy has no Resource, and this route does not accept such policies (allowNoResource)');
const badHost = rejection(Verdict.badSource, 'the host header is missing, repeated or not a host name');
const parseExpires = timeFieldParser('Expires');
/** An RSA-4096 signature is 512 bytes; a DER ECDSA P-256 one at most 72. */
const maxSignatureBytes = 1024;
// ignoreBOM: a byte-order mark stays a character, which the JSON reader refuses.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** One rejection per reason of parsePolicy (a fixed set: its messages hold no text of the policy). */
const policyRejections = new Map<string, Rejection>();
function policyRefused(reason: string): Rejection {
  let refused = policyRejections.get(reason);
  if (refused === undefined) {
    refused = m(`the policy is refused: ${reason}`);
    policyRejections.set(reason, refused);
  }
  return refused;
}
const signedNames = ['Expires', 'Policy', 'Key-Pair-Id', 'Signature', 'Hash-Algorithm'];
const lowerSignedNames = signedNames.map((name) => name.toLowerCase());
const cookieNames = signedNames.map((name) => `CloudFront-${name}`);

const cloudFrontBase64 = /^[A-Za-z0-9~-]+_{0,2}$/;
/** Each character's 6-bit value in CloudFront's base64 alphabet (other code units: unused). */
const sextets = new Int8Array(128);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~'].entries())
  sextets[c.charCodeAt(0)] = i;

/**
 * True when `text` is the one canonical spelling of some bytes (at most `maxBytes`) in
 * CloudFront's base64 ("-" "_" "~" for "+" "=" "/"): its alphabet, a length that is a multiple
 * of 4, at most two "_" and only at the end, and the unused bits of the last character zero.
 * Checked without decoding: a cache hit never needs the bytes.
 */
export function isCloudFrontBase64(text: string, maxBytes: number): boolean {
  const length = text.length;
  if (length === 0 || length % 4 !== 0 || length > ((maxBytes + 2) / 3) * 4 + 4 || !cloudFrontBase64.test(text)) return false;
  const padding = text.charCodeAt(length - 1) === 0x5f ? (text.charCodeAt(length - 2) === 0x5f ? 2 : 1) : 0;
  const last = sextets[text.charCodeAt(length - 1 - padding)]!;
  return (last & (padding === 2 ? 0x0f : padding === 1 ? 0x03 : 0)) === 0;
}

/** The bytes of a canonical CloudFront base64 text, or undefined (see isCloudFrontBase64). */
export function decodeCloudFrontBase64(text: string, maxBytes: number): Buffer | undefined {
  if (!isCloudFrontBase64(text, maxBytes)) return undefined;
  // Node's base64 decoder reads "-" as "+" already; "~" is CloudFront's own "/"; padding is optional.
  return Buffer.from(text.replaceAll('~', '/').replaceAll('_', ''), 'base64');
}

export function encodeCloudFrontBase64(bytes: Buffer): string {
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('=', '_').replaceAll('/', '~');
}

/** The canned policy for a URL and end time, byte for byte as CloudFront and its SDKs write it. */
export function cannedPolicy(url: string, expires: number): string {
  return `{"Statement":[{"Resource":${JSON.stringify(url)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
}

/** The route's key file: a public key (RSA 2048+ or ECDSA P-256), or a private key whose public half it holds. */
function readKey(id: string, pem: Buffer): RouteCloudFrontKey | string {
  let publicKey: KeyObject;
  let privateKey: KeyObject | undefined;
  const text = pem.toString('utf8');
  try {
    if (text.includes('PRIVATE KEY')) {
      privateKey = createPrivateKey(text);
      publicKey = createPublicKey(privateKey);
    } else publicKey = createPublicKey(text);
  } catch {
    return 'the key file is not a PEM public key (or private key) that Node can read';
  }
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (publicKey.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) return 'the RSA key is shorter than 2048 bits';
    return { id, publicKey, ec: false, privateKey };
  }
  if (publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return { id, publicKey, ec: true, privateKey };
  return 'the key must be RSA (2048 bits or more) or ECDSA P-256';
}

function create(
  keys: readonly RouteKey[],
  options: CloudFrontOptions,
  routePrefix: string,
  nested = false,
): TokenScheme<CloudFrontToken> {
  const routeKeys = new Map<string, RouteCloudFrontKey>();
  for (const key of keys) {
    const read = readKey(key.id, key.secret);
    // keyProblem refused unreadable keys at load; this cannot fail for a loaded route.
    if (typeof read !== 'string') routeKeys.set(key.id, read);
  }
  const { baseUrl, hostHeader, cookies, allowNoResource, questionMarkWildcard } = options;
  const scheme = baseUrl.slice(0, baseUrl.indexOf('//') + 2);

  /** The CloudFront parameters at the end of the query, and the query before them: one pass. */
  const fromQuery = (query: string): { values: Map<string, string>; rest: string } | Rejection | undefined => {
    if (query === '') return undefined;
    let values: Map<string, string> | undefined;
    let rest = '';
    let pairStart = 0;
    const refused = forEachQueryPair(query, (name, valueStart, end) => {
      const start = pairStart;
      pairStart = end + 1;
      if (signedNames.includes(name)) {
        if (values === undefined) {
          values = new Map();
          rest = start === 0 ? '' : query.slice(0, start - 1);
        }
        if (values.has(name)) return repeated;
        values.set(name, valueStart < 0 ? '' : query.slice(valueStart, end));
        return undefined;
      }
      // Anything after a CloudFront parameter: they do not end the query.
      if (values !== undefined) return notTrailing;
      const lower = (name.includes('%') ? safeDecode(name) : name).toLowerCase();
      return lowerSignedNames.includes(lower) ? otherSpelling : undefined;
    });
    if (refused !== undefined) return refused;
    return values === undefined ? undefined : { values, rest };
  };

  const fromCookies = (header: string | undefined | null): Map<string, string> | Rejection | undefined => {
    if (header === null) return repeated;
    if (header === undefined) return undefined;
    const values = new Map<string, string>();
    for (const [i, value] of cookieValues(header, cookieNames).entries()) {
      if (value === null) return repeated;
      if (value !== undefined) values.set(signedNames[i]!, value);
    }
    return values.size === 0 ? undefined : values;
  };

  const sourceMatches = (range: SourceRange, ip: number) => (ip & range.mask) >>> 0 === range.network;

  return {
    linkBase: baseUrl,
    parse({ path, query, clientIp, headers }) {
      let found = fromQuery(query);
      if (found !== undefined && 'verdict' in found) return found;
      let values = found?.values;
      let rest = found?.rest ?? query;
      if (values === undefined && cookies) {
        const fromCookie = fromCookies(headers.get('cookie'));
        if (fromCookie !== undefined && 'verdict' in fromCookie) return fromCookie;
        values = fromCookie;
        rest = query;
      }
      found = undefined;
      if (values === undefined || !values.has('Signature')) return values === undefined ? noToken : missingSignature;
      const keyPairId = values.get('Key-Pair-Id');
      if (keyPairId === undefined || keyPairId === '') return missingKeyPairId;
      const expiresText = values.get('Expires');
      const policyText = values.get('Policy');
      if (expiresText === undefined && policyText === undefined) return missingPolicy;
      if (expiresText !== undefined && policyText !== undefined) return bothPolicies;
      const algorithm = values.get('Hash-Algorithm');
      if (algorithm !== undefined && algorithm !== 'SHA256') return badHashAlgorithm;
      const signatureText = values.get('Signature')!;
      if (!isCloudFrontBase64(signatureText, maxSignatureBytes)) return badSignature;
      const key = routeKeys.get(keyPairId);
      if (key === undefined) return unknownKey;
      let origin = baseUrl;
      if (hostHeader !== undefined) {
        const host = headers.get(hostHeader);
        if (typeof host !== 'string' || !/^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$/.test(host)) return badHost;
        origin = `${scheme}${host.toLowerCase()}`;
      }
      const url = `${origin}${path}${rest === '' ? '' : `?${rest}`}`;
      const hash = algorithm === 'SHA256' ? 'sha256' : 'sha1';
      if (expiresText !== undefined) {
        const expires = parseExpires(expiresText);
        if (typeof expires !== 'number') return expires;
        // DateLessThan: valid while now < Expires.
        const signedText = cannedPolicy(url, expires);
        return { key, hash, signedText, canned: true, signatureText, expiresSec: expires - 1, notBeforeSec: 0 };
      }
      const bytes = decodeCloudFrontBase64(policyText!, maxPolicyBytes);
      if (bytes === undefined) return badPolicyEncoding;
      let json: string;
      try {
        json = utf8.decode(bytes);
      } catch {
        return badPolicyEncoding;
      }
      const policy: CloudFrontPolicy | string = parsePolicy(json);
      if (typeof policy === 'string') return policyRefused(policy);
      if (policy.resource === undefined && !allowNoResource) return noResource;
      const token: CloudFrontToken = {
        key,
        hash,
        signedText: policyText!,
        canned: false,
        signatureText,
        expiresSec: policy.dateLessThan - 1,
        notBeforeSec: policy.dateGreaterThan === undefined ? 0 : policy.dateGreaterThan + 1,
        // Compared only once the signature is genuine (authorize reads it after verify).
        get bindingMismatch(): Rejection | undefined {
          if (policy.resource !== undefined && !resourceMatches(policy.resource, url, questionMarkWildcard))
            return outsideResource;
          const fixed =
            policy.resource === undefined ? undefined : urlPath(fixedPrefix(policy.resource, questionMarkWildcard ? '*?' : '*'));
          if (!scopeFitsRoute(fixed, routePrefix, nested)) return outerScope;
          if (policy.sourceIp !== undefined) {
            if (clientIp === undefined || clientIp.v6 !== undefined) return clientIp === undefined ? noClientIp : outsideRange;
            if (!sourceMatches(policy.sourceIp, clientIp.v4)) return outsideRange;
          }
          return undefined;
        },
      };
      return token;
    },
    verify(token) {
      try {
        return verify(
          token.hash,
          token.canned ? Buffer.from(token.signedText, 'utf8') : decodeCloudFrontBase64(token.signedText, maxPolicyBytes)!,
          token.key.ec ? { key: token.key.publicKey, dsaEncoding: 'der' } : token.key.publicKey,
          decodeCloudFrontBase64(token.signatureText, maxSignatureBytes)!,
        );
      } catch {
        return false;
      }
    },
    identify(token) {
      const genuine = this.verify(token);
      return { keyId: genuine ? token.key.id : undefined, signature: token.signatureText };
    },
    cacheKey(token) {
      // A canned policy starts with "{", which CloudFront's base64 never holds: the two kinds never meet.
      return `${token.key.id}\n${token.hash}\n${token.signedText}\n${token.signatureText}`;
    },
    sign(request) {
      checkSignRequest(request, signOptions, 'cloudfront');
      const key = routeKeys.get(keys[0]!.id)!;
      if (key.privateKey === undefined) {
        throw new SignRequestError('path', "this route's first key file holds a public key: signing needs the private key");
      }
      if (hostHeader !== undefined)
        throw new SignRequestError('path', 'this route takes the host from a header: sign with a fixed baseUrl');
      const asCookies = request.cookies === true;
      if (asCookies && !cookies)
        throw new SignRequestError('cookies', 'this route does not read signed cookies (its option "cookies" is false)');
      const { path, scopeDepth } = request;
      const expires = Number(formatUnixTime(request.expiresSec));
      // "*" is a Resource wildcard, in a canned policy too: its bytes, resent as a custom policy
      // with the same signature, would open every path the "*" matches. Signable paths hold no "?".
      if (path.includes('*')) {
        throw new SignRequestError(
          'path',
          'a CloudFront policy reads "*" as a wildcard: percent-encode it (%2A) to sign this path',
        );
      }
      let resource = `${baseUrl}${path}`;
      if (scopeDepth !== undefined) {
        const prefix = Number.isInteger(scopeDepth) && scopeDepth >= 0 ? prefixOf(path, scopeDepth) : undefined;
        if (prefix === undefined)
          throw new SignRequestError('scopeDepth', `scope depth ${scopeDepth} does not fit the path ${path}`);
        if (!prefix.startsWith(routePrefix)) {
          throw new SignRequestError(
            'scopeDepth',
            `scope depth ${scopeDepth} covers ${prefix}, outside the route ${routePrefix}: the link would be wider than the route`,
          );
        }
        resource = `${baseUrl}${prefix}*`;
      }
      const custom = request.notBeforeSec !== undefined || request.clientIp !== undefined || scopeDepth !== undefined;
      let policy: string;
      if (!custom) policy = cannedPolicy(resource, expires);
      else {
        const condition: Record<string, unknown> = { DateLessThan: { 'AWS:EpochTime': expires } };
        if (request.notBeforeSec !== undefined)
          condition.DateGreaterThan = { 'AWS:EpochTime': Number(formatUnixTime(request.notBeforeSec)) };
        if (request.clientIp !== undefined) condition.IpAddress = { 'AWS:SourceIp': sourceRange(request.clientIp) };
        policy = JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
      }
      const signer = createSign(options.signHash === 'SHA256' ? 'sha256' : 'sha1');
      signer.update(policy);
      const signature = encodeCloudFrontBase64(
        signer.sign(key.ec ? { key: key.privateKey, dsaEncoding: 'der' } : key.privateKey),
      );
      // Names and order as the SDK writes them (getSignedUrl's query, getSignedCookies' object).
      const fields: [string, string][] = [
        custom ? ['Policy', encodeCloudFrontBase64(Buffer.from(policy, 'utf8'))] : ['Expires', String(expires)],
        ['Key-Pair-Id', key.id],
        ['Signature', signature],
        ...(options.signHash === 'SHA256' ? [['Hash-Algorithm', 'SHA256'] as [string, string]] : []),
      ];
      if (!asCookies) return { carrier: 'query', query: fields.map(([name, value]) => `${name}=${value}`).join('&') };
      const order = ['Key-Pair-Id', 'Signature', 'Expires', 'Policy', 'Hash-Algorithm'];
      fields.sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
      return { carrier: 'cookies', cookies: fields.map(([name, value]) => ({ name: `CloudFront-${name}`, value })) };
    },
  };
}

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

function readOptions(raw: Readonly<Record<string, unknown>>, path: string): CloudFrontOptions | OptionProblems {
  const problems: string[] = [];
  const known = ['baseUrl', 'hostHeader', 'cookies', 'allowNoResource', 'signHash', 'questionMarkWildcard'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) problems.push(`${path}.${key}: unknown option (known: ${known.join(', ')})`);
  }
  const baseUrl = raw.baseUrl;
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[a-z0-9.-]{1,253}(?::[0-9]{1,5})?$/.test(baseUrl)) {
    problems.push(
      `${path}.baseUrl: required: the URL before the path as signers write it, "https://host[:port]" in lowercase, no path`,
    );
  }
  const hostHeader = raw.hostHeader;
  if (hostHeader !== undefined && (typeof hostHeader !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(hostHeader))) {
    problems.push(`${path}.hostHeader: must be a header name your proxy sets`);
  }
  const cookies = raw.cookies ?? true;
  if (typeof cookies !== 'boolean') problems.push(`${path}.cookies: must be true or false`);
  const allowNoResource = raw.allowNoResource ?? false;
  if (typeof allowNoResource !== 'boolean') problems.push(`${path}.allowNoResource: must be true or false`);
  const questionMarkWildcard = raw.questionMarkWildcard ?? false;
  if (typeof questionMarkWildcard !== 'boolean') problems.push(`${path}.questionMarkWildcard: must be true or false`);
  const signHash = raw.signHash ?? 'SHA1';
  if (signHash !== 'SHA1' && signHash !== 'SHA256') problems.push(`${path}.signHash: must be "SHA1" or "SHA256"`);
  if (problems.length > 0) return new OptionProblems(problems);
  return {
    baseUrl: baseUrl as string,
    hostHeader: (hostHeader as string | undefined)?.toLowerCase(),
    cookies: cookies as boolean,
    allowNoResource: allowNoResource as boolean,
    signHash: signHash as 'SHA1' | 'SHA256',
    questionMarkWildcard: questionMarkWildcard as boolean,
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'cookies'];

export const cloudfront: SchemeDefinition<CloudFrontOptions> = {
  id: 'cloudfront',
  signOptions,
  summary:
    'AWS CloudFront signed URLs and cookies: canned (Expires) and custom (Policy) policies, RSA or ECDSA public keys by Key-Pair-Id',
  clientIp: 'optional',
  keyEncodings: ['text'],
  verdictCacheByDefault: true,
  tokenHeaders: (options) => [
    ...(options.cookies ? ['cookie'] : []),
    ...(options.hostHeader === undefined ? [] : [options.hostHeader]),
  ],
  keyProblem: (secret) => {
    const read = readKey('k', secret);
    return typeof read === 'string' ? read : undefined;
  },
  readOptions,
  create,
};

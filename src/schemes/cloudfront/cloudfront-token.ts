import { verify } from 'node:crypto';
import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import type { ClientIp } from '../../request/client-ip.js';
import { cookieValues } from '../../request/cookie-value.js';
import type { TokenHeaders } from '../../request/token-headers.js';
import { forEachQueryPair, safeDecode } from '../../request/token-params.js';
import { fixedPrefix, outerScope, scopeFitsRoute, urlPath } from '../../scheme-kit/nested-scope.js';
import type { ParsedToken, SchemeRoute, TokenScheme } from '../../scheme-kit/scheme-definition.js';
import { requestOrigin } from '../../scheme-kit/signed-origin.js';
import { timeFieldParser } from '../../scheme-kit/unix-time.js';
import { decodeCloudFrontBase64, isCloudFrontBase64 } from './cloudfront-base64.js';
import type { CloudFrontKey } from './cloudfront-key.js';
import type { CloudFrontOptions } from './cloudfront-options.js';
import { type CloudFrontPolicy, cannedPolicy, maxPolicyBytes, parsePolicy, resourceMatches } from './cloudfront-policy.js';

export interface CloudFrontToken extends ParsedToken {
  readonly key: CloudFrontKey;
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

/** The signed parameters, as the query or the cookies gave them. */
interface SignedFields {
  readonly keyPairId: string;
  readonly expiresText: string | undefined;
  readonly policyText: string | undefined;
  readonly hash: 'sha1' | 'sha256';
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

/** The CloudFront parameters at the end of the query, and the query before them: one pass. */
function fromQuery(query: string): { values: Map<string, string>; rest: string } | Rejection | undefined {
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
}

function fromCookies(header: string | undefined | null): Map<string, string> | Rejection | undefined {
  if (header === null) return repeated;
  if (header === undefined) return undefined;
  const values = new Map<string, string>();
  for (const [i, value] of cookieValues(header, cookieNames).entries()) {
    if (value === null) return repeated;
    if (value !== undefined) values.set(signedNames[i]!, value);
  }
  return values.size === 0 ? undefined : values;
}

/** The signed parameters from the query, else (when the route reads them) the cookies; and the query they do not end. */
function signedValues(
  query: string,
  headers: TokenHeaders,
  cookies: boolean,
): { values: Map<string, string>; rest: string } | Rejection {
  const found = fromQuery(query);
  if (found !== undefined) return found;
  const fromCookie = cookies ? fromCookies(headers.get('cookie')) : undefined;
  if (fromCookie === undefined) return noToken;
  return isRejection(fromCookie) ? fromCookie : { values: fromCookie, rest: query };
}

function signedFields(values: Map<string, string>): SignedFields | Rejection {
  const signatureText = values.get('Signature');
  if (signatureText === undefined) return missingSignature;
  const keyPairId = values.get('Key-Pair-Id');
  if (keyPairId === undefined || keyPairId === '') return missingKeyPairId;
  const expiresText = values.get('Expires');
  const policyText = values.get('Policy');
  if (expiresText === undefined && policyText === undefined) return missingPolicy;
  if (expiresText !== undefined && policyText !== undefined) return bothPolicies;
  const algorithm = values.get('Hash-Algorithm');
  if (algorithm !== undefined && algorithm !== 'SHA256') return badHashAlgorithm;
  if (!isCloudFrontBase64(signatureText, maxSignatureBytes)) return badSignature;
  return { keyPairId, expiresText, policyText, hash: algorithm === 'SHA256' ? 'sha256' : 'sha1', signatureText };
}

/** The custom policy a Policy parameter carries, or why it is refused. */
function customPolicy(policyText: string, allowNoResource: boolean): CloudFrontPolicy | Rejection {
  const bytes = decodeCloudFrontBase64(policyText, maxPolicyBytes);
  if (bytes === undefined) return badPolicyEncoding;
  let json: string;
  try {
    json = utf8.decode(bytes);
  } catch {
    return badPolicyEncoding;
  }
  const policy = parsePolicy(json);
  if (typeof policy === 'string') return policyRefused(policy);
  if (policy.resource === undefined && !allowNoResource) return noResource;
  return policy;
}

/** What a genuine custom policy does not allow for this request: another URL, a scope outside a nested route, another client. */
function policyMismatch(
  policy: CloudFrontPolicy,
  url: string,
  clientIp: ClientIp | undefined,
  { prefix, nested }: SchemeRoute,
  questionMarkWildcard: boolean,
): Rejection | undefined {
  const { resource, sourceIp } = policy;
  if (resource !== undefined && !resourceMatches(resource, url, questionMarkWildcard)) return outsideResource;
  const fixed = resource === undefined ? undefined : urlPath(fixedPrefix(resource, questionMarkWildcard ? '*?' : '*'));
  if (!scopeFitsRoute(fixed, prefix, nested)) return outerScope;
  if (sourceIp !== undefined) {
    if (clientIp === undefined || clientIp.v6 !== undefined) return clientIp === undefined ? noClientIp : outsideRange;
    if ((clientIp.v4 & sourceIp.mask) >>> 0 !== sourceIp.network) return outsideRange;
  }
  return undefined;
}

/** True when the token's key made its signature over what it signs (the canned policy's bytes, or the custom policy's). */
function verifyCloudFrontToken(token: CloudFrontToken): boolean {
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
}

/** A link's identity: its key and the policy it signs (canned: rebuilt from the URL; custom: as sent), never the signature. */
const linkOf = (token: CloudFrontToken) => `${token.key.id}\n${token.signedText}`;

/** How a route reads and checks CloudFront tokens: everything of its TokenScheme but `sign`. */
export function cloudFrontTokens(
  keys: ReadonlyMap<string, CloudFrontKey>,
  route: SchemeRoute,
  options: CloudFrontOptions,
): Omit<TokenScheme<CloudFrontToken>, 'sign'> {
  const { cookies, allowNoResource, questionMarkWildcard } = options;
  const originOf = requestOrigin(options);
  return {
    parse({ path, query, clientIp, headers }) {
      const found = signedValues(query, headers, cookies);
      if (isRejection(found)) return found;
      const signed = signedFields(found.values);
      if (isRejection(signed)) return signed;
      const { keyPairId, expiresText, policyText, hash, signatureText } = signed;
      const key = keys.get(keyPairId);
      if (key === undefined) return unknownKey;
      const origin = originOf(headers);
      if (isRejection(origin)) return origin;
      const url = `${origin}${path}${found.rest === '' ? '' : `?${found.rest}`}`;
      if (expiresText !== undefined) {
        const expires = parseExpires(expiresText);
        if (typeof expires !== 'number') return expires;
        // DateLessThan: valid while now < Expires.
        const signedText = cannedPolicy(url, expires);
        return { key, hash, signedText, canned: true, signatureText, expiresSec: expires - 1, notBeforeSec: 0 };
      }
      const policy = customPolicy(policyText!, allowNoResource);
      if (isRejection(policy)) return policy;
      return {
        key,
        hash,
        signedText: policyText!,
        canned: false,
        signatureText,
        expiresSec: policy.dateLessThan - 1,
        notBeforeSec: policy.dateGreaterThan === undefined ? 0 : policy.dateGreaterThan + 1,
        // Compared only once the signature is genuine (authorize reads it after verify).
        get bindingMismatch() {
          return policyMismatch(policy, url, clientIp, route, questionMarkWildcard);
        },
      };
    },
    verify: verifyCloudFrontToken,
    // What was signed, by which key: an ECDSA signature's twin (s, n - s) is the same link.
    signature: linkOf,
    // Verified: the key the token's Key-Pair-Id named is the one that verified it.
    keyId: (token) => token.key.id,
    identify(token) {
      return { keyId: verifyCloudFrontToken(token) ? token.key.id : undefined, signature: linkOf(token) };
    },
    cacheKey(token) {
      // A canned policy starts with "{", which CloudFront's base64 never holds: the two kinds never meet.
      return `${token.key.id}\n${token.hash}\n${token.signedText}\n${token.signatureText}`;
    },
  };
}

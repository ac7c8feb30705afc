/**
 * Google Cloud CDN signed URLs, URL-prefix signed URLs and signed cookies (docs/formats/google-cdn.md):
 *   URL:     <url>[?query&]Expires=<t>&KeyName=<name>&Signature=<sig>    signs <url>?...&KeyName=<name>
 *   prefix:  <url>[?query&]URLPrefix=<b64>&Expires=<t>&KeyName=<name>&Signature=<sig>
 *                                                   signs URLPrefix=<b64>&Expires=<t>&KeyName=<name>
 *   cookie:  Cloud-CDN-Cookie=URLPrefix=<b64>:Expires=<t>:KeyName=<name>:Signature=<sig>
 *                                                   signs URLPrefix=<b64>:Expires=<t>:KeyName=<name>
 * sig = base64url with padding of HMAC-SHA1(the key named by KeyName, 16 bytes), b64 the same
 * encoding of the URL prefix. A signed URL signs scheme and host too: the route says which
 * (`baseUrl`), or takes the host from a proxy-set header (`hostHeader`). URLPrefix is a plain
 * string prefix of the URL: "https://cdn.example.com/vid" also covers "/video/" and "/vid.mp4".
 * Reference: Cloud CDN docs "Use signed URLs" and "Use signed cookies"; the vectors Google
 * publishes with its samples (python-docs-samples cdn/snippets_test.py).
 */

import { createHmac } from 'node:crypto';
import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { cookieValue } from '../../request/cookie-value.js';
import { forEachQueryPair, safeDecode } from '../../request/token-params.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import { hmacKey } from '../../scheme-kit/hmac-sha256.js';
import { outerScope, scopeFitsRoute, urlPath } from '../../scheme-kit/nested-scope.js';
import {
  defineScheme,
  type ParsedToken,
  type RouteKey,
  type SchemeRoute,
  type SignedToken,
  type SignRequest,
  type TokenScheme,
} from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { cookieAndHostHeaders, readSignedOrigin, requestOrigin, type SignedOrigin } from '../../scheme-kit/signed-origin.js';
import { formatUnixTime, timeFieldParser } from '../../scheme-kit/unix-time.js';

/** A google-cdn route's options; `baseUrl` and `hostHeader` are read as cloudfront reads them (signed-origin.ts). */
export interface GoogleCdnOptions extends SignedOrigin {
  /** Read the Cloud-CDN-Cookie signed cookie (on by default). */
  readonly cookies: boolean;
}

interface GoogleToken extends ParsedToken {
  readonly signed: string;
  readonly signature: string;
  readonly key: RouteKey;
}

const cookieName = 'Cloud-CDN-Cookie';
const signedNames = ['URLPrefix', 'Expires', 'KeyName', 'Signature'];
const keyNamePattern = /^[A-Za-z0-9_-]{1,63}$/;
/** 20 bytes in padded base64url: 27 characters whose last carries 2 zero bits, then "=". */
const signaturePattern = /^[A-Za-z0-9_-]{26}[AEIMQUYcgkosw048]=$/;
const base64urlPadded = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;
const maxPrefixLength = 2048;

const m = (detail: string) => rejection(Verdict.malformed, detail);
const noToken = rejection(Verdict.missing, `no Signature query parameter and no ${cookieName} cookie`);
const badTail = m(
  'a signed URL ends with Expires=<t>&KeyName=<name>&Signature=<sig> (URLPrefix=<b64>& before them for a prefix), each once',
);
const badCookie = m(`${cookieName} must be URLPrefix=<b64>:Expires=<t>:KeyName=<name>:Signature=<sig>`);
const repeatedCookie = m(`the ${cookieName} cookie appears more than once`);
const badKeyName = m('KeyName must be 1 to 63 characters from [A-Za-z0-9_-]');
const badSignature = m('Signature must be 28 characters of base64url with padding (an HMAC-SHA1)');
const badPrefix = m('URLPrefix must be base64url with padding of an http(s) URL with a path after the host ("https://host/...")');
const unknownKey = rejection(Verdict.forged, 'KeyName names a key this route does not have (never configured, or removed)');
const outsidePrefix = rejection(Verdict.forged, 'the URL is outside the signed URLPrefix (a genuine signature for other URLs)');
const parseExpires = timeFieldParser('Expires');
/** Stops the walk over the query at a signed name (forEachQueryPair stops at what its visitor returns). */
const found = m('a signed parameter name');

/** The query split at its last "&": name and raw value of each trailing parameter, last first. */
function trailingParams(query: string, count: number): { params: [string, string][]; rest: string } {
  const params: [string, string][] = [];
  let end = query.length;
  let rest = query;
  for (let i = 0; i < count && end > 0; i++) {
    const start = query.lastIndexOf('&', end - 1) + 1;
    const pair = query.slice(start, end);
    const eq = pair.indexOf('=');
    params.push(eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)]);
    rest = start === 0 ? '' : query.slice(0, start - 1);
    end = start === 0 ? 0 : start - 1;
  }
  return { params, rest };
}

/**
 * A signed parameter name anywhere in `query`, raw or percent-encoded. Only names with "%" are
 * decoded (decoding each of 8,000 names cost ≈0.5 ms a request, issue 26).
 */
function mentionsSigned(query: string): boolean {
  const signed = (name: string) => signedNames.includes(name) || (name.includes('%') && signedNames.includes(safeDecode(name)));
  return forEachQueryPair(query, (name) => (signed(name) ? found : undefined)) !== undefined;
}

/** Strict base64url-with-padding decoding of the URL prefix; undefined when not canonical. */
function decodePrefix(text: string): string | undefined {
  if (text.length > maxPrefixLength || !base64urlPadded.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text.replace(/=+$/, '')) return undefined;
  const prefix = bytes.toString('latin1');
  // A path after the host: "https://cdn.example.com" alone would also be a prefix of
  // "https://cdn.example.com.evil.net/" or "...com:8443/" on a route that takes the host from a header.
  return /^https?:\/\/[^/]+\/[\x21-\x7e]*$/.test(prefix) ? prefix : undefined;
}

/** The token of checked grammar: `signed` is what the signature covers, `url` the request's URL that `prefix` must start. */
type TokenMaker = (
  signed: string,
  expiresText: string,
  keyName: string,
  signature: string,
  prefix: string | undefined,
  url: string,
) => GoogleToken | Rejection;

function tokenMaker(keys: readonly RouteKey[], { prefix: routePrefix, nested }: SchemeRoute): TokenMaker {
  const byName = new Map(keys.map((key) => [key.id, key]));
  return (signed, expiresText, keyName, signature, prefix, url) => {
    const expiresSec = parseExpires(expiresText);
    if (typeof expiresSec !== 'number') return expiresSec;
    if (!keyNamePattern.test(keyName)) return badKeyName;
    if (!signaturePattern.test(signature)) return badSignature;
    const key = byName.get(keyName);
    if (key === undefined) return unknownKey;
    return {
      signed,
      signature,
      key,
      expiresSec,
      notBeforeSec: 0,
      get bindingMismatch() {
        if (prefix === undefined) return undefined;
        if (!url.startsWith(prefix)) return outsidePrefix;
        return scopeFitsRoute(urlPath(prefix), routePrefix, nested) ? undefined : outerScope;
      },
    };
  };
}

/** A signed URL (`target` is the origin and path): undefined when the query does not end with a Signature. */
function signedUrl(query: string, target: string, make: TokenMaker): GoogleToken | Rejection | undefined {
  const { params, rest } = trailingParams(query, 4);
  if (params[0]?.[0] !== 'Signature') return undefined;
  const [[, signature], kn, ex, up] = params as [[string, string], [string, string]?, [string, string]?, [string, string]?];
  if (kn?.[0] !== 'KeyName' || ex?.[0] !== 'Expires') return badTail;
  const prefixed = up?.[0] === 'URLPrefix';
  const unsigned = prefixed ? rest : trailingParams(query, 3).rest;
  if (mentionsSigned(unsigned)) return badTail;
  const policy = `Expires=${ex[1]}&KeyName=${kn[1]}`;
  if (!prefixed) {
    const url = `${target}?${unsigned === '' ? '' : `${unsigned}&`}${policy}`;
    return make(url, ex[1], kn[1], signature, undefined, url);
  }
  const prefix = decodePrefix(up![1]);
  if (prefix === undefined) return badPrefix;
  const url = `${target}${unsigned === '' ? '' : `?${unsigned}`}`;
  return make(`URLPrefix=${up![1]}&${policy}`, ex[1], kn[1], signature, prefix, url);
}

/** The Cloud-CDN-Cookie of a `cookie` header, for the URL `target` and `query`. */
function signedCookie(
  header: string | undefined | null,
  target: string,
  query: string,
  make: TokenMaker,
): GoogleToken | Rejection {
  if (header === null) return repeatedCookie;
  const value = header === undefined ? undefined : cookieValue(header, cookieName);
  if (value === null) return repeatedCookie;
  if (value === undefined) return noToken;
  const match = /^URLPrefix=([A-Za-z0-9_=-]+):Expires=([0-9]+):KeyName=([^:]*):Signature=([^:]*)$/.exec(value);
  if (match === null) return badCookie;
  const prefix = decodePrefix(match[1]!);
  if (prefix === undefined) return badPrefix;
  const url = `${target}${query === '' ? '' : `?${query}`}`;
  return make(value.slice(0, value.lastIndexOf(':Signature=')), match[2]!, match[3]!, match[4]!, prefix, url);
}

const signOptions: readonly SignOption[] = ['scopeDepth'];

/** The route's signer: a signed URL, or with a scope a URLPrefix URL for the scope's directory; first key. */
function googleCdnSigner(key: RouteKey, routePrefix: string, baseUrl: string): (request: SignRequest) => SignedToken {
  const signature = (text: string) => `${createHmac('sha1', key.secret).update(text, 'latin1').digest('base64url')}=`;
  return (request) => {
    checkSignRequest(request, signOptions, 'google-cdn');
    const { path, expiresSec, scopeDepth } = request;
    const policy = `Expires=${formatUnixTime(expiresSec)}&KeyName=${key.id}`;
    if (scopeDepth === undefined) {
      return { carrier: 'query', query: `${policy}&Signature=${signature(`${baseUrl}${path}?${policy}`)}` };
    }
    const segments = path.split('/');
    if (scopeDepth < 1 || scopeDepth >= segments.length) {
      throw new SignRequestError('scopeDepth', 'the path has fewer segments than the scope depth');
    }
    const dir = `${segments.slice(0, scopeDepth + 1).join('/')}/`;
    if (!dir.startsWith(routePrefix))
      throw new SignRequestError('scopeDepth', `the scope ${dir} reaches outside the route ${routePrefix}`);
    const prefixed = `URLPrefix=${Buffer.from(`${baseUrl}${dir}`, 'latin1').toString('base64url')}`;
    const padded = prefixed + '='.repeat((4 - ((prefixed.length - 'URLPrefix='.length) % 4)) % 4);
    const signedPolicy = `${padded}&${policy}`;
    return { carrier: 'query', query: `${signedPolicy}&Signature=${signature(signedPolicy)}` };
  };
}

function create(route: SchemeRoute, options: GoogleCdnOptions): TokenScheme<GoogleToken> {
  const make = tokenMaker(route.keys, route);
  const originOf = requestOrigin(options);
  const macs = new Map(route.keys.map((key) => [key, hmacKey('sha1', key.secret)]));
  // URLs are ASCII (the URI rules), so UTF-8 and latin1 give the same bytes.
  const verify = (token: GoogleToken) => digestEquals(macs.get(token.key)!(token.signed), token.signature, 'base64url');
  return {
    linkBase: options.baseUrl,
    parse({ path, query, headers }) {
      const origin = originOf(headers);
      if (isRejection(origin)) return origin;
      const fromUrl = signedUrl(query, `${origin}${path}`, make);
      if (fromUrl !== undefined) return fromUrl;
      if (mentionsSigned(query)) return badTail;
      return options.cookies ? signedCookie(headers.get('cookie'), `${origin}${path}`, query, make) : noToken;
    },
    verify,
    cacheKey: (token) => `${token.key.id}\n${token.signed}\n${token.signature}`,
    signature: (token) => token.signature,
    identify: (token) => ({ keyId: verify(token) ? token.key.id : undefined, signature: token.signature }),
    sign: googleCdnSigner(route.keys[0]!, route.prefix, options.baseUrl),
  };
}

export const googleCdn = defineScheme<GoogleCdnOptions>({
  id: 'google-cdn',
  signOptions,
  summary:
    'Google Cloud CDN: ?Expires=&KeyName=&Signature= (HMAC-SHA1 of the full URL), URLPrefix= signed URLs, Cloud-CDN-Cookie',
  clientIp: 'unused',
  keyEncodings: ['base64'],
  uwsHint: '"cookies": false and no hostHeader',
  keyProblem(secret) {
    return secret.length === 16 ? undefined : 'Cloud CDN keys are 16 bytes (128 bits), written in base64url';
  },
  readOptions: (fields) => ({ ...readSignedOrigin(fields), cookies: fields.bool('cookies', true) }),
  tokenHeaders: (options) => cookieAndHostHeaders(options.cookies, options),
  create,
});

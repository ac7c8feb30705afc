import { createHash } from 'node:crypto';
import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { type ClientIp, canonicalIp } from '../../request/client-ip.js';
import type { TokenHeaders } from '../../request/token-headers.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import { outerScope, scopeFitsRoute } from '../../scheme-kit/nested-scope.js';
import type { ParsedToken, RouteKey, TokenInput } from '../../scheme-kit/scheme-definition.js';
import { timeFieldParser } from '../../scheme-kit/unix-time.js';
import { type BunnyKind, type BunnyOptions, bunnyKinds } from './bunny-options.js';
import { badEscape, bunnyParams, decodePath, signingData } from './bunny-params.js';

export interface BunnyToken extends ParsedToken {
  readonly kind: BunnyKind;
  /** Every message one of which the key must have signed (HS256 IPv4: exact, then /24). */
  readonly messages: readonly Buffer[];
  readonly digest: string;
}

/** What `create` computes once for a route, shared by parse, identify and sign. */
export interface BunnyRoute {
  readonly options: BunnyOptions;
  readonly keys: readonly RouteKey[];
  /** Per key: HMAC-SHA256 with it (HS256). */
  readonly macs: readonly ((message: Buffer) => string)[];
  /** Per key: its text (advanced and basic hash it before the message). */
  readonly texts: readonly string[];
  readonly prefix: string;
  readonly nested: boolean;
}

/** How a first path segment carrying the token starts: `/bcdn_token=<token>[&k=v…]&expires=<t>/dir/file`. */
export const pathMarker = 'bcdn_token=';

const m = (detail: string) => rejection(Verdict.malformed, detail);
const noToken = rejection(Verdict.missing, 'no token parameter in the query');
const noExpires = m('the token has no expires parameter');
const badToken = m('token must be HS256-[1-]<43 base64url>, 43 base64url characters (advanced) or 22 (basic)');
const refusedKind = Object.fromEntries(
  bunnyKinds.map((kind) => [kind, m(`this route does not accept ${kind} tokens`)]),
) as Record<BunnyKind, Rejection>;
const unboundToken = m('this route binds every token to the client IP (ipValidation): an HS256 token without "1-" is refused');
const noTokenParam = m('the token parameter is missing (expires is there)');
const badTokenPath = m(
  'token_path must be a plain path starting with "/" (no "//", dot-segments, "\\", "%", ";", "?", "#" or control bytes)',
);
/**
 * A token_path as it is compared with the decoded request path: one spelling of a path. In the
 * path form it travels in the first segment, which a proxy decodes and normalises (dot-segments,
 * merged slashes) before it strips it: a token_path that normalisation changes is refused.
 */
const plainTokenPath = (text: string) =>
  text.startsWith('/') &&
  !text.includes('//') &&
  !/(?:^|\/)\.\.?(?:\/|$)/.test(text) &&
  !/[\\%;?#\u0000-\u001f\u007f]/.test(text);
/**
 * The path form's segment ends with its `&expires=<digits>` (bunny's samples put it last), and
 * none of the token's own parameters comes from the query: a proxy that strips the segment cuts
 * the decoded path at the first "&expires=<digits>/", which must be this one, so the path it
 * serves is the path checked here.
 */
const pathFormEnd = /&expires=[0-9]+$/;
const badPathForm = m('the path token segment must end with its "&expires=<unix seconds>"');
const tokenNameInQuery =
  /&(?:token|expires|token_path|token_countries|token_countries_blocked|token_ignore_params|limit)(?:=|&|$)/;
const tokenInQuery = m(
  "a path token's parameters all travel in its segment: the query may not carry token, expires or token_path…",
);
const noClientIp = rejection(Verdict.badSource, 'the token is bound to a client IP but the request has no usable client IP');
const ipv6Resplit = m(
  "an advanced token's IPv6 address and the parameters after it could be split elsewhere (another address, other parameters): use HS256 tokens for IPv6 clients",
);
const outsidePath = rejection(Verdict.forged, 'the path is outside the token_path the token was signed for');
const noCountry = rejection(
  Verdict.forged,
  'the token restricts countries but the route has no countryHeader, or the request no country',
);
const wrongCountry = rejection(
  Verdict.forged,
  "the client's country is not allowed by the token (token_countries / token_countries_blocked)",
);
const parseExpires = timeFieldParser('expires');
const digestShape: Record<BunnyKind, RegExp> = {
  // Canonical base64url: the last character's unused low bits are zero.
  hs256: /^HS256-(1-)?([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/,
  advanced: /^()([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/,
  basic: /^()([A-Za-z0-9_-]{21}[AQgw])$/,
};

/**
 * Advanced tokens with IP validation hash the IP's text and then the sorted parameters with
 * nothing between them, so "2001:db8::a" + "bc=1" is also "2001:db8::ab" + "c=1" (issue 26). An
 * IPv6 client's text and parameters are refused when they could be split elsewhere, either way:
 * the first name starts with a hex digit (it could continue the address), or the address ends in
 * hex letters that could start a name, a shorter address before them. Canonical IPv4 text holds
 * dots and ends with a digit, which no name starts with: it cannot move.
 */
function resplits(ipText: string, data: string): boolean {
  if (data === '') return false;
  if (/^[0-9A-Fa-f:]/.test(data)) return true;
  for (let cut = ipText.lastIndexOf(':') + 1; cut < ipText.length; cut++) {
    const code = ipText.charCodeAt(cut);
    const shorter = ipText.slice(0, cut);
    if (code >= 0x61 && code <= 0x66 && canonicalIp(shorter) === shorter) return true;
  }
  return false;
}

/** HS256's IP bytes: IPv4 as 4 bytes, IPv6 as 16 with the last 8 zeroed (its /64). */
export function ipBytes(ip: ClientIp): Buffer {
  if (ip.v6 === undefined) return Buffer.from([ip.v4 >>> 24, (ip.v4 >>> 16) & 255, (ip.v4 >>> 8) & 255, ip.v4 & 255]);
  const bytes = Buffer.alloc(16);
  for (let group = 0; group < 4; group++) {
    bytes[2 * group] = ip.v6[group]! >>> 8;
    bytes[2 * group + 1] = ip.v6[group]! & 255;
  }
  return bytes;
}

/** The token and expires parameters: the token's generation, its IP marker and digest, and the time. */
function readToken(params: ReadonlyMap<string, string>, accept: readonly BunnyKind[]) {
  const token = params.get('token');
  const expiresText = params.get('expires');
  if (token === undefined || token === '') return expiresText === undefined ? noToken : noTokenParam;
  if (expiresText === undefined) return noExpires;
  const expiresSec = parseExpires(expiresText);
  if (typeof expiresSec !== 'number') return expiresSec;
  const kind = bunnyKinds.find((k) => digestShape[k].test(token));
  if (kind === undefined) return badToken;
  if (!accept.includes(kind)) return refusedKind[kind];
  const [, ipMarker = '', digest = ''] = digestShape[kind].exec(token)!;
  return { kind, ipMarker, digest, expiresText, expiresSec };
}

/** HS256's messages: the IP as bytes; an IPv4 token signed for the network address x.y.z.0 covers the /24. */
function hs256Messages(
  head: Buffer,
  params: ReadonlyMap<string, string>,
  tokenPath: string | undefined,
  bound: boolean,
  clientIp: ClientIp | undefined,
): Buffer[] | Rejection {
  const signed =
    params.get('token_ignore_params') === 'true'
      ? new Map([
          ['token_ignore_params', 'true'],
          ...(tokenPath === undefined ? [] : [['token_path', tokenPath] as [string, string]]),
        ])
      : params;
  const tail = Buffer.from(signingData(signed, false), 'utf8');
  if (!bound) return [Buffer.concat([head, tail])];
  if (clientIp === undefined) return noClientIp;
  const exact = ipBytes(clientIp);
  const messages = [Buffer.concat([head, exact, tail])];
  if (clientIp.v6 === undefined) messages.push(Buffer.concat([head, Buffer.from([exact[0]!, exact[1]!, exact[2]!, 0]), tail]));
  return messages;
}

/** Whether token_countries / token_countries_blocked let the client's country (from the route's header) in. */
function countryMismatch(
  params: ReadonlyMap<string, string>,
  headers: TokenHeaders,
  countryHeader: string | undefined,
): Rejection | undefined {
  const allowed = params.get('token_countries');
  const blocked = params.get('token_countries_blocked');
  if ((allowed ?? '') === '' && (blocked ?? '') === '') return undefined;
  const country = countryHeader === undefined ? undefined : headers.get(countryHeader);
  if (typeof country !== 'string' || !/^[A-Za-z]{2}$/.test(country)) return noCountry;
  const code = country.toUpperCase();
  const list = (text: string | undefined) => (text ?? '').split(',').map((entry) => entry.trim().toUpperCase());
  if ((allowed ?? '') !== '' && !list(allowed).includes(code)) return wrongCountry;
  if ((blocked ?? '') !== '' && list(blocked).includes(code)) return wrongCountry;
  return undefined;
}

export function parseBunnyToken(route: BunnyRoute, { path, query, clientIp, headers, pathToken }: TokenInput) {
  const { accept, ipValidation, countryHeader } = route.options;
  // The path form: /bcdn_token=<token>[&k=v…]&expires=<t>/dir/file, its parameters then the query's.
  if (pathToken !== undefined && !pathFormEnd.test(pathToken)) return badPathForm;
  if (pathToken !== undefined && tokenNameInQuery.test(`&${query}`)) return tokenInQuery;
  const fromPath = pathToken === undefined ? '' : `token=${pathToken.slice(pathMarker.length)}`;
  const params = bunnyParams(fromPath === '' ? query : query === '' ? fromPath : `${fromPath}&${query}`);
  if (isRejection(params)) return params;
  const token = readToken(params, accept);
  if (isRejection(token)) return token;
  const { kind, ipMarker, digest, expiresText, expiresSec } = token;
  const signedParams = new Map(params);
  signedParams.delete('token');
  signedParams.delete('expires');
  const tokenPath = signedParams.get('token_path');
  if (tokenPath !== undefined && !plainTokenPath(tokenPath)) return badTokenPath;
  const decodedPath = decodePath(path);
  if (decodedPath === undefined) return badEscape;
  // With IP validation the zone refuses tokens that bind no IP (and an IP-bound HS256 token
  // cannot then be passed off as an unbound one: its "1-" is not signed).
  if (kind === 'hs256' && ipValidation && ipMarker === '') return unboundToken;
  let messages: Buffer[] | Rejection;
  if (kind === 'hs256') {
    const head = Buffer.from(`${tokenPath ?? path}${expiresText}`, 'utf8');
    messages = hs256Messages(head, signedParams, tokenPath, ipMarker !== '', clientIp);
  } else {
    if (ipValidation && clientIp === undefined) return noClientIp;
    const ip = ipValidation ? clientIp!.text : '';
    if (kind === 'advanced') {
      const data = signingData(signedParams, true);
      if (ipValidation && clientIp!.v6 !== undefined && resplits(ip, data)) return ipv6Resplit;
      messages = [Buffer.from(`${tokenPath ?? decodedPath}${expiresText}${ip}${data}`, 'utf8')];
    } else messages = [Buffer.from(`${path}${expiresText}${ip}`, 'utf8')];
  }
  if (isRejection(messages)) return messages;
  const parsed: BunnyToken = {
    kind,
    messages,
    digest,
    expiresSec,
    notBeforeSec: 0,
    get bindingMismatch() {
      if (tokenPath !== undefined && !decodedPath.startsWith(tokenPath)) return outsidePath;
      if (tokenPath !== undefined && !scopeFitsRoute(tokenPath, route.prefix, route.nested)) return outerScope;
      return countryMismatch(signedParams, headers, countryHeader);
    },
  };
  return parsed;
}

/** The key that signed one of the token's messages, if any. */
export function identifyBunnyToken({ keys, macs, texts }: BunnyRoute, token: BunnyToken): string | undefined {
  const digestOf = (i: number, message: Buffer) =>
    token.kind === 'hs256'
      ? macs[i]!(message)
      : createHash(token.kind === 'advanced' ? 'sha256' : 'md5')
          .update(Buffer.concat([Buffer.from(texts[i]!, 'utf8'), message]))
          .digest('binary');
  for (let i = 0; i < keys.length; i++) {
    for (const message of token.messages) {
      if (digestEquals(digestOf(i, message), token.digest, 'base64url')) return keys[i]!.id;
    }
  }
  return undefined;
}

/**
 * tokengate's own format, HMAC-SHA256 with key ids (spec: docs/formats/hmac.md):
 *   v1~k=<kid>~e=<exp>[~n=<nbf>][~p=<depth>][~i=<ip or cidr>][~s=<session>]~m=<mac>
 * mac = base64url(first 16 bytes of HMAC-SHA256(key, signed string)), where the signed string
 * is seven "\n"-separated labelled lines (version, k, e, n, scope, i, s). No field's grammar
 * admits "\n", so no value can be re-split into another field. The token names its key: one
 * HMAC per request, and a removed key stops verifying at once.
 */

import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import { type ClientIp, clientIpProblem, parseIpRange } from '../request/client-ip.js';
import { prefixOf } from '../request/signed-path.js';
import { hmacSha256Key } from '../scheme-kit/hmac-sha256.js';
import {
  defineScheme,
  type ParsedToken,
  type RouteKey,
  type SchemeRoute,
  type TokenScheme,
} from '../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../scheme-kit/sign-request.js';
import { checkSignRequest } from '../scheme-kit/signable-path.js';
import { type Carrier, readTokenPlace, type TokenPlace, tokenHeadersOf, tokenReader } from '../scheme-kit/token-place.js';
import { formatUnixTime, timeFieldParser } from '../scheme-kit/unix-time.js';

const version = 'tokengate-hmac-v1';
export const hmacMinKeyBytes = 32;
const macBytes = 16;
const maxTokenLength = 256;
const kidPattern = /^[A-Za-z0-9_-]{1,32}$/;
const sidPattern = /^[A-Za-z0-9_-]{1,64}$/;
const macPattern = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const depthPattern = /^(0|[1-9][0-9]?)$/;
const maxDepth = 32;

interface HmacToken extends ParsedToken {
  readonly key: ReturnType<typeof hmacSha256Key>;
  readonly signed: string;
  readonly mac: string;
}

const defaultNames: Record<Carrier, string> = { query: 'tg', cookie: 'tg', header: 'x-tokengate' };

/** A route's options: where its tokens travel and under which name. */
export type HmacOptions = TokenPlace;

const m = (detail: string) => rejection(Verdict.malformed, detail);
const tooLong = m(`the token is longer than ${maxTokenLength} characters`);
const badVersion = m('the token must start with "v1~"');
const badLayout = m('the token fields must be k, e, then optional n, p, i, s in this order, then m, each once');
const badKid = m('k must be 1 to 32 characters from [A-Za-z0-9_-]');
const badDepth = m(`p must be a number of path segments from 0 to ${maxDepth}, without leading zeros`);
const badRange = m('i must be a canonical IP address or CIDR range (no host bits, RFC 5952 for IPv6)');
const badSid = m('s must be 1 to 64 characters from [A-Za-z0-9_-]');
const badMac = m('m must be 22 characters of unpadded base64url (128 bits)');
const startAfterEnd = m('n is after e');
const shallowPath = m('p names more segments than the path has');
const outsideRoute = rejection(
  Verdict.forged,
  "the token's scope (p=) reaches outside this route's prefix: it was signed for another route, or too wide",
);
const unknownKid = rejection(Verdict.forged, 'the token names a key id this route does not have (never configured, or removed)');
const noClientIp = rejection(Verdict.badSource, 'the token is bound to a client IP but the request has no usable client IP');
const outsideRange = rejection(Verdict.wrongIp, 'the client IP is outside the address or range the token is bound to');
const parseExpires = timeFieldParser('e');
const parseNotBefore = timeFieldParser('n');
const tags = ['k', 'e', 'n', 'p', 'i', 's'] as const;

/** The exact string the MAC covers. */
export function hmacSignedString(f: { kid: string; exp: string; nbf: string; scope: string; ip: string; sid: string }): string {
  return `${version}\nk=${f.kid}\ne=${f.exp}\nn=${f.nbf}\nscope=${f.scope}\ni=${f.ip}\ns=${f.sid}`;
}

/** What `create` precomputes for a route, shared by its parse and sign. */
interface HmacRoute {
  readonly byId: ReadonlyMap<string, ReturnType<typeof hmacSha256Key>>;
  readonly routePrefix: string;
}

/** A token's fields as written: k and e always, n, p, i and s when present, and the MAC. */
interface TokenFields {
  readonly kid: string;
  readonly exp: string;
  readonly nbf: string | undefined;
  readonly depthText: string | undefined;
  readonly rangeText: string | undefined;
  readonly sid: string | undefined;
  readonly mac: string;
}

/** Splits `v1~k=..~m=..` into its fields: k, e, then optional n, p, i, s in this order, each once, then m. */
function splitToken(token: string): TokenFields | Rejection {
  if (token.length > maxTokenLength) return tooLong;
  const fields = token.split('~');
  if (fields[0] !== 'v1') return badVersion;
  const values: (string | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined];
  let next = 0;
  for (let f = 1; f < fields.length - 1; f++) {
    const field = fields[f]!;
    const tag = tags.indexOf(field.slice(0, 1) as (typeof tags)[number]);
    if (tag < next || field.charCodeAt(1) !== 0x3d) return badLayout;
    values[tag] = field.slice(2);
    next = tag + 1;
  }
  const last = fields.at(-1)!;
  const [kid, exp, nbf, depthText, rangeText, sid] = values;
  if (fields.length < 4 || !last.startsWith('m=') || kid === undefined || exp === undefined) return badLayout;
  return { kid, exp, nbf, depthText, rangeText, sid, mac: last.slice(2) };
}

/** The signed scope: the exact path, or the prefix of its first `depthText` segments inside the route. */
function parseScope(path: string, depthText: string | undefined, routePrefix: string): string | Rejection {
  if (depthText === undefined) return `exact:${path}`;
  if (!depthPattern.test(depthText) || Number(depthText) > maxDepth) return badDepth;
  const prefix = prefixOf(path, Number(depthText));
  if (prefix === undefined) return shallowPath;
  // The scope must lie inside the route that matched: a wider scope would also cover other
  // routes (or a nested one) that share this key.
  if (!prefix.startsWith(routePrefix)) return outsideRoute;
  return `prefix:${prefix}`;
}

function parseToken({ byId, routePrefix }: HmacRoute, token: string, path: string, clientIp: ClientIp | undefined) {
  const split = splitToken(token);
  if (isRejection(split)) return split;
  const { kid, exp, nbf, depthText, rangeText, sid, mac } = split;
  if (!kidPattern.test(kid)) return badKid;
  if (!macPattern.test(mac)) return badMac;
  const expiresSec = parseExpires(exp);
  if (typeof expiresSec !== 'number') return expiresSec;
  let notBeforeSec = 0;
  if (nbf !== undefined) {
    const parsed = parseNotBefore(nbf);
    if (typeof parsed !== 'number') return parsed;
    if (parsed > expiresSec) return startAfterEnd;
    notBeforeSec = parsed;
  }
  const scope = parseScope(path, depthText, routePrefix);
  if (isRejection(scope)) return scope;
  let bindingMismatch: Rejection | undefined;
  if (rangeText !== undefined) {
    const range = parseIpRange(rangeText);
    if (range === undefined) return badRange;
    if (clientIp === undefined) return noClientIp;
    if (!range.contains(clientIp)) bindingMismatch = outsideRange;
  }
  if (sid !== undefined && !sidPattern.test(sid)) return badSid;
  const key = byId.get(kid);
  if (key === undefined) return unknownKid;
  const signed = hmacSignedString({ kid, exp, nbf: nbf ?? '', scope, ip: rangeText ?? '', sid: sid ?? '' });
  const parsed: HmacToken = { key, signed, mac, expiresSec, notBeforeSec, ...(bindingMismatch ? { bindingMismatch } : {}) };
  return parsed;
}

/** The scope a signer asks for, refused when the service would refuse the token. */
function signScope(path: string, scopeDepth: number | undefined, routePrefix: string): string {
  if (scopeDepth === undefined) return `exact:${path}`;
  const prefix =
    Number.isInteger(scopeDepth) && scopeDepth >= 0 && scopeDepth <= maxDepth ? prefixOf(path, scopeDepth) : undefined;
  if (prefix === undefined) throw new SignRequestError('scopeDepth', `scope depth ${scopeDepth} does not fit the path ${path}`);
  if (!prefix.startsWith(routePrefix)) {
    throw new SignRequestError(
      'scopeDepth',
      `scope depth ${scopeDepth} covers ${prefix}, outside the route ${routePrefix}: the service would refuse the token`,
    );
  }
  return `prefix:${prefix}`;
}

function signer({ byId, routePrefix }: HmacRoute, signing: RouteKey, { carrier, name }: TokenPlace): TokenScheme['sign'] {
  return (request) => {
    checkSignRequest(request, signOptions, 'hmac');
    const { path, expiresSec, notBeforeSec, clientIp, scopeDepth, sessionId } = request;
    const exp = formatUnixTime(expiresSec);
    const nbf = notBeforeSec === undefined ? '' : formatUnixTime(notBeforeSec);
    if (nbf > exp) throw new SignRequestError('notBeforeSec', 'the start is after the end');
    const scope = signScope(path, scopeDepth, routePrefix);
    if (clientIp !== undefined && parseIpRange(clientIp) === undefined) {
      const [address = '', bits] = clientIp.split('/');
      const problem = clientIpProblem(address);
      throw new SignRequestError(
        'clientIp',
        problem !== undefined
          ? `${problem}${bits === undefined ? '' : ` (in the range ${JSON.stringify(clientIp)})`}`
          : `client IP range ${JSON.stringify(clientIp)} is not written canonically (a prefix length from 0 to the address's bits, no host bits)`,
      );
    }
    if (sessionId !== undefined && !sidPattern.test(sessionId))
      throw new SignRequestError('sessionId', 'the session id must be 1 to 64 characters from [A-Za-z0-9_-]');
    const signed = hmacSignedString({ kid: signing.id, exp, nbf, scope, ip: clientIp ?? '', sid: sessionId ?? '' });
    const mac = byId.get(signing.id)!.sign(signed, macBytes).toString('base64url');
    const value = [
      'v1',
      `k=${signing.id}`,
      `e=${exp}`,
      ...(nbf === '' ? [] : [`n=${nbf}`]),
      ...(scopeDepth === undefined ? [] : [`p=${scopeDepth}`]),
      ...(clientIp === undefined ? [] : [`i=${clientIp}`]),
      ...(sessionId === undefined ? [] : [`s=${sessionId}`]),
      `m=${mac}`,
    ].join('~');
    return carrier === 'query' ? { carrier, query: `${name}=${value}` } : { carrier, name, value };
  };
}

function create({ keys, prefix }: SchemeRoute, options: HmacOptions): TokenScheme<HmacToken> {
  const route: HmacRoute = { byId: new Map(keys.map((key) => [key.id, hmacSha256Key(key.secret)])), routePrefix: prefix };
  const read = tokenReader(options);
  return {
    parse({ path, query, clientIp, headers }) {
      const token = read(query, headers);
      return typeof token === 'string' ? parseToken(route, token, path, clientIp) : token;
    },
    verify(token) {
      return token.key.verify16(token.signed, token.mac);
    },
    signature: (token) => token.mac,
    // The signed string's last line is "s=<session id>" (empty when the token carries none).
    session: (token) => token.signed.slice(token.signed.lastIndexOf('\n') + 3) || undefined,
    // Verified: the key the token names (second line "k=<id>") is the one that verified it.
    keyId: (token) => {
      const start = token.signed.indexOf('\n') + 3;
      return token.signed.slice(start, token.signed.indexOf('\n', start));
    },
    identify(token) {
      // The token names its key: the second line of the signed string is "k=<id>".
      const keyId = token.key.verify16(token.signed, token.mac) ? token.signed.split('\n')[1]!.slice(2) : undefined;
      return { keyId, signature: token.mac };
    },
    cacheKey(token) {
      return `${token.signed}\n${token.mac}`;
    },
    sign: signer(route, keys[0]!, options),
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'sessionId'];

export const hmac = defineScheme<HmacOptions>({
  id: 'hmac',
  signOptions,
  summary: 'tokengate HMAC-SHA256: ?tg=v1~k=<key id>~e=<exp>[~n=][~p=][~i=][~s=]~m=<128-bit MAC>',
  clientIp: 'optional',
  keyEncodings: ['hex', 'base64'],
  tokenHeaders: tokenHeadersOf,
  keyProblem(secret) {
    return secret.length < hmacMinKeyBytes
      ? `hmac keys must be at least ${hmacMinKeyBytes} bytes (256 bits) after decoding`
      : undefined;
  },
  readOptions: (fields) => readTokenPlace(fields, defaultNames),
  create,
});

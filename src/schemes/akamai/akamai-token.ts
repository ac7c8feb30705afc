import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { type ClientIp, parseClientIp } from '../../request/client-ip.js';
import { fixedPrefix, outerScope, scopeFitsRoute } from '../../scheme-kit/nested-scope.js';
import type { ParsedToken, TokenInput } from '../../scheme-kit/scheme-definition.js';
import { timeFieldParser } from '../../scheme-kit/unix-time.js';
import { type EscapeEarly, unescapeValue } from './akamai-escape.js';
import type { AkamaiAlgorithm, AkamaiOptions } from './akamai-options.js';

export interface AkamaiToken extends ParsedToken {
  /** What the MAC covers: the received text before "~hmac=" [+ "~url=..."] [+ "~salt=..."]. */
  readonly signed: string;
  readonly mac: string;
}

/** What `create` computes once for a route, shared by parse and sign. */
export interface AkamaiRoute {
  readonly options: AkamaiOptions;
  readonly prefix: string;
  readonly nested: boolean;
  /** `~salt=<salt>` (with the route's field delimiter), or "" without a salt. */
  readonly saltSuffix: string;
  readonly escapeText: (text: string) => string;
}

const hexLength: Record<AkamaiAlgorithm, number> = { sha256: 64, sha1: 40, md5: 32 };
const maxTokenLength = 4096;
const maxAcls = 64;
const fieldNames = ['ip', 'st', 'exp', 'acl', 'id', 'data'] as const;
type FieldName = (typeof fieldNames)[number];
type FieldValues = Partial<Record<FieldName, string>>;
const isFieldName = (name: string): name is FieldName => (fieldNames as readonly string[]).includes(name);
const m = (detail: string) => rejection(Verdict.malformed, detail);
const tooLong = m(`the token is longer than ${maxTokenLength} characters`);
const noMac = m('the token must end with the field hmac=<lowercase hex>');
const noExp = m('the token has no exp field');
const emptyField = m('a token field is empty or has no "="');
const badChar = m('a token field contains a space, a control character or a byte outside ASCII');
const startAfterEnd = m('st is after exp');
const badIp = m('ip is not an IPv4 or IPv6 address');
const tooManyAcls = m(`acl lists more than ${maxAcls} entries`);
const unknownField = m('a token field other than ip, st, exp, acl, id, data and hmac');
const repeatedField = Object.fromEntries(fieldNames.map((name) => [name, m(`${name} appears more than once`)])) as Record<
  FieldName,
  Rejection
>;
const parseStart = timeFieldParser('st');
const parseEnd = timeFieldParser('exp');
const noClientIp = rejection(Verdict.badSource, 'the token is bound to a client IP but the request has no usable client IP');
const otherIp = rejection(Verdict.wrongIp, 'the client IP is not the ip the token is bound to');
const outsideAcl = rejection(Verdict.forged, "the token's acl does not cover this path (a genuine token for other paths)");

/**
 * `*` matches any run of characters (slashes included), `?` exactly one; everything else itself.
 * Only signed ACLs reach it (after the MAC), bounded by the token's length: the classic
 * single-backtrack matcher is O(path × acl) at worst, never exponential.
 */
export function aclMatches(acl: string, path: string): boolean {
  let a = 0;
  let p = 0;
  let star = -1;
  let resume = 0;
  while (p < path.length) {
    const c = acl.charCodeAt(a);
    if (a < acl.length && (c === 0x3f || c === path.charCodeAt(p))) {
      a++;
      p++;
    } else if (a < acl.length && c === 0x2a) {
      star = a++;
      resume = p;
    } else if (star >= 0) {
      a = star + 1;
      p = ++resume;
    } else {
      return false;
    }
  }
  while (a < acl.length && acl.charCodeAt(a) === 0x2a) a++;
  return a === acl.length;
}

/** One pass over the fields: each "name=value" once, a known name, a non-empty printable value. */
function readFields(body: string, d: string): FieldValues | Rejection {
  const values: FieldValues = {};
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(d, start);
    if (end < 0) end = body.length;
    const eq = body.indexOf('=', start);
    if (eq < 0 || eq >= end - 1) return emptyField;
    const name = body.slice(start, eq);
    // Never the client's text in a reason: reasons reach the decision log.
    if (!isFieldName(name)) return unknownField;
    if (values[name] !== undefined) return repeatedField[name];
    const value = body.slice(eq + 1, end);
    if (!/^[\x21-\x7e]+$/.test(value)) return badChar;
    values[name] = value;
    start = end + 1;
  }
  return values;
}

function readTimes(values: FieldValues): { expiresSec: number; notBeforeSec: number } | Rejection {
  if (values.exp === undefined) return noExp;
  const expiresSec = parseEnd(values.exp);
  if (typeof expiresSec !== 'number') return expiresSec;
  if (values.st === undefined) return { expiresSec, notBeforeSec: 0 };
  const notBeforeSec = parseStart(values.st);
  if (typeof notBeforeSec !== 'number') return notBeforeSec;
  return notBeforeSec > expiresSec ? startAfterEnd : { expiresSec, notBeforeSec };
}

/** The token's ip field against the client's: malformed refuses now, a mismatch waits for the MAC. */
function readIp(ip: string | undefined, escapeEarly: EscapeEarly, clientIp: ClientIp | undefined) {
  if (ip === undefined) return { mismatch: undefined };
  const ipText = unescapeValue(ip, escapeEarly);
  const bound = ipText === undefined ? undefined : parseClientIp(ipText);
  if (bound === undefined) return badIp;
  if (clientIp === undefined) return noClientIp;
  return { mismatch: bound.text === clientIp.text ? undefined : otherIp };
}

/** Whether a signed ACL list lets this route serve the path (rule 9: a nested route only its own scopes). */
function aclMismatch(acls: readonly string[], path: string, { prefix, nested }: AkamaiRoute): Rejection | undefined {
  let covered = false;
  for (const acl of acls) {
    if (!aclMatches(acl, path)) continue;
    if (scopeFitsRoute(fixedPrefix(acl, '*?'), prefix, nested)) return undefined;
    covered = true;
  }
  return covered ? outerScope : outsideAcl;
}

/** Parses a token's text (read from where the route carries it) into what its MAC must cover. */
export function akamaiParser(route: AkamaiRoute): (text: string, input: TokenInput) => AkamaiToken | Rejection {
  const { fieldDelimiter: d, aclDelimiter, ignoreQueryString, escapeEarly, algorithm } = route.options;
  const macPattern = new RegExp(`^[0-9a-f]{${hexLength[algorithm]}}$`);
  return (text, { path, query, clientIp }) => {
    if (text.length > maxTokenLength) return tooLong;
    const last = text.lastIndexOf(d);
    if (last < 0 || !text.startsWith('hmac=', last + 1)) return noMac;
    const mac = text.slice(last + 6);
    if (!macPattern.test(mac)) return noMac;
    const body = text.slice(0, last);
    const values = readFields(body, d);
    if (isRejection(values)) return values;
    const times = readTimes(values);
    if (isRejection(times)) return times;
    const ip = readIp(values.ip, escapeEarly, clientIp);
    if (isRejection(ip)) return ip;
    const acls = values.acl?.split(aclDelimiter);
    if (acls !== undefined && acls.length > maxAcls) return tooManyAcls;
    const url =
      acls === undefined ? `${d}url=${route.escapeText(ignoreQueryString || query === '' ? path : `${path}?${query}`)}` : '';
    return {
      signed: body + url + route.saltSuffix,
      mac,
      ...times,
      // Read by the core only once the MAC is genuine: a forged ACL is never matched.
      get bindingMismatch() {
        return ip.mismatch ?? (acls === undefined ? undefined : aclMismatch(acls, path, route));
      },
    };
  };
}

/**
 * Akamai EdgeAuth token 2.0 ("Auth Token 2.0", docs/akamai.md), as the official generators make it:
 *   [ip=<ip>~][st=<start>~]exp=<end>~[acl=<acl>[!<acl>...]~][id=<id>~][data=<data>~]hmac=<hex>
 * hmac = HMAC-<sha256|sha1|md5>(hex key, the token text before "~hmac=" exactly as received
 * [+ "~url=" + the URL, for URL tokens, which carry no acl] [+ "~salt=" + salt]), in lowercase
 * hex. The MAC covers the received text itself, never a re-serialisation: field order and
 * spelling are whatever the signer wrote. ACL tokens cover the paths their ACLs match (`*` any
 * run of characters, `/` included; `?` one character), checked only once the MAC is genuine.
 */

import { createHmac } from 'node:crypto';
import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { type ClientIp, canonicalIp, parseClientIp } from '../../request/client-ip.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import { hmacKey } from '../../scheme-kit/hmac-sha256.js';
import { fixedPrefix, outerScope, scopeFitsRoute } from '../../scheme-kit/nested-scope.js';
import {
  OptionProblems,
  type ParsedToken,
  type RouteKey,
  type SchemeDefinition,
  type TokenScheme,
} from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { type Carrier, readTokenPlace, type TokenPlace, tokenHeadersOf, tokenReader } from '../../scheme-kit/token-place.js';
import { formatUnixTime, timeFieldParser } from '../../scheme-kit/unix-time.js';
import { type EscapeEarly, escaper, unescapeValue } from './akamai-escape.js';

export type AkamaiAlgorithm = 'sha256' | 'sha1' | 'md5';
const hexLength: Record<AkamaiAlgorithm, number> = { sha256: 64, sha1: 40, md5: 32 };

/** A secret option before compileGate loads it, and after. */
export type SecretOption = { readonly file: string } | { readonly env: string } | string;

export interface AkamaiOptions extends TokenPlace {
  readonly algorithm: AkamaiAlgorithm;
  readonly escapeEarly: EscapeEarly;
  /** URL tokens sign the path alone (true) or the path and the query as received (false). */
  readonly ignoreQueryString: boolean;
  readonly fieldDelimiter: string;
  readonly aclDelimiter: string;
  /** Appended to what the MAC covers, never sent; a secret, from a file or environment variable. */
  readonly salt: SecretOption | undefined;
}

interface AkamaiToken extends ParsedToken {
  readonly signed: string;
  readonly mac: string;
}

const maxTokenLength = 4096;
const maxAcls = 64;
const fieldNames = ['ip', 'st', 'exp', 'acl', 'id', 'data'] as const;
type FieldName = (typeof fieldNames)[number];
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

function create(
  keys: readonly RouteKey[],
  options: AkamaiOptions,
  routePrefix: string,
  nested = false,
): TokenScheme<AkamaiToken> {
  const { algorithm, fieldDelimiter: d, aclDelimiter, ignoreQueryString, escapeEarly } = options;
  if (typeof options.salt === 'object') throw new Error('akamai: the salt option was not loaded');
  const saltSuffix = options.salt === undefined ? '' : `${d}salt=${options.salt}`;
  const read = tokenReader(options);
  const escapeText = escaper(escapeEarly);
  const macPattern = new RegExp(`^[0-9a-f]{${hexLength[algorithm]}}$`);
  const secrets = keys.map((key) => key.secret);
  const macs = new Map(secrets.map((secret) => [secret, hmacKey(algorithm, secret)]));
  const mac = (key: Buffer, text: string) => macs.get(key)!(text);

  return {
    parse({ path, query, clientIp, headers }) {
      const text = read(query, headers);
      if (isRejection(text)) return text;
      if (text.length > maxTokenLength) return tooLong;
      const last = text.lastIndexOf(d);
      if (last < 0 || !text.startsWith('hmac=', last + 1)) return noMac;
      const digest = text.slice(last + 6);
      if (!macPattern.test(digest)) return noMac;
      const body = text.slice(0, last);
      const values: Partial<Record<FieldName, string>> = {};
      let start = 0;
      // One pass over the fields: each "name=value" once, a known name, a non-empty printable value.
      while (start <= body.length) {
        let end = body.indexOf(d, start);
        if (end < 0) end = body.length;
        const eq = body.indexOf('=', start);
        if (eq < 0 || eq >= end - 1) return emptyField;
        const name = body.slice(start, eq);
        // Never the client's text in a reason: reasons reach the decision log.
        if (!(fieldNames as readonly string[]).includes(name)) return unknownField;
        if (values[name as FieldName] !== undefined) return repeatedField[name as FieldName];
        const value = body.slice(eq + 1, end);
        if (!/^[\x21-\x7e]+$/.test(value)) return badChar;
        values[name as FieldName] = value;
        start = end + 1;
      }
      if (values.exp === undefined) return noExp;
      const expiresSec = parseEnd(values.exp);
      if (typeof expiresSec !== 'number') return expiresSec;
      let notBeforeSec = 0;
      if (values.st !== undefined) {
        const parsed = parseStart(values.st);
        if (typeof parsed !== 'number') return parsed;
        if (parsed > expiresSec) return startAfterEnd;
        notBeforeSec = parsed;
      }
      let ipMismatch: Rejection | undefined;
      if (values.ip !== undefined) {
        const ipText = unescapeValue(values.ip, escapeEarly);
        const bound = ipText === undefined ? undefined : parseClientIp(ipText);
        if (bound === undefined) return badIp;
        if (clientIp === undefined) return noClientIp;
        if (!sameIp(bound, clientIp)) ipMismatch = otherIp;
      }
      const acls = values.acl?.split(aclDelimiter);
      if (acls !== undefined && acls.length > maxAcls) return tooManyAcls;
      let signed = body;
      if (acls === undefined) {
        signed += `${d}url=${escapeText(ignoreQueryString || query === '' ? path : `${path}?${query}`)}`;
      }
      signed += saltSuffix;
      return {
        signed,
        mac: digest,
        expiresSec,
        notBeforeSec,
        // Read by the core only once the MAC is genuine: a forged ACL is never matched.
        get bindingMismatch() {
          if (ipMismatch !== undefined) return ipMismatch;
          if (acls === undefined) return undefined;
          let covered = false;
          for (const acl of acls) {
            if (!aclMatches(acl, path)) continue;
            if (scopeFitsRoute(fixedPrefix(acl, '*?'), routePrefix, nested)) return undefined;
            covered = true;
          }
          return covered ? outerScope : outsideAcl;
        },
      };
    },
    verify(token) {
      for (const secret of secrets) if (digestEquals(mac(secret, token.signed), token.mac, 'hex')) return true;
      return false;
    },
    cacheKey(token) {
      return `${token.signed}\n${token.mac}`;
    },
    identify(token) {
      const i = secrets.findIndex((secret) => digestEquals(mac(secret, token.signed), token.mac, 'hex'));
      return { keyId: keys[i]?.id, signature: token.mac };
    },
    sign(request) {
      checkSignRequest(request, signOptions, 'akamai');
      const { path, expiresSec, notBeforeSec, clientIp, scopeDepth, sessionId } = request;
      const fields: string[] = [];
      if (clientIp !== undefined) {
        if (canonicalIp(clientIp) !== clientIp) {
          throw new SignRequestError('clientIp', 'akamai tokens bind one IP address, written canonically (no range)');
        }
        fields.push(`ip=${escapeText(clientIp)}`);
      }
      if (notBeforeSec !== undefined) fields.push(`st=${formatUnixTime(notBeforeSec)}`);
      fields.push(`exp=${formatUnixTime(expiresSec)}`);
      let acl: string | undefined;
      if (scopeDepth !== undefined) {
        const segments = path.split('/');
        if (scopeDepth < 1 || scopeDepth >= segments.length) {
          throw new SignRequestError('scopeDepth', 'the path has fewer segments than the scope depth');
        }
        acl = `${segments.slice(0, scopeDepth + 1).join('/')}/*`;
        if (!acl.startsWith(routePrefix)) {
          throw new SignRequestError('scopeDepth', `the scope ${acl} reaches outside the route ${routePrefix}`);
        }
        fields.push(`acl=${acl}`);
      }
      if (sessionId !== undefined) fields.push(`id=${escapeText(sessionId)}`);
      const hashed = [...fields, ...(acl === undefined ? [`url=${escapeText(path)}`] : [])].join(d) + saltSuffix;
      const token = [...fields, `hmac=${createHmac(algorithm, secrets[0]!).update(hashed, 'utf8').digest('hex')}`].join(d);
      return options.carrier === 'query'
        ? { carrier: 'query', query: `${options.name}=${token}` }
        : { carrier: options.carrier, name: options.name, value: token };
    },
  };
}

function sameIp(a: ClientIp, b: ClientIp): boolean {
  return a.text === b.text;
}

const defaultNames: Record<Carrier, string> = { query: '__token__', cookie: '__token__', header: 'akamai-token' };
const known = ['carrier', 'name', 'algorithm', 'escapeEarly', 'ignoreQueryString', 'fieldDelimiter', 'aclDelimiter', 'salt'];

function readOptions(raw: Readonly<Record<string, unknown>>, path: string): AkamaiOptions | OptionProblems {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) problems.push(`${path}.${key}: unknown option (known: ${known.join(', ')})`);
  }
  const place = readTokenPlace(raw, path, defaultNames, problems);
  const carrier = place.carrier;
  const algorithm = raw.algorithm ?? 'sha256';
  if (algorithm !== 'sha256' && algorithm !== 'sha1' && algorithm !== 'md5')
    problems.push(`${path}.algorithm: must be "sha256", "sha1" or "md5"`);
  const escapeEarly = raw.escapeEarly ?? 'off';
  if (escapeEarly !== 'off' && escapeEarly !== 'node' && escapeEarly !== 'python')
    problems.push(`${path}.escapeEarly: must be "off", "node" (the Node SDK) or "python" (the Python SDK)`);
  const ignoreQueryString = raw.ignoreQueryString ?? carrier === 'query';
  if (typeof ignoreQueryString !== 'boolean') problems.push(`${path}.ignoreQueryString: must be true or false`);
  else if (!ignoreQueryString && carrier === 'query')
    problems.push(
      `${path}.ignoreQueryString: must be true when the token travels in the query (a URL cannot sign its own token)`,
    );
  const delimiter = (key: 'fieldDelimiter' | 'aclDelimiter', fallback: string, refused: RegExp) => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'string' || value.length !== 1 || !/^[\x21-\x7e]$/.test(value) || refused.test(value)) {
      problems.push(
        `${path}.${key}: must be one printable character other than letters, digits and ${refused.source.slice(1, -1)}`,
      );
      return fallback;
    }
    return value;
  };
  const fieldDelimiter = delimiter('fieldDelimiter', '~', /[A-Za-z0-9=&/\\:%;,?#*]/);
  const aclDelimiter = delimiter('aclDelimiter', '!', /[A-Za-z0-9=&/\\:%;,?#*]/);
  if (fieldDelimiter === aclDelimiter) problems.push(`${path}.aclDelimiter: must differ from fieldDelimiter`);
  let salt: SecretOption | undefined;
  if (raw.salt !== undefined) {
    const source = raw.salt as Record<string, unknown>;
    const keys = typeof source === 'object' && source !== null ? Object.keys(source) : [];
    if (keys.length !== 1 || (keys[0] !== 'file' && keys[0] !== 'env') || typeof source[keys[0]] !== 'string') {
      problems.push(`${path}.salt: must be { "file": PATH } or { "env": NAME } (a secret, never inline)`);
    } else {
      salt = keys[0] === 'file' ? { file: source.file as string } : { env: source.env as string };
    }
  }
  if (problems.length > 0) return new OptionProblems(problems);
  return {
    ...place,
    algorithm: algorithm as AkamaiAlgorithm,
    escapeEarly: escapeEarly as EscapeEarly,
    ignoreQueryString: ignoreQueryString as boolean,
    fieldDelimiter,
    aclDelimiter,
    salt,
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'sessionId'];

export const akamai: SchemeDefinition<AkamaiOptions> = {
  id: 'akamai',
  signOptions,
  summary: 'Akamai EdgeAuth 2.0: ?__token__=[ip=~][st=~]exp=~[acl=~][id=~][data=~]hmac=<hex HMAC of the fields [+ ~url=path]>',
  clientIp: 'optional',
  keyEncodings: ['hex'],
  tokenHeaders: tokenHeadersOf,
  keyProblem(secret) {
    return secret.length === 0 ? 'the key is empty' : undefined;
  },
  readOptions,
  secretOptions: (options) =>
    options.salt === undefined || typeof options.salt === 'string' ? [] : [['salt', options.salt] as const],
  create,
};

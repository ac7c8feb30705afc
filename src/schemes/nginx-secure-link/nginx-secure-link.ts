/**
 * nginx `secure_link` with `secure_link_md5` (docs/nginx-secure-link.md): the route holds the
 * two directives' values, with `$secret` where the nginx config had its secret text:
 *   secureLink: "$arg_md5,$arg_expires"          (where the hash and the end time travel)
 *   md5:        "$secure_link_expires$uri$remote_addr $secret"
 * The token is base64url(md5(expression)) with or without "==", valid while now <= expires, as
 * ngx_http_secure_link_module computes it: `$uri` is nginx's normalised path (nginx-uri.ts; the
 * core hands this format that path and chooses its route on it), `$remote_addr` nginx's text of
 * the client address, `$arg_…` the raw value of the first parameter of that name in any case,
 * `$http_…` and `$cookie_…` the request's header and cookie. A secureLink with an end time whose
 * end time is missing is a denial, as in nginx; without an end time, tokens never expire.
 * Stricter than nginx, each a denial: a hash that is not the one canonical spelling, an end time
 * that is not ten digits (nginx's leading zeros let "$uri$secure_link_expires" be re-split), a
 * parameter, header or cookie the expression reads given twice.
 */
import { hash } from 'node:crypto';
import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import type { ClientIp } from '../../request/client-ip.js';
import { canonicalIp, parseClientIp } from '../../request/client-ip.js';
import { nginxTarget } from '../../request/nginx-uri.js';
import type { TokenHeaders } from '../../request/token-headers.js';
import { forEachQueryPair, safeDecode } from '../../request/token-params.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import {
  OptionProblems,
  type ParsedToken,
  type RouteKey,
  type SchemeDefinition,
  type TokenScheme,
} from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { textSecretProblem } from '../../scheme-kit/text-secret.js';
import { formatUnixTime, timeFieldParser } from '../../scheme-kit/unix-time.js';

/** Where a value of the request comes from: a query parameter, a request header or a cookie (names lowercase). */
export interface ValueSource {
  readonly from: 'arg' | 'http' | 'cookie';
  readonly name: string;
}

/** One piece of an expression: literal text, or a variable. */
export type ExpressionItem =
  | { readonly literal: string }
  | { readonly variable: 'secure_link_expires' | 'uri' | 'remote_addr' | 'secret' }
  | { readonly variable: 'value'; readonly source: ValueSource };

export interface NginxSecureLinkOptions {
  /** `secure_link`: where the hash travels, and the end time if the tokens have one. */
  readonly hash: ValueSource;
  readonly expires: ValueSource | undefined;
  /** `secure_link_md5`, parsed. */
  readonly md5: readonly ExpressionItem[];
}

interface SecureLinkToken extends ParsedToken {
  /** The expression's value cut at each `$secret`, as bytes (one character per byte). */
  readonly parts: readonly string[];
  /** Every part is ASCII: the string can be hashed as it is. */
  readonly ascii: boolean;
  /** The hash without padding (22 characters) and as the token carried it. */
  readonly md5: string;
  readonly signature: string;
}

const maxExpression = 1024;
const neverExpires = Number.MAX_SAFE_INTEGER;
const m = (detail: string) => rejection(Verdict.malformed, detail);
/** 16 bytes in base64url: 22 characters whose last carries 4 zero bits; "==" may follow. */
const md5Pattern = /^[A-Za-z0-9_-]{21}[AQgw](?:==)?$/;
const badMd5 = m('the hash must be 22 characters of base64url (an MD5 digest), optionally followed by "=="');
const noClientIp = rejection(Verdict.badSource, 'the expression signs $remote_addr but the request has no usable client IP');
const nameChar = /[A-Za-z0-9_]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
const nonAscii = /[^\x00-\x7f]/;

function describe(source: ValueSource): string {
  return `$${source.from}_${source.from === 'http' ? source.name.replaceAll('-', '_') : source.name}`;
}

/**
 * Parses an nginx complex value: literal text and `$name` or `${name}` variables, names of
 * letters, digits and "_". Returns the items, or why the text is not one tokengate can compute.
 */
export function parseExpression(text: string): ExpressionItem[] | string {
  const items: ExpressionItem[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char !== '$') {
      literal += char;
      i++;
      continue;
    }
    let name = '';
    if (text[i + 1] === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) return `"\${" at ${i} has no "}"`;
      name = text.slice(i + 2, close);
      if (!/^[A-Za-z0-9_]+$/.test(name)) return `"\${${name}}" is not a variable name`;
      i = close + 1;
    } else {
      let j = i + 1;
      while (j < text.length && nameChar.test(text[j]!)) j++;
      name = text.slice(i + 1, j);
      if (name === '') return `"$" at ${i} is not followed by a variable name (nginx refuses it too)`;
      i = j;
    }
    if (literal !== '') items.push({ literal });
    literal = '';
    const variable = readVariable(name.toLowerCase());
    if (typeof variable === 'string') return variable;
    items.push(variable);
  }
  if (literal !== '') items.push({ literal });
  return items;
}

function readVariable(name: string): ExpressionItem | string {
  if (name === 'uri' || name === 'document_uri') return { variable: 'uri' };
  if (name === 'secure_link_expires' || name === 'remote_addr' || name === 'secret') return { variable: name };
  for (const from of ['arg', 'http', 'cookie'] as const) {
    const prefix = `${from}_`;
    if (name.startsWith(prefix) && name.length > prefix.length && name.length <= prefix.length + 64) {
      const rest = name.slice(prefix.length);
      return { variable: 'value', source: { from, name: from === 'http' ? rest.replaceAll('_', '-') : rest } };
    }
  }
  return `$${name} is not a variable tokengate computes (it knows $secure_link_expires, $uri, $remote_addr, $arg_NAME, $http_NAME, $cookie_NAME, and $secret for the route's key)`;
}

/** nginx's text of a client address (ngx_sock_ntop, ngx_inet6_ntop): what `$remote_addr` signs. */
export function nginxAddressText(ip: ClientIp): string {
  const groups = ip.v6;
  if (groups === undefined) return ip.mapped === true ? `::ffff:${ip.text}` : ip.text;
  // The longest run of two or more zero groups (the first on a tie) is "::".
  let zero = -1;
  let max = 1;
  let run = 0;
  let start = -1;
  for (let i = 0; i < 8; i++) {
    if (groups[i] !== 0) {
      if (max < run) {
        zero = start;
        max = run;
      }
      run = 0;
      continue;
    }
    if (run++ === 0) start = i;
  }
  if (max < run) {
    zero = start;
    max = run;
  }
  let count = 8;
  let text = '';
  if (zero === 0) {
    // A leading run: nginx writes the last 32 bits as IPv4 for "::a.b.c.d" shapes.
    const last = groups[7]!;
    if (max === 6 || (max === 7 && last >> 8 !== 0 && (last & 0xff) !== 1)) count = 6;
    text = ':';
  }
  for (let i = 0; i < count; i++) {
    if (i === zero) {
      text += ':';
      i += max - 1;
      continue;
    }
    text += groups[i]!.toString(16);
    if (i < 7) text += ':';
  }
  if (count === 6) text += `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  return text;
}

/** The request values an expression reads, each read once per request (arguments in one pass over the query). */
interface RequestValues {
  /** The sources, each once, in the order `read` returns their values. */
  readonly sources: readonly ValueSource[];
  read(query: string, headers: TokenHeaders): (string | undefined)[] | Rejection;
}

function requestValues(sources: readonly ValueSource[]): RequestValues {
  const unique: ValueSource[] = [];
  for (const source of sources) {
    if (!unique.some((s) => sameSource(s, source))) unique.push(source);
  }
  const args = unique.filter((s) => s.from === 'arg').map((s) => s.name);
  const repeated = unique.map((s) => m(`${describe(s)} is given more than once (which one would the origin read?)`));
  const notAscii = unique.map((s) => m(`${describe(s)} holds a character outside ASCII`));
  const encodedName = m('a parameter the expression reads is given with a percent-encoded name');
  const bareName = m('a parameter the expression reads has no "="');
  const argIndex = unique.map((s) => (s.from === 'arg' ? args.indexOf(s.name) : -1));
  const cookies = unique.filter((s) => s.from === 'cookie').map((s) => s.name);
  const readArgs = (query: string): (string | undefined)[] | Rejection => {
    const values: (string | undefined)[] = new Array(args.length).fill(undefined);
    if (args.length === 0 || query === '') return values;
    const refused = forEachQueryPair(query, (raw, valueStart, end) => {
      const name = raw.toLowerCase();
      const index = args.indexOf(name);
      if (index >= 0) {
        if (values[index] !== undefined) return repeated[unique.findIndex((s) => s.from === 'arg' && s.name === name)]!;
        if (valueStart < 0) return bareName;
        values[index] = query.slice(valueStart, end);
      } else if (name.includes('%') && args.includes(safeDecode(name).toLowerCase())) {
        return encodedName;
      }
      return undefined;
    });
    if (refused !== undefined) return refused;
    return values;
  };
  return {
    sources: unique,
    read(query, headers) {
      const argValues = readArgs(query);
      if (isRejection(argValues)) return argValues;
      const out: (string | undefined)[] = [];
      let cookieValues: (string | undefined)[] | Rejection | undefined;
      for (const [i, source] of unique.entries()) {
        if (source.from === 'arg') {
          out.push(argValues[argIndex[i]!]);
        } else {
          let value: string | undefined | null;
          if (source.from === 'http') value = headers.get(source.name);
          else {
            cookieValues ??= readCookies(headers.get('cookie'), cookies);
            if (isRejection(cookieValues)) return cookieValues;
            value = cookieValues[cookies.indexOf(source.name)];
          }
          if (value === null) return repeated[i]!;
          // Bytes a door may have decoded otherwise (the gRPC door reads UTF-8): ASCII only.
          if (value !== undefined && nonAscii.test(value)) return notAscii[i]!;
          out.push(value);
        }
      }
      return out;
    },
  };
}

const repeatedCookie = m('a cookie the expression reads is given more than once (which one would the origin read?)');
const SPACE = 0x20;

/**
 * Cookies as nginx 1.22's `$cookie_…` reads them (ngx_http_parse_multi_header_lines): a cookie
 * starts the header or follows ";" or "," and spaces; its name matches in any case, then spaces,
 * "=", spaces; its value runs to the next ";" (a "," included). Every start is looked at, so a
 * name found twice (also inside another cookie's value, after a ",") is refused.
 */
function readCookies(header: string | undefined | null, names: readonly string[]): (string | undefined)[] | Rejection {
  if (header === null) return repeatedCookie;
  const values: (string | undefined)[] = new Array(names.length).fill(undefined);
  if (header === undefined) return values;
  const end = header.length;
  let start = 0;
  while (start < end) {
    for (const [i, name] of names.entries()) {
      if (!nameAt(header, start, name)) continue;
      let p = start + name.length;
      while (p < end && header.charCodeAt(p) === SPACE) p++;
      if (p >= end || header.charCodeAt(p) !== 0x3d) continue;
      p++;
      while (p < end && header.charCodeAt(p) === SPACE) p++;
      if (values[i] !== undefined) return repeatedCookie;
      const last = header.indexOf(';', p);
      values[i] = header.slice(p, last < 0 ? end : last);
    }
    while (start < end) {
      const code = header.charCodeAt(start++);
      if (code === 0x3b || code === 0x2c) break;
    }
    while (start < end && header.charCodeAt(start) === SPACE) start++;
  }
  return values;
}

/**
 * `name` (lowercase) at `start` of `header` in any ASCII case, as nginx's ngx_strncasecmp compares:
 * no string is made per start (a header of 8,000 "," cost ≈400 µs so, issue 26).
 */
function nameAt(header: string, start: number, name: string): boolean {
  if (start + name.length > header.length) return false;
  for (let k = 0; k < name.length; k++) {
    const code = header.charCodeAt(start + k);
    if ((code >= 0x41 && code <= 0x5a ? code | 0x20 : code) !== name.charCodeAt(k)) return false;
  }
  return true;
}

function sameSource(a: ValueSource, b: ValueSource): boolean {
  return a.from === b.from && a.name === b.name;
}

function create(keys: readonly RouteKey[], options: NginxSecureLinkOptions): TokenScheme<SecureLinkToken> {
  const { md5: expression } = options;
  // The secret's bytes as a one-character-per-byte string, joined between the expression's parts.
  const secrets = keys.map((key) => ({ text: key.secret.toString('latin1'), ascii: key.secret.every((byte) => byte < 0x80) }));
  const sources = [
    options.hash,
    ...(options.expires === undefined ? [] : [options.expires]),
    ...expression.flatMap((item) => ('source' in item ? [item.source] : [])),
  ];
  const values = requestValues(sources);
  const indexOf = (source: ValueSource) => values.sources.findIndex((s) => sameSource(s, source));
  const hashIndex = indexOf(options.hash);
  const expiresIndex = options.expires === undefined ? -1 : indexOf(options.expires);
  const expressionIndex = expression.map((item) => ('source' in item ? indexOf(item.source) : -1));
  const readsAddress = expression.some((item) => 'variable' in item && item.variable === 'remote_addr');
  const noHash = rejection(Verdict.missing, `no ${describe(options.hash)}`);
  const hashMissing = m(`${describe(options.hash)} is missing or empty beside an end time`);
  const noExpires =
    options.expires === undefined ? noHash : m(`${describe(options.expires)} is missing or empty (nginx answers 403 too)`);
  const parseExpires = timeFieldParser(options.expires === undefined ? 'expires' : describe(options.expires));

  /** The expression's value for these request values, cut at each $secret. */
  const evaluate = (uri: string, expires: string, address: string, read: readonly (string | undefined)[]) => {
    const parts: string[] = [];
    let part = '';
    for (const [i, item] of expression.entries()) {
      if ('literal' in item) part += item.literal;
      else if (item.variable === 'secret') {
        parts.push(part);
        part = '';
      } else if (item.variable === 'uri') part += uri;
      else if (item.variable === 'secure_link_expires') part += expires;
      else if (item.variable === 'remote_addr') part += address;
      else part += read[expressionIndex[i]!] ?? '';
    }
    parts.push(part);
    return parts;
  };
  const digestOf = (parts: readonly string[], ascii: boolean, secret: { text: string; ascii: boolean }) => {
    const message = parts.join(secret.text);
    return ascii && secret.ascii ? hash('md5', message, 'binary') : hash('md5', Buffer.from(message, 'latin1'), 'binary');
  };
  const matches = (token: SecureLinkToken) =>
    secrets.findIndex((secret) => digestEquals(digestOf(token.parts, token.ascii, secret), token.md5, 'base64url'));

  return {
    parse({ path, query, clientIp, headers }) {
      const read = values.read(query, headers);
      if (isRejection(read)) return read;
      const signature = read[hashIndex];
      if (signature === undefined || signature === '') return expiresIndex >= 0 && read[expiresIndex] ? hashMissing : noHash;
      if (!md5Pattern.test(signature)) return badMd5;
      let expiresText = '';
      let expiresSec = neverExpires;
      if (expiresIndex >= 0) {
        expiresText = read[expiresIndex] ?? '';
        if (expiresText === '') return noExpires;
        const parsed = parseExpires(expiresText);
        if (typeof parsed !== 'number') return parsed;
        expiresSec = parsed;
      }
      let address = '';
      if (readsAddress) {
        if (clientIp === undefined) return noClientIp;
        address = nginxAddressText(clientIp);
      }
      const parts = evaluate(path, expiresText, address, read);
      const ascii = parts.every((part) => !nonAscii.test(part));
      return { parts, ascii, md5: signature.slice(0, 22), signature, expiresSec, notBeforeSec: 0 };
    },
    verify: (token) => matches(token) >= 0,
    identify(token) {
      return { keyId: keys[matches(token)]?.id, signature: token.signature };
    },
    cacheKey(token) {
      return `${token.parts.map((part) => `${part.length}:${part}`).join('')}\n${token.md5}`;
    },
    sign(request) {
      checkSignRequest(request, readsAddress ? ['clientIp'] : [], 'nginx-secure-link');
      const unsignable = [options.hash, options.expires].find((source) => source !== undefined && source.from !== 'arg');
      if (unsignable !== undefined) {
        throw new SignRequestError(
          'path',
          `this route reads ${describe(unsignable)}: tokengate signs only links with query parameters`,
        );
      }
      const extra = expression.find((item) => 'source' in item);
      if (extra !== undefined && 'source' in extra) {
        throw new SignRequestError(
          'path',
          `the expression signs ${describe(extra.source)}, a value of the request the signer cannot know: sign such links where it is known`,
        );
      }
      if (options.expires === undefined) {
        throw new SignRequestError(
          'expiresSec',
          "this route's tokens never expire (secureLink has no end time): tokengate signs no such link",
        );
      }
      let address = '';
      if (readsAddress) {
        if (request.clientIp === undefined) {
          throw new SignRequestError('clientIp', 'the expression signs $remote_addr: give the client IP the link is for');
        }
        const ip = canonicalIp(request.clientIp) === undefined ? undefined : parseClientIp(request.clientIp);
        if (ip === undefined) throw new SignRequestError('clientIp', 'the client IP must be one IPv4 or IPv6 address');
        address = nginxAddressText(ip);
      }
      const uri = nginxTarget(request.path);
      if (isRejection(uri)) throw new SignRequestError('path', `nginx would refuse this path: ${uri.detail}`);
      const expires = formatUnixTime(request.expiresSec);
      const parts = evaluate(uri.path, expires, address, []);
      const digest = digestOf(parts, false, secrets[0]!);
      const md5 = Buffer.from(digest, 'latin1').toString('base64url');
      return { carrier: 'query', query: `${options.hash.name}=${md5}&${options.expires.name}=${expires}` };
    },
  };
}

function readOptions(raw: Readonly<Record<string, unknown>>, path: string): NginxSecureLinkOptions | OptionProblems {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key !== 'secureLink' && key !== 'md5') problems.push(`${path}.${key}: unknown option (known: secureLink, md5)`);
  }
  const secureLinkText = raw.secureLink ?? '$arg_md5,$arg_expires';
  let hashSource: ValueSource | undefined;
  let expiresSource: ValueSource | undefined;
  const secureLinkShape = `${path}.secureLink: must be "$arg_NAME" or "$arg_NAME,$arg_NAME" (the hash, then the end time; $cookie_NAME and $http_NAME also work), like nginx's secure_link`;
  if (typeof secureLinkText !== 'string' || secureLinkText.length > maxExpression) {
    problems.push(secureLinkShape);
  } else {
    const items = parseExpression(secureLinkText);
    const sourceOf = (item: ExpressionItem | undefined) => (item !== undefined && 'source' in item ? item.source : undefined);
    if (typeof items === 'string') problems.push(`${path}.secureLink: ${items}`);
    else if (items.length === 1 && sourceOf(items[0])) hashSource = sourceOf(items[0]);
    else if (
      items.length === 3 &&
      sourceOf(items[0]) &&
      sourceOf(items[2]) &&
      'literal' in items[1]! &&
      items[1].literal === ','
    ) {
      hashSource = sourceOf(items[0]);
      expiresSource = sourceOf(items[2]);
      if (sameSource(hashSource!, expiresSource!))
        problems.push(`${path}.secureLink: the hash and the end time must be two values`);
    } else problems.push(secureLinkShape);
  }
  const md5Text = raw.md5;
  let md5: ExpressionItem[] | undefined;
  if (typeof md5Text !== 'string' || md5Text === '' || md5Text.length > maxExpression) {
    problems.push(
      `${path}.md5: required: the secure_link_md5 expression with $secret where the secret was, e.g. "$secure_link_expires$uri$remote_addr $secret"`,
    );
  } else {
    const items = parseExpression(md5Text);
    if (typeof items === 'string') problems.push(`${path}.md5: ${items}`);
    else {
      md5 = items;
      const has = (name: string) => items.some((item) => 'variable' in item && item.variable === name);
      if (!has('secret')) problems.push(`${path}.md5: has no $secret: without the route's key in it, anyone can make a token`);
      if (!has('uri')) {
        problems.push(
          `${path}.md5: has no $uri: a token would open every path of the route (and of every route sharing the key)`,
        );
      }
      if (expiresSource !== undefined && !has('secure_link_expires')) {
        problems.push(
          `${path}.md5: secureLink reads an end time that the expression does not sign ($secure_link_expires): anyone could extend a link`,
        );
      }
      if (hashSource !== undefined && expiresSource === undefined && has('secure_link_expires')) {
        problems.push(`${path}.md5: signs $secure_link_expires but secureLink has no end time ("$arg_md5,$arg_expires")`);
      }
      const read = [hashSource, expiresSource].filter((s) => s !== undefined);
      for (const item of items) {
        if ('source' in item && read.some((s) => sameSource(s, item.source))) {
          problems.push(`${path}.md5: reads ${describe(item.source)}, which secureLink reads for the token`);
        }
      }
    }
  }
  if (problems.length > 0 || hashSource === undefined || md5 === undefined) return new OptionProblems(problems);
  return { hash: hashSource, expires: expiresSource, md5 };
}

/** Variables of request values whose end can move into the next one when nothing separates them. */
function variableLength(item: ExpressionItem | undefined): string | undefined {
  if (item === undefined || !('variable' in item)) return undefined;
  if (item.variable === 'uri') return '$uri';
  if (item.variable === 'remote_addr') return '$remote_addr';
  if (item.variable === 'value') return describe(item.source);
  return undefined;
}

/** Adjacent request values with no separator: a signed value's end can move into the next (as in nginx). */
function warnings(options: NginxSecureLinkOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < options.md5.length; i++) {
    const [a, b] = [variableLength(options.md5[i]), variableLength(options.md5[i + 1])];
    // The IP's text never holds "/", and $uri always starts with one: that boundary cannot move.
    if (a === undefined || b === undefined || (a === '$remote_addr' && b === '$uri')) continue;
    out.push(
      `md5: ${a} and ${b} are adjacent with nothing between them, so one value's end can move into the other (with "$uri$remote_addr", a link for /a/b1 from 2.3.4.5 also opens /a/b from 12.3.4.5; nginx reads it the same way): put a separator between them, in this expression and in your signers`,
    );
  }
  return out;
}

const signOptions: readonly SignOption[] = ['clientIp'];

export const nginxSecureLink: SchemeDefinition<NginxSecureLinkOptions> = {
  id: 'nginx-secure-link',
  signOptions,
  summary: 'nginx secure_link_md5: ?md5=base64url(md5(<expression>))&expires=<unix seconds>, the expression as configured',
  clientIp: 'optional',
  ipBinding: 'hashed',
  nginxUri: true,
  keyEncodings: ['text'],
  tokenHeaders: (options) => [
    ...new Set(
      [options.hash, options.expires, ...options.md5.map((item) => ('source' in item ? item.source : undefined))].flatMap(
        (source) => (source === undefined || source.from === 'arg' ? [] : [source.from === 'cookie' ? 'cookie' : source.name]),
      ),
    ),
  ],
  keyProblem: textSecretProblem,
  readOptions,
  warnings,
  create,
};

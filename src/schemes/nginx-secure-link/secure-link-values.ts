import { isRejection, type Rejection, rejection, Verdict } from '../../base/verdict.js';
import type { TokenHeaders } from '../../request/token-headers.js';
import { forEachQueryPair, safeDecode } from '../../request/token-params.js';
import { describeSource, sameSource, type ValueSource } from './secure-link-expression.js';

const m = (detail: string) => rejection(Verdict.malformed, detail);
const nonAscii = /[^\x00-\x7f]/;

/** The request values an expression reads, each read once per request (arguments in one pass over the query). */
export interface RequestValues {
  /** The sources, each once, in the order `read` returns their values. */
  readonly sources: readonly ValueSource[];
  read(query: string, headers: TokenHeaders): (string | undefined)[] | Rejection;
}

export function requestValues(sources: readonly ValueSource[]): RequestValues {
  const unique: ValueSource[] = [];
  for (const source of sources) {
    if (!unique.some((s) => sameSource(s, source))) unique.push(source);
  }
  const args = unique.filter((s) => s.from === 'arg').map((s) => s.name);
  const repeated = unique.map((s) => m(`${describeSource(s)} is given more than once (which one would the origin read?)`));
  const notAscii = unique.map((s) => m(`${describeSource(s)} holds a character outside ASCII`));
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

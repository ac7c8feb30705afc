/**
 * The operations that turn a genuine link's request into another: the path's spelling, the
 * query and the token's place, the method and the headers a client controls. Each operation is
 * plain data with its positions and texts resolved, so a regression case replays exactly on a
 * freshly signed link of the same recipe (oracle-links.ts).
 */
import { encodePath } from './oracle-links.js';
import { type Draft, utf8Bytes } from './oracle-request.js';

export type Op =
  /** The path of another file of the origin, spelled as a link would be, or with its non-ASCII text as raw UTF-8 bytes. */
  | { readonly op: 'retarget'; readonly file: string; readonly raw?: boolean }
  /** From the link's own directory, `levels` dot-segments up (spelled `dots`, then `sep`), then down to `file`. */
  | { readonly op: 'climb'; readonly file: string; readonly levels: number; readonly dots: string; readonly sep: string }
  /** A client header naming the link (proxies must never let it count), the path another file's, no token. */
  | { readonly op: 'inject'; readonly name: string; readonly file: string }
  | { readonly op: 'escape'; readonly at: number; readonly upper: boolean }
  | { readonly op: 'unescape'; readonly nth: number }
  | { readonly op: 'hexCase'; readonly nth: number }
  /** Replace the path's text from `at` to `at + length` with `text` (a slash, a dot-segment, a parameter...). */
  | { readonly op: 'splice'; readonly at: number; readonly length: number; readonly text: string }
  | { readonly op: 'caseFlip'; readonly at: number }
  /** Escaped or raw non-ASCII: every character cut to its low byte, as a latin1 conversion does. */
  | { readonly op: 'fold' }
  /** Escaped non-ASCII bytes written raw. */
  | { readonly op: 'raw' }
  | { readonly op: 'form'; readonly text: string }
  | { readonly op: 'dropToken' }
  | { readonly op: 'queryInsert'; readonly at: number; readonly pair: string }
  | { readonly op: 'queryDuplicate'; readonly nth: number }
  | { readonly op: 'queryRotate' }
  | { readonly op: 'nameUpper'; readonly nth: number }
  | { readonly op: 'nameEscape'; readonly nth: number }
  | { readonly op: 'separator'; readonly text: string }
  | { readonly op: 'queryLead'; readonly text: string }
  | { readonly op: 'fragment'; readonly text: string }
  /** The query's pairs as cookies. */
  | { readonly op: 'toCookie' }
  /** An Alta "token=" pair as the HLS cookie of nginx.example.conf ("tokengate=token=..."). */
  | { readonly op: 'streamCookie' }
  /** The signature pair's value as a header. */
  | { readonly op: 'toHeader'; readonly name: string }
  /** The query appended to the path as a ";" parameter. */
  | { readonly op: 'toPathParameter' }
  /** Cookie and token headers as query pairs. */
  | { readonly op: 'toQuery' }
  | {
      readonly op: 'method';
      readonly method: string;
      readonly body: string;
      readonly headers: readonly (readonly [string, string])[];
    }
  | { readonly op: 'header'; readonly name: string; readonly value: string }
  | { readonly op: 'host'; readonly value: string | undefined };

const pairsOf = (query: string | undefined) => (query === undefined || query === '' ? [] : query.split('&'));
const joinPairs = (pairs: readonly string[]) => (pairs.length === 0 ? undefined : pairs.join('&'));
const clamp = (at: number, text: string) => Math.max(0, Math.min(at, text.length));
const escapes = (path: string) => [...path.matchAll(/%[0-9A-Fa-f]{2}/g)].map((m) => m.index);
const hex = (byte: number, upper: boolean) => {
  const text = byte.toString(16).padStart(2, '0');
  return `%${upper ? text.toUpperCase() : text}`;
};

/** The UTF-8 code points of a byte string whose escapes are decoded first (malformed bytes stay bytes). */
function codePointsOf(path: string): number[] {
  const bytes = Buffer.from(
    path.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  );
  return [...new TextDecoder().decode(bytes)].map((c) => c.codePointAt(0)!);
}

function fold(path: string): string {
  if (!/%[89A-Fa-f][0-9A-Fa-f]|[\x80-\xff]/.test(path)) return path;
  return codePointsOf(path)
    .map((point) => {
      const byte = point & 0xff;
      return byte >= 0x21 && byte <= 0x7e && byte !== 0x25 && byte !== 0x3f && byte !== 0x23
        ? String.fromCharCode(byte)
        : hex(byte, true);
    })
    .join('');
}

/** A file's path as a client sends it: percent-encoded as links are, or with raw UTF-8 where the text is not ASCII. */
function spell(file: string, raw: boolean): string {
  const encoded = encodePath(file);
  return raw
    ? encoded.replace(/(?:%[89A-F][0-9A-F])+/g, (run) => Buffer.from(run.replaceAll('%', ''), 'hex').toString('latin1'))
    : encoded;
}

/** The link's directory of a draft path: where a climb starts. */
export const directoryOf = (path: string) => path.slice(0, path.lastIndexOf('/') + 1);

function climb(linkPath: string, op: Extract<Op, { op: 'climb' }>): string {
  const base = directoryOf(linkPath);
  const parts = base.split('/').filter(Boolean);
  const levels = Math.min(op.levels, parts.length);
  const ancestor = `/${parts.slice(0, parts.length - levels).join('/')}${parts.length > levels ? '/' : ''}`;
  const target = spell(op.file, false);
  const rest = target.startsWith(ancestor) ? target.slice(ancestor.length) : target.slice(1);
  return base + `${op.dots}${op.sep}`.repeat(levels) + rest;
}

/** `draft` changed by `op`; `linkPath` is the genuine link's path (a climb starts from its directory). */
export function apply(draft: Draft, op: Op, linkPath: string): Draft {
  const d: Draft = { ...draft, headers: [...draft.headers] };
  const pairs = pairsOf(d.query);
  switch (op.op) {
    case 'retarget':
      d.path = spell(op.file, op.raw === true);
      break;
    case 'climb':
      d.path = climb(utf8Bytes(linkPath), op);
      break;
    case 'inject':
      d.headers.push([op.name, `${d.path}${d.query === undefined ? '' : `?${d.query}`}`]);
      d.path = spell(op.file, false);
      d.query = undefined;
      d.headers = d.headers.filter(([name]) => name === op.name || !/^(?:cookie|x-tokengate)$/i.test(name));
      break;
    case 'escape': {
      const at = Math.min(op.at, d.path.length - 1);
      d.path = d.path.slice(0, at) + hex(d.path.charCodeAt(at), op.upper) + d.path.slice(at + 1);
      break;
    }
    case 'unescape': {
      const at = escapes(d.path)[op.nth];
      if (at === undefined) break;
      const byte = Number.parseInt(d.path.slice(at + 1, at + 3), 16);
      // Never a byte that would end the request line or split it (CR, LF, space, controls).
      if (byte > 0x20 && byte !== 0x7f) d.path = d.path.slice(0, at) + String.fromCharCode(byte) + d.path.slice(at + 3);
      break;
    }
    case 'hexCase': {
      const at = escapes(d.path)[op.nth];
      if (at === undefined) break;
      const code = d.path.slice(at + 1, at + 3);
      const flipped = code === code.toUpperCase() ? code.toLowerCase() : code.toUpperCase();
      d.path = `${d.path.slice(0, at + 1)}${flipped}${d.path.slice(at + 3)}`;
      break;
    }
    case 'splice': {
      const at = clamp(op.at, d.path);
      d.path = d.path.slice(0, at) + op.text + d.path.slice(at + op.length);
      break;
    }
    case 'caseFlip': {
      const at = Math.min(op.at, d.path.length - 1);
      const c = d.path[at]!;
      d.path = d.path.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + d.path.slice(at + 1);
      break;
    }
    case 'fold':
      d.path = fold(d.path);
      break;
    case 'raw':
      d.path = d.path.replace(/%([89A-Fa-f][0-9A-Fa-f])/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
      break;
    case 'form':
      d.form = op.text;
      break;
    case 'dropToken':
      d.query = undefined;
      d.headers = d.headers.filter(([name]) => !/^(?:cookie|x-tokengate)$/i.test(name));
      break;
    case 'queryInsert':
      pairs.splice(Math.min(op.at, pairs.length), 0, op.pair);
      d.query = pairs.join('&');
      break;
    case 'queryDuplicate':
      if (pairs.length > 0) d.query = [...pairs, pairs[op.nth % pairs.length]!].join('&');
      break;
    case 'queryRotate':
      if (pairs.length > 1) d.query = [...pairs.slice(1), pairs[0]!].join('&');
      break;
    case 'nameUpper':
    case 'nameEscape': {
      const i = op.nth % Math.max(1, pairs.length);
      const pair = pairs[i];
      if (pair === undefined || pair === '') break;
      pairs[i] =
        op.op === 'nameUpper'
          ? pair.replace(/^[^=]*/, (name) => name.toUpperCase())
          : hex(pair.charCodeAt(0), true) + pair.slice(1);
      d.query = pairs.join('&');
      break;
    }
    case 'separator':
      if (d.query !== undefined) d.query = d.query.replaceAll('&', op.text);
      break;
    case 'queryLead':
      d.query = `${op.text}${d.query ?? ''}`;
      break;
    case 'fragment':
      d.fragment = op.text;
      break;
    case 'toCookie':
      if (pairs.length > 0) d.headers.push(['Cookie', pairs.join('; ')]);
      d.query = undefined;
      break;
    case 'streamCookie': {
      const token = pairs.find((pair) => pair.startsWith('token='));
      if (token === undefined) break;
      d.headers.push(['Cookie', `tokengate=${token}`]);
      d.query = joinPairs(pairs.filter((pair) => pair !== token));
      break;
    }
    case 'toHeader': {
      const longest = pairs.reduce((a, b) => (b.length > a.length ? b : a), '');
      if (longest === '') break;
      d.headers.push([op.name, longest.slice(longest.indexOf('=') + 1)]);
      d.query = joinPairs(pairs.filter((pair) => pair !== longest));
      break;
    }
    case 'toPathParameter':
      if (d.query !== undefined) d.path = `${d.path};${d.query}`;
      d.query = undefined;
      break;
    case 'toQuery': {
      const moved: string[] = [];
      d.headers = d.headers.filter(([name, value]) => {
        if (/^cookie$/i.test(name)) moved.push(...value.split('; '));
        else if (/^x-tokengate$/i.test(name)) moved.push(`tg=${value}`);
        else return true;
        return false;
      });
      d.query = joinPairs([...pairs, ...moved]);
      break;
    }
    case 'method':
      d.method = op.method;
      d.body = op.body;
      // The framing of the last body only: a stale Transfer-Encoding would leave the door waiting for chunks.
      d.headers = d.headers.filter(([name]) => !/^(?:content-length|transfer-encoding)$/i.test(name));
      d.headers.push(...op.headers.map(([name, value]) => [name, value] as [string, string]));
      break;
    case 'header':
      d.headers.push([op.name, op.value]);
      break;
    case 'host':
      d.host = op.value;
      break;
  }
  return d;
}

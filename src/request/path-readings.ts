import { type Rejection, rejection, Verdict } from '../base/verdict.js';
import { maxUriBytes } from './request-target.js';

/**
 * The ways an origin reads a request path that passed the URI rules (request-target.ts), used to
 * choose a route (docs/security.md rule 12). The signature is over the raw text, but the file
 * served is named by one of these readings:
 *
 * - decoded: every escape decoded, as nginx's `$uri`, Caddy and RFC 3986 normalisation read it
 *   (`/vod/%70remium/` is `/vod/premium/`); bytes as a latin1 string, as nginx-uri.ts writes them;
 * - without parameters: each segment cut at its first ";" (Tomcat, Jetty: `/vod/premium;x/` is
 *   `/vod/premium/`), after decoding, so "%3B" counts too;
 * - folded: either of the above in one case and NFKC form, each segment as Windows names it, as
 *   case-insensitive file systems and normalising origins read it (`/vod/PREMIUM/`,
 *   `/vod/premium./`, `/vod/premium::$INDEX_ALLOCATION/`); 8.3 short names (`PREMIU~1`) cannot be
 *   read back, so a path with one never reaches an outer route's files past a nested one.
 *
 * The URI rules already refuse everything that moves a segment boundary (`%2F`, dot-segments in
 * every spelling, `//`), so each reading maps segments to segments and keeps prefixes: a path that
 * starts with a prefix still starts with that prefix's reading. Routes are therefore compared only
 * where one route's prefix lies inside another's under some reading (`RouteTable.outer`).
 */
export interface Prefixed {
  readonly prefix: string;
}

interface ReadPrefix<T> {
  readonly prefix: string;
  readonly entry: T;
}

export interface RouteTable<T extends Prefixed> {
  /** Longest raw prefix first: the route the raw path picks. */
  readonly raw: readonly T[];
  /** Longest decoded prefix first. */
  readonly decoded: readonly ReadPrefix<T>[];
  /** Longest folded prefix first. */
  readonly folded: readonly ReadPrefix<T>[];
  /** The entries another entry lies inside under some reading: only their paths need every reading. */
  readonly outer: ReadonlySet<T>;
  /** The most "/" any prefix holds: readings keep segments apart, so only that many of a path's matter. */
  readonly depth: number;
}

export const otherReading: Rejection = rejection(
  Verdict.badUri,
  'another spelling of this path reaches another route (an escape of a plain character, a ";" parameter, or letter case): request the path as the route spells it',
);

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

const scratch = Buffer.alloc(maxUriBytes);

/** Every "%XY" decoded to its byte (a latin1 string); the path's escapes are well-formed (request-target.ts). */
export function decodedPath(path: string): string {
  if (!path.includes('%')) return path;
  if (path.length > maxUriBytes) return path;
  let u = 0;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    const high = code === 0x25 && i + 2 < path.length ? hexValue(path.charCodeAt(i + 1)) : -1;
    const low = high < 0 ? -1 : hexValue(path.charCodeAt(i + 2));
    if (low >= 0) {
      scratch[u++] = (high << 4) | low;
      i += 2;
    } else scratch[u++] = code & 0xff;
  }
  return scratch.toString('latin1', 0, u);
}

/** Each segment cut at its first ";" (Tomcat and Jetty drop path parameters before serving). */
export function withoutParams(path: string): string {
  let semi = path.indexOf(';');
  if (semi < 0) return path;
  let out = '';
  let from = 0;
  while (semi >= 0) {
    out += path.slice(from, semi);
    const slash = path.indexOf('/', semi);
    if (slash < 0) return out;
    from = slash;
    semi = path.indexOf(';', slash);
  }
  return out + path.slice(from);
}

const nonAscii = /[^\x00-\x7f]/;

/**
 * The path as a case-insensitive, normalising file system reads it: one case and NFKC form (ASCII
 * lower case, or with non-ASCII bytes the UTF-8 text case-folded), and each segment as Windows
 * names it: cut at its first ":" (NTFS streams: `premium::$INDEX_ALLOCATION` is the directory
 * `premium`), trailing dots and spaces dropped (`premium.` and `premium%20` are `premium`).
 */
export function foldedPath(latin1: string): string {
  const text = nonAscii.test(latin1)
    ? Buffer.from(latin1, 'latin1').toString('utf8').normalize('NFKC').toLowerCase().normalize('NFKC')
    : latin1.toLowerCase();
  return windowsNameChange.test(text) ? windowsNamed(text) : text;
}

/** A ":" anywhere, or a dot or space that ends a segment: only then do Windows names differ. */
const windowsNameChange = /:|[. ](?:\/|$)/;

/** Each segment cut at its first ":", then without trailing dots and spaces; one pass. */
function windowsNamed(text: string): string {
  let out = '';
  let start = 0;
  let stop = -1; // the first ":" of the current segment
  for (let i = 0; i <= text.length; i++) {
    const code = i === text.length ? 0x2f : text.charCodeAt(i);
    if (code === 0x3a && stop < 0) stop = i;
    if (code !== 0x2f) continue;
    let last = stop < 0 ? i : stop;
    while (last > start && (text.charCodeAt(last - 1) === 0x2e || text.charCodeAt(last - 1) === 0x20)) last--;
    out += text.slice(start, last) + (i === text.length ? '' : '/');
    start = i + 1;
    stop = -1;
  }
  return out;
}

/** An 8.3 short name (`PREMIU~1`): a Windows origin maps it to a long name no reading can know. */
const shortName = /~[0-9]/;

/** Whether a reading could differ from the raw text: an escape, a parameter, an upper-case letter or a high byte. */
function mayReadOtherwise(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code === 0x25 || code === 0x3b || code === 0x3a || code === 0x7e || (code >= 0x41 && code <= 0x5a) || code >= 0x80)
      return true;
    // "." or " " (escaped: caught above) at a segment's end.
    if (code === 0x2e && (i + 1 === path.length || path.charCodeAt(i + 1) === 0x2f)) return true;
  }
  return false;
}

function longestFirst<T>(entries: readonly ReadPrefix<T>[]): ReadPrefix<T>[] {
  return [...entries].sort((a, b) => b.prefix.length - a.prefix.length);
}

export function routeTable<T extends Prefixed>(entries: readonly T[]): RouteTable<T> {
  const raw = [...entries].sort((a, b) => b.prefix.length - a.prefix.length);
  const decoded = longestFirst(entries.map((entry) => ({ prefix: decodedPath(entry.prefix), entry })));
  const folded = longestFirst(decoded.map(({ prefix, entry }) => ({ prefix: foldedPath(prefix), entry })));
  const outer = new Set<T>();
  for (const list of [raw.map((entry) => ({ prefix: entry.prefix, entry })), decoded, folded]) {
    for (const a of list) for (const b of list) if (a !== b && b.prefix.startsWith(a.prefix)) outer.add(a.entry);
  }
  // One segment more than the deepest prefix's, for prefixes that end inside a segment ("/vod/pre").
  const depth = 1 + Math.max(0, ...entries.map((entry) => entry.prefix.split('/').length - 1));
  return { raw, decoded, folded, outer, depth };
}

function pick<T>(list: readonly ReadPrefix<T>[], path: string): T | undefined {
  for (const { prefix, entry } of list) if (path.startsWith(prefix)) return entry;
  return undefined;
}

/**
 * True when every reading of `path` picks `entry`, the route its raw text (or, for nginx-mode
 * gates, nginx's `$uri`) picked. `decoded` is the path already decoded (nginx's `$uri`).
 */
export function readingsAgree<T extends Prefixed>(table: RouteTable<T>, entry: T, path: string, decoded?: string): boolean {
  if (!table.outer.has(entry)) return true;
  // Readings keep segments apart: those past the deepest prefix's cannot change the route.
  const head = upToSlash(decoded ?? path, table.depth);
  if (!mayReadOtherwise(head)) return true;
  const read = decoded === undefined ? decodedPath(head) : head;
  if (shortName.test(read)) return false;
  const cut = withoutParams(read);
  return (
    pick(table.decoded, read) === entry &&
    pick(table.decoded, cut) === entry &&
    pick(table.folded, foldedPath(read)) === entry &&
    pick(table.folded, foldedPath(cut)) === entry
  );
}

/** `path` up to and including its `count`-th "/" (all of it when it has fewer). */
function upToSlash(path: string, count: number): string {
  let at = -1;
  for (let i = 0; i < count; i++) {
    at = path.indexOf('/', at + 1);
    if (at < 0) return path;
  }
  return path.slice(0, at + 1);
}

/** The entry whose prefix the raw path starts with, longest first. */
export function rawEntry<T extends Prefixed>(table: RouteTable<T>, path: string): T | undefined {
  for (const entry of table.raw) if (path.startsWith(entry.prefix)) return entry;
  return undefined;
}

/** Two prefixes one reading cannot tell apart: one of the routes could never be reached safely. */
export function samePrefixProblems(prefixes: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const prefix of prefixes) {
    const read = foldedPath(decodedPath(prefix));
    const other = seen.get(read);
    if (other !== undefined) {
      problems.push(
        `routes: "${other}" and "${prefix}" are the same prefix as nginx reads it, or once case is folded (origins read them as one path): one route would never be reached`,
      );
    } else seen.set(read, prefix);
  }
  return problems;
}

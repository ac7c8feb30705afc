/**
 * Links taken back after signing: revocations by a token's fingerprint (`fp`), by session id
 * (hmac `s=`), by key id, and by path prefix for links issued before a time. Pure and in memory:
 * each thread holds one `RevocationBook`, kept in sync with the store by the service; a route that
 * checks revocations (`revocation` in its config) reads it after the token proved genuine and
 * current. Routes without `revocation` never look at it.
 */
import { hash } from 'node:crypto';
import type { Fields } from '../base/problems.js';
import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import { decodedPath, foldedPath, withoutParams } from '../request/path-readings.js';
import { parseRequestTarget } from '../request/request-target.js';
import type { ParsedToken, TokenScheme } from '../scheme-kit/token-scheme.js';

export const revocationKinds = ['fp', 'session', 'key', 'prefix'] as const;
export type RevocationKind = (typeof revocationKinds)[number];

/** One revocation as stored: what it matches, until when, and who made it. */
export interface Revocation {
  /** `<kind>-<12 base64url>`: the same target (kind, route, value, issuedBefore) always gets the same id. */
  readonly id: string;
  readonly kind: RevocationKind;
  /** The fingerprint, session id, key id or path prefix. */
  readonly value: string;
  /** Only this route's links (required for `key`: key ids are a route's own); absent: every route that checks revocations. */
  readonly route?: string | undefined;
  /** `prefix` only: links issued before this second (unix). */
  readonly issuedBeforeSec?: number | undefined;
  /** The latest end a matching link can have: then the revocation is dropped. */
  readonly untilSec: number;
  readonly createdSec: number;
  /** Who revoked (the signer's name or "cli"); never secret. */
  readonly by?: string | undefined;
  /** Why, in the revoker's words (at most 200 printable characters). */
  readonly note?: string | undefined;
}

/** The grammar of each kind's value. */
export const revocationValuePatterns: Readonly<Record<Exclude<RevocationKind, 'prefix'>, RegExp>> = Object.freeze({
  fp: /^[A-Za-z0-9_-]{12}$/,
  session: /^[A-Za-z0-9_-]{1,64}$/,
  // Route key ids (1 to 32 of [A-Za-z0-9_-]) and the kids of JWKS keys (jwt).
  key: /^[A-Za-z0-9._~-]{1,256}$/,
});

const valueRules: Readonly<Record<RevocationKind, string>> = Object.freeze({
  fp: 'must be a fingerprint: 12 characters from [A-Za-z0-9_-], as the decision log and `verify` print it',
  session: 'must be a session id: 1 to 64 characters from [A-Za-z0-9_-]',
  key: "must be a key id: 1 to 256 characters from [A-Za-z0-9._~-] (a route key id, or a JWKS key's kid)",
  prefix: 'must be a path starting with "/", as a route prefix is written (no query, no dot-segments)',
});

const routeNamePattern = /^[\x21-\x7e]{1,128}$/;
export const revocationNotePattern = /^[\x20-\x7e]{0,200}$/;
/** Unix seconds from 2001 to 2286: a time field's whole range. */
const maxSec = 9_999_999_999;

/** Problems with a path prefix as a revocation reads it; undefined when it is one. */
export function prefixProblem(prefix: string): string | undefined {
  if (!prefix.startsWith('/') || prefix.includes('?') || prefix.length > 1024) return valueRules.prefix;
  const target = parseRequestTarget(prefix);
  return isRejection(target) ? `${valueRules.prefix}: ${target.detail}` : undefined;
}

/** The problem with `value` for `kind`, or undefined. */
export function revocationValueProblem(kind: RevocationKind, value: string): string | undefined {
  if (kind === 'prefix') return prefixProblem(value);
  return revocationValuePatterns[kind].test(value) ? undefined : valueRules[kind];
}

/** The stable id of a revocation's target: revoking the same thing twice updates one entry. */
export function revocationId(target: Pick<Revocation, 'kind' | 'value' | 'route' | 'issuedBeforeSec'>): string {
  const text = `${target.kind}\n${target.route ?? ''}\n${target.value}\n${target.issuedBeforeSec ?? ''}`;
  return `${target.kind}-${hash('sha256', text, 'base64url').slice(0, 12)}`;
}

/** Reads one stored revocation strictly (a file or Redis entry written by any version); undefined when refused. */
export function readRevocation(fields: Fields): Revocation | undefined {
  const kind = fields.oneOf('kind', revocationKinds, 'fp');
  const value = fields.string('value');
  const problem = revocationValueProblem(kind, value);
  if (problem !== undefined) fields.add('value', problem);
  const route = fields.matching('route', routeNamePattern, 'must be a route name (1 to 128 visible ASCII characters)');
  if (kind === 'key' && route === undefined) fields.add('route', 'is required for a key revocation (key ids belong to a route)');
  const time = (name: string) => {
    if (!fields.has(name)) fields.add(name, 'is required');
    return fields.int(name, 0, 0, maxSec);
  };
  const issuedBeforeSec = kind === 'prefix' ? time('issuedBeforeSec') : undefined;
  const untilSec = time('untilSec');
  const createdSec = time('createdSec');
  const by = fields.matching('by', routeNamePattern, 'must be 1 to 128 visible ASCII characters');
  const note = fields.matching('note', revocationNotePattern, 'must be at most 200 printable ASCII characters');
  const id = fields.string('id');
  fields.done();
  const entry: Revocation = {
    id,
    kind,
    value,
    ...(route === undefined ? {} : { route }),
    ...(issuedBeforeSec === undefined ? {} : { issuedBeforeSec }),
    untilSec,
    createdSec,
    ...(by === undefined ? {} : { by }),
    ...(note === undefined ? {} : { note }),
  };
  if (id !== revocationId(entry)) fields.add('id', 'does not match the revocation it names');
  return fields.problems.empty ? Object.freeze(entry) : undefined;
}

/** A prefix as revocations compare it: escapes decoded, path parameters cut, case folded (as origins may read it). */
function readingOf(path: string): string {
  return foldedPath(withoutParams(decodedPath(path)));
}

interface PrefixEntry {
  readonly entry: Revocation;
  readonly reading: string;
}

/** Entries by value; one value may be revoked on several routes. */
class EntryMap {
  private readonly map = new Map<string, Revocation[]>();

  get size(): number {
    return this.map.size;
  }

  add(key: string, entry: Revocation): void {
    const list = this.map.get(key);
    if (list === undefined) this.map.set(key, [entry]);
    else list.push(entry);
  }

  remove(key: string, id: string): void {
    const list = this.map.get(key);
    if (list === undefined) return;
    const rest = list.filter((entry) => entry.id !== id);
    if (rest.length === 0) this.map.delete(key);
    else this.map.set(key, rest);
  }

  match(key: string, route: string, nowSec: number): Revocation | undefined {
    const list = this.map.get(key);
    if (list === undefined) return undefined;
    for (const entry of list) if (applies(entry, route, nowSec)) return entry;
    return undefined;
  }
}

function applies(entry: Revocation, route: string, nowSec: number): boolean {
  return entry.untilSec >= nowSec && (entry.route === undefined || entry.route === route);
}

/** Fingerprints of signatures seen recently: a repeated token (every segment of a stream) skips the SHA-256. */
const fingerprintMemoEntries = 50_000;

/**
 * One thread's revocations, indexed for the hot path: a route that checks revocations pays a map
 * lookup per kind that has entries, nothing for a kind that has none.
 */
export class RevocationBook {
  private readonly byId = new Map<string, Revocation>();
  private readonly fps = new EntryMap();
  private readonly sessions = new EntryMap();
  private readonly keys = new EntryMap();
  private prefixes: readonly PrefixEntry[] = [];
  /** The prefix entries by reading, and the readings' distinct lengths ascending: a request looks up one slice per length. */
  private prefixIndex = new Map<string, PrefixEntry[]>();
  private prefixLengths: readonly number[] = [];
  private readonly memo = new Map<string, string>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Revocation | undefined {
    return this.byId.get(id);
  }

  list(): Revocation[] {
    return [...this.byId.values()];
  }

  /** Adds or replaces (same id) one entry. */
  put(entry: Revocation): void {
    this.remove(entry.id);
    this.byId.set(entry.id, entry);
    if (entry.kind === 'fp') this.fps.add(entry.value, entry);
    else if (entry.kind === 'session') this.sessions.add(entry.value, entry);
    else if (entry.kind === 'key') this.keys.add(`${entry.route}\n${entry.value}`, entry);
    else this.indexPrefixes([...this.prefixes, { entry, reading: readingOf(entry.value) }]);
  }

  private indexPrefixes(prefixes: readonly PrefixEntry[]): void {
    this.prefixes = prefixes;
    this.prefixIndex = new Map();
    for (const prefix of prefixes) {
      const list = this.prefixIndex.get(prefix.reading);
      if (list === undefined) this.prefixIndex.set(prefix.reading, [prefix]);
      else list.push(prefix);
    }
    this.prefixLengths = [...new Set(prefixes.map((p) => p.reading.length))].sort((a, b) => a - b);
  }

  remove(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    if (entry.kind === 'fp') this.fps.remove(entry.value, id);
    else if (entry.kind === 'session') this.sessions.remove(entry.value, id);
    else if (entry.kind === 'key') this.keys.remove(`${entry.route}\n${entry.value}`, id);
    else this.indexPrefixes(this.prefixes.filter((p) => p.entry.id !== id));
    return true;
  }

  /** Replaces every entry (a full resync); returns whether anything changed. */
  replace(entries: readonly Revocation[]): boolean {
    const next = new Map(entries.map((entry) => [entry.id, entry]));
    let changed = false;
    for (const id of [...this.byId.keys()]) {
      if (!next.has(id)) changed = this.remove(id) || changed;
    }
    for (const entry of next.values()) {
      const old = this.byId.get(entry.id);
      if (old === undefined || JSON.stringify(old) !== JSON.stringify(entry)) {
        this.put(entry);
        changed = true;
      }
    }
    return changed;
  }

  /** Drops entries whose end has passed; returns their ids. */
  dropEnded(nowSec: number): string[] {
    const ended = [...this.byId.values()].filter((entry) => entry.untilSec < nowSec).map((entry) => entry.id);
    for (const id of ended) this.remove(id);
    return ended;
  }

  /** The revocation that covers this genuine, current token of `route`, if any. */
  match<T extends ParsedToken>(
    route: { readonly name: string; readonly scheme: TokenScheme<T> },
    token: T,
    path: string,
    nowSec: number,
    maxLifetimeSec: number | undefined,
  ): Revocation | undefined {
    if (this.byId.size === 0) return undefined;
    const { name, scheme } = route;
    if (this.fps.size > 0) {
      const found = this.fps.match(this.fingerprintOf(scheme.signature(token)), name, nowSec);
      if (found !== undefined) return found;
    }
    if (this.sessions.size > 0 && scheme.session !== undefined) {
      const session = scheme.session(token);
      const found = session === undefined ? undefined : this.sessions.match(session, name, nowSec);
      if (found !== undefined) return found;
    }
    if (this.keys.size > 0) {
      // Formats whose tokens do not name their key find it by verifying again: only when keys are revoked.
      const keyId = scheme.keyId === undefined ? scheme.identify(token).keyId : scheme.keyId(token);
      const found = keyId === undefined ? undefined : this.keys.match(`${name}\n${keyId}`, name, nowSec);
      if (found !== undefined) return found;
    }
    if (this.prefixes.length > 0) return this.matchPrefix(name, token, path, nowSec, maxLifetimeSec);
    return undefined;
  }

  private matchPrefix(
    route: string,
    token: ParsedToken,
    path: string,
    nowSec: number,
    maxLifetimeSec: number | undefined,
  ): Revocation | undefined {
    // A path under a prefix as sent is under it as read too (escapes complete, parameters cut,
    // case folded), so the reading alone decides.
    const reading = readingOf(path);
    for (const length of this.prefixLengths) {
      if (length > reading.length) break;
      const list = this.prefixIndex.get(reading.slice(0, length));
      if (list === undefined) continue;
      for (const { entry } of list) {
        if (applies(entry, route, nowSec) && issuedBefore(token, entry.issuedBeforeSec ?? nowSec, maxLifetimeSec)) return entry;
      }
    }
    return undefined;
  }

  /** `fingerprint` of a signature, remembered for the next request with the same token. */
  private fingerprintOf(signature: string): string {
    let fp = this.memo.get(signature);
    if (fp === undefined) {
      fp = fingerprint(signature);
      if (this.memo.size >= fingerprintMemoEntries) this.memo.clear();
      this.memo.set(signature, fp);
    }
    return fp;
  }
}

/** A change to a book: a whole list (a resync), or entries put and removed. */
export type RevocationChange =
  | { readonly full: readonly Revocation[] }
  | { readonly put: readonly Revocation[]; readonly remove: readonly string[] };

/** Applies a change; returns whether the book changed. */
export function applyChange(book: RevocationBook, change: RevocationChange): boolean {
  if ('full' in change) return book.replace(change.full);
  let changed = false;
  for (const id of change.remove) changed = book.remove(id) || changed;
  for (const entry of change.put) {
    const old = book.get(entry.id);
    if (old === undefined || JSON.stringify(old) !== JSON.stringify(entry)) {
      book.put(entry);
      changed = true;
    }
  }
  return changed;
}

/**
 * Whether a token was issued before `beforeSec`, as far as the token tells: one with a start time
 * started before it; one without a start time ends by `beforeSec + maxLifetimeSec` (every link its
 * route allows ends within maxLifetimeSec of its signing), or, on a route without maxLifetimeSec,
 * counts as issued before (its signing time is unknown; the revocation then ends at its `untilSec`).
 */
export function issuedBefore(token: ParsedToken, beforeSec: number, maxLifetimeSec: number | undefined): boolean {
  if (token.notBeforeSec > 0) return token.notBeforeSec < beforeSec;
  return maxLifetimeSec === undefined || token.expiresSec <= beforeSec + maxLifetimeSec;
}

/**
 * 12 base64url characters (72 bits) of SHA-256: the same token always gives the same
 * fingerprint, so a customer's link can be matched to log lines; it reveals nothing of the token.
 */
export function fingerprint(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 12);
}

/** A route's revocation check (config `revocation`): the thread's book and the route's longest link life. */
export interface RouteRevocation {
  readonly book: RevocationBook;
  /** Links that end further ahead than this are refused: no revocation could be bounded for them. */
  readonly maxLifetimeSec: number | undefined;
}

export const outlivesRevocation: Rejection = rejection(
  Verdict.revoked,
  "the token ends further ahead than the route's revocation.maxLifetimeSec allows (a revocation could not outlast it)",
);

/** The denial for a token each kind of revocation covers (built once: a denial allocates nothing). */
export const revokedBy: Readonly<Record<RevocationKind, Rejection>> = Object.freeze({
  fp: rejection(Verdict.revoked, 'the token is revoked (by its fingerprint)'),
  session: rejection(Verdict.revoked, 'the token is revoked (by its session id)'),
  key: rejection(Verdict.revoked, 'the token is revoked (by the key that signed it)'),
  prefix: rejection(Verdict.revoked, 'the token is revoked (by a path prefix, for links issued before a time)'),
});

/**
 * The route's revocation check, after the token proved genuine and current: the denial, or
 * undefined to allow. `path` is the request's path as the route reads it.
 */
export function checkRevocation<T extends ParsedToken>(
  check: RouteRevocation,
  route: { readonly name: string; readonly scheme: TokenScheme<T> },
  token: T,
  path: string,
  nowSec: number,
  clockSkewSec: number,
): Rejection | undefined {
  const { maxLifetimeSec, book } = check;
  if (maxLifetimeSec !== undefined && token.expiresSec - nowSec > maxLifetimeSec + clockSkewSec) return outlivesRevocation;
  const entry = book.match(route, token, path, nowSec, maxLifetimeSec);
  return entry === undefined ? undefined : revokedBy[entry.kind];
}

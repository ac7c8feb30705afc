import type { SignOption } from '../core/sign-request.js';
import type { ClientIpUse, RouteKey, TokenScheme } from '../core/token-scheme.js';

export type { SignRequest } from '../core/sign-request.js';
export type { ParsedToken, RouteKey, SignedToken, TokenInput, TokenScheme } from '../core/token-scheme.js';

/** How a route's key bytes are written in their file or environment variable. */
export type KeyEncoding = 'text' | 'hex' | 'base64';

export type { ClientIpUse } from '../core/token-scheme.js';

/** What `readOptions` returns for options it refuses: every problem, each prefixed with its path. */
export class OptionProblems {
  constructor(readonly problems: readonly string[]) {}
}

/**
 * A token format, described once; the registry lists these and everything else derives from it.
 * `O` is the format's typed route options, read once from the config by `readOptions`.
 */
export interface SchemeDefinition<O = unknown> {
  /** The one name used in config, CLI, docs and metric labels. */
  readonly id: string;
  readonly summary: string;
  /** The SignRequest options the format signs; `sign` refuses any other (docs/security.md rule 10). */
  readonly signOptions: readonly SignOption[];
  /** required: every token is bound to the client IP; optional: tokens may be. */
  readonly clientIp: ClientIpUse;
  /**
   * How a bound IP is checked: "signed" (the token carries the address, so another client is
   * told apart: wrong-ip) or "hashed" (only hashed in, so another client's request is forged).
   * Default: hashed for required, signed for optional.
   */
  readonly ipBinding?: 'signed' | 'hashed';
  /** How a first path segment that carries the token starts (bunny's "bcdn_token="); the route is chosen on the rest. */
  readonly pathToken?: string;
  /**
   * The format signs nginx's `$uri` (nginx-uri.ts: decoded, dot-segments resolved, slashes
   * merged) rather than the raw path: its routes get that path, and routes are then chosen on it.
   */
  readonly nginxUri?: boolean;
  /** The verdict cache is on for this format's routes unless a route says otherwise (verification costs far more than a lookup). */
  readonly verdictCacheByDefault?: boolean;
  /** Accepted key encodings; the first is the default. */
  readonly keyEncodings: readonly KeyEncoding[];
  /** Why a loaded secret cannot serve this format, or undefined when it can. */
  keyProblem(secret: Buffer): string | undefined;
  /** What to say loudly at startup about options that are valid but weak (never key material). */
  warnings?(options: O): readonly string[];
  /** A route's raw `options` object (`{}` when absent) as typed options, or every problem (prefixed with `path`). */
  readOptions(raw: Readonly<Record<string, unknown>>, path: string): O | OptionProblems;
  /** Lowercase names of the request headers a route with these options reads (cookie, token header). */
  tokenHeaders(options: O): readonly string[];
  /**
   * Options that are secrets (`{ "file" }` or `{ "env" }`, never inline), by name: the config
   * loads each like a key and hands `create` the options with its text in their place.
   */
  secretOptions?(options: O): readonly (readonly [string, { readonly file: string } | { readonly env: string }])[];
  /**
   * Binds the format to a route's keys and options. `routePrefix` is the route's prefix: a token
   * whose scope reaches outside it never verifies, so a key shared by two routes cannot let one
   * route's token open the other (docs/security.md rule 9). `nested`: the route lies inside another
   * route, so a scope pattern wider than its prefix was signed for that outer route (nested-scope.ts).
   */
  create(keys: readonly RouteKey[], options: O, routePrefix: string, nested?: boolean): TokenScheme;
}

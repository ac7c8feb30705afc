import type { SignOption } from '../core/signable-path.js';
import type { ClientIpUse, RouteKey, TokenScheme } from '../core/token-scheme.js';

export type { ParsedToken, RouteKey, SignedToken, SignRequest, TokenInput, TokenScheme } from '../core/token-scheme.js';

/** How a route's key bytes are written in their file or environment variable. */
export type KeyEncoding = 'text' | 'hex' | 'base64';

export type { ClientIpUse } from '../core/token-scheme.js';

/** A token format, described once; the registry lists these and everything else derives from it. */
export interface SchemeDefinition {
  /** The one name used in config, CLI, docs and metric labels. */
  readonly id: string;
  readonly summary: string;
  /** The SignRequest options the format signs; `sign` refuses any other (docs/security.md rule 10). */
  readonly signOptions: readonly SignOption[];
  /** Query parameters the format reads; shown in docs and help. */
  readonly params: readonly string[];
  /** required: every token is bound to the client IP; optional: tokens may be. */
  readonly clientIp: ClientIpUse;
  /** Whether routes of this scheme cache genuine signatures unless told otherwise (chosen by measurement). */
  readonly verdictCacheByDefault: boolean;
  /** Accepted key encodings; the first is the default. */
  readonly keyEncodings: readonly KeyEncoding[];
  /** Lowercase names of request headers a route with these options reads (cookie, token header). */
  headers(options: Readonly<Record<string, unknown>>): readonly string[];
  /** Why a loaded secret cannot serve this format, or undefined when it can. */
  keyProblem(secret: Buffer): string | undefined;
  /** Problems with a route's `options` object, each prefixed with `path`; empty when valid. */
  validateOptions(options: Readonly<Record<string, unknown>>, path: string): string[];
  /**
   * Binds the format to a route's keys and options. `routePrefix` is the route's prefix: a token
   * whose scope reaches outside it never verifies, so a key shared by two routes cannot let one
   * route's token open the other (docs/security.md rule 9).
   */
  create(keys: readonly RouteKey[], options: Readonly<Record<string, unknown>>, routePrefix: string): TokenScheme;
}

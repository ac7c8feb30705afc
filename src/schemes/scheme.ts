import type { RouteKey, TokenScheme } from '../core/token-scheme.js';

export type { ParsedToken, RouteKey, SignRequest, TokenInput, TokenScheme } from '../core/token-scheme.js';

/** A token format, described once; the registry lists these and everything else derives from it. */
export interface SchemeDefinition {
  /** The one name used in config, CLI, docs and metric labels. */
  readonly id: string;
  readonly summary: string;
  /** Query parameters the format reads; shown in docs and help. */
  readonly params: readonly string[];
  /** The client IP is part of the signed material. */
  readonly bindsClientIp: boolean;
  /** Why a loaded secret cannot serve this format, or undefined when it can. */
  keyProblem(secret: Buffer): string | undefined;
  /** Problems with a route's `options` object, each prefixed with `path`; empty when valid. */
  validateOptions(options: Readonly<Record<string, unknown>>, path: string): string[];
  create(keys: readonly RouteKey[], options: Readonly<Record<string, unknown>>): TokenScheme;
}

import type { Rejection } from './verdict.js';

/** One key of a route, already loaded from its file or environment variable. */
export interface RouteKey {
  /** Label for logs, metrics and `tokengate sign`; never secret. */
  readonly id: string;
  readonly secret: Buffer;
}

/** What a scheme sees of a request: raw path and query, and the canonical client IP if known. */
export interface TokenInput {
  readonly path: string;
  readonly query: string;
  readonly clientIp: string | undefined;
}

/** The validity window every parsed token carries; the core checks it after the signature. */
export interface ParsedToken {
  readonly expiresSec: number;
  /** 0 when the format has no start time. */
  readonly notBeforeSec: number;
}

export interface SignRequest {
  readonly path: string;
  readonly expiresSec: number;
  readonly notBeforeSec?: number;
  readonly clientIp?: string;
  /** A per-token random value where the format has one (Alta's salt); random when omitted. */
  readonly nonce?: string;
}

/** A scheme bound to a route's keys and options: everything derivable is computed by `create`. */
export interface TokenScheme<T extends ParsedToken = ParsedToken> {
  /** Cheap grammar checks only (length, charset, decode); no hashing. */
  parse(input: TokenInput): T | Rejection;
  /** True when one of the route's keys produced the signature (constant-time comparison). */
  verify(token: T): boolean;
  /** The query string (without "?") that makes `request.path` valid, signed with the first key. */
  sign(request: SignRequest): string;
}

import type { Rejection } from './verdict.js';

/** One key of a route, already loaded from its file or environment variable and decoded. */
export interface RouteKey {
  /** Label for logs, metrics and `tokengate sign`; never secret. */
  readonly id: string;
  readonly secret: Buffer;
}

/** Whether the client IP is part of what a format signs: always, per token, or never. */
export type ClientIpUse = 'required' | 'optional' | 'unused';

/** Request headers a scheme reads (cookies, a token header), as the proxy forwarded them. */
export interface TokenHeaders {
  /** The value, undefined when absent, null when the header appeared more than once. */
  get(lowercaseName: string): string | undefined | null;
}

export const noHeaders: TokenHeaders = Object.freeze({ get: () => undefined });

/** What a scheme sees of a request: raw path and query, headers, and the canonical client IP if known. */
export interface TokenInput {
  readonly path: string;
  readonly query: string;
  readonly clientIp: string | undefined;
  readonly headers: TokenHeaders;
}

/** The validity window every parsed token carries; the core checks it after the signature. */
export interface ParsedToken {
  readonly expiresSec: number;
  /** 0 when the format has no start time. */
  readonly notBeforeSec: number;
  /**
   * A binding that does not hold for this request (e.g. the client IP is outside the token's
   * range), reported only once the signature is known to be genuine.
   */
  readonly bindingMismatch?: Rejection;
}

export interface SignRequest {
  readonly path: string;
  readonly expiresSec: number;
  readonly notBeforeSec?: number;
  /** A client IP (or, where the format allows, a CIDR range) the token is bound to. */
  readonly clientIp?: string;
  /** Where the format has scopes: the token covers every path under the first N segments of `path`. */
  readonly scopeDepth?: number;
  /** Where the format has one: an opaque session id signed into the token. */
  readonly sessionId?: string;
  /** A per-token random value where the format has one (Alta's salt); random when omitted. */
  readonly nonce?: string;
}

/**
 * Remembers signed material whose signature proved genuine (docs/security.md rule 7). Only successes are
 * added, so junk cannot evict good entries; the clock is still checked on every hit.
 */
export interface VerdictCache {
  /** The entry key of signed material (a digest of it): computed once per request, then looked up or added. */
  keyOf(material: string): string;
  has(key: string): boolean;
  /** Records a genuine signature under its `keyOf` key; returns true, for use in expressions. */
  add(key: string): true;
  /** Counters since the cache was built, read at scrape time. */
  stats(): VerdictCacheStats;
}

export interface VerdictCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly bytes: number;
}

/** A signed token and how the client presents it. */
export type SignedToken =
  | { readonly carrier: 'query'; readonly query: string }
  | { readonly carrier: 'cookie' | 'header'; readonly name: string; readonly value: string };

/** A scheme bound to a route's keys and options: everything derivable is computed by `create`. */
export interface TokenScheme<T extends ParsedToken = ParsedToken> {
  /** Cheap grammar checks only (length, charset, decode); no hashing. */
  parse(input: TokenInput): T | Rejection;
  /** True when one of the route's keys produced the signature (constant-time comparison). */
  verify(token: T): boolean;
  /**
   * Everything the signature covers plus the signature itself, as one string: two tokens with
   * the same key are the same signed material. Used only when the route's verdict cache is on.
   */
  cacheKey(token: T): string;
  /** The token that makes `request.path` valid, signed with the route's first key. */
  sign(request: SignRequest): SignedToken;
}

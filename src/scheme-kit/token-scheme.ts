import type { Rejection } from '../base/verdict.js';
import type { ClientIp } from '../request/client-ip.js';
import type { TokenHeaders } from '../request/token-headers.js';
import type { SignRequest } from './sign-request.js';

/** One key of a route, already loaded from its file or environment variable and decoded. */
export interface RouteKey {
  /** Label for logs, metrics and `tokengate sign`; never secret. */
  readonly id: string;
  readonly secret: Buffer;
}

/** Whether the client IP is part of what a format signs: always, per token, or never. */
export type ClientIpUse = 'required' | 'optional' | 'unused';

/** What a scheme sees of a request: raw path and query, headers, and the client IP if known. */
export interface TokenInput {
  readonly path: string;
  readonly query: string;
  /**
   * Parsed once by the core. Always set for a scheme whose `clientIp` is "required" (the core
   * denies a request without a usable one first); for "optional", set when the request has one.
   */
  readonly clientIp: ClientIp | undefined;
  readonly headers: TokenHeaders;
  /**
   * For formats that carry the token in the path's first segment (bunny's
   * `/bcdn_token=…&expires=…/dir/file`): that segment, without its "/"; `path` is then the rest.
   */
  readonly pathToken?: string | undefined;
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
  readonly bindingMismatch?: Rejection | undefined;
}

/** A cookie or header: its name and value. */
export interface NamedValue {
  readonly name: string;
  readonly value: string;
}

/**
 * A signed token and how the client presents it: in the query, in one cookie or header, or
 * (formats whose token is several cookies, as CloudFront's signed cookies) in `cookies`.
 */
export type SignedToken =
  | { readonly carrier: 'query'; readonly query: string }
  | ({ readonly carrier: 'cookie' | 'header' } & NamedValue)
  | { readonly carrier: 'cookies'; readonly cookies: readonly NamedValue[] };

/** A scheme bound to a route's keys and options: everything derivable is computed by `create`. */
export interface TokenScheme<T extends ParsedToken = ParsedToken> {
  /** Cheap grammar checks only (length, charset, decode); no hashing. */
  parse(input: TokenInput): T | Rejection;
  /**
   * True when one of the route's keys produced the signature (constant-time comparison). A
   * promise (never rejecting) for formats verified asynchronously (jwt, with jose): the core then
   * hands back a pending decision.
   */
  verify(token: T): boolean | Promise<boolean>;
  /**
   * Everything the signature covers plus the signature itself, as one string: two tokens with
   * the same key are the same signed material. Used only when the route's verdict cache is on.
   */
  cacheKey(token: T): string;
  /**
   * What identifies the link (what `identify` returns), read without verifying: revocations by
   * fingerprint (`fp`) and per-link use limits match its digest. The signature as the token
   * carries it, or, for formats whose signatures have a second valid form anyone can write
   * (ECDSA: s and n - s), what was signed. Called only after `verify`.
   */
  signature(token: T): string;
  /** The session id the token carries (hmac `s=`), for revocations by session; absent: the format has none. */
  session?(token: T): string | undefined;
  /**
   * The id of the key that verified the token, read without verifying again, for formats whose
   * tokens name their key (hmac `k=`, CloudFront `Key-Pair-Id`). Called only after `verify`;
   * absent: revocations by key find it with `identify` (a second verification).
   */
  keyId?(token: T): string;
  /**
   * Off the hot path (the decision log, `tokengate verify`): the signature as the token carries
   * it, and the id of the key that made it (the one the token names, or the first of the
   * route's keys that verifies it; undefined when none does).
   */
  identify(token: T): { readonly keyId: string | undefined; readonly signature: string };
  /** The token that makes `request.path` valid, signed with the route's first key. */
  sign(request: SignRequest): SignedToken;
  /**
   * For formats that sign the URL's scheme and host too (`baseUrl` of google-cdn, cloudfront):
   * the `https://host[:port]` every link of the route starts with, whatever else is configured.
   */
  readonly linkBase?: string | undefined;
  /**
   * Set for routes whose tokens name an id rather than a path (jwt with `paths`): such a token
   * carries nothing of the route, so two such routes that share a key must accept different
   * audiences (config refuses them otherwise; docs/security.md rule 9).
   */
  readonly idTokens?: { readonly keyDigests: readonly string[]; readonly audiences: readonly string[] } | undefined;
}

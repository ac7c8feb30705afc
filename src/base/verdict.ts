/**
 * Every outcome of a decision is one of these values; the HTTP edge maps them to status
 * lines in one table (src/http/answers.ts). Nothing below the edge knows about statuses.
 */
export const Verdict = {
  /** Genuine, current, and within every rule of its route: the one allowed outcome (200, X-Token-Status: valid). */
  valid: 'valid',
  /** No token parameter at all. */
  missing: 'missing',
  /** A token is present but breaks the format's grammar. */
  malformed: 'malformed',
  /** Well-formed token whose signature does not match (wrong key, path, IP, fields). */
  forged: 'forged',
  /** Genuine signature, but the current time is past its end. */
  expired: 'expired',
  /** Genuine signature, but the client IP is outside the range the token is bound to. */
  wrongIp: 'wrong-ip',
  /** Genuine signature, but its start lies in the future beyond the allowed clock skew. */
  premature: 'not-yet-valid',
  /**
   * Genuine and within its window, but revoked (by fingerprint, session, key or path prefix), or
   * ending further ahead than its route's `revocation.maxLifetimeSec` (it would outlive a revocation).
   */
  revoked: 'revoked',
  /** Genuine, current and not revoked, but past one of its route's `limits` (uses, rate, client IPs, viewers). */
  overLimit: 'over-limit',
  /** The counters of the route's `limits` cannot be reached and its `onStoreDown` is "deny": not decided, retry. */
  storeDown: 'store-down',
  /** The request target breaks the URI rules (dot-segments, bad escapes, too long...). */
  badUri: 'bad-uri',
  /** No configured route covers the path. */
  noRoute: 'no-route',
  /** The route does not allow the request's method (route `methods`; GET and HEAD by default). */
  badMethod: 'bad-method',
  /** A proxy-set source header is missing, empty, repeated or unparseable: a deployment error. */
  badSource: 'bad-source',
  /** The service itself failed (a bug); never an allow. */
  error: 'error',
} as const;

export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** A denial with the precise rule that caused it (shown by `tokengate verify`, never per request in logs). */
export interface Rejection {
  readonly verdict: Verdict;
  readonly detail: string;
}

/** Rejections are built once at module or scheme load, so a denial on the hot path allocates nothing. */
export function rejection(verdict: Verdict, detail: string): Rejection {
  return Object.freeze({ verdict, detail });
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && 'verdict' in value;
}

import { hash, timingSafeEqual } from 'node:crypto';

/** Failed attempts one client address may make per window before it must wait. */
const maxFailures = 10;
const windowMs = 60_000;
/** Addresses remembered at most (the oldest are forgotten first), so a flood cannot grow the map. */
const maxTracked = 10_000;

export type AccessResult = 'ok' | 'missing' | 'wrong' | 'limited';

/**
 * Bearer-token access to the signing API: the token is compared in constant time (both sides
 * hashed first, so neither length nor content shows in the timing), and an address that fails
 * `maxFailures` times in a minute is refused (429) until its window ends, even with the right token.
 */
export class AccessGate {
  private readonly expected: Buffer;
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(token: string) {
    this.expected = hash('sha256', token, 'buffer');
  }

  /** Whether `given` (the token, or undefined when none was sent) opens the API for `address`. */
  check(given: string | undefined, address: string, nowMs: number = Date.now()): AccessResult {
    const seen = this.failures.get(address);
    if (seen !== undefined && nowMs - seen.since >= windowMs) this.failures.delete(address);
    else if (seen !== undefined && seen.count >= maxFailures) return 'limited';
    if (given === undefined) return 'missing';
    if (timingSafeEqual(hash('sha256', given, 'buffer'), this.expected)) return 'ok';
    this.fail(address, nowMs);
    return 'wrong';
  }

  /** Seconds until `address` may try again. */
  retryAfterSec(address: string, nowMs: number = Date.now()): number {
    const seen = this.failures.get(address);
    return seen === undefined ? 0 : Math.max(1, Math.ceil((seen.since + windowMs - nowMs) / 1000));
  }

  private fail(address: string, nowMs: number): void {
    const seen = this.failures.get(address);
    if (seen !== undefined) {
      seen.count++;
      return;
    }
    if (this.failures.size >= maxTracked) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(address, { count: 1, since: nowMs });
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
  return match === null ? undefined : match[1];
}

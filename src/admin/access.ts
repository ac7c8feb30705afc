import { hash, timingSafeEqual } from 'node:crypto';

/** Different wrong tokens one client may send per window before it must wait. */
const maxFailures = 10;
const windowMs = 60_000;
/** Clients remembered at most (the oldest are forgotten first), so a flood cannot grow the map. */
const maxTracked = 10_000;

/** A check's outcome: the signer whose token it was, or why there is none. */
export type AccessResult = { readonly signer: string } | 'missing' | 'wrong' | 'limited';

/**
 * Bearer-token access to the signing API: the token is compared in constant time with every
 * signer's (both sides hashed first, so neither length nor content shows in the timing, and every
 * signer is compared whichever matches), and a client that sends
 * `maxFailures` different wrong tokens in a minute is refused (429) until its window ends, even
 * with the right token. Failures are counted per client (AdminClient.key: the forwarded client
 * behind a trusted proxy, loopback and each IPv6 /64 as one) and per presented token: the same
 * wrong token sent again is no new guess (a program with a rotated-away token retrying, a form
 * sent twice), so it does not use up the tries of everyone behind the same address.
 */
export class AccessGate {
  private readonly expected: readonly { readonly name: string; readonly digest: Buffer }[];
  /** Per client: the digests of the wrong tokens it sent in its window (at most maxFailures). */
  private readonly failures = new Map<string, { tried: Set<string>; since: number }>();

  /** `digests`: the SHA-256 of each signer's token, by signer name. */
  constructor(digests: ReadonlyMap<string, Buffer>) {
    this.expected = [...digests].map(([name, digest]) => ({ name, digest }));
  }

  /** Whether `given` (the token, or undefined when none was sent) opens the API for `client`. */
  check(given: string | undefined, client: string, nowMs: number = Date.now()): AccessResult {
    const seen = this.failures.get(client);
    if (seen !== undefined && nowMs - seen.since >= windowMs) this.failures.delete(client);
    else if (seen !== undefined && seen.tried.size >= maxFailures) return 'limited';
    if (given === undefined) return 'missing';
    const digest = hash('sha256', given, 'buffer');
    let signer: string | undefined;
    for (const { name, digest: expected } of this.expected) {
      // No early exit: the time taken does not say which signer, if any, matched.
      if (timingSafeEqual(digest, expected) && signer === undefined) signer = name;
    }
    if (signer !== undefined) return { signer };
    this.fail(client, digest.toString('base64', 0, 16), nowMs);
    return 'wrong';
  }

  /** Seconds until `client` may try again. */
  retryAfterSec(client: string, nowMs: number = Date.now()): number {
    const seen = this.failures.get(client);
    return seen === undefined ? 0 : Math.max(1, Math.ceil((seen.since + windowMs - nowMs) / 1000));
  }

  private fail(client: string, tried: string, nowMs: number): void {
    const seen = this.failures.get(client);
    if (seen !== undefined) {
      seen.tried.add(tried);
      return;
    }
    if (this.failures.size >= maxTracked) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(client, { tried: new Set([tried]), since: nowMs });
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
  return match === null ? undefined : match[1];
}

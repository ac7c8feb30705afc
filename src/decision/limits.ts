/**
 * Limits on how a genuine, current link is used (route `limits`): uses per link, distinct client
 * IPs per link within a window (a shared link), viewers at once (distinct IPs seen within the last
 * few seconds) and requests per second. The decision stays pure: a request on a limited route that
 * passes every other check comes out of `authorize` as an allow with a `LimitCheck`, which the edge
 * hands to the thread's `Limiter` (counters in memory, or in Redis) before answering. Routes
 * without `limits` never reach a limiter.
 */
import { hash } from 'node:crypto';
import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/** The limits a route can set, in the order they are checked. */
export const limitNames = ['uses', 'perSecond', 'clientIps', 'viewers'] as const;
export type LimitName = (typeof limitNames)[number];

/** A number of distinct client IPs allowed within a sliding window. */
export interface IpWindow {
  readonly max: number;
  readonly windowSec: number;
}

/** A route's `limits`, validated. Every limit is off unless set. */
export interface LimitSpec {
  /** What a counter counts: each link (its fingerprint), or each session (hmac `s=`; links without one count alone). */
  readonly per: 'link' | 'session';
  /** Allowed requests over the link's whole life (downloads). */
  readonly uses: number | undefined;
  /** Allowed requests within each whole second of the clock. */
  readonly perSecond: number | undefined;
  /** Distinct client IPs within the last `windowSec` (a link shared with others). */
  readonly clientIps: IpWindow | undefined;
  /** Viewers at once: distinct client IPs within the last `windowSec` (a few seconds: a stream's segment interval). */
  readonly viewers: IpWindow | undefined;
  /** When the counters cannot be reached: refuse (`store-down`, 503) or allow without counting. */
  readonly onStoreDown: 'deny' | 'allow';
}

/** One request to count: whose counters, from which client, and until when the counters must live. */
export interface LimitCheck {
  /** The route's name (counters are a route's own). */
  readonly route: string;
  /** 12 base64url characters naming the route and the counted link or session in it (no secret, no token). */
  readonly subject: string;
  /** The client IP as the decision read it; undefined when the listener reads none. */
  readonly clientIp: string | undefined;
  /** The link's end (unix seconds): its use count must outlive every request it can still make. */
  readonly expiresSec: number;
  readonly spec: LimitSpec;
}

/** What a limiter answers: every limit held (the request counted), or the first one exceeded (nothing counted). */
export type LimitOutcome = { readonly over: undefined } | { readonly over: LimitName };

export const withinLimits: LimitOutcome = Object.freeze({ over: undefined });

/**
 * Where a thread's checks go: counters in this process's memory, or in Redis. A check either
 * counts the request under every limit of its route or, when one limit is reached, counts
 * nothing and names it: a refused request never uses up a limit. Rejects when the counters
 * cannot be reached (the route's `onStoreDown` then decides).
 */
export interface Limiter {
  check(request: LimitCheck): LimitOutcome | Promise<LimitOutcome>;
}

/** A route's limits, compiled: its spec and the thread's limiter. */
export interface RouteLimits {
  readonly spec: LimitSpec;
  readonly limiter: Limiter;
  /** Some limit counts client IPs: a request without one cannot be counted. */
  readonly needsClientIp: boolean;
}

/** The counters' name for a link or session of a route: nothing of the token can be read back from it. */
export function limitSubject(route: string, per: 'link' | 'session', signature: string, session: string | undefined): string {
  const counted = per === 'session' && session !== undefined ? `s\n${session}` : `l\n${signature}`;
  return hash('sha256', `${route}\n${counted}`, 'base64url').slice(0, 12);
}

/** The denial for each limit (built once: a denial allocates nothing). */
export const overLimit: Readonly<Record<LimitName, Rejection>> = Object.freeze({
  uses: rejection(Verdict.overLimit, 'the link has been used as many times as its route allows (limits.uses)'),
  perSecond: rejection(Verdict.overLimit, 'the link made more requests this second than its route allows (limits.perSecond)'),
  clientIps: rejection(Verdict.overLimit, 'the link was used from more client IPs than its route allows (limits.clientIps)'),
  viewers: rejection(Verdict.overLimit, 'the link has more viewers at once than its route allows (limits.viewers)'),
});

export const limitStoreDown: Rejection = rejection(
  Verdict.storeDown,
  'the counters of the route\'s limits cannot be reached (route limits.onStoreDown is "deny")',
);

export const limitNeedsClientIp: Rejection = rejection(
  Verdict.badSource,
  'the route limits client IPs per link but the listener reads no client IP (clientIpHeader)',
);

/** One subject's counters in memory. */
interface Counters {
  uses: number;
  second: number;
  inSecond: number;
  /** Client IP → when last seen (ms); only IPs seen within the window are kept. Made for routes that count IPs. */
  ips: Map<string, number> | undefined;
  viewers: Map<string, number> | undefined;
  /** When these counters can be forgotten (ms): the link has ended and every window has passed. */
  untilMs: number;
}

/** Forgets the IPs last seen before `sinceMs`. */
function trim(ips: Map<string, number>, sinceMs: number): void {
  for (const [ip, seenMs] of ips) if (seenMs <= sinceMs) ips.delete(ip);
}

function ipWindowFull(ips: Map<string, number>, window: IpWindow, ip: string, nowMs: number): boolean {
  trim(ips, nowMs - window.windowSec * 1000);
  return !ips.has(ip) && ips.size >= window.max;
}

/**
 * Counters in this process's memory: exact (one thread owns them; other threads ask it), lost
 * on restart, never shared with another instance. The same rules as the Redis script
 * (src/state/redis-limits.ts). The clock is injected.
 */
export class MemoryLimiter implements Limiter {
  private readonly subjects = new Map<string, Counters>();
  private sweptMs = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  get size(): number {
    return this.subjects.size;
  }

  check(request: LimitCheck): LimitOutcome {
    const nowMs = this.nowMs();
    this.sweep(nowMs);
    // The subject already names the route (limitSubject hashes it in).
    const { spec, clientIp, subject } = request;
    let counters = this.subjects.get(subject);
    if (counters === undefined) {
      counters = { uses: 0, second: 0, inSecond: 0, ips: undefined, viewers: undefined, untilMs: 0 };
      this.subjects.set(subject, counters);
    }
    const second = Math.floor(nowMs / 1000);
    if (spec.uses !== undefined && counters.uses >= spec.uses) return overUses;
    if (spec.perSecond !== undefined && counters.second === second && counters.inSecond >= spec.perSecond) return overRate;
    const ip = clientIp ?? '';
    if (spec.clientIps !== undefined) {
      counters.ips ??= new Map();
      if (ipWindowFull(counters.ips, spec.clientIps, ip, nowMs)) return overIps;
    }
    if (spec.viewers !== undefined) {
      counters.viewers ??= new Map();
      if (ipWindowFull(counters.viewers, spec.viewers, ip, nowMs)) return overViewers;
    }
    counters.uses++;
    if (counters.second === second) counters.inSecond++;
    else {
      counters.second = second;
      counters.inSecond = 1;
    }
    counters.ips?.set(ip, nowMs);
    counters.viewers?.set(ip, nowMs);
    counters.untilMs = Math.max(counters.untilMs, countersUntilMs(request, nowMs));
    return withinLimits;
  }

  /** Forgets ended subjects, at most once a second. */
  private sweep(nowMs: number): void {
    if (nowMs - this.sweptMs < 1000) return;
    this.sweptMs = nowMs;
    for (const [key, counters] of this.subjects) if (counters.untilMs < nowMs) this.subjects.delete(key);
  }
}

/**
 * Until when a subject's counters matter (ms): the use count until the link ends (it could still
 * be used), each window until it has passed since this request, a second's count for a second.
 */
export function countersUntilMs(request: LimitCheck, nowMs: number): number {
  const { spec } = request;
  let untilMs = nowMs + 1000;
  if (spec.uses !== undefined) untilMs = Math.max(untilMs, request.expiresSec * 1000 + 1000);
  if (spec.clientIps !== undefined) untilMs = Math.max(untilMs, nowMs + spec.clientIps.windowSec * 1000);
  if (spec.viewers !== undefined) untilMs = Math.max(untilMs, nowMs + spec.viewers.windowSec * 1000);
  return untilMs;
}

const overUses: LimitOutcome = Object.freeze({ over: 'uses' as const });
const overRate: LimitOutcome = Object.freeze({ over: 'perSecond' as const });
const overIps: LimitOutcome = Object.freeze({ over: 'clientIps' as const });
const overViewers: LimitOutcome = Object.freeze({ over: 'viewers' as const });

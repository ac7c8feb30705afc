/**
 * What the edge records per decision, as plain numbers in typed arrays: one increment and one
 * bucket search per request, no labels, no prom-client call. prom-client reads a snapshot of
 * these at scrape time (src/metrics/exposition.ts), merged across worker threads.
 */

import { Verdict } from '../base/verdict.js';
import type { Decision, Gate, Route } from '../decision/authorize.js';
import { type ConnectionCounts, type ConnectionRow, mergeConnectionRows } from './connection-metrics.js';

/** Every verdict, in the order the per-route count arrays use. */
export const verdicts: readonly Verdict[] = Object.values(Verdict);

const verdictIndex = Object.fromEntries(verdicts.map((verdict, i) => [verdict, i])) as Record<Verdict, number>;

/**
 * Upper bounds of the decision-latency buckets, in seconds. A decision takes 1-10 µs; the upper
 * buckets catch a stalled process (GC pause, a slow regex on a hostile URI, CPU starvation).
 */
export const latencyBounds: readonly number[] = [
  0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025,
];

/** A structured-clone-friendly copy of the counters, as a worker thread posts it. */
export interface MetricsSnapshot {
  /** Counts per verdict (in `verdicts` order) per listener, route and scheme; route "" = before any route matched. */
  readonly requests: readonly { listener: string; route: string; scheme: string; counts: number[] }[];
  /** Non-cumulative counts per bucket of `latencyBounds`, plus one for +Inf. */
  readonly latency: readonly { listener: string; buckets: number[]; sum: number; count: number }[];
  readonly caches: readonly { route: string; scheme: string; hits: number; misses: number; entries: number }[];
  /** Listeners that bound their own connections (gRPC): open connections and cut-offs. */
  readonly connections: readonly ConnectionRow[];
}

export const emptySnapshot: MetricsSnapshot = Object.freeze({ requests: [], latency: [], caches: [], connections: [] });

/** The counters of one auth listener in one thread. */
export class ListenerMetrics {
  private readonly series = new Map<string, { route: string; scheme: string; counts: Float64Array }>();
  /** Per compiled route (a reload compiles new ones; old ones are collected with their gate). */
  private readonly slots = new WeakMap<Route, Float64Array>();
  private readonly unrouted: Float64Array;
  private readonly buckets = new Float64Array(latencyBounds.length + 1);
  private latencySum = 0;
  /** Set by a listener that bounds its own connections (the gRPC listener). */
  connections: ConnectionCounts | undefined;

  constructor(readonly listener: string) {
    this.unrouted = this.seriesFor('', '');
  }

  /** Counts one decision that took `seconds`. */
  record(decision: Decision, seconds: number): void {
    const route = decision.route;
    const counts = route === undefined ? this.unrouted : (this.slots.get(route) ?? this.slotFor(route));
    counts[verdictIndex[decision.verdict]]!++;
    let bucket = 0;
    while (bucket < latencyBounds.length && seconds > latencyBounds[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.latencySum += seconds;
  }

  private slotFor(route: Route): Float64Array {
    const counts = this.seriesFor(route.name, route.schemeId);
    this.slots.set(route, counts);
    return counts;
  }

  private seriesFor(route: string, scheme: string): Float64Array {
    const key = `${route}\n${scheme}`;
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { route, scheme, counts: new Float64Array(verdicts.length) };
      this.series.set(key, entry);
    }
    return entry.counts;
  }

  /** Makes every route of `gate` appear in the exposition (at 0) before its first request. */
  declare(gate: Gate): void {
    for (const route of gate.routes) if (!this.slots.has(route)) this.slotFor(route);
  }

  snapshotInto(
    requests: MetricsSnapshot['requests'][number][],
    latency: MetricsSnapshot['latency'][number][],
    connections: ConnectionRow[],
  ): void {
    if (this.connections !== undefined) connections.push(this.connections.row(this.listener));
    for (const { route, scheme, counts } of this.series.values()) {
      requests.push({ listener: this.listener, route, scheme, counts: Array.from(counts) });
    }
    const buckets = Array.from(this.buckets);
    latency.push({ listener: this.listener, buckets, sum: this.latencySum, count: buckets.reduce((a, b) => a + b, 0) });
  }
}

/** The counters of one thread: its listeners, and the verdict caches of every gate it served. */
export class ThreadMetrics {
  readonly listeners: ListenerMetrics[] = [];
  /** Hits and misses of caches that a reload replaced, so the exposed counters never go down. */
  private readonly retired = new Map<string, { route: string; scheme: string; hits: number; misses: number }>();

  constructor(private gate: Gate) {}

  listener(name: string): ListenerMetrics {
    const metrics = new ListenerMetrics(name);
    metrics.declare(this.gate);
    this.listeners.push(metrics);
    return metrics;
  }

  /** Call when `next` replaces the gate (reload): folds the old caches' counts into the totals. */
  gateReplaced(next: Gate): void {
    for (const route of this.gate.routes) {
      if (route.cache === undefined) continue;
      const { hits, misses } = route.cache.stats();
      const key = `${route.name}\n${route.schemeId}`;
      const total = this.retired.get(key) ?? { route: route.name, scheme: route.schemeId, hits: 0, misses: 0 };
      total.hits += hits;
      total.misses += misses;
      this.retired.set(key, total);
    }
    this.gate = next;
    for (const listener of this.listeners) listener.declare(next);
  }

  snapshot(): MetricsSnapshot {
    const requests: MetricsSnapshot['requests'][number][] = [];
    const latency: MetricsSnapshot['latency'][number][] = [];
    const connections: ConnectionRow[] = [];
    for (const listener of this.listeners) listener.snapshotInto(requests, latency, connections);
    const caches = new Map<string, MetricsSnapshot['caches'][number]>();
    for (const [key, { route, scheme, hits, misses }] of this.retired)
      caches.set(key, { route, scheme, hits, misses, entries: 0 });
    for (const route of this.gate.routes) {
      if (route.cache === undefined) continue;
      const stats = route.cache.stats();
      const key = `${route.name}\n${route.schemeId}`;
      const before = caches.get(key);
      caches.set(key, {
        route: route.name,
        scheme: route.schemeId,
        hits: stats.hits + (before?.hits ?? 0),
        misses: stats.misses + (before?.misses ?? 0),
        entries: stats.entries,
      });
    }
    return { requests, latency, caches: [...caches.values()], connections };
  }
}

function addInto(sum: number[], more: readonly number[]): void {
  for (const [i, count] of more.entries()) sum[i] = (sum[i] ?? 0) + count;
}

/** Sums snapshots (one per worker thread, plus what exited workers had counted). */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const requests = new Map<string, MetricsSnapshot['requests'][number]>();
  const latency = new Map<string, MetricsSnapshot['latency'][number]>();
  const caches = new Map<string, MetricsSnapshot['caches'][number]>();
  for (const snapshot of snapshots) {
    for (const row of snapshot.requests) {
      const key = `${row.listener}\n${row.route}\n${row.scheme}`;
      const sum = requests.get(key);
      if (sum === undefined) requests.set(key, { ...row, counts: [...row.counts] });
      else addInto(sum.counts, row.counts);
    }
    for (const row of snapshot.latency) {
      const sum = latency.get(row.listener);
      if (sum === undefined) {
        latency.set(row.listener, { ...row, buckets: [...row.buckets] });
      } else {
        addInto(sum.buckets, row.buckets);
        sum.sum += row.sum;
        sum.count += row.count;
      }
    }
    for (const row of snapshot.caches) {
      const key = `${row.route}\n${row.scheme}`;
      const sum = caches.get(key);
      if (sum === undefined) caches.set(key, { ...row });
      else {
        sum.hits += row.hits;
        sum.misses += row.misses;
        sum.entries += row.entries;
      }
    }
  }
  return {
    requests: [...requests.values()],
    latency: [...latency.values()],
    caches: [...caches.values()],
    connections: mergeConnectionRows(snapshots.flatMap((snapshot) => snapshot.connections)),
  };
}

/** Counts an exited worker's last snapshot as if it were still there, with its caches emptied. */
export function retire(snapshot: MetricsSnapshot): MetricsSnapshot {
  return { ...snapshot, caches: snapshot.caches.map((cache) => ({ ...cache, entries: 0 })) };
}

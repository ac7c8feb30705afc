/**
 * The families whose values come from the threads' snapshots, merged when Prometheus scrapes:
 * decision times, requests, gRPC cuts and verdict caches (and the worker counts beside them).
 */
import { Counter, Gauge, type MetricValue, type Registry } from 'prom-client';
import type { Verdict } from '../base/verdict.js';
import { preRouteVerdicts } from '../decision/authorize.js';
import { connectionLimits } from './connection-metrics.js';
import { latencyBounds, type MetricsSnapshot, verdicts } from './decision-metrics.js';
import type { ExpositionSources } from './exposition.js';

/** A histogram whose buckets are filled from snapshots instead of observe() calls. */
export function snapshotHistogram(name: string, help: string, labelName: string) {
  let rows: MetricsSnapshot['latency'] = [];
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    set(next: MetricsSnapshot['latency']) {
      rows = next;
    },
    get() {
      const values: MetricValue<string>[] = [];
      for (const row of rows) {
        let cumulative = 0;
        for (const [i, bound] of [...latencyBounds, Number.POSITIVE_INFINITY].entries()) {
          cumulative += row.buckets[i] ?? 0;
          values.push({
            metricName: `${name}_bucket`,
            labels: { [labelName]: row.listener, le: bound === Number.POSITIVE_INFINITY ? '+Inf' : bound },
            value: cumulative,
          } as MetricValue<string>);
        }
        values.push({ metricName: `${name}_sum`, labels: { [labelName]: row.listener }, value: row.sum } as MetricValue<string>);
        values.push({
          metricName: `${name}_count`,
          labels: { [labelName]: row.listener },
          value: row.count,
        } as MetricValue<string>);
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset() {
      rows = [];
    },
  };
}

/** What the scrape-time collectors read: the merged snapshot of this scrape, and the serving config's facts. */
export interface ScrapeView {
  snapshot: MetricsSnapshot;
  /** Verdicts each route can give (its scheme's and its client-IP rule's), from the serving config. */
  routeVerdicts: Map<string, ReadonlySet<Verdict>>;
}

/** The deciding threads: how long each decision took, how many threads decide, how many were replaced. */
export function threadFamilies(registry: Registry, sources: Pick<ExpositionSources, 'workers' | 'workerRestarts'>) {
  const latency = snapshotHistogram(
    'tokengate_decision_duration_seconds',
    'Time tokengate spent deciding each auth request, by listener: from the parsed request to the chosen answer (source headers, URI checks, route, token, signature, clock). Excludes waiting for the thread, socket I/O and HTTP parsing.',
    'listener',
  );
  registry.registerMetric(latency as never);
  new Gauge({
    name: 'tokengate_workers',
    help: 'Auth worker threads serving (1 when the main thread serves).',
    registers: [registry],
    collect() {
      this.set(sources.workers());
    },
  });
  new Counter({
    name: 'tokengate_worker_restarts_total',
    help: 'Auth worker threads that exited unexpectedly and were replaced.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.workerRestarts());
    },
  });
  return latency;
}

/** What the listeners decided, and what the gRPC listeners cut off. */
export function trafficFamilies(registry: Registry, view: ScrapeView): void {
  new Counter({
    name: 'tokengate_requests_total',
    help: 'Auth requests decided, by listener, route, scheme and verdict (route "" = rejected before routing); only verdicts the route can give, or that were counted.',
    labelNames: ['listener', 'route', 'scheme', 'verdict'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of view.snapshot.requests) {
        const possible = row.route === '' ? preRouteVerdicts : view.routeVerdicts.get(`${row.route}\n${row.scheme}`);
        for (const [i, verdict] of verdicts.entries()) {
          const count = row.counts[i] ?? 0;
          // Never hide a count; leave out series that cannot move.
          if (count === 0 && possible !== undefined && !possible.has(verdict)) continue;
          this.inc({ listener: row.listener, route: row.route, scheme: row.scheme, verdict }, count);
        }
      }
    },
  });
  new Counter({
    name: 'tokengate_grpc_limits_total',
    help: 'Connections and calls an Envoy gRPC listener cut off, by limit: max-connections (refused at once), handshake (no HTTP/2 preface and SETTINGS in time), idle (kept open past the GOAWAY after the idle timeout), request (a call whose request did not arrive in time, answered DEADLINE_EXCEEDED).',
    labelNames: ['listener', 'limit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of view.snapshot.connections) {
        for (const [i, limit] of connectionLimits.entries()) this.inc({ listener: row.listener, limit }, row.cut[i] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'tokengate_grpc_connections',
    help: 'Open connections of each Envoy gRPC listener (at most its maxConnections).',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of view.snapshot.connections) this.set({ listener: row.listener }, row.open);
    },
  });
}

/** The verdict caches: lookups by outcome, and entries held. */
export function cacheFamilies(registry: Registry, view: ScrapeView): void {
  const cacheCounter = (name: string, help: string, field: 'hits' | 'misses') =>
    new Counter({
      name,
      help,
      labelNames: ['route', 'scheme'],
      registers: [registry],
      collect() {
        this.reset();
        for (const row of view.snapshot.caches) this.inc({ route: row.route, scheme: row.scheme }, row[field]);
      },
    });
  cacheCounter('tokengate_verdict_cache_hits_total', 'Verdict-cache lookups that found a genuine signature.', 'hits');
  cacheCounter('tokengate_verdict_cache_misses_total', 'Verdict-cache lookups that had to verify the signature.', 'misses');
  new Gauge({
    name: 'tokengate_verdict_cache_entries',
    help: 'Genuine signatures held in the verdict caches, summed over workers.',
    labelNames: ['route', 'scheme'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of view.snapshot.caches) this.set({ route: row.route, scheme: row.scheme }, row.entries);
    },
  });
}

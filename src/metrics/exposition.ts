/**
 * The Prometheus exposition: one prom-client Registry, served on the admin listener only.
 * Hot-path numbers come from snapshots (every worker thread's counters, merged) taken when
 * Prometheus scrapes; nothing here runs per request.
 */
import { Counter, collectDefaultMetrics, Gauge, type MetricValue, Registry } from 'prom-client';
import type { Verdict } from '../base/verdict.js';
import type { LoadedConfig } from '../config/load-config.js';
import { preRouteVerdicts } from '../decision/authorize.js';
import { connectionLimits } from './connection-metrics.js';
import { latencyBounds, type MetricsSnapshot, mergeSnapshots, verdicts } from './decision-metrics.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text. */
  render(): Promise<string>;
  configLoaded(loaded: LoadedConfig): void;
  reloadFailed(): void;
  /** A link signed by the signing API or page. */
  linkSigned(route: string): void;
}

export interface ExpositionSources {
  /** Snapshots of every thread that decides requests (collected when Prometheus scrapes). */
  snapshots(): Promise<readonly MetricsSnapshot[]>;
  /** Auth worker threads currently serving (1 when the main thread serves). */
  workers(): number;
  /** Auth workers that exited unexpectedly and were replaced. */
  workerRestarts(): number;
  readonly engine: string;
  /** Serving with the fallback engine because the configured one cannot load on this machine. */
  readonly engineFallback: boolean;
  readonly version: string;
}

/** A histogram whose buckets are filled from snapshots instead of observe() calls. */
function snapshotHistogram(name: string, help: string, labelName: string) {
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

export function serviceMetrics(sources: ExpositionSources): ServiceMetrics {
  const registry = new Registry();
  // The standard process_* and nodejs_* series generic dashboards and alerts look for. process_*
  // cover the whole process (every worker thread); nodejs_* the main thread's isolate and loop.
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters: their unsuffixed twins (nodejs_active_handles...) say the same.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  let snapshot: MetricsSnapshot = { requests: [], latency: [], caches: [], connections: [] };
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
  /** Verdicts each route can give (its scheme's and its client-IP rule's), from the serving config. */
  let routeVerdicts = new Map<string, ReadonlySet<Verdict>>();
  new Counter({
    name: 'tokengate_requests_total',
    help: 'Auth requests decided, by listener, route, scheme and verdict (route "" = rejected before routing); only verdicts the route can give, or that were counted.',
    labelNames: ['listener', 'route', 'scheme', 'verdict'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of snapshot.requests) {
        const possible = row.route === '' ? preRouteVerdicts : routeVerdicts.get(`${row.route}\n${row.scheme}`);
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
      for (const row of snapshot.connections) {
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
      for (const row of snapshot.connections) this.set({ listener: row.listener }, row.open);
    },
  });
  const cacheCounter = (name: string, help: string, field: 'hits' | 'misses') =>
    new Counter({
      name,
      help,
      labelNames: ['route', 'scheme'],
      registers: [registry],
      collect() {
        this.reset();
        for (const row of snapshot.caches) this.inc({ route: row.route, scheme: row.scheme }, row[field]);
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
      for (const row of snapshot.caches) this.set({ route: row.route, scheme: row.scheme }, row.entries);
    },
  });
  const keys = new Gauge({
    name: 'tokengate_keys',
    help: 'Keys loaded, by route, scheme and key id (1 each; never key material).',
    labelNames: ['route', 'scheme', 'key_id'],
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'tokengate_config_reloads_total',
    help: 'Config reloads by result (success, failure); a failed reload keeps the previous config serving.',
    labelNames: ['result'],
    registers: [registry],
  });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  const loadedAt = new Gauge({
    name: 'tokengate_config_loaded_timestamp_seconds',
    help: 'When the serving config was loaded (Unix time).',
    registers: [registry],
  });
  const configInfo = new Gauge({
    name: 'tokengate_config_info',
    help: 'The serving config: source and SHA-256 digest of its text (key material is never in it).',
    labelNames: ['source', 'digest'],
    registers: [registry],
  });
  new Gauge({
    name: 'tokengate_engine_info',
    help: 'The HTTP engine serving the auth listeners.',
    labelNames: ['engine'],
    registers: [registry],
  }).set({ engine: sources.engine }, 1);
  new Gauge({
    name: 'tokengate_engine_fallback',
    help: '1 when the configured engine (uws) cannot load on this machine and the node engine serves instead (engineFallback).',
    registers: [registry],
  }).set(sources.engineFallback ? 1 : 0);
  new Gauge({
    name: 'tokengate_build_info',
    help: 'tokengate version and the Node.js it runs on.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: sources.version, node_version: process.version }, 1);

  const linksSigned = new Counter({
    name: 'tokengate_links_signed_total',
    help: 'Links signed by the signing API and page, by route.',
    labelNames: ['route'],
    registers: [registry],
  });

  let loads = 0;
  return {
    registry,
    contentType: registry.contentType,
    // prom-client runs every collector at once, so the snapshot they read is taken before.
    async render() {
      snapshot = mergeSnapshots(await sources.snapshots());
      latency.set(snapshot.latency);
      return registry.metrics();
    },
    configLoaded(loaded) {
      if (loads++ > 0) reloads.inc({ result: 'success' });
      routeVerdicts = new Map(loaded.gate.routes.map((route) => [`${route.name}\n${route.schemeId}`, route.verdicts]));
      keys.reset();
      for (const route of loaded.gate.routes) {
        for (const keyId of route.keyIds) keys.set({ route: route.name, scheme: route.schemeId, key_id: keyId }, 1);
      }
      loadedAt.set(Date.now() / 1000);
      configInfo.reset();
      configInfo.set({ source: loaded.source, digest: loaded.digest }, 1);
    },
    reloadFailed() {
      reloads.inc({ result: 'failure' });
    },
    linkSigned(route) {
      linksSigned.inc({ route });
    },
  };
}

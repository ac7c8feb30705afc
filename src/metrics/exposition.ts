/**
 * The Prometheus exposition: one prom-client Registry, served on the admin listener only.
 * Hot-path numbers come from snapshots (every worker thread's counters, merged) taken when
 * Prometheus scrapes; nothing here runs per request.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LoadedConfig } from '../config/load-config.js';
import type { RevocationStatus } from '../state/revocation-store.js';
import { type MetricsSnapshot, mergeSnapshots } from './decision-metrics.js';
import { type LimitStatus, limitFamilies, storeUpGauge } from './limit-families.js';
import { cacheFamilies, type ScrapeView, threadFamilies, trafficFamilies } from './snapshot-families.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text. */
  render(): Promise<string>;
  configLoaded(loaded: LoadedConfig): void;
  reloadFailed(): void;
  /** A link signed by the signing API or page. */
  linkSigned(route: string, signer: string): void;
  /** A revocation made through the signing API or page. */
  revocationMade(kind: string): void;
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
  /** The revocations' store and list; absent: this process keeps none. */
  revocations?(): RevocationStatus;
  /** The counters of route limits; absent: this process keeps none. */
  limits?(): LimitStatus;
}

/** The standard process_* and nodejs_* series generic dashboards and alerts look for. */
function processFamilies(registry: Registry): void {
  // process_* cover the whole process (every worker thread); nodejs_* the main thread's isolate and loop.
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters: their unsuffixed twins (nodejs_active_handles...) say the same.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}

/** The serving config: its keys, reloads, load time and digest; set by each (re)load. */
function configFamilies(registry: Registry) {
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
  return { keys, reloads, loadedAt, configInfo };
}

/** What runs: the engine, whether it is the fallback, the version and the Node.js. */
function buildFamilies(registry: Registry, sources: ExpositionSources): void {
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
}

/** Links the signing API and page signed. */
function signingFamilies(registry: Registry) {
  return new Counter({
    name: 'tokengate_links_signed_total',
    help: 'Links signed by the signing API and page, by route and signer.',
    labelNames: ['route', 'signer'],
    registers: [registry],
  });
}

/** Revocations: the list in force, the store's reachability, the last full sync; revocations made here. */
function stateFamilies(registry: Registry, sources: ExpositionSources) {
  const status = () => sources.revocations?.();
  new Gauge({
    name: 'tokengate_revocations',
    help: 'Revocations in force (entries whose end has not passed), as this instance holds them.',
    registers: [registry],
    collect() {
      this.set(status()?.entries ?? 0);
    },
  });
  storeUpGauge(
    registry,
    'tokengate_state_store_up',
    'Whether the revocation store (file or redis) can be read: 1 yes, 0 no (the last list keeps applying). Absent when no route checks revocations.',
    status,
  );
  new Gauge({
    name: 'tokengate_revocations_synced_timestamp_seconds',
    help: 'When the revocation list last matched the store in full (Unix time; 0: never).',
    registers: [registry],
    collect() {
      this.set(status()?.syncedSec ?? 0);
    },
  });
  new Counter({
    name: 'tokengate_state_store_outages_total',
    help: 'Times the revocation store became unreachable.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status()?.outages ?? 0);
    },
  });
  new Counter({
    name: 'tokengate_revocations_refused_total',
    help: 'Stored revocations refused when read (malformed or from an unknown version): not applied; the log says why.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status()?.refused ?? 0);
    },
  });
  return new Counter({
    name: 'tokengate_revocations_made_total',
    help: 'Revocations made through the signing API and page of this instance, by kind (fp, session, key, prefix).',
    labelNames: ['kind'],
    registers: [registry],
  });
}

/** The registry with every family, registered in the order the exposition lists them. */
export function serviceMetrics(sources: ExpositionSources): ServiceMetrics {
  const registry = new Registry();
  const view: ScrapeView = {
    snapshot: { requests: [], latency: [], caches: [], connections: [] },
    routeVerdicts: new Map(),
  };
  processFamilies(registry);
  const latency = threadFamilies(registry, sources);
  trafficFamilies(registry, view);
  cacheFamilies(registry, view);
  const config = configFamilies(registry);
  buildFamilies(registry, sources);
  const linksSigned = signingFamilies(registry);
  const revocationsMade = stateFamilies(registry, sources);
  limitFamilies(registry, () => sources.limits?.());
  let loads = 0;
  return {
    registry,
    contentType: registry.contentType,
    // prom-client runs every collector at once, so the snapshot they read is taken before.
    async render() {
      view.snapshot = mergeSnapshots(await sources.snapshots());
      latency.set(view.snapshot.latency);
      return registry.metrics();
    },
    configLoaded(loaded) {
      if (loads++ > 0) config.reloads.inc({ result: 'success' });
      view.routeVerdicts = new Map(loaded.gate.routes.map((route) => [`${route.name}\n${route.schemeId}`, route.verdicts]));
      config.keys.reset();
      for (const route of loaded.gate.routes) {
        for (const keyId of route.keyIds) config.keys.set({ route: route.name, scheme: route.schemeId, key_id: keyId }, 1);
      }
      config.loadedAt.set(Date.now() / 1000);
      config.configInfo.reset();
      config.configInfo.set({ source: loaded.source, digest: loaded.digest }, 1);
    },
    reloadFailed() {
      config.reloads.inc({ result: 'failure' });
    },
    linkSigned(route, signer) {
      linksSigned.inc({ route, signer });
    },
    revocationMade(kind) {
      revocationsMade.inc({ kind });
    },
  };
}

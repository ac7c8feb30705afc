import { Counter, Gauge, type Registry } from 'prom-client';

/** What the counters of route limits report (the service's LimitCounting). */
export interface LimitStatus {
  /** Where the counters are, or undefined while no route has limits. */
  readonly store: 'memory' | 'redis' | undefined;
  /** Requests refused, by route and limit ("route\nlimit" → count). */
  readonly exceeded: ReadonlyMap<string, number>;
  /** Checks that could not reach the counters (answered by the route's onStoreDown). */
  readonly failures: number;
  /** Redis: connected now. Memory: always. */
  readonly up: boolean;
}

/** Limits: requests refused by each limit, checks that found the counters unreachable, the counters' store. */
export function limitFamilies(registry: Registry, status: () => LimitStatus | undefined): void {
  new Counter({
    name: 'tokengate_limit_exceeded_total',
    help: 'Requests refused over-limit, by route and limit (uses, perSecond, clientIps, viewers).',
    labelNames: ['route', 'limit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of status()?.exceeded ?? []) {
        const [route = '', limit = ''] = key.split('\n');
        this.inc({ route, limit }, count);
      }
    },
  });
  new Counter({
    name: 'tokengate_limit_store_failures_total',
    help: "Limit checks that could not reach the counters (Redis down or slower than state.limitTimeoutMs): each route's limits.onStoreDown answered them.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status()?.failures ?? 0);
    },
  });
  storeUpGauge(
    registry,
    'tokengate_limit_store_up',
    'Whether the counters of route limits can be reached: 1 yes, 0 no. Absent when no route has limits.',
    status,
  );
}

/** A store's reachability, labelled by its kind: 1 up, 0 down, absent while no store is open. */
export function storeUpGauge(
  registry: Registry,
  name: string,
  help: string,
  status: () => { readonly store: string | undefined; readonly up: boolean } | undefined,
): void {
  new Gauge({
    name,
    help,
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.reset();
      const now = status();
      if (now?.store !== undefined) this.set({ store: now.store }, now.up ? 1 : 0);
    },
  });
}

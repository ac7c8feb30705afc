import { Problems } from '../base/problems.js';
import type { DecisionLogSettings } from '../decision/authorize.js';
import type { AdminListenerConfig, AuthListenerConfig, Config, GrpcListenerConfig, ListenerBase, RouteConfig } from './config.js';
import { parseAdmin } from './parse-admin.js';
import { parseListener } from './parse-listener.js';
import { parseRoute } from './parse-route.js';
import { parseSigning } from './parse-signing.js';

/** Validates a parsed JSON document; returns the frozen config or every problem found. */
export function parseConfig(raw: unknown): Config | string[] {
  const p = new Problems();
  const root =
    p.object(raw, 'config', [
      'listeners',
      'admin',
      'clockSkewSec',
      'workers',
      'verdictCache',
      'metrics',
      'shutdownDelaySec',
      'reloadOnChange',
      'engine',
      'engineFallback',
      'routes',
      'signing',
      'decisionLog',
    ]) ?? {};
  // node by default: it hands over the bytes the proxy sent; uws trims header values (docs/engines.md).
  const engine = root.engine === undefined ? 'node' : root.engine;
  if (engine !== 'uws' && engine !== 'node') p.add('config.engine', 'must be "uws" or "node"');
  const engineFallback = root.engineFallback === undefined ? 'none' : root.engineFallback;
  if (engineFallback !== 'node' && engineFallback !== 'none') p.add('config.engineFallback', 'must be "node" or "none"');
  // Omitted: "auto" with uws, one thread with node (the shipped configs set "auto"). Whether the
  // node engine can run several threads depends on the Node that serves (22.12+/24 can share a
  // port, 20 cannot): decided at startup (src/service/main-thread.ts), not here.
  const workers =
    root.workers === 'auto'
      ? 'auto'
      : root.workers === undefined
        ? engine === 'node'
          ? 1
          : 'auto'
        : p.integer(root, 'workers', 'config', 1, 1, 64);
  const listeners: AuthListenerConfig[] = [];
  const grpcListeners: GrpcListenerConfig[] = [];
  /** Config path of each listener, in the order of `listeners` then `grpcListeners`. */
  const listenerPaths: string[] = [];
  if (!Array.isArray(root.listeners) || root.listeners.length === 0) {
    p.add('listeners', 'must be a non-empty array of auth listeners');
  } else {
    const grpcPaths: string[] = [];
    for (const [i, raw] of root.listeners.entries()) {
      const parsed = parseListener(raw, `listeners[${i}]`, p);
      if (parsed.protocol === 'http') {
        listeners.push(parsed.listener);
        listenerPaths.push(`listeners[${i}]`);
      } else {
        grpcListeners.push(parsed.listener);
        grpcPaths.push(`listeners[${i}]`);
      }
    }
    listenerPaths.push(...grpcPaths);
  }
  const admin = parseAdmin(root.admin, p);
  const clockSkewSec = p.integer(root, 'clockSkewSec', 'config', 30, 0, 3600);
  const cacheObj = p.object(root.verdictCache === undefined ? {} : root.verdictCache, 'verdictCache', ['maxEntries']) ?? {};
  const verdictCache = { maxEntries: p.integer(cacheObj, 'maxEntries', 'verdictCache', 100_000, 1, 10_000_000) };
  // One entry per configured route (undefined where its scheme or options are refused), so indexes name config paths.
  const routes: (RouteConfig | undefined)[] = [];
  if (!Array.isArray(root.routes) || root.routes.length === 0) {
    p.add('routes', 'must be a non-empty array');
  } else {
    for (const [i, route] of root.routes.entries()) routes.push(parseRoute(route, `routes[${i}]`, p));
  }
  if (root.metrics !== undefined && typeof root.metrics !== 'boolean') p.add('config.metrics', 'must be true or false');
  const metrics = root.metrics !== false;
  const shutdownDelaySec = p.integer(root, 'shutdownDelaySec', 'config', 0, 0, 300);
  if (root.reloadOnChange !== undefined && typeof root.reloadOnChange !== 'boolean') {
    p.add('config.reloadOnChange', 'must be true or false');
  }
  const reloadOnChange = root.reloadOnChange === true;
  const signing = parseSigning(root.signing, admin.host, p);
  const decisionLog = parseDecisionLog(root.decisionLog, p);
  crossCheck([...listeners, ...grpcListeners], listenerPaths, admin, routes, p);
  if (engine === 'uws') uwsConditions(listeners, listenerPaths, routes, p);
  if (p.list.length > 0) return p.list;
  return deepFreeze({
    listeners,
    grpcListeners,
    admin,
    clockSkewSec,
    workers,
    verdictCache,
    metrics,
    shutdownDelaySec,
    reloadOnChange,
    engine: engine === 'node' ? 'node' : 'uws',
    engineFallback: engineFallback === 'node' ? 'node' : 'none',
    routes: routes as RouteConfig[],
    signing,
    decisionLog,
  });
}

/** `decisionLog`: absent (off), or which decisions get a log line, sampled and capped. */
function parseDecisionLog(raw: unknown, p: Problems): DecisionLogSettings | undefined {
  if (raw === undefined) return undefined;
  const obj = p.object(raw, 'decisionLog', ['verdicts', 'sample', 'maxPerSec']) ?? {};
  const verdicts = obj.verdicts === undefined ? 'denials' : obj.verdicts;
  if (verdicts !== 'denials' && verdicts !== 'all') p.add('decisionLog.verdicts', 'must be "denials" or "all"');
  const sample = obj.sample === undefined ? 1 : obj.sample;
  if (typeof sample !== 'number' || !(sample > 0 && sample <= 1))
    p.add('decisionLog.sample', 'must be a number above 0, at most 1');
  const maxPerSec = p.integer(obj, 'maxPerSec', 'decisionLog', 1000, 1, 1_000_000);
  return { verdicts: verdicts === 'all' ? 'all' : 'denials', sample: typeof sample === 'number' ? sample : 1, maxPerSec };
}

function crossCheck(
  listeners: readonly ListenerBase[],
  paths: readonly string[],
  admin: AdminListenerConfig,
  routes: readonly (RouteConfig | undefined)[],
  p: Problems,
): void {
  routes.forEach((route, i) => {
    if (route === undefined) return;
    const earlier = routes.findIndex((other) => other?.prefix === route.prefix);
    if (route.prefix !== '' && earlier !== i) p.add(`routes[${i}].prefix`, `same prefix as routes[${earlier}]`);
    const names = routes.findIndex((other) => other?.name === route.name);
    if (route.name !== '' && names !== i) p.add(`routes[${i}].name`, `same name as routes[${names}]`);
    if (route.scheme.clientIp === 'required') {
      listeners.forEach((listener, j) => {
        if (listener.clientIpHeader === undefined && !(listener as Partial<AuthListenerConfig>).clientIpInPath) {
          p.add(`${paths[j]}.clientIpHeader`, `is required: route "${route.name}" binds tokens to the client IP`);
        }
      });
    }
  });
  const ports = [...listeners.map((l) => l.port), admin.port];
  const labels = [...paths.map((path) => `${path}.port`), 'admin.port'];
  ports.forEach((port, i) => {
    if (port !== 0 && ports.indexOf(port) !== i) p.add(labels[i]!, `port ${port} is used twice`);
  });
  const names = listeners.map((l) => l.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i)
      p.add(`${paths[i]}.name`, `same name as ${paths[names.indexOf(name)]} (names label logs and metrics)`);
  });
}

/**
 * The uws engine trims bytes 0x80-0xFF from both ends of every header value (a URI header
 * "/ck/books/本" arrives as "/ck/books/"), so it may read no signed value from a header: the URI
 * and client IP come from the request target, which it hands over intact, and no route reads a
 * token from a cookie or header (docs/security.md rule 11).
 */
function uwsConditions(
  listeners: readonly AuthListenerConfig[],
  paths: readonly string[],
  routes: readonly (RouteConfig | undefined)[],
  p: Problems,
) {
  const why = 'the uws engine trims bytes 0x80-0xFF from both ends of header values';
  listeners.forEach((listener, i) => {
    if (listener.uriHeader !== undefined)
      p.add(`${paths[i]}.uriHeader`, `cannot be used with engine "uws" (${why}): use pathPrefix, or engine "node"`);
    if (listener.clientIpHeader !== undefined)
      p.add(`${paths[i]}.clientIpHeader`, `cannot be used with engine "uws" (${why}): use clientIpInPath, or engine "node"`);
  });
  routes.forEach((route, i) => {
    const headers = route === undefined ? [] : route.options.tokenHeaders;
    if (headers.length > 0)
      p.add(
        `routes[${i}].options`,
        `this route reads the request header(s) ${headers.join(', ')} (a token in a cookie or header, or a host), which engine "uws" cannot read safely (${why}): use engine "node"${route?.scheme.uwsHint === undefined ? '' : `, or ${route.scheme.uwsHint}`}`,
      );
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

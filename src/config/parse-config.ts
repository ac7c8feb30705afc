import { type Fields, Problems } from '../base/problems.js';
import type { DecisionLogSettings } from '../decision/authorize.js';
import { defaultGateSettings } from './compile-gate.js';
import type {
  AdminListenerConfig,
  AuthListenerConfig,
  Config,
  EngineName,
  GrpcListenerConfig,
  ListenerBase,
  RouteConfig,
} from './config.js';
import { parseAdmin } from './parse-admin.js';
import { parseListener } from './parse-listener.js';
import { parseRoute } from './parse-route.js';
import { parseSigning } from './parse-signing.js';
import { parseState } from './parse-state.js';

/** Validates a parsed JSON document; returns the frozen config or every problem found. */
export function parseConfig(raw: unknown): Config | string[] {
  const p = new Problems();
  const root = p.fields(raw, 'config');
  // node by default: it hands over the bytes the proxy sent; uws trims header values (docs/engines.md).
  const engine = root.oneOf('engine', ['uws', 'node'], 'node');
  const { listeners, grpcListeners, paths } = readListeners(root.value('listeners'), p);
  const admin = parseAdmin(root.value('admin'), p);
  // One entry per configured route (undefined where its scheme or options are refused), so indexes name config paths.
  const routes = readRoutes(root.value('routes'), p);
  const config = {
    listeners,
    grpcListeners,
    admin,
    clockSkewSec: root.int('clockSkewSec', defaultGateSettings.clockSkewSec, 0, 3600),
    workers: readWorkers(root, engine),
    verdictCache: readVerdictCache(root.value('verdictCache'), p),
    metrics: root.bool('metrics', true),
    shutdownDelaySec: root.int('shutdownDelaySec', 0, 0, 300),
    reloadOnChange: root.bool('reloadOnChange', false),
    engine,
    engineFallback: root.oneOf('engineFallback', ['node', 'none'], 'none'),
    routes,
    signing: parseSigning(
      root.value('signing'),
      admin.host,
      // Names are checked once every route parsed (a refused route is a problem of its own already).
      routes.every((route) => route !== undefined) ? routes.map((route) => route!.name) : undefined,
      p,
    ),
    decisionLog: readDecisionLog(root.value('decisionLog'), p),
    state: parseState(root.value('state'), p),
  };
  root.done();
  listenerChecks([...listeners, ...grpcListeners], paths, admin, routes, p);
  if (engine === 'uws') uwsConditions(listeners, paths, routes, p);
  if (!p.empty) return p.list;
  return deepFreeze({ ...config, routes: routes.filter(isRoute) });
}

/**
 * A routes array on its own (config `routes`, or routes given to a signer without a config file):
 * every route, or every problem with its path (`routes[i]...`).
 */
export function parseRoutes(raw: unknown): readonly RouteConfig[] | { readonly problems: readonly string[] } {
  const p = new Problems();
  const routes = readRoutes(raw, p);
  return p.empty ? deepFreeze(routes.filter(isRoute)) : { problems: p.list };
}

/** With no problem recorded, no route is undefined. */
const isRoute = (route: RouteConfig | undefined): route is RouteConfig => route !== undefined;

/** The routes, with undefined where a route's scheme or options are refused; prefixes and names are unique. */
function readRoutes(raw: unknown, p: Problems): (RouteConfig | undefined)[] {
  const routes = p.array(raw, 'routes', 'must be a non-empty array').map((route, i) => parseRoute(route, `routes[${i}]`, p));
  routes.forEach((route, i) => {
    if (route === undefined) return;
    const earlier = routes.findIndex((other) => other?.prefix === route.prefix);
    if (route.prefix !== '' && earlier !== i) p.add(`routes[${i}].prefix`, `same prefix as routes[${earlier}]`);
    const names = routes.findIndex((other) => other?.name === route.name);
    if (route.name !== '' && names !== i) p.add(`routes[${i}].name`, `same name as routes[${names}]`);
  });
  return routes;
}

/** The auth listeners by protocol, and the config path of each, in the order of `listeners` then `grpcListeners`. */
function readListeners(raw: unknown, p: Problems) {
  const listeners: AuthListenerConfig[] = [];
  const grpcListeners: GrpcListenerConfig[] = [];
  const httpPaths: string[] = [];
  const grpcPaths: string[] = [];
  p.array(raw, 'listeners', 'must be a non-empty array of auth listeners').forEach((entry, i) => {
    const parsed = parseListener(entry, `listeners[${i}]`, p);
    if (parsed.protocol === 'http') {
      listeners.push(parsed.listener);
      httpPaths.push(`listeners[${i}]`);
    } else {
      grpcListeners.push(parsed.listener);
      grpcPaths.push(`listeners[${i}]`);
    }
  });
  return { listeners, grpcListeners, paths: [...httpPaths, ...grpcPaths] };
}

/**
 * Omitted: "auto" with uws, one thread with node (the shipped configs set "auto"). Whether the
 * node engine can run several threads depends on the Node that serves (22.12+/24 can share a
 * port, 20 cannot): decided at startup (src/service/main-thread.ts), not here.
 */
function readWorkers(root: Fields, engine: EngineName): number | 'auto' {
  const value = root.value('workers');
  if (value === 'auto') return 'auto';
  if (value === undefined) return engine === 'node' ? 1 : 'auto';
  return root.int('workers', 1, 1, 64);
}

function readVerdictCache(raw: unknown, p: Problems): Config['verdictCache'] {
  const fields = p.fields(raw === undefined ? {} : raw, 'verdictCache');
  const maxEntries = fields.int('maxEntries', defaultGateSettings.verdictCacheEntries, 1, 10_000_000);
  fields.done();
  return { maxEntries };
}

/** `decisionLog`: absent (off), or which decisions get a log line, sampled and capped. */
function readDecisionLog(raw: unknown, p: Problems): DecisionLogSettings | undefined {
  if (raw === undefined) return undefined;
  const fields = p.fields(raw, 'decisionLog');
  const verdicts = fields.oneOf('verdicts', ['denials', 'all'], 'denials');
  const sample = fields.value('sample') ?? 1;
  const sampleOk = typeof sample === 'number' && sample > 0 && sample <= 1;
  if (!sampleOk) fields.add('sample', 'must be a number above 0, at most 1');
  const maxPerSec = fields.int('maxPerSec', 1000, 1, 1_000_000);
  fields.done();
  return { verdicts, sample: sampleOk ? sample : 1, maxPerSec };
}

/** Ports and names are unique; every listener gives the client IP when a route binds tokens to it. */
function listenerChecks(
  listeners: readonly ListenerBase[],
  paths: readonly string[],
  admin: AdminListenerConfig,
  routes: readonly (RouteConfig | undefined)[],
  p: Problems,
): void {
  for (const route of routes) {
    if (route?.scheme.clientIp !== 'required') continue;
    listeners.forEach((listener, j) => {
      if (listener.clientIpHeader === undefined && !('clientIpInPath' in listener && listener.clientIpInPath)) {
        p.add(`${paths[j]}.clientIpHeader`, `is required: route "${route.name}" binds tokens to the client IP`);
      }
    });
  }
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

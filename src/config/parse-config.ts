import { availableParallelism } from 'node:os';
import { parseRequestTarget } from '../core/request-target.js';
import type { StreamScope } from '../core/signed-path.js';
import { isRejection } from '../core/verdict.js';
import { findScheme, schemes } from '../schemes/registry.js';
import { type KeyEncoding, OptionProblems, type SchemeDefinition } from '../schemes/scheme.js';
import type {
  AdminListenerConfig,
  AuthListenerConfig,
  Config,
  GrpcListenerConfig,
  KeySource,
  ListenerBase,
  RouteConfig,
} from './config.js';

type Json = Readonly<Record<string, unknown>>;

/** Collects every problem with its path instead of stopping at the first. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
  object(value: unknown, path: string, allowed: readonly string[]): Json | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(path, 'must be an object');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(`${path}.${key}`, `unknown field (known: ${allowed.join(', ')})`);
    }
    return value as Json;
  }
  string(obj: Json, key: string, path: string, fallback?: string): string {
    // An explicit null is a mistake, never "the default".
    const value = obj[key] === undefined ? fallback : obj[key];
    if (typeof value === 'string' && value.length > 0) return value;
    this.add(`${path}.${key}`, value === undefined ? 'is required' : 'must be a non-empty string');
    return '';
  }
  integer(obj: Json, key: string, path: string, fallback: number, min: number, max: number): number {
    const value = obj[key] === undefined ? fallback : obj[key];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    this.add(`${path}.${key}`, `must be an integer from ${min} to ${max}`);
    return fallback;
  }
  headerName(obj: Json, key: string, path: string, required: boolean): string | undefined {
    if (!required && obj[key] === undefined) return undefined;
    const name = this.string(obj, key, path);
    // Underscores: the uWS build hangs on such header names (docs/engines.md), and proxies drop them.
    if (name !== '' && !/^[A-Za-z0-9-]+$/.test(name))
      this.add(`${path}.${key}`, 'must be a header name of letters, digits and "-"');
    return name.toLowerCase();
  }
}

const listenerFields = [
  'name',
  'host',
  'port',
  'protocol',
  'uriHeader',
  'pathPrefix',
  'clientIpHeader',
  'clientIpHop',
  'clientIpInPath',
  'expiredStatus',
  'cacheMaxAgeSec',
];

/** An HTTP listener, or (`"protocol": "envoy-grpc"`) an Envoy gRPC listener. */
function parseListener(
  raw: unknown,
  path: string,
  p: Problems,
): { protocol: 'http'; listener: AuthListenerConfig } | { protocol: 'envoy-grpc'; listener: GrpcListenerConfig } {
  const obj = p.object(raw, path, listenerFields) ?? {};
  const expiredStatus = obj.expiredStatus === undefined ? 410 : obj.expiredStatus;
  if (expiredStatus !== 410 && expiredStatus !== 403) p.add(`${path}.expiredStatus`, 'must be 410 or 403');
  const protocol = obj.protocol === undefined ? 'http' : obj.protocol;
  if (protocol !== 'http' && protocol !== 'envoy-grpc') p.add(`${path}.protocol`, 'must be "http" or "envoy-grpc"');
  const clientIpHeader = p.headerName(obj, 'clientIpHeader', path, false);
  const clientIpHop = obj.clientIpHop === undefined ? undefined : p.integer(obj, 'clientIpHop', path, 1, 1, 16);
  if (clientIpHop !== undefined && clientIpHeader === undefined) {
    p.add(`${path}.clientIpHop`, 'needs clientIpHeader (the header with the address list, e.g. X-Forwarded-For)');
  }
  const base = {
    name: p.string(obj, 'name', path, protocol === 'envoy-grpc' ? 'envoy-grpc' : 'auth'),
    host: p.string(obj, 'host', path, '127.0.0.1'),
    port: p.integer(obj, 'port', path, protocol === 'envoy-grpc' ? 8081 : 8080, 0, 65535),
    clientIpHeader,
    clientIpHop,
    expiredStatus: expiredStatus === 403 ? (403 as const) : (410 as const),
    cacheMaxAgeSec: p.integer(obj, 'cacheMaxAgeSec', path, 60, 0, 86_400),
  };
  if (protocol === 'envoy-grpc') {
    for (const field of ['uriHeader', 'pathPrefix']) {
      if (obj[field] !== undefined)
        p.add(`${path}.${field}`, 'does not apply to "envoy-grpc" (the URI is attributes.request.http.path)');
    }
    return { protocol, listener: base };
  }
  if ((obj.uriHeader === undefined) === (obj.pathPrefix === undefined)) {
    p.add(path, 'needs exactly one of "uriHeader" (nginx, Traefik, Caddy) or "pathPrefix" (Envoy HTTP mode)');
  }
  const uriHeader = p.headerName(obj, 'uriHeader', path, false);
  let pathPrefix: string | undefined;
  if (obj.pathPrefix !== undefined) {
    pathPrefix = p.string(obj, 'pathPrefix', path);
    if (pathPrefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(pathPrefix)) {
      p.add(`${path}.pathPrefix`, 'must be a path like "/tokengate" (segments of letters, digits and ._~-; no trailing "/")');
    }
  }
  if (obj.clientIpInPath !== undefined && typeof obj.clientIpInPath !== 'boolean')
    p.add(`${path}.clientIpInPath`, 'must be true or false');
  const clientIpInPath = obj.clientIpInPath === true;
  if (clientIpInPath && pathPrefix === undefined)
    p.add(`${path}.clientIpInPath`, 'needs pathPrefix (the target is <pathPrefix>/<client ip><original uri>)');
  if (clientIpInPath && clientIpHeader !== undefined)
    p.add(`${path}.clientIpInPath`, 'and clientIpHeader are two client IP sources: keep one');
  return { protocol: 'http', listener: { ...base, uriHeader, pathPrefix, clientIpInPath } };
}

function parseKey(raw: unknown, path: string, p: Problems, scheme: SchemeDefinition | undefined): KeySource {
  const obj = p.object(raw, path, ['id', 'file', 'env', 'publicDemoSecret', 'encoding']) ?? {};
  const id = p.string(obj, 'id', path);
  if (id !== '' && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) p.add(`${path}.id`, 'must be 1 to 32 characters from [A-Za-z0-9_-]');
  const encoding = obj.encoding as KeyEncoding | undefined;
  if (encoding !== undefined && scheme !== undefined && !scheme.keyEncodings.includes(encoding)) {
    p.add(`${path}.encoding`, `must be one of ${scheme.keyEncodings.join(', ')} for scheme ${scheme.id}`);
  }
  const sources = (['file', 'env', 'publicDemoSecret'] as const).filter((name) => obj[name] !== undefined);
  if (sources.length !== 1) {
    p.add(path, 'needs exactly one of "file" or "env" ("publicDemoSecret" for published demo keys only)');
    return { id };
  }
  const source = sources[0]!;
  const value = p.string(obj, source, path);
  if (source === 'env' && value !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    p.add(`${path}.env`, 'must be an environment variable name');
  }
  return { id, [source]: value, ...(encoding === undefined ? {} : { encoding }) };
}

function parseStream(raw: unknown, path: string, prefix: string, p: Problems): StreamScope {
  const obj = p.object(raw, path, ['playlist', 'depth']) ?? {};
  const playlist = p.string(obj, 'playlist', path);
  const target = parseRequestTarget(`/${playlist}`);
  if (playlist !== '' && (playlist.includes('/') || playlist.includes('?') || isRejection(target))) {
    p.add(`${path}.playlist`, 'must be a file name (one path segment), e.g. "index.m3u8"');
  }
  if (obj.depth === undefined) return { playlist, depth: undefined };
  const depth = p.integer(obj, 'depth', path, 1, 1, 16);
  if (!prefix.endsWith('/')) p.add(`${path}.depth`, 'needs a route prefix that ends with "/"');
  return { playlist, depth };
}

/** A route, or undefined when its scheme is unknown (the problem is recorded). */
function parseRoute(raw: unknown, path: string, p: Problems): RouteConfig | undefined {
  const obj = p.object(raw, path, ['name', 'prefix', 'scheme', 'keys', 'options', 'stream', 'verdictCache']) ?? {};
  if (obj.verdictCache !== undefined && typeof obj.verdictCache !== 'boolean')
    p.add(`${path}.verdictCache`, 'must be true or false');
  const prefix = p.string(obj, 'prefix', path);
  if (prefix !== '') {
    const target = parseRequestTarget(prefix);
    if (prefix.includes('?') || isRejection(target)) {
      p.add(`${path}.prefix`, `must be a plain path starting with "/"${isRejection(target) ? ` (${target.detail})` : ''}`);
    }
  }
  const schemeId = p.string(obj, 'scheme', path);
  const scheme = findScheme(schemeId);
  if (schemeId !== '' && scheme === undefined) {
    p.add(`${path}.scheme`, `unknown scheme "${schemeId}" (known: ${schemes.map((s) => s.id).join(', ')})`);
  }
  const rawOptions = obj.options === undefined ? {} : obj.options;
  const known = typeof rawOptions === 'object' && rawOptions !== null ? Object.keys(rawOptions) : [];
  const rawObject = p.object(rawOptions, `${path}.options`, known) ?? {};
  const options = scheme?.readOptions(rawObject, `${path}.options`);
  if (options instanceof OptionProblems) p.list.push(...options.problems);
  const keys: KeySource[] = [];
  if (!Array.isArray(obj.keys) || obj.keys.length === 0) {
    p.add(`${path}.keys`, 'must be a non-empty array (the first key signs, every key verifies)');
  } else {
    for (const [i, key] of obj.keys.entries()) keys.push(parseKey(key, `${path}.keys[${i}]`, p, scheme));
    const ids = keys.map((key) => key.id);
    ids.forEach((id, i) => {
      if (id !== '' && ids.indexOf(id) !== i) p.add(`${path}.keys[${i}].id`, `duplicate key id "${id}"`);
    });
  }
  const stream = obj.stream === undefined ? undefined : parseStream(obj.stream, `${path}.stream`, prefix, p);
  const verdictCache = typeof obj.verdictCache === 'boolean' ? obj.verdictCache : undefined;
  const name = p.string(obj, 'name', path, prefix);
  if (scheme === undefined || options instanceof OptionProblems) return undefined;
  return { name, prefix, scheme, keys, options, stream, verdictCache };
}

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
    ]) ?? {};
  // node by default: it hands over the bytes the proxy sent; uws trims header values (docs/engines.md).
  const engine = root.engine === undefined ? 'node' : root.engine;
  if (engine !== 'uws' && engine !== 'node') p.add('config.engine', 'must be "uws" or "node"');
  const engineFallback = root.engineFallback === undefined ? 'none' : root.engineFallback;
  if (engineFallback !== 'node' && engineFallback !== 'none') p.add('config.engineFallback', 'must be "node" or "none"');
  // The node engine serves on one thread: Node 20's node:http cannot share a port between threads.
  const workers =
    root.workers === undefined || root.workers === 'auto'
      ? engine === 'node'
        ? 1
        : availableParallelism()
      : p.integer(root, 'workers', 'config', 1, 1, 64);
  if (engine === 'node' && workers > 1) {
    p.add('config.workers', 'must be 1 or "auto" with engine "node" (node:http cannot share a port between threads)');
  }
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
  const adminObj = p.object(root.admin === undefined ? {} : root.admin, 'admin', ['host', 'port']) ?? {};
  const admin: AdminListenerConfig = {
    host: p.string(adminObj, 'host', 'admin', '127.0.0.1'),
    port: p.integer(adminObj, 'port', 'admin', 9090, 0, 65535),
  };
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
  });
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
    if (route !== undefined && route.scheme.tokenHeaders(route.options).length > 0)
      p.add(
        `routes[${i}].options.carrier`,
        `a token in a cookie or header cannot be read with engine "uws" (${why}): use engine "node"`,
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

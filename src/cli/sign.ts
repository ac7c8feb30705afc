import type { LoadedConfig } from '../config/load-config.js';
import { findRoute, type Route } from '../core/authorize.js';
import { UsageError } from './exit-codes.js';

export interface SignOptions {
  readonly path: string;
  readonly ttlSec: number;
  readonly route?: string;
  readonly clientIp?: string;
  readonly startSec?: number;
  readonly scopeDepth?: number;
  readonly sessionId?: string;
  readonly nowSec: number;
}

/** The route named (by name or prefix), or the one whose prefix covers the path. */
function pickRoute(loaded: LoadedConfig, options: SignOptions): Route {
  const { routes } = loaded.gate;
  const route =
    options.route === undefined
      ? findRoute(loaded.gate, options.path)
      : routes.find((r) => r.name === options.route || r.prefix === options.route);
  const known = routes.map((r) => `${r.name} (${r.prefix}, ${r.schemeId})`).join(', ');
  if (route === undefined)
    throw new UsageError(`no route ${options.route ? `named "${options.route}"` : `covers ${options.path}`}; routes: ${known}`);
  if (!options.path.startsWith(route.prefix))
    throw new UsageError(`path ${options.path} is not under route prefix ${route.prefix}`);
  return route;
}

/**
 * What a client sends for the path, signed with the route's first (current) key: the URL, and for
 * routes whose token travels in a cookie or header, that header line.
 */
export function signUrl(loaded: LoadedConfig, options: SignOptions): string {
  if (!Number.isSafeInteger(options.ttlSec) || options.ttlSec <= 0)
    throw new UsageError('--ttl must be a positive number of seconds');
  const route = pickRoute(loaded, options);
  if (route.clientIp === 'required' && options.clientIp === undefined) {
    throw new UsageError(`route "${route.name}" (${route.schemeId}) binds tokens to the client IP: give --ip`);
  }
  // A stream route signs the stream's playlist, whichever file of the stream was named.
  const signedPath = route.signedPath(options.path);
  if (typeof signedPath !== 'string') throw new UsageError(signedPath.detail);
  try {
    const signed = route.scheme.sign({
      path: signedPath,
      expiresSec: options.nowSec + options.ttlSec,
      ...(options.startSec === undefined ? {} : { notBeforeSec: options.startSec }),
      ...(options.clientIp === undefined ? {} : { clientIp: options.clientIp }),
      ...(options.scopeDepth === undefined ? {} : { scopeDepth: options.scopeDepth }),
      ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    });
    if (signed.carrier === 'query') return `${options.path}?${signed.query}`;
    const line = signed.carrier === 'cookie' ? `Cookie: ${signed.name}=${signed.value}` : `${signed.name}: ${signed.value}`;
    return `${options.path}\n${line}`;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

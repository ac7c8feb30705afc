import { readFileSync } from 'node:fs';
import { compileRoutes } from '../config/compile-gate.js';
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { parseRoutes } from '../config/parse-config.js';
import { type LinkOptions, type LinkRoutes, signLink } from '../links/sign-link.js';
import type { SignedLink } from '../links/signed-link.js';
import { type SignRequest, unixNow } from '../scheme-kit/sign-request.js';

export type { SignedLink } from '../links/signed-link.js';

/** Signs links for one route, with exactly the code and checks the service and `tokengate sign` use. */
export interface RouteSigner {
  /** The route's name. */
  readonly route: string;
  /**
   * A link for `request.path` (text or percent-encoded), checked with the service's own decision
   * first (asynchronous: a jwt route's signature is verified by jose). Rejects with LinkRequestError for anything the service would refuse or the format cannot sign.
   */
  sign(request: SignRequest, options?: Partial<LinkOptions>): Promise<SignedLink>;
}

export interface SignerEnvironment {
  /** Where `env` key sources are read (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where relative key `file` paths start (routeSigner; default: the working directory). */
  readonly baseDir?: string;
}

function signerOf(loaded: LinkRoutes, route: string): RouteSigner {
  return {
    route,
    sign: (request, options = {}) =>
      signLink(loaded, request, { route, baseUrl: options.baseUrl, nowSec: options.nowSec ?? unixNow() }),
  };
}

/**
 * A signer for route `route` (its name) of a tokengate config file: the file is validated whole
 * (so the route that serves a path is the one the service matches), but only this route's keys
 * are read: signing for one route needs no other route's secret.
 */
export function configSigner(configFile: string, route: string, environment: SignerEnvironment = {}): RouteSigner {
  const loaded = loadConfig(configFile, environment.env ?? process.env, readFileSync, (r) => r.name === route);
  if (!loaded.config.routes.some((r) => r.name === route)) {
    throw new ConfigError(loaded.source, [
      `no route named "${route}" (routes: ${loaded.config.routes.map((r) => r.name).join(', ')})`,
    ]);
  }
  return signerOf(loaded, route);
}

/**
 * A signer for one route written as in a config file's `routes` (`{ "prefix", "scheme", "keys",
 * "options", "stream", "publicBaseUrl" }`), for programs without a tokengate config file. The
 * route is validated and its keys loaded as the service does; problems throw a ConfigError.
 */
export function routeSigner(route: Readonly<Record<string, unknown>>, environment: SignerEnvironment = {}): RouteSigner {
  const source = 'route given to routeSigner';
  const routes = parseRoutes([route]);
  if ('problems' in routes) throw new ConfigError(source, routes.problems);
  const where = { baseDir: environment.baseDir ?? process.cwd(), env: environment.env ?? process.env };
  const compiled = compileRoutes(routes, where);
  if (compiled.problems.length > 0) throw new ConfigError(source, compiled.problems);
  const loaded: LinkRoutes = { gate: compiled.gate, routes: compiled.routes, config: { signing: undefined } };
  return signerOf(loaded, routes[0]!.name);
}

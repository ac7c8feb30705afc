import { readFileSync } from 'node:fs';
import { ConfigError } from './config/config-error.js';
import { type LoadedConfig, loadConfig } from './config/load-config.js';
import { type SignRequest, unixNow } from './core/sign-request.js';
import { type LinkOptions, type SignedLink, signLink } from './links/sign-link.js';

export type { SignedLink } from './links/sign-link.js';

/** Signs links for one route, with exactly the code and checks the service and `tokengate sign` use. */
export interface RouteSigner {
  /** The route's name. */
  readonly route: string;
  /**
   * A link for `request.path` (text or percent-encoded), checked with the service's own decision
   * first. Throws LinkRequestError for anything the service would refuse or the format cannot sign.
   */
  sign(request: SignRequest, options?: Partial<LinkOptions>): SignedLink;
}

export interface SignerEnvironment {
  /** Where `env` key sources are read (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function signerOf(loaded: LoadedConfig, route: string): RouteSigner {
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

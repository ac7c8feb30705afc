import type { LoadedConfig } from '../config/load-config.js';
import { findRoute, type Route } from '../core/authorize.js';
import type { SignRequest } from '../core/sign-request.js';
import { signablePath } from '../core/signable-path.js';

/** A link that cannot be signed as asked; the message says why (never a secret). */
export class LinkRequestError extends Error {
  override readonly name = 'LinkRequestError';
}

/**
 * The route that serves the path, as the service matches it (longest prefix). A route named with
 * --route must be that one: a token signed for an outer route would open a nested one.
 */
function pickRoute(loaded: LoadedConfig, path: string, named: string | undefined): Route {
  const { routes } = loaded.gate;
  const route = findRoute(loaded.gate, path);
  const known = routes.map((r) => `${r.name} (${r.prefix}, ${r.schemeId})`).join(', ');
  if (named !== undefined) {
    const wanted = routes.find((r) => r.name === named || r.prefix === named);
    if (wanted === undefined) throw new LinkRequestError(`no route named "${named}"; routes: ${known}`);
    if (!path.startsWith(wanted.prefix)) throw new LinkRequestError(`path ${path} is not under route prefix ${wanted.prefix}`);
    if (wanted !== route)
      throw new LinkRequestError(`path ${path} is served by route "${route?.name}" (${route?.prefix}), not "${wanted.name}"`);
  }
  if (route === undefined) throw new LinkRequestError(`no route covers ${path}; routes: ${known}`);
  return route;
}

export interface SignedUrl {
  /** What the client sends: the URL, and for cookie or header routes that header line. */
  readonly text: string;
  /** The path as signed, when raw non-ASCII text had to be percent-encoded (UTF-8) first. */
  readonly encodedPath: string | undefined;
}

/**
 * What a client sends for `request.path` (text; non-ASCII is percent-encoded as UTF-8), signed
 * with the first (current) key of the route that serves it, or of `routeName`, which must be
 * that route: the URL, and for routes whose token travels in a cookie or header, that header line.
 */
export function signLink(loaded: LoadedConfig, request: SignRequest, routeName?: string): SignedUrl {
  let signable: ReturnType<typeof signablePath>;
  try {
    signable = signablePath(request.path);
  } catch (error) {
    throw new LinkRequestError(`path: ${(error as Error).message}`);
  }
  const { path } = signable;
  const route = pickRoute(loaded, path, routeName);
  if (route.clientIp === 'required' && request.clientIp === undefined) {
    throw new LinkRequestError(
      `route "${route.name}" (${route.schemeId}) binds tokens to the client IP: give the IP the link is for`,
    );
  }
  // A stream route signs the stream's playlist, whichever file of the stream was named.
  const signedPath = route.signedPath(path);
  if (typeof signedPath !== 'string') throw new LinkRequestError(signedPath.detail);
  try {
    const signed = route.scheme.sign({ ...request, path: signedPath });
    const encodedPath = signable.encoded ? path : undefined;
    if (signed.carrier === 'query') return { text: `${path}?${signed.query}`, encodedPath };
    const line = signed.carrier === 'cookie' ? `Cookie: ${signed.name}=${signed.value}` : `${signed.name}: ${signed.value}`;
    return { text: `${path}\n${line}`, encodedPath };
  } catch (error) {
    throw new LinkRequestError((error as Error).message);
  }
}

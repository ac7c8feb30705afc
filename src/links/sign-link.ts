import { Verdict } from '../base/verdict.js';
import type { CompiledRoute } from '../config/compile-gate.js';
import type { LoadedConfig } from '../config/load-config.js';
import { authorize, findRoute } from '../decision/authorize.js';
import { parseIpRange } from '../request/client-ip.js';
import { decodedPath, readingsAgree, withoutParams } from '../request/path-readings.js';
import { prefixOf } from '../request/signed-path.js';
import { type SignRequest, SignRequestError } from '../scheme-kit/sign-request.js';
import { signablePath } from '../scheme-kit/signable-path.js';
import type { SignedToken } from '../scheme-kit/token-scheme.js';
import { cookieHeader, type SignedLink } from './signed-link.js';

/** A link that cannot be signed as asked; the message says why (never a secret). */
export class LinkRequestError extends Error {
  override readonly name = 'LinkRequestError';
  constructor(
    message: string,
    /** The request field at fault, when one is (`route` or a SignRequest field). */
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * What signing a link reads of a loaded config: the compiled routes (the gate matches paths, the
 * list keeps config order) and `signing.publicBaseUrl`. A whole LoadedConfig is one.
 */
export type LinkRoutes = Pick<LoadedConfig, 'gate' | 'routes'> & { readonly config: Pick<LoadedConfig['config'], 'signing'> };

/** `name (prefix, scheme)` of every route, in config order: what a refusal lists. */
function knownRoutes(loaded: LinkRoutes): string {
  return loaded.routes.map((r) => `${r.name} (${r.prefix}, ${r.schemeId})`).join(', ');
}

/**
 * The route that serves the path, as the service matches it (longest prefix, every reading of
 * the path agreeing: path-readings.ts). A route named must be that one: a token signed for an
 * outer route would open a nested one.
 */
function pickRoute(loaded: LinkRoutes, path: string, named: string | undefined): CompiledRoute {
  // The gate holds every configured route (a signer for one route matches the others without their keys).
  const { gate } = loaded;
  const serving = findRoute(gate, path);
  if (serving !== undefined && gate.readings !== undefined && !readingsAgree(gate.readings, serving, path)) {
    const plain = withoutParams(decodedPath(path));
    throw new LinkRequestError(
      `path ${path} is read by origins as ${plain} too (escapes decoded, ";" parameters cut, case folded), which reaches another route than "${serving.name}": sign the path as the route spells it`,
      'path',
    );
  }
  if (named !== undefined) {
    const wanted = loaded.routes.find((r) => r.name === named || r.prefix === named);
    if (wanted === undefined) throw new LinkRequestError(`no route named "${named}"; routes: ${knownRoutes(loaded)}`, 'route');
    if (!path.startsWith(wanted.prefix))
      throw new LinkRequestError(`path ${path} is not under route prefix ${wanted.prefix}`, 'path');
    if (wanted !== serving)
      throw new LinkRequestError(
        `path ${path} is served by route "${serving?.name}" (${serving?.prefix}), not "${wanted.name}"`,
        'path',
      );
  }
  if (serving === undefined) throw new LinkRequestError(`no route covers ${path}; routes: ${knownRoutes(loaded)}`, 'path');
  if (!serving.keysLoaded)
    throw new LinkRequestError(`path ${path} is served by route "${serving.name}", whose keys this signer has not loaded`);
  return serving;
}

/**
 * What a route's links start with: the base URL its format signs (google-cdn, cloudfront), else
 * the route's `publicBaseUrl`, then `signing.publicBaseUrl`.
 */
export function linkBaseOf(loaded: LinkRoutes, route: CompiledRoute): string | undefined {
  return route.scheme.linkBase ?? route.config.publicBaseUrl ?? loaded.config.signing?.publicBaseUrl;
}

export interface LinkOptions {
  /** The route's name or prefix; it must be the route that serves the path. */
  readonly route?: string | undefined;
  /** `https://host[:port]` the link starts with; default: the route's `publicBaseUrl`, then `signing.publicBaseUrl`. */
  readonly baseUrl?: string | undefined;
  /** The clock (unix seconds). */
  readonly nowSec: number;
}

/** What the route's links start with: its signed base URL, else the one asked for, else the configured one. */
function linkStart(loaded: LinkRoutes, route: CompiledRoute, asked: string | undefined): string {
  const { linkBase } = route.scheme;
  if (linkBase !== undefined && asked !== undefined && asked !== linkBase) {
    throw new LinkRequestError(
      `route "${route.name}" (${route.schemeId}) signs the URL with its host: its links start with ${linkBase} (its baseUrl option), not ${asked}`,
      'baseUrl',
    );
  }
  return linkBase ?? asked ?? linkBaseOf(loaded, route) ?? '';
}

/** The link a signed token makes: where its token travels, and every field a caller hands out. */
function linkOf(
  route: CompiledRoute,
  signed: SignedToken,
  at: { readonly base: string; readonly path: string; readonly encoded: boolean },
  request: SignRequest,
): SignedLink {
  const query = signed.carrier === 'query' ? signed.query : undefined;
  const cookies =
    signed.carrier === 'cookies'
      ? signed.cookies.map(({ name, value }) => ({ name, value }))
      : signed.carrier === 'cookie'
        ? [{ name: signed.name, value: signed.value }]
        : undefined;
  return {
    route: route.name,
    scheme: route.schemeId,
    keyId: route.keyIds[0]!,
    path: at.path,
    encoded: at.encoded,
    url: `${at.base}${at.path}${query === undefined ? '' : `?${query}`}`,
    carrier: signed.carrier === 'cookies' ? 'cookie' : signed.carrier,
    query,
    cookies,
    cookie: cookies?.length === 1 ? cookies[0] : undefined,
    header: signed.carrier === 'header' ? { name: signed.name, value: signed.value } : undefined,
    notBeforeSec: request.notBeforeSec,
    expiresSec: request.expiresSec,
  };
}

/**
 * Signs `request.path` (text; non-ASCII is percent-encoded as UTF-8) with the first (current)
 * key of the route that serves it, then checks the link with the service's own decision:
 * no signer hands out a link the service would refuse.
 */
export function signLink(loaded: LinkRoutes, request: SignRequest, options: LinkOptions): SignedLink {
  let signable: ReturnType<typeof signablePath>;
  try {
    signable = signablePath(request.path);
  } catch (error) {
    throw new LinkRequestError((error as Error).message, 'path');
  }
  const { path } = signable;
  const route = pickRoute(loaded, path, options.route);
  if (route.clientIp === 'required' && request.clientIp === undefined) {
    throw new LinkRequestError(
      `route "${route.name}" (${route.schemeId}) binds tokens to the client IP: give the IP the link is for`,
      'clientIp',
    );
  }
  if (request.expiresSec <= options.nowSec)
    throw new LinkRequestError('the link would already be expired: its end is not in the future', 'expiresSec');
  // A stream route signs the stream's playlist, whichever file of the stream was named.
  const signedPath = route.signedPath(path);
  if (typeof signedPath !== 'string') throw new LinkRequestError(signedPath.detail, 'path');
  let signed: SignedToken;
  try {
    signed = route.scheme.sign({ ...request, path: signedPath });
  } catch (error) {
    throw new LinkRequestError((error as Error).message, error instanceof SignRequestError ? error.field : undefined);
  }
  const link = linkOf(route, signed, { ...signable, base: linkStart(loaded, route, options.baseUrl) }, request);
  selfCheck(loaded, link, request.clientIp, options.nowSec);
  if (request.scopeDepth !== undefined)
    nestedCheck(loaded, route, link, prefixOf(signedPath, request.scopeDepth), request.clientIp, options.nowSec);
  return link;
}

/**
 * A scope that covers the prefix of a nested route: the link must not open it. Every scoped format
 * refuses an outer route's scope inside a nested route (nested-scope.ts, hmac's own rule 9); this
 * probes that with the service's own decision on a path in each such route whose keys are loaded,
 * so a regression there is never handed out as a link.
 */
function nestedCheck(
  loaded: LinkRoutes,
  route: CompiledRoute,
  link: SignedLink,
  scope: string | undefined,
  clientIp: string | undefined,
  nowSec: number,
): void {
  if (scope === undefined) return;
  for (const nested of loaded.routes) {
    if (nested === route || !nested.keysLoaded) continue;
    if (!nested.prefix.startsWith(scope) || nested.prefix.length <= route.prefix.length) continue;
    // A few segments deep, so stream routes (a channel directory, then files) take it as a file of theirs.
    const probe = { ...link, path: `${nested.prefix}${'tokengate-probe/'.repeat(3)}probe.ts` };
    if (verdictAt(loaded, probe, clientIp, nowSec) === Verdict.allow) {
      throw new LinkRequestError(
        `the scope ${scope} also covers route "${nested.name}" (${nested.prefix}), which accepts this route's keys: choose a deeper scope`,
        'scopeDepth',
      );
    }
  }
}

/** The service's verdict on the link at its start (or now): anything but an allow is a bug, and nothing is handed out. */
function selfCheck(loaded: LinkRoutes, link: SignedLink, clientIp: string | undefined, nowSec: number): void {
  const decision = decisionAt(loaded, link, clientIp, nowSec);
  if (decision.verdict !== Verdict.allow) {
    throw new LinkRequestError(
      `the service would refuse this link (${decision.verdict}: ${decision.detail}); nothing was handed out`,
    );
  }
}

const verdictAt = (...args: Parameters<typeof decisionAt>) => decisionAt(...args).verdict;

/**
 * The service's decision on the link just after its start (or now): one second after the start,
 * where the end allows it, since some formats' windows exclude the start itself (CloudFront's
 * DateGreaterThan).
 */
function decisionAt(loaded: LinkRoutes, link: SignedLink, clientIp: string | undefined, nowSec: number) {
  const start =
    link.notBeforeSec === undefined
      ? nowSec
      : link.notBeforeSec + 1 < link.expiresSec
        ? link.notBeforeSec + 1
        : link.notBeforeSec;
  const at = Math.max(nowSec, start);
  // A range's network address is a client inside it.
  const client = clientIp === undefined ? undefined : parseIpRange(clientIp)?.text.split('/')[0];
  const headers = {
    get: (name: string) =>
      link.cookies !== undefined && name === 'cookie'
        ? cookieHeader(link.cookies)
        : link.header !== undefined && name === link.header.name.toLowerCase()
          ? link.header.value
          : undefined,
  };
  const uri = `${link.path}${link.query === undefined ? '' : `?${link.query}`}`;
  return authorize(loaded.gate, uri, client ?? clientIp, at, headers);
}

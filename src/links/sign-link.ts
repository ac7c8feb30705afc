import { Verdict } from '../base/verdict.js';
import type { CompiledRoute } from '../config/compile-gate.js';
import type { LoadedConfig } from '../config/load-config.js';
import { authorize, findRoute, settle } from '../decision/authorize.js';
import { decisionDetails } from '../decision/decision-details.js';
import { parseIpRange } from '../request/client-ip.js';
import { decodedPath, readingsAgree, withoutParams } from '../request/path-readings.js';
import { prefixOf } from '../request/signed-path.js';
import { type SignRequest, SignRequestError } from '../scheme-kit/sign-request.js';
import { signablePath } from '../scheme-kit/signable-path.js';
import type { SignedToken } from '../scheme-kit/token-scheme.js';
import { cookieHeader, type SignedLink } from './signed-link.js';

/** One thing wrong with a sign request: the field at fault, when one is (`route` or a SignRequest field). */
export interface LinkProblem {
  readonly field?: string | undefined;
  readonly message: string;
}

/**
 * A link that cannot be signed as asked; `problems` lists everything wrong with the request that
 * could be found (each with its field), the message joins them (never a secret).
 */
export class LinkRequestError extends Error {
  override readonly name: string = 'LinkRequestError';
  readonly problems: readonly LinkProblem[];
  constructor(message: string, field?: string);
  constructor(problems: readonly LinkProblem[]);
  constructor(first: string | readonly LinkProblem[], field?: string) {
    const problems = typeof first === 'string' ? [{ field, message: first }] : first;
    super(
      problems
        .map((problem) => (problem.field === undefined ? problem.message : `${problem.field}: ${problem.message}`))
        .join('; '),
    );
    this.problems = problems;
  }

  /** The field of the first problem (what a one-problem refusal was about). */
  get field(): string | undefined {
    return this.problems[0]?.field;
  }
}

/** A link its signer may not have (another route, a longer life than it may give): not a mistake in the request. */
export class LinkNotPermittedError extends LinkRequestError {
  override readonly name: string = 'LinkNotPermittedError';
}

/**
 * What signing a link reads of a loaded config: the compiled routes (the gate matches paths, the
 * list keeps config order) and `signing.publicBaseUrl`. A whole LoadedConfig is one.
 */
export type LinkRoutes = Pick<LoadedConfig, 'gate' | 'routes'> & { readonly config: Pick<LoadedConfig['config'], 'signing'> };

/** `name (prefix, scheme)` of every route the asker may see, in config order: what a refusal lists. */
function knownRoutes(loaded: LinkRoutes, shown: (route: string) => boolean = () => true): string {
  const listed = loaded.routes.filter((r) => shown(r.name));
  return listed.length === 0 ? 'none' : listed.map((r) => `${r.name} (${r.prefix}, ${r.schemeId})`).join(', ');
}

/**
 * The route that serves the path, as the service matches it (longest prefix, every reading of
 * the path agreeing: path-readings.ts). A route named must be that one: a token signed for an
 * outer route would open a nested one.
 */
function pickRoute(
  loaded: LinkRoutes,
  path: string,
  named: string | undefined,
  shown?: (route: string) => boolean,
): CompiledRoute {
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
    if (wanted === undefined)
      throw new LinkRequestError(`no route named "${named}"; routes: ${knownRoutes(loaded, shown)}`, 'route');
    if (!path.startsWith(wanted.prefix))
      throw new LinkRequestError(`path ${path} is not under route prefix ${wanted.prefix}`, 'path');
    if (wanted !== serving)
      throw new LinkRequestError(
        `path ${path} is served by route "${serving?.name}" (${serving?.prefix}), not "${wanted.name}"`,
        'path',
      );
  }
  if (serving === undefined) throw new LinkRequestError(`no route covers ${path}; routes: ${knownRoutes(loaded, shown)}`, 'path');
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
  /**
   * What the one asking may not have, checked once the route is known and before anything is
   * signed: a problem (thrown as LinkNotPermittedError), or undefined.
   */
  readonly permit?: ((route: string, expiresSec: number) => LinkProblem | undefined) | undefined;
  /** The routes a refusal may name to the one asking (default: all). */
  readonly shown?: ((route: string) => boolean) | undefined;
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
  at: { readonly base: string; readonly path: string; readonly encoded: boolean; readonly scope: string | undefined },
  request: SignRequest,
): Omit<SignedLink, 'fp'> {
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
    scope: at.scope,
  };
}

/**
 * Signs `request.path` (text; non-ASCII is percent-encoded as UTF-8) with the first (current)
 * key of the route that serves it, then checks the link with the service's own decision:
 * no signer hands out a link the service would refuse.
 */
export async function signLink(loaded: LinkRoutes, request: SignRequest, options: LinkOptions): Promise<SignedLink> {
  const problems: LinkProblem[] = [];
  const refuse = (): never => {
    throw new LinkRequestError(problems);
  };
  const { nowSec } = options;
  const startOk = request.notBeforeSec === undefined || isUnixTime(request.notBeforeSec);
  if (!startOk) problems.push({ field: 'notBeforeSec', message: unixTimeRule });
  if (!isUnixTime(request.expiresSec)) problems.push({ field: 'expiresSec', message: unixTimeRule });
  else if (request.expiresSec <= nowSec)
    problems.push({ field: 'expiresSec', message: 'the link would already be expired: its end is not in the future' });
  // The format is asked with times it takes, so it still names every other field it refuses.
  const notBeforeSec = startOk ? request.notBeforeSec : undefined;
  const expiresSec = problems.length === 0 ? request.expiresSec : Math.max(nowSec, notBeforeSec ?? 0) + 3600;
  let signable: ReturnType<typeof signablePath>;
  let route: CompiledRoute;
  try {
    signable = signablePath(request.path);
    route = pickRoute(loaded, signable.path, options.route, options.shown);
  } catch (error) {
    if (error instanceof LinkRequestError) problems.push(...error.problems);
    else problems.push({ field: 'path', message: (error as Error).message });
    return refuse();
  }
  const { path } = signable;
  const denied = options.permit?.(route.name, request.expiresSec);
  if (denied !== undefined) throw new LinkNotPermittedError([denied]);
  if (route.clientIp === 'required' && request.clientIp === undefined) {
    problems.push({
      field: 'clientIp',
      message: `route "${route.name}" (${route.schemeId}) binds tokens to the client IP: give the IP the link is for`,
    });
  }
  // A stream route signs the stream's playlist, whichever file of the stream was named.
  const signedPath = route.signedPath(path);
  if (typeof signedPath !== 'string') {
    problems.push({ field: 'path', message: signedPath.detail });
    return refuse();
  }
  const signed = signEveryField(route, { ...request, notBeforeSec, expiresSec, path: signedPath }, problems);
  let base = '';
  try {
    base = linkStart(loaded, route, options.baseUrl);
  } catch (error) {
    problems.push(...(error as LinkRequestError).problems);
  }
  if (signed === undefined || problems.length > 0) return refuse();
  const scope = request.scopeDepth === undefined ? undefined : prefixOf(signedPath, request.scopeDepth);
  const unchecked = linkOf(route, signed, { ...signable, base, scope }, request);
  const link: SignedLink = { ...unchecked, fp: await selfCheck(loaded, unchecked, request.clientIp, nowSec) };
  await nestedCheck(loaded, route, link, scope, request.clientIp, nowSec);
  return link;
}

const unixTimeRule = 'must be unix seconds of ten digits (from 1000000000 to 9999999999)';
const isUnixTime = (sec: number) => Number.isSafeInteger(sec) && sec >= 1_000_000_000 && sec <= 9_999_999_999;

/** The optional fields a format may refuse one by one. */
const optionalFields = ['notBeforeSec', 'clientIp', 'scopeDepth', 'sessionId', 'nonce', 'cookies'] as const;

/**
 * Signs with the route's format, and finds every field the format refuses, not only the first: a
 * format stops at its first problem, so the request is tried again without each optional field it
 * refused (at most once per field) until it signs or refuses something else. The token is
 * undefined when anything was refused; `problems` then lists each field with its reason.
 */
function signEveryField(route: CompiledRoute, request: SignRequest, problems: LinkProblem[]): SignedToken | undefined {
  let trying: SignRequest = request;
  const refused = new Set<string>(problems.map((problem) => problem.field ?? ''));
  for (let attempt = 0; attempt <= optionalFields.length; attempt++) {
    try {
      const signed = route.scheme.sign(trying);
      return trying === request ? signed : undefined;
    } catch (error) {
      const field = error instanceof SignRequestError ? error.field : undefined;
      if (!refused.has(field ?? '')) problems.push({ field, message: (error as Error).message });
      const optional = optionalFields.find((name) => name === field);
      if (optional === undefined || trying[optional] === undefined || refused.has(optional)) return undefined;
      refused.add(optional);
      trying = { ...trying, [optional]: undefined };
    }
  }
  return undefined;
}

/**
 * A scope that covers the prefix of a nested route: the link must not open it. Every scoped format
 * refuses an outer route's scope inside a nested route (nested-scope.ts, hmac's own rule 9); this
 * probes that with the service's own decision on a path in each such route whose keys are loaded,
 * so a regression there is never handed out as a link.
 */
async function nestedCheck(
  loaded: LinkRoutes,
  route: CompiledRoute,
  link: SignedLink,
  scope: string | undefined,
  clientIp: string | undefined,
  nowSec: number,
): Promise<void> {
  if (scope === undefined) return;
  for (const nested of loaded.routes) {
    if (nested === route || !nested.keysLoaded) continue;
    if (!nested.prefix.startsWith(scope) || nested.prefix.length <= route.prefix.length) continue;
    // A few segments deep, so stream routes (a channel directory, then files) take it as a file of theirs.
    const probe = { ...link, path: `${nested.prefix}${'tokengate-probe/'.repeat(3)}probe.ts` };
    if ((await decisionAt(loaded, probe, clientIp, nowSec)).decision.verdict === Verdict.valid) {
      throw new LinkRequestError(
        `the scope ${scope} also covers route "${nested.name}" (${nested.prefix}), which accepts this route's keys: choose a deeper scope`,
        'scopeDepth',
      );
    }
  }
}

/** The service's verdict on the link at its start (or now): anything but an allow is a bug, and nothing is handed out. */
async function selfCheck(
  loaded: LinkRoutes,
  link: Omit<SignedLink, 'fp'>,
  clientIp: string | undefined,
  nowSec: number,
): Promise<string> {
  const { decision, fp } = await decisionAt(loaded, link, clientIp, nowSec);
  if (decision.verdict !== Verdict.valid || fp === undefined) {
    throw new LinkRequestError(
      `the service would refuse this link (${decision.verdict}: ${decision.detail}); nothing was handed out`,
    );
  }
  return fp;
}

/**
 * The service's decision on the link just after its start (or now): one second after the start,
 * where the end allows it, since some formats' windows exclude the start itself (CloudFront's
 * DateGreaterThan); and the fingerprint of its token.
 */
async function decisionAt(loaded: LinkRoutes, link: Omit<SignedLink, 'fp'>, clientIp: string | undefined, nowSec: number) {
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
  const decision = await settle(authorize(loaded.gate, uri, client ?? clientIp, at, headers));
  return { decision, fp: decisionDetails(loaded.gate, uri, client ?? clientIp, headers, decision).fingerprint };
}

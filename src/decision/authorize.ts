import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import { type ClientIp, parseClientIp } from '../request/client-ip.js';
import { nginxTarget } from '../request/nginx-uri.js';
import { otherReading, type RouteTable, readingsAgree } from '../request/path-readings.js';
import { parseRequestTarget } from '../request/request-target.js';
import type { SignedPathFor } from '../request/signed-path.js';
import { noHeaders, type TokenHeaders } from '../request/token-headers.js';
import type { ClientIpUse, ParsedToken, TokenScheme } from '../scheme-kit/token-scheme.js';
import { type LimitCheck, limitNeedsClientIp, limitSubject, type RouteLimits } from './limits.js';
import { checkRevocation, type RouteRevocation } from './revocations.js';
import type { VerdictCache } from './verdict-cache.js';

/** A configured route, compiled: the scheme is already bound to its keys. */
export interface Route {
  readonly name: string;
  /** Raw path prefix; the longest matching prefix wins. */
  readonly prefix: string;
  readonly schemeId: string;
  readonly clientIp: ClientIpUse;
  readonly keyIds: readonly string[];
  readonly scheme: TokenScheme;
  /** The path the token was signed for (the request path, or its stream's playlist). */
  readonly signedPath: SignedPathFor;
  /** Genuine signatures seen recently; undefined where a lookup would cost more than the hash. */
  readonly cache: VerdictCache | undefined;
  /** Every verdict a request that reached this route can get (`routeVerdicts`): metrics expose only these. */
  readonly verdicts: ReadonlySet<Verdict>;
  /** How a first path segment carrying this route's token starts ("bcdn_token="); undefined: never. */
  readonly pathToken?: string | undefined;
  /** The format signs nginx's `$uri` (nginx-uri.ts): the route gets that path, not the raw one. */
  readonly nginxUri?: boolean | undefined;
  /** In a gate with `nginxRoutes`: the prefix as nginx's `$uri` reads it (escapes decoded). */
  readonly nginxPrefix?: string | undefined;
  /** The request methods a token opens (route `methods`, GET and HEAD by default); exact names. */
  readonly methods: ReadonlySet<string>;
  /** Set when the route checks revocations (config `revocation`): the thread's book and the route's limits. */
  readonly revocation?: RouteRevocation | undefined;
  /** Set when the route limits each link's use (config `limits`): its spec and the thread's limiter. */
  readonly limits?: RouteLimits | undefined;
  /** The status of an expired token here (route `expiredStatus`); undefined: the listener's. */
  readonly expiredStatus?: 410 | 403 | undefined;
}

/** What a request rejected before any route matched can get. */
export const preRouteVerdicts: ReadonlySet<Verdict> = new Set([
  Verdict.badUri,
  Verdict.noRoute,
  Verdict.badSource,
  Verdict.error,
]);

/**
 * What a request that reached a route can get, following `authorize`: bad-method and the token
 * verdicts, plus wrong-ip and bad-source where the scheme reads the client IP, not-yet-valid
 * where tokens carry a start time, no-route where a stream scope can be too shallow.
 */
export function routeVerdicts(route: {
  clientIp: ClientIpUse;
  startTimes: boolean;
  scoped: boolean;
  revocation?: boolean;
  limits?: RouteLimits | undefined;
}): ReadonlySet<Verdict> {
  const out = new Set<Verdict>([
    Verdict.valid,
    Verdict.badMethod,
    Verdict.missing,
    Verdict.malformed,
    Verdict.forged,
    Verdict.expired,
  ]);
  if (route.clientIp !== 'unused') {
    out.add(Verdict.wrongIp);
    out.add(Verdict.badSource);
  }
  if (route.startTimes) out.add(Verdict.premature);
  if (route.scoped) out.add(Verdict.noRoute);
  if (route.revocation === true) out.add(Verdict.revoked);
  if (route.limits !== undefined) {
    out.add(Verdict.overLimit);
    if (route.limits.spec.onStoreDown === 'deny') out.add(Verdict.storeDown);
    if (route.limits.needsClientIp) out.add(Verdict.badSource);
  }
  return out;
}

/**
 * Everything a decision depends on besides the request and the clock. Immutable once built.
 * `R`: what a route carries besides what the decision reads (config keeps each route's config).
 */
export interface Gate<R extends Route = Route> {
  /** Sorted longest prefix first. */
  readonly routes: readonly R[];
  /** How far in the future a token's start may lie and still be accepted (signer clocks drift). */
  readonly clockSkewSec: number;
  /** Lowercase names of the request headers some route reads (cookies, token headers). */
  readonly tokenHeaders: readonly string[];
  /** The path-token markers of the routes that have one (`Route.pathToken`); empty for most gates. */
  readonly pathTokens?: readonly string[] | undefined;
  /**
   * Set when some route's format signs nginx's `$uri`: every route, sorted longest `nginxPrefix`
   * first. Routes are then chosen on the path as nginx reads it (`selectRoute`).
   */
  readonly nginxRoutes?: readonly R[] | undefined;
  /**
   * Every route under every reading of a path (path-readings.ts), set when some route lies inside
   * another under one of them: a request to the outer route must pick it under every reading.
   */
  readonly readings?: RouteTable<R> | undefined;
  /** The per-request decision log (config `decisionLog`), off when undefined; in the gate so a reload switches it atomically. */
  readonly decisionLog?: DecisionLogSettings | undefined;
}

/** Which decisions get a log line (config `decisionLog`). */
export interface DecisionLogSettings {
  /** "denials": every answer but an allow; "all": allows too. */
  readonly verdicts: 'denials' | 'all';
  /** The share of those decisions logged, in (0, 1]. */
  readonly sample: number;
  /** At most this many lines a second per serving thread; the rest are counted, then reported. */
  readonly maxPerSec: number;
}

export interface Decision {
  readonly verdict: Verdict;
  readonly detail: string;
  readonly route: Route | undefined;
  /** Valid and revoked: the token's end (for Cache-Control max-age); expired: when it ended. Otherwise 0. */
  readonly expiresSec: number;
  /**
   * An allow on a route with `limits`: what the edge must still count before it answers (the
   * limiter's outcome decides). Undefined on every other decision.
   */
  readonly limit?: LimitCheck | undefined;
  /**
   * A format that verifies asynchronously (jwt, on a verdict cache miss): the decision once the
   * signature is checked (a promise that never rejects). Until then the verdict is `error`, so a
   * caller that ignores it answers 503, never an allow; `settle` waits for it.
   */
  readonly pending?: Promise<Decision> | undefined;
}

/** The final decision: `decision` itself, or what its pending verification decides. */
export function settle(decision: Decision): Promise<Decision> {
  return decision.pending ?? Promise.resolve(decision);
}

const noRoute = rejection(Verdict.noRoute, 'no route covers this path');
const badMethod = rejection(Verdict.badMethod, 'the route does not allow the request method (its "methods")');
const badIp = rejection(Verdict.badSource, 'the client IP header is not an IPv4 or IPv6 address');
const noIp = rejection(Verdict.badSource, 'the route binds tokens to the client IP but no client IP is configured');
const forged = rejection(Verdict.forged, 'the signature does not match (key, path, client IP or signed fields differ)');
const expired = rejection(Verdict.expired, 'the signature is genuine but the token has expired');
const premature = rejection(Verdict.premature, 'the signature is genuine but the token is not valid yet');
const valid = 'the signature is genuine and the token is within its validity window';
const foreignPathToken = rejection(Verdict.noRoute, "a token in the path's first segment, for a route whose format reads none");
const pathTokenAlone = rejection(Verdict.badUri, "the path is only a token segment: the file's path must follow it");

/**
 * A path-token segment as clients send it (bunny: `bcdn_token=<token>&token_path=%2Fdir%2F&expires=<t>`):
 * unreserved and sub-delim characters and escapes, never an escaped "&" or "%" (once decoded, the
 * segment must split at the same "&" as sent: a proxy that strips it on the decoded path cuts
 * where tokengate reads), nor a control byte, nor ";".
 */
const tokenSegment = /^(?:[A-Za-z0-9._~!$'()*+,=:@&-]|%[0-9A-Fa-f]{2})*$/;
const forbiddenEscape = /%(?:2[56]|[01][0-9A-Fa-f]|7[Ff])/;
const escapedSlashes = /%2F%2F/i;
const escapedDotSegment = /%2F(?:\.|%2E){1,2}(?:%2F|$)/i;
const badTokenSegment = rejection(
  Verdict.badUri,
  'the path token segment holds a character or escape it may not (";", "%26", "%25", a control byte, or once decoded "//" or a dot-segment)',
);

/**
 * Splits a path token off the raw request target (`/bcdn_token=…/dir/file?q` → the segment and
 * `/dir/file?q`) when the gate has routes that read one, before the URI rules: the segment is the
 * token (its escapes, `%2F` in a token_path, are its own grammar's), and the URI rules then hold
 * for the path after it, on which the route is chosen. The segment ends at the first "/".
 */
export function splitPathToken(gate: Gate, uri: string): { uri: string; pathToken: string | undefined } | Rejection {
  const markers = gate.pathTokens;
  if (markers === undefined || markers.length === 0) return { uri, pathToken: undefined };
  if (uri.charCodeAt(0) !== 0x2f || !markers.some((marker) => uri.startsWith(marker, 1))) return { uri, pathToken: undefined };
  let end = 1;
  while (end < uri.length) {
    const code = uri.charCodeAt(end);
    if (code === 0x2f || code === 0x3f || code === 0x23) break;
    end++;
  }
  if (uri.charCodeAt(end) !== 0x2f) return pathTokenAlone;
  const segment = uri.slice(1, end);
  if (!tokenSegment.test(segment) || forbiddenEscape.test(segment)) return badTokenSegment;
  // A proxy decodes the segment and resolves dot-segments and merges slashes in it before it cuts
  // it off: once decoded it must hold none, or the proxy reads another segment (or none at all).
  // Its only "/" are escaped ones (a raw "/" ends it), so this is read on the escapes, undecoded.
  if (escapedSlashes.test(segment) || escapedDotSegment.test(segment)) return badTokenSegment;
  return { uri: uri.slice(end), pathToken: segment };
}

export function sortRoutes<R extends Route>(routes: readonly R[]): R[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
}

/** The route whose prefix the path starts with, longest first (on the raw path). */
export function findRoute<R extends Route>(gate: Gate<R>, path: string): R | undefined {
  for (const route of gate.routes) if (path.startsWith(route.prefix)) return route;
  return undefined;
}

/** A denial as a decision (the edge uses it too, for unusable source headers). */
export function deny(reason: Rejection, route: Route | undefined): Decision {
  return { verdict: reason.verdict, detail: reason.detail, route, expiresSec: 0 };
}

/** A request's route and what its scheme reads: the path (after any path token) and the raw query. */
export interface Selected {
  readonly route: Route;
  readonly path: string;
  readonly query: string;
  readonly pathToken: string | undefined;
}

const nginxOtherRoute = rejection(
  Verdict.badUri,
  "nginx reads this path as another route's (escapes or dot-segments move it): a raw-path route accepts only the spelling that picks it either way",
);

function isDecision(selected: Selected | Decision): selected is Decision {
  return (selected as Decision).verdict !== undefined;
}

/** The route on the raw path, with the strict URI rules of request-target.ts. */
function selectOnRawPath(gate: Gate, uri: string): Selected | Decision {
  const split = splitPathToken(gate, uri);
  if (isRejection(split)) return deny(split, undefined);
  const target = parseRequestTarget(split.uri);
  if (isRejection(target)) return deny(target, undefined);
  const route = findRoute(gate, target.path);
  if (route === undefined) return deny(noRoute, undefined);
  // Origins serve the decoded, parameter-free, case-folded path: each must reach this route too (rule 12).
  if (gate.readings !== undefined && !readingsAgree(gate.readings, route, target.path)) return deny(otherReading, undefined);
  // A path token only for a route of a format that reads one: never a detour around another route's check.
  if (split.pathToken !== undefined && (route.pathToken === undefined || !split.pathToken.startsWith(route.pathToken))) {
    return deny(foreignPathToken, route);
  }
  return { route, path: target.path, query: target.query, pathToken: split.pathToken };
}

/**
 * Which route a request reaches and the path its scheme reads. In a gate with routes that sign
 * nginx's `$uri`, the route is chosen as nginx chooses a location: on `$uri`. Such a route then
 * reads `$uri`; any other route must also be the one the raw path picks under the strict rules,
 * so no spelling reaches a raw-path route through nginx's normalisation.
 */
export function selectRoute(gate: Gate, uri: string): Selected | Decision {
  const nginxRoutes = gate.nginxRoutes;
  if (nginxRoutes === undefined) return selectOnRawPath(gate, uri);
  // The token segment is cut off the raw target first (its escapes are its own); nginx reads the rest.
  const split = splitPathToken(gate, uri);
  if (isRejection(split)) return deny(split, undefined);
  const target = nginxTarget(split.uri);
  if (isRejection(target)) return deny(target, undefined);
  let route: Route | undefined;
  for (const candidate of nginxRoutes) {
    if (target.path.startsWith(candidate.nginxPrefix ?? candidate.prefix)) {
      route = candidate;
      break;
    }
  }
  if (route === undefined) return deny(noRoute, undefined);
  // `$uri` is already decoded; its parameter-free and case-folded readings must pick the same route.
  if (gate.readings !== undefined && !readingsAgree(gate.readings, route, target.path, target.path)) {
    return deny(otherReading, undefined);
  }
  if (route.nginxUri === true) {
    if (split.pathToken !== undefined) return deny(foreignPathToken, route);
    return { route, path: target.path, query: target.query, pathToken: undefined };
  }
  const raw = selectOnRawPath(gate, uri);
  if (isDecision(raw)) return raw.verdict === Verdict.noRoute ? deny(nginxOtherRoute, undefined) : raw;
  return raw.route === route ? raw : deny(nginxOtherRoute, undefined);
}

/**
 * The whole decision, pure and synchronous: `uri` is the raw original request target, `clientIp`
 * the raw value of the proxy-set client IP header, or the address the edge already parsed
 * (undefined when none is configured), `method`
 * the original request's method (undefined: not judged, as for `tokengate verify` and the signers).
 * Cheapest rejection first; the signature before the clock, so an unauthenticated time field
 * can never produce "expired".
 */
export function authorize(
  gate: Gate,
  uri: string,
  clientIp: string | ClientIp | undefined,
  nowSec: number,
  headers: TokenHeaders = noHeaders,
  method?: string,
): Decision {
  const selected = selectRoute(gate, uri);
  if (isDecision(selected)) return selected;
  const { route } = selected;
  // Before the token: a link handed out for reading never lets its holder write, whatever it carries.
  if (method !== undefined && !route.methods.has(method)) return deny(badMethod, route);
  // Parsed once, here or at the edge (the target form's IP segment), into the value the schemes receive.
  let ip: ClientIp | undefined;
  if (route.clientIp === 'required') {
    if (clientIp === undefined) return deny(noIp, route);
    ip = typeof clientIp === 'string' ? parseClientIp(clientIp) : clientIp;
    if (ip === undefined) return deny(badIp, route);
  } else if (route.clientIp === 'optional' && clientIp !== undefined) {
    // Only tokens bound to an IP need it; those get undefined and say so themselves.
    ip = typeof clientIp === 'string' ? parseClientIp(clientIp) : clientIp;
  }
  const path = route.signedPath(selected.path);
  if (typeof path !== 'string') return deny(path, route);
  const token = route.scheme.parse({ path, query: selected.query, clientIp: ip, headers, pathToken: selected.pathToken });
  if (isRejection(token)) return deny(token, route);
  const cache = route.cache;
  const key = cache === undefined ? undefined : cache.keyOf(route.scheme.cacheKey(token));
  const genuine = key !== undefined && cache!.has(key) ? true : route.scheme.verify(token);
  const decide = (): Decision => {
    // The start of the same decision, read after the signature: a pending one resumes here.
    if (token.bindingMismatch !== undefined) return deny(token.bindingMismatch, route);
    // The end of a genuine expired token is known: explanations say how long ago it ended.
    if (nowSec > token.expiresSec) return { ...deny(expired, route), expiresSec: token.expiresSec };
    if (token.notBeforeSec > nowSec + gate.clockSkewSec) return deny(premature, route);
    return afterSignature(route, token, selected.path, clientIp, ip, nowSec, gate.clockSkewSec);
  };
  if (genuine === true) {
    if (key !== undefined) cache!.add(key);
    return decide();
  }
  if (genuine === false) return deny(forged, route);
  // Verified off this call (jwt): the rest of the decision waits for it; a failure to verify is a forgery.
  const pending = genuine.then(
    (ok) => {
      if (!ok) return deny(forged, route);
      if (key !== undefined) cache!.add(key);
      return decide();
    },
    () => deny(forged, route),
  );
  return { verdict: Verdict.error, detail: verifying, route, expiresSec: 0, pending };
}

const verifying = 'the signature is being verified';

/** What a genuine, current token still meets: the route's revocations and use limits. */
function afterSignature(
  route: Route,
  token: ParsedToken,
  path: string,
  clientIp: string | ClientIp | undefined,
  parsedIp: ClientIp | undefined,
  nowSec: number,
  clockSkewSec: number,
): Decision {
  let ip = parsedIp;
  // Only a genuine, current token of a route that checks revocations reaches the book.
  const revocation = route.revocation;
  if (revocation !== undefined) {
    const revoked = checkRevocation(revocation, route, token, path, nowSec, clockSkewSec);
    // Its end is known: a revocation by this link lasts until then.
    if (revoked !== undefined) return { ...deny(revoked, route), expiresSec: token.expiresSec };
  }
  const limits = route.limits;
  if (limits !== undefined) {
    // Distinct client IPs are counted on the canonical text (one address, one spelling).
    if (limits.needsClientIp && ip === undefined) {
      if (clientIp === undefined) return deny(limitNeedsClientIp, route);
      ip = typeof clientIp === 'string' ? parseClientIp(clientIp) : clientIp;
      if (ip === undefined) return deny(badIp, route);
    }
    const ipText = limits.needsClientIp ? ip?.text : undefined;
    const { spec } = limits;
    const subject = limitSubject(
      route.name,
      spec.per,
      route.scheme.signature(token),
      spec.per === 'session' ? route.scheme.session?.(token) : undefined,
    );
    const limit: LimitCheck = { route: route.name, subject, clientIp: ipText, expiresSec: token.expiresSec, spec };
    return { verdict: Verdict.valid, detail: valid, route, expiresSec: token.expiresSec, limit };
  }
  return { verdict: Verdict.valid, detail: valid, route, expiresSec: token.expiresSec };
}

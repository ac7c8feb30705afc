import { isRejection, rejection, Verdict } from '../base/verdict.js';
import { type DecisionLogSettings, type Gate, type Route, routeVerdicts, sortRoutes } from '../decision/authorize.js';
import { type Limiter, MemoryLimiter, type RouteLimits } from '../decision/limits.js';
import { RevocationBook } from '../decision/revocations.js';
import { nginxTarget } from '../request/nginx-uri.js';
import { decodedPath, foldedPath, routeTable, samePrefixProblems } from '../request/path-readings.js';
import { sameAsRequest, streamSignedPath } from '../request/signed-path.js';
import type { TokenScheme } from '../scheme-kit/token-scheme.js';
import type { Config, RouteConfig } from './config.js';
import { type KeyEnvironment, loadKeys, loadSecretOptions, type Notes } from './load-keys.js';
import { verdictCache } from './lru-verdict-cache.js';

/** A route compiled for the decision, with the config it came from (its name, keys, stream, base URL...). */
export interface CompiledRoute extends Route {
  readonly config: RouteConfig;
  /** False in a signer for other routes (`only`): this route's scheme verifies and signs nothing. */
  readonly keysLoaded: boolean;
}

export interface CompiledGate {
  readonly gate: Gate<CompiledRoute>;
  /** The compiled routes in config order (the gate's are longest prefix first). */
  readonly routes: readonly CompiledRoute[];
  /** Things to say loudly at startup (public demo secrets, weak keys). Never contains key material. */
  readonly warnings: readonly string[];
  /** Some route uses a published demo secret (`publicDemoSecret`): anyone can sign for it. */
  readonly demoSecrets: boolean;
  readonly problems: readonly string[];
}

/** A route prefix as nginx's `$uri` reads it (its escapes decoded). */
function nginxPrefixOf(prefix: string): string {
  const read = nginxTarget(prefix);
  return isRejection(read) ? prefix : read.path;
}

/** What a gate takes from the config besides its routes. */
export interface GateSettings {
  readonly clockSkewSec: number;
  /** Entries of each route's verdict cache (config `verdictCache.maxEntries`). */
  readonly verdictCacheEntries: number;
  readonly decisionLog: DecisionLogSettings | undefined;
  /**
   * The thread's revocations, which every route with `revocation` reads; kept by the service
   * across reloads. Absent: an empty book of this gate's own (signers, `verify` without a store).
   */
  readonly revocations?: RevocationBook | undefined;
  /** Where every route with `limits` counts; kept by the service across reloads. Absent: counters of this gate's own, in memory. */
  readonly limiter?: Limiter | undefined;
}

/** What a thread keeps across reloads, which every compiled config reads: its revocations and its limiter. */
export interface ThreadState {
  readonly revocations?: RevocationBook | undefined;
  readonly limiter?: Limiter | undefined;
}

/** The config's defaults, for routes compiled without a config file (routeSigner, tests). */
export const defaultGateSettings: GateSettings = Object.freeze({
  clockSkewSec: 30,
  verdictCacheEntries: 100_000,
  decisionLog: undefined,
});

/** What a route's compilation needs to know of the other routes. */
interface RouteContext {
  readonly where: KeyEnvironment;
  readonly verdictCacheEntries: number;
  /** Some route's format signs nginx's `$uri`: every route gets its `nginxPrefix`. */
  readonly nginxMode: boolean;
  readonly pathTokens: readonly string[];
  /** Prefixes that lie inside another route's under some reading (escapes decoded, case folded). */
  readonly nestedPrefixes: ReadonlySet<string>;
  readonly revocations: RevocationBook;
  readonly limiter: Limiter;
}

function routeContext(routes: readonly RouteConfig[], where: KeyEnvironment, settings: GateSettings): RouteContext {
  const pathTokens = [
    ...new Set(routes.flatMap((route) => (route.scheme.pathToken === undefined ? [] : [route.scheme.pathToken]))),
  ];
  const read = routes.map((route) => foldedPath(decodedPath(route.prefix)));
  const nestedPrefixes = new Set(
    routes.filter((_, i) => read.some((outer, j) => j !== i && read[i]!.startsWith(outer))).map((r) => r.prefix),
  );
  const nginxMode = routes.some((route) => route.scheme.nginxUri === true);
  return {
    where,
    verdictCacheEntries: settings.verdictCacheEntries,
    nginxMode,
    pathTokens,
    nestedPrefixes,
    revocations: settings.revocations ?? new RevocationBook(),
    limiter: settings.limiter ?? new MemoryLimiter(),
  };
}

/** The scheme of a route whose keys a signer did not load (`only`): it verifies and signs nothing. */
const keysNotLoaded = rejection(Verdict.forged, 'the keys of this route are not loaded (a signer for other routes)');
const unloadedScheme: TokenScheme = Object.freeze({
  parse: () => keysNotLoaded,
  verify: () => false,
  cacheKey: () => '',
  signature: () => '',
  identify: () => ({ keyId: undefined, signature: '' }),
  sign: () => {
    throw new Error(keysNotLoaded.detail);
  },
});

/** A route's limits bound to the thread's limiter; undefined for a route without `limits`. */
function limitsOf(route: RouteConfig, context: RouteContext): RouteLimits | undefined {
  const spec = route.limits;
  if (spec === undefined) return undefined;
  return { spec, limiter: context.limiter, needsClientIp: spec.clientIps !== undefined || spec.viewers !== undefined };
}

/** A route bound to its keys (`scheme`), or to none in a signer for other routes. */
function buildRoute(
  route: RouteConfig,
  scheme: TokenScheme | undefined,
  keyIds: readonly string[],
  context: RouteContext,
): CompiledRoute {
  const facts = route.scheme;
  return {
    config: route,
    keysLoaded: scheme !== undefined,
    name: route.name,
    prefix: route.prefix,
    schemeId: facts.id,
    clientIp: facts.clientIp,
    keyIds,
    scheme: scheme ?? unloadedScheme,
    // A route that reads nginx's $uri counts its stream's segments after the prefix as nginx reads it.
    signedPath:
      route.stream === undefined
        ? sameAsRequest
        : streamSignedPath(facts.nginxUri === true ? nginxPrefixOf(route.prefix) : route.prefix, route.stream),
    // A new gate (config load or reload) means new caches: nothing verified under old keys survives.
    // Stream routes reuse one token for every playlist and segment, so lookups mostly hit there.
    // Formats whose verification costs far more than a lookup (CloudFront's public keys) have it on by default.
    cache:
      scheme !== undefined && (route.verdictCache ?? (route.stream !== undefined || facts.verdictCacheByDefault === true))
        ? verdictCache(context.verdictCacheEntries)
        : undefined,
    verdicts: routeVerdicts({
      clientIp: facts.clientIp,
      startTimes: facts.signOptions.includes('notBeforeSec'),
      // A path token meant for another route's format is "no-route" here.
      scoped: route.stream?.depth !== undefined || (context.pathTokens.length > 0 && facts.pathToken === undefined),
      revocation: route.revocation !== undefined,
      limits: limitsOf(route, context),
    }),
    revocation:
      route.revocation === undefined ? undefined : { book: context.revocations, maxLifetimeSec: route.revocation.maxLifetimeSec },
    limits: limitsOf(route, context),
    pathToken: facts.pathToken,
    methods: new Set(route.methods),
    expiredStatus: route.expiredStatus,
    nginxUri: facts.nginxUri === true,
    nginxPrefix: context.nginxMode ? nginxPrefixOf(route.prefix) : undefined,
  };
}

/** Loads a route's keys and secret options and binds its scheme to them; undefined when one cannot be loaded. */
function compileRoute(route: RouteConfig, path: string, context: RouteContext, notes: Notes): CompiledRoute | undefined {
  const keys = loadKeys(route, path, context.where, notes);
  const secrets = loadSecretOptions(route, path, context.where, notes);
  for (const warning of route.options.warnings) notes.warnings.push(`route "${route.name}" (${route.prefix}): ${warning}`);
  // Prefixes match as text: "/vod" also covers "/vodka/x", and its signers sign such paths.
  if (!route.prefix.endsWith('/')) {
    notes.warnings.push(
      `route "${route.name}" (${route.prefix}): the prefix does not end with "/", so it also covers ${route.prefix}ka/… and every path that starts with it; end it with "/" unless that is meant`,
    );
  }
  if (keys === undefined || secrets === undefined) return undefined;
  const keysProblem = route.options.keysProblem(keys, secrets);
  if (keysProblem !== undefined) {
    notes.problems.push(`${path}.keys: ${keysProblem}`);
    return undefined;
  }
  // A route inside another accepts only scopes inside its own prefix (nested-scope.ts).
  const nested = context.nestedPrefixes.has(route.prefix);
  const scheme = route.options.create({ keys, prefix: route.prefix, nested, secrets });
  return buildRoute(
    route,
    scheme,
    keys.map((key) => key.id),
    context,
  );
}

/**
 * Routes whose tokens name an id, not a path (jwt `paths`), that share a key and an audience: a
 * token of one would open the same id under the other (a token opens only the route it was
 * signed for, docs/security.md rule 9).
 */
function sharedIdKeyProblems(routes: readonly CompiledRoute[]): string[] {
  const problems: string[] = [];
  const withIds = routes.filter((route) => route.scheme.idTokens !== undefined);
  for (const [i, a] of withIds.entries()) {
    for (const b of withIds.slice(i + 1)) {
      const one = a.scheme.idTokens!;
      const other = b.scheme.idTokens!;
      const audience = one.audiences.find((aud) => other.audiences.includes(aud));
      if (audience === undefined || !one.keyDigests.some((digest) => other.keyDigests.includes(digest))) continue;
      problems.push(
        `routes "${a.name}" and "${b.name}" share a key and the audience "${audience}", and their tokens name only an id ("paths"): a token for one would open the other; give each route its own audience (or key)`,
      );
    }
  }
  return problems;
}

/** The gate over compiled routes: the decision's route order, and the tables only some gates need. */
function gateOf(routes: readonly CompiledRoute[], context: RouteContext, settings: GateSettings): Gate<CompiledRoute> {
  const table = routeTable(routes);
  const nginxRoutes = context.nginxMode
    ? [...routes].sort((a, b) => (b.nginxPrefix ?? b.prefix).length - (a.nginxPrefix ?? a.prefix).length)
    : undefined;
  return Object.freeze({
    routes: Object.freeze(sortRoutes(routes)),
    clockSkewSec: settings.clockSkewSec,
    tokenHeaders: Object.freeze([...new Set(routes.flatMap((r) => r.config.options.tokenHeaders))]),
    decisionLog: settings.decisionLog,
    pathTokens: Object.freeze(context.pathTokens),
    nginxRoutes: nginxRoutes === undefined ? undefined : Object.freeze(nginxRoutes),
    // Only gates with a route inside another (under some reading) compare readings; the rest pay nothing.
    readings: table.outer.size > 0 ? table : undefined,
  });
}

/**
 * Loads the keys of every route (or of those `only` keeps: a signer for one route reads no other
 * route's secret, and the others are matched but sign nothing) and binds each route's scheme to
 * them; collects all problems with their paths (`routes[i]` is the route's index in `routes`).
 */
export function compileRoutes(
  routes: readonly RouteConfig[],
  where: KeyEnvironment,
  settings: GateSettings = defaultGateSettings,
  only?: (route: RouteConfig) => boolean,
): CompiledGate {
  const notes: Notes = { problems: [], warnings: [] };
  const context = routeContext(routes, where, settings);
  const compiled: CompiledRoute[] = [];
  for (const [i, route] of routes.entries()) {
    const built =
      only === undefined || only(route)
        ? compileRoute(route, `routes[${i}]`, context, notes)
        : buildRoute(route, undefined, [], context);
    if (built !== undefined) compiled.push(built);
  }
  // Two prefixes that read the same (escapes decoded as nginx does, case folded) leave one route
  // unreachable, or reachable only through a spelling that another reading sends elsewhere.
  notes.problems.push(...samePrefixProblems(compiled.map((route) => route.prefix)), ...sharedIdKeyProblems(compiled));
  return {
    gate: gateOf(compiled, context, settings),
    routes: Object.freeze(compiled),
    warnings: notes.warnings,
    demoSecrets: routes.some((route) => route.keys.some((key) => key.publicDemoSecret !== undefined)),
    problems: notes.problems,
  };
}

/** Compiles a validated config's routes into its gate (`compileRoutes` with the config's settings). */
export function compileGate(
  config: Config,
  where: KeyEnvironment,
  only?: (route: RouteConfig) => boolean,
  thread: ThreadState = {},
): CompiledGate {
  const settings = {
    clockSkewSec: config.clockSkewSec,
    verdictCacheEntries: config.verdictCache.maxEntries,
    decisionLog: config.decisionLog,
    revocations: thread.revocations,
    limiter: thread.limiter,
  };
  return compileRoutes(config.routes, where, settings, only);
}

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isRejection } from '../base/verdict.js';
import { type Gate, type Route, routeVerdicts, sortRoutes } from '../decision/authorize.js';
import { nginxTarget } from '../request/nginx-uri.js';
import { decodedPath, foldedPath, routeTable, samePrefixProblems } from '../request/path-readings.js';
import { sameAsRequest, streamSignedPath } from '../request/signed-path.js';
import type { KeyEncoding } from '../scheme-kit/scheme-definition.js';
import { textSecretProblem } from '../scheme-kit/text-secret.js';
import type { RouteKey } from '../scheme-kit/token-scheme.js';
import type { Config, KeySource, RouteConfig } from './config.js';
import { verdictCache } from './lru-verdict-cache.js';

export interface CompiledGate {
  readonly gate: Gate;
  /** Things to say loudly at startup (public demo secrets, weak keys). Never contains key material. */
  readonly warnings: readonly string[];
  /** Some route uses a published demo secret (`publicDemoSecret`): anyone can sign for it. */
  readonly demoSecrets: boolean;
  readonly problems: readonly string[];
}

export interface KeyEnvironment {
  /** Where relative key file paths start (the config file's directory). */
  readonly baseDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a key file (default: from disk; worker threads read the main thread's snapshot). */
  readonly readFile?: (path: string) => Buffer;
}

/** One trailing newline is how editors end files; it is never part of the secret. */
function stripFinalNewline(bytes: Buffer): Buffer {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

/** Strict decoding: a key that is not exactly hex or base64 is a typo, not a shorter key. */
function decodeKey(bytes: Buffer, encoding: KeyEncoding): Buffer | string {
  if (encoding === 'text') return bytes;
  const text = bytes.toString('latin1').trim();
  if (encoding === 'hex') {
    return /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : 'the key is not valid hex (an even number of 0-9a-f)';
  }
  // 32 hex digits or more are also valid base64, decoding to other bytes: every token would be "forged".
  if (text.length >= 32 && /^[0-9a-fA-F]+$/.test(text)) {
    return 'the key is declared base64 but is all hex digits: set "encoding": "hex" (or give it in base64)';
  }
  const decoded = Buffer.from(text, 'base64');
  const canonical = (b64: string) => b64.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || canonical(decoded.toString('base64')) !== canonical(text)) {
    return 'the key is not valid base64';
  }
  return decoded;
}

/** A route prefix as nginx's `$uri` reads it (its escapes decoded). */
function nginxPrefixOf(prefix: string): string {
  const read = nginxTarget(prefix);
  return isRejection(read) ? prefix : read.path;
}

export function loadSecret(source: KeySource, where: KeyEnvironment): Buffer | string {
  if (source.file !== undefined) {
    const path = isAbsolute(source.file) ? source.file : resolve(where.baseDir, source.file);
    try {
      return stripFinalNewline((where.readFile ?? readFileSync)(path));
    } catch (error) {
      return `cannot read key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
  }
  if (source.env !== undefined) {
    const value = where.env[source.env];
    return value === undefined || value === ''
      ? `environment variable ${source.env} is not set or empty`
      : Buffer.from(value, 'utf8');
  }
  return Buffer.from(source.publicDemoSecret ?? '', 'utf8');
}

/**
 * Loads the keys of every route (or of those `only` keeps: a signer for one route reads no other
 * route's secret) and binds each route's scheme to them; collects all problems with their paths.
 */
export function compileGate(config: Config, where: KeyEnvironment, only?: (route: RouteConfig) => boolean): CompiledGate {
  const problems: string[] = [];
  const warnings: string[] = [];
  const routes: Route[] = [];
  const nginxMode = config.routes.some((route) => route.scheme.nginxUri === true);
  const pathTokens = [
    ...new Set(config.routes.flatMap((route) => (route.scheme.pathToken === undefined ? [] : [route.scheme.pathToken]))),
  ];
  // Prefixes that lie inside another route's under some reading (escapes decoded, case folded).
  const read = config.routes.map((route) => foldedPath(decodedPath(route.prefix)));
  const nestedPrefixes = new Set(
    config.routes.filter((_, i) => read.some((outer, j) => j !== i && read[i]!.startsWith(outer))).map((r) => r.prefix),
  );
  for (const [i, route] of config.routes.entries()) {
    if (only !== undefined && !only(route)) continue;
    const { scheme } = route;
    const keys: RouteKey[] = [];
    for (const [j, source] of route.keys.entries()) {
      const path = `routes[${i}].keys[${j}]`;
      const loaded = loadSecret(source, where);
      const secret = typeof loaded === 'string' ? loaded : decodeKey(loaded, source.encoding ?? scheme.keyEncodings[0]!);
      const problem = typeof secret === 'string' ? secret : scheme.keyProblem(secret);
      if (problem !== undefined || typeof secret === 'string') {
        problems.push(`${path}: ${problem}`);
        continue;
      }
      if (source.publicDemoSecret !== undefined) {
        warnings.push(
          `route "${route.name}" (${route.prefix}) uses the PUBLISHED DEMO secret of key "${source.id}": anyone can sign valid tokens for it. Never use it in production.`,
        );
      } else if (secret.length < 16) {
        warnings.push(`route "${route.name}" key "${source.id}" is shorter than 16 bytes: easy to guess`);
      }
      keys.push({ id: source.id, secret });
    }
    // Secret options (a salt...) load like keys: from a file or the environment, never inline.
    let secretsLoaded = true;
    const secrets = new Map<string, string>();
    for (const [name, source] of route.options.secretOptions) {
      const loaded = loadSecret({ id: name, ...source }, where);
      const problem = typeof loaded === 'string' ? loaded : textSecretProblem(loaded);
      if (typeof loaded === 'string' || problem !== undefined) {
        problems.push(`routes[${i}].options.${name}: ${problem}`);
        secretsLoaded = false;
      } else secrets.set(name, loaded.toString('utf8'));
    }
    for (const warning of route.options.warnings)
      warnings.push(`route "${route.name}" (${route.prefix}): ${warning}`);
    if (keys.length !== route.keys.length || !secretsLoaded) continue;
    routes.push({
      name: route.name,
      prefix: route.prefix,
      schemeId: scheme.id,
      clientIp: scheme.clientIp,
      keyIds: keys.map((key) => key.id),
      // A route inside another accepts only scopes inside its own prefix (nested-scope.ts).
      scheme: route.options.create({ keys, prefix: route.prefix, nested: nestedPrefixes.has(route.prefix), secrets }),
      // A route that reads nginx's $uri counts its stream's segments after the prefix as nginx reads it.
      signedPath:
        route.stream === undefined
          ? sameAsRequest
          : streamSignedPath(scheme.nginxUri === true ? nginxPrefixOf(route.prefix) : route.prefix, route.stream),
      // A new gate (config load or reload) means new caches: nothing verified under old keys survives.
      // Stream routes reuse one token for every playlist and segment, so lookups mostly hit there.
      // Formats whose verification costs far more than a lookup (CloudFront's public keys) have it on by default.
      cache:
        (route.verdictCache ?? (route.stream !== undefined || scheme.verdictCacheByDefault === true))
          ? verdictCache(config.verdictCache.maxEntries)
          : undefined,
      verdicts: routeVerdicts({
        clientIp: scheme.clientIp,
        startTimes: scheme.signOptions.includes('notBeforeSec'),
        // A path token meant for another route's format is "no-route" here.
        scoped: route.stream?.depth !== undefined || (pathTokens.length > 0 && scheme.pathToken === undefined),
      }),
      pathToken: scheme.pathToken,
      methods: new Set(route.methods),
      nginxUri: scheme.nginxUri === true,
      nginxPrefix: nginxMode ? nginxPrefixOf(route.prefix) : undefined,
    });
  }
  // Two prefixes that read the same (escapes decoded as nginx does, case folded) leave one route
  // unreachable, or reachable only through a spelling that another reading sends elsewhere.
  problems.push(...samePrefixProblems(routes.map((route) => route.prefix)));
  const table = routeTable(routes);
  const nginxRoutes = nginxMode
    ? [...routes].sort((a, b) => (b.nginxPrefix ?? b.prefix).length - (a.nginxPrefix ?? a.prefix).length)
    : undefined;
  return {
    gate: Object.freeze({
      routes: Object.freeze(sortRoutes(routes)),
      clockSkewSec: config.clockSkewSec,
      tokenHeaders: Object.freeze([...new Set(config.routes.flatMap((r) => r.options.tokenHeaders))]),
      decisionLog: config.decisionLog,
      pathTokens: Object.freeze(pathTokens),
      nginxRoutes: nginxRoutes === undefined ? undefined : Object.freeze(nginxRoutes),
      // Only gates with a route inside another (under some reading) compare readings; the rest pay nothing.
      readings: table.outer.size > 0 ? table : undefined,
    }),
    warnings,
    demoSecrets: config.routes.some((route) => route.keys.some((key) => key.publicDemoSecret !== undefined)),
    problems,
  };
}

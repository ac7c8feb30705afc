/**
 * Genuine links for the origin oracle, made by the library's signer (the code `tokengate sign`
 * and the signing API use, which checks each link with the service's own decision), and what
 * each one covers: its route and its scope, as paths of the origin's files.
 */
import type { LoadedConfig } from '../../src/config/load-config.js';
import { LinkRequestError, signLink } from '../../src/links/sign-link.js';
import type { SignedLink } from '../../src/links/signed-link.js';
import { prefixOf } from '../../src/request/signed-path.js';
import type { NamedValue } from '../../src/scheme-kit/token-scheme.js';
import { findScheme } from '../../src/schemes/registry.js';
import { clientIp, type OracleRoute } from './oracle-routes.js';

/** How to make a link again (a regression case is replayed with a fresh one). */
export interface LinkRecipe {
  readonly route: string;
  /** The path given to the signer: text, percent-encoded only where the name holds "%". */
  readonly path: string;
  readonly scopeDepth?: number;
  /** CloudFront: signed cookies instead of a signed URL. */
  readonly cookies?: boolean;
}

/** What a token covers, as paths of the origin's files (text, escapes decoded). */
export type Scope =
  | { readonly kind: 'exact'; readonly path: string }
  | { readonly kind: 'prefix'; readonly prefix: string }
  /** Files directly in a directory (Wowza's stream content path). */
  | { readonly kind: 'directory'; readonly directory: string };

export interface GenuineLink {
  readonly recipe: LinkRecipe;
  /** The signed path as it goes into the link (percent-encoded ASCII). */
  readonly path: string;
  readonly query: string | undefined;
  readonly cookies: readonly NamedValue[] | undefined;
  readonly header: NamedValue | undefined;
  /** The prefix of the route that signed it. */
  readonly routePrefix: string;
  readonly scope: Scope;
  /** The token's signature text: a request carries the token when it holds this (raw or decoded). */
  readonly mark: string;
}

/** Percent-decodes `text` as UTF-8 (a lone or malformed escape stays as it is). */
export function decodePath(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replaceAll('%', ''), 'hex');
    const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    return decoded.includes('\ufffd') ? run : decoded;
  });
}

/** A file's path spelled as a link path: "%", "?", "#", spaces, controls and non-ASCII percent-encoded (UTF-8, upper-case hex). */
export function encodePath(text: string): string {
  let out = '';
  for (const char of text) {
    if (/^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/.test(char)) out += char;
    else for (const byte of Buffer.from(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const segments = (prefix: string) => prefix.split('/').length - 2;

/** What a link signed by `route` for `path` covers. */
function scopeOf(route: OracleRoute, path: string, scopeDepth: number | undefined): Scope {
  if (route.stream !== undefined)
    return { kind: 'prefix', prefix: decodePath(prefixOf(path, segments(route.prefix) + route.stream.depth)!) };
  if (route.scheme === 'wowza') return { kind: 'directory', directory: decodePath(path.slice(0, path.lastIndexOf('/') + 1)) };
  if (scopeDepth !== undefined) return { kind: 'prefix', prefix: decodePath(prefixOf(path, scopeDepth)!) };
  return { kind: 'exact', path: decodePath(path) };
}

/** The longest value among `pairs` (name=value): the signature, in every format here. */
function longestValue(pairs: readonly string[]): string {
  return pairs.map((pair) => pair.slice(pair.indexOf('=') + 1)).reduce((a, b) => (b.length > a.length ? b : a), '');
}

/** Signs `recipe` now, valid for an hour; undefined when the signer refuses it (a scope too wide, a path it cannot sign). */
export async function signRecipe(
  loaded: LoadedConfig,
  routes: readonly OracleRoute[],
  recipe: LinkRecipe,
): Promise<GenuineLink | undefined> {
  const route = routes.find((r) => r.name === recipe.route);
  if (route === undefined) return undefined;
  const nowSec = Math.floor(Date.now() / 1000);
  let link: SignedLink;
  try {
    link = await signLink(
      loaded,
      {
        path: recipe.path,
        expiresSec: nowSec + 3600,
        clientIp: route.boundToClient === true ? clientIp : undefined,
        scopeDepth: recipe.scopeDepth,
        cookies: recipe.cookies,
      },
      { route: route.name, nowSec },
    );
  } catch (error) {
    if (error instanceof LinkRequestError) return undefined;
    throw error;
  }
  const values = [
    ...(link.query?.split('&') ?? []),
    ...(link.cookies ?? []).map(({ name, value }) => `${name}=${value}`),
    ...(link.header === undefined ? [] : [`${link.header.name}=${link.header.value}`]),
  ];
  return {
    recipe,
    path: link.path,
    query: link.query,
    cookies: link.cookies,
    header: link.header,
    routePrefix: route.prefix,
    scope: scopeOf(route, link.path, recipe.scopeDepth),
    mark: longestValue(values),
  };
}

/** Every recipe of the routes: each file and directory of a route, unscoped and at every scope depth the format has. */
export function recipesOf(routes: readonly OracleRoute[]): LinkRecipe[] {
  const recipes: LinkRecipe[] = [];
  for (const route of routes) {
    const scoped = findScheme(route.scheme)!.signOptions.includes('scopeDepth');
    const paths = new Set<string>();
    for (const file of route.files) {
      const full = route.prefix + file;
      paths.add(full.includes('%') ? encodePath(full) : full);
      paths.add(full.slice(0, full.lastIndexOf('/') + 1));
    }
    for (const path of paths) {
      recipes.push({ route: route.name, path });
      if (route.scheme === 'cloudfront') recipes.push({ route: route.name, path, cookies: true });
      if (!scoped) continue;
      for (let depth = 0; depth < path.split('/').length - 1; depth++)
        recipes.push({ route: route.name, path, scopeDepth: depth });
    }
  }
  return recipes;
}

/** The route that serves a file: the longest prefix, as the origin reads the path. */
export function routeOfFile(routes: readonly OracleRoute[], path: string): OracleRoute | undefined {
  let best: OracleRoute | undefined;
  for (const route of routes) if (path.startsWith(route.prefix) && route.prefix.length > (best?.prefix.length ?? 0)) best = route;
  return best;
}

/** True when `link` covers the origin file `path`: the file is its route's (no nested route's) and inside its scope. */
export function covers(routes: readonly OracleRoute[], link: GenuineLink, path: string): boolean {
  if (routeOfFile(routes, path)?.prefix !== link.routePrefix) return false;
  const { scope } = link;
  if (scope.kind === 'prefix') return path.startsWith(scope.prefix);
  if (scope.kind === 'directory') return path.startsWith(scope.directory) && !path.slice(scope.directory.length).includes('/');
  // A directory's link is answered with its index file.
  return path === scope.path || (scope.path.endsWith('/') && path === `${scope.path}index.html`);
}

/** The scope in words, for a failure's report. */
export function describeScope(link: GenuineLink): string {
  const { scope } = link;
  const what =
    scope.kind === 'exact'
      ? `exactly ${scope.path}`
      : scope.kind === 'prefix'
        ? `every path under ${scope.prefix}`
        : `the files directly in ${scope.directory}`;
  return `${what}, in route ${link.recipe.route} (${link.routePrefix})`;
}

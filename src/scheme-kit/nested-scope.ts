import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/**
 * Rule 9 for formats whose scopes are patterns (Akamai ACLs, Cloud CDN URL prefixes, bunny's
 * token_path, CloudFront Resources): a route that lies inside another accepts only scopes inside
 * its own prefix. A scope that also covers the outer route was signed for the outer route, and
 * with a key shared by both it would otherwise open the nested route's files.
 */
export const outerScope: Rejection = rejection(
  Verdict.forged,
  "the token's scope reaches outside this route, which lies inside another route: it was signed for the outer route",
);

/** The fixed text of a pattern before its first wildcard character (`wildcards`, e.g. "*?"). */
export function fixedPrefix(pattern: string, wildcards: string): string {
  for (let i = 0; i < pattern.length; i++) if (wildcards.includes(pattern[i]!)) return pattern.slice(0, i);
  return pattern;
}

/** The path of an absolute URL's fixed text ("https://host/vod/" → "/vod/"); undefined when the host is not complete. */
export function urlPath(url: string): string | undefined {
  const scheme = url.indexOf('://');
  if (scheme < 0) return undefined;
  const slash = url.indexOf('/', scheme + 3);
  return slash < 0 ? undefined : url.slice(slash);
}

/** Whether a scope's fixed path lets a route accept it: any scope on an outermost route, only its own inside a nested one. */
export function scopeFitsRoute(fixedPath: string | undefined, routePrefix: string, nested: boolean): boolean {
  return !nested || fixedPath?.startsWith(routePrefix) === true;
}

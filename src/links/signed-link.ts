import type { NamedValue } from '../scheme-kit/token-scheme.js';

/** A signed link and everything a caller needs to hand it out. */
export interface SignedLink {
  readonly route: string;
  readonly scheme: string;
  /** The key that signed (the route's first). */
  readonly keyId: string;
  /** The path as signed and as it goes into the link: percent-encoded UTF-8 where the text was not ASCII. */
  readonly path: string;
  /** True when raw non-ASCII text was percent-encoded to get `path`. */
  readonly encoded: boolean;
  /** The link: the public base URL (when configured or given) + path, plus the query for query tokens. */
  readonly url: string;
  readonly carrier: 'query' | 'cookie' | 'header';
  /** The token's query string (query carrier). */
  readonly query: string | undefined;
  /** Every cookie the client sends (cookie carrier): one, or several (CloudFront's signed cookies). */
  readonly cookies: readonly NamedValue[] | undefined;
  /** The cookie of formats whose token is one cookie (the only entry of `cookies`). */
  readonly cookie: NamedValue | undefined;
  /** The header that carries the token (header carrier). */
  readonly header: NamedValue | undefined;
  readonly notBeforeSec: number | undefined;
  readonly expiresSec: number;
  /** What the link opens beyond its own path: every path under this prefix (a scope); undefined: its path only. */
  readonly scope: string | undefined;
  /** The fingerprint of its token, as the decision log and revocation name it (never the token). */
  readonly fp: string;
}

/** The Cookie header value that sends `cookies`. */
export function cookieHeader(cookies: readonly NamedValue[]): string {
  return cookies.map(({ name, value }) => `${name}=${value}`).join('; ');
}

/** What a person pastes or a client sends: the link, and the cookie or header line that carries the token. */
export function linkText(link: SignedLink): string {
  if (link.cookies !== undefined) return `${link.url}\nCookie: ${cookieHeader(link.cookies)}`;
  if (link.header !== undefined) return `${link.url}\n${link.header.name}: ${link.header.value}`;
  return link.url;
}

/** The link as the signing API answers it: every field, with the start and end also in ISO 8601. */
export function linkJson(link: SignedLink): Record<string, unknown> {
  return {
    ...link,
    scope: link.scope ?? null,
    start: link.notBeforeSec === undefined ? null : new Date(link.notBeforeSec * 1000).toISOString(),
    end: new Date(link.expiresSec * 1000).toISOString(),
  };
}

import { signablePath } from './core/signable-path.js';
import type { SignedToken } from './core/token-scheme.js';
import { hmac } from './schemes/hmac.js';

export interface HmacSignerOptions {
  /** The key id written into tokens (the route's current key in tokengate's config). */
  readonly keyId: string;
  /** The key: bytes, or hex text (at least 32 bytes either way). */
  readonly key: Buffer | string;
  /** Where tokengate's route expects the token: "query" (default), "cookie" or "header". */
  readonly carrier?: 'query' | 'cookie' | 'header';
  /** Parameter, cookie or header name; defaults "tg", "tg", "x-tokengate". */
  readonly name?: string;
  /**
   * The prefix of the tokengate route the tokens are for. Every path must lie under it, and a
   * scope (`scopeDepth`) must not reach outside it: the service refuses such tokens, so the
   * signer refuses to make them. Required to sign scoped tokens.
   */
  readonly routePrefix?: string;
}

export interface HmacSignOptions {
  readonly ttlSec: number;
  /** Not valid before this time (unix seconds). */
  readonly notBeforeSec?: number;
  /** Cover every path under the first N segments of the path (an HLS/DASH directory). */
  readonly scopeDepth?: number;
  /** Bind to a client IP or CIDR range, canonical form (RFC 5952 for IPv6). */
  readonly clientIp?: string;
  readonly sessionId?: string;
  /** The clock, for tests; defaults to now. */
  readonly nowSec?: number;
}

/** Issues tokens in tokengate's `hmac` format from an application (docs/token-format.md). */
export function hmacSigner(options: HmacSignerOptions) {
  const secret = typeof options.key === 'string' ? Buffer.from(options.key, 'hex') : options.key;
  if (typeof options.key === 'string' && !/^(?:[0-9a-fA-F]{2})+$/.test(options.key)) throw new TypeError('key: not valid hex');
  const problem = hmac.keyProblem(secret);
  if (problem !== undefined) throw new TypeError(`key: ${problem}`);
  const schemeOptions = {
    ...(options.carrier ? { carrier: options.carrier } : {}),
    ...(options.name ? { name: options.name } : {}),
  };
  const optionProblems = hmac.validateOptions(schemeOptions, 'options');
  if (optionProblems.length > 0) throw new TypeError(optionProblems.join('; '));
  const { routePrefix } = options;
  if (routePrefix !== undefined && (typeof routePrefix !== 'string' || !routePrefix.startsWith('/')))
    throw new TypeError('routePrefix: must be a path prefix starting with "/"');
  const scheme = hmac.create([{ id: options.keyId, secret }], schemeOptions, routePrefix ?? '/');
  return {
    /**
     * The signed token and how it travels, with the path it was signed for: raw non-ASCII text is
     * percent-encoded as UTF-8 (the link must use this `path`); a path the service would refuse throws.
     */
    token(path: string, sign: HmacSignOptions): SignedToken & { readonly path: string } {
      const signable = signablePath(path);
      if (routePrefix !== undefined && !signable.path.startsWith(routePrefix))
        throw new RangeError(`the path ${signable.path} is not under the route ${routePrefix}`);
      if (sign.scopeDepth !== undefined && routePrefix === undefined)
        throw new TypeError("scopeDepth needs the signer's routePrefix: a scope wider than the route would be refused");
      const nowSec = sign.nowSec ?? Math.floor(Date.now() / 1000);
      const signed = scheme.sign({
        path: signable.path,
        expiresSec: nowSec + sign.ttlSec,
        ...(sign.notBeforeSec === undefined ? {} : { notBeforeSec: sign.notBeforeSec }),
        ...(sign.scopeDepth === undefined ? {} : { scopeDepth: sign.scopeDepth }),
        ...(sign.clientIp === undefined ? {} : { clientIp: sign.clientIp }),
        ...(sign.sessionId === undefined ? {} : { sessionId: sign.sessionId }),
      });
      return { ...signed, path: signable.path };
    },
    /** `path?tg=...` for query-carried tokens. */
    sign(path: string, sign: HmacSignOptions): string {
      const signed = this.token(path, sign);
      if (signed.carrier !== 'query') throw new TypeError(`this signer's tokens travel in a ${signed.carrier}: use token()`);
      return `${signed.path}?${signed.query}`;
    },
  };
}

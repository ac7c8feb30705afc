import { type SignRequest, unixNow } from '../scheme-kit/sign-request.js';
import { signablePath } from '../scheme-kit/signable-path.js';
import type { SignedToken } from '../scheme-kit/token-scheme.js';

/** An hmac token: in the query, or one cookie or header. */
export type HmacSignedToken = Exclude<SignedToken, { readonly carrier: 'cookies' }>;

import { Problems } from '../base/problems.js';
import { hmac } from '../schemes/hmac.js';

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

/** The end time `ttlSec` seconds from now (or from `nowSec`), for a SignRequest's `expiresSec`. */
export function expiresIn(ttlSec: number, nowSec: number = unixNow()): number {
  return nowSec + ttlSec;
}

/** Issues tokens in tokengate's `hmac` format from an application (docs/formats/hmac.md). */
export function hmacSigner(options: HmacSignerOptions) {
  const secret = typeof options.key === 'string' ? Buffer.from(options.key, 'hex') : options.key;
  if (typeof options.key === 'string' && !/^(?:[0-9a-fA-F]{2})+$/.test(options.key)) throw new TypeError('key: not valid hex');
  const problem = hmac.keyProblem(secret);
  if (problem !== undefined) throw new TypeError(`key: ${problem}`);
  const problems = new Problems();
  const schemeOptions = hmac.readOptions(
    { ...(options.carrier ? { carrier: options.carrier } : {}), ...(options.name ? { name: options.name } : {}) },
    'options',
    problems,
  );
  if (!problems.empty) throw new TypeError(problems.list.join('; '));
  const { routePrefix } = options;
  if (routePrefix !== undefined && (typeof routePrefix !== 'string' || !routePrefix.startsWith('/')))
    throw new TypeError('routePrefix: must be a path prefix starting with "/"');
  const scheme = schemeOptions.create({
    keys: [{ id: options.keyId, secret }],
    prefix: routePrefix ?? '/',
    nested: false,
    secrets: new Map(),
  });
  return {
    /**
     * The signed token and how it travels, with the path it was signed for: raw non-ASCII text is
     * percent-encoded as UTF-8 (the link must use this `path`); a path the service would refuse throws.
     */
    token(request: SignRequest): HmacSignedToken & { readonly path: string } {
      const { path } = signablePath(request.path);
      if (routePrefix !== undefined && !path.startsWith(routePrefix))
        throw new RangeError(`the path ${path} is not under the route ${routePrefix}`);
      if (request.scopeDepth !== undefined && routePrefix === undefined)
        throw new TypeError("scopeDepth needs the signer's routePrefix: a scope wider than the route would be refused");
      const signed = scheme.sign({ ...request, path });
      if (signed.carrier === 'cookies') throw new TypeError('hmac tokens are one cookie'); // never: hmac signs one value
      return { ...signed, path };
    },
    /** `path?tg=...` for query-carried tokens. */
    sign(request: SignRequest): string {
      const signed = this.token(request);
      if (signed.carrier !== 'query') throw new TypeError(`this signer's tokens travel in a ${signed.carrier}: use token()`);
      return `${signed.path}?${signed.query}`;
    },
  };
}

import { createHmac, sign } from 'node:crypto';
import { canonicalIp } from '../../request/client-ip.js';
import { prefixOf } from '../../request/signed-path.js';
import type { SignedToken } from '../../scheme-kit/scheme-definition.js';
import { type SignOption, type SignRequest, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime } from '../../scheme-kit/unix-time.js';
import type { JwtKey } from './jwt-keys.js';
import type { JwtOptions } from './jwt-options.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** The options a route's tokens sign: a start always, a scope where the claim is a path, a client IP where a claim holds one. */
export function jwtSignOptions(options: JwtOptions): SignOption[] {
  return [
    'notBeforeSec',
    ...(options.paths === undefined ? (['scopeDepth'] as const) : []),
    ...(options.clientIpClaim === undefined ? [] : (['clientIp'] as const)),
  ];
}

/** What the path claim holds for `path`: the path (or its scope's prefix), or the id a template places there. */
function claimFor(request: SignRequest, options: JwtOptions, routePrefix: string): string {
  const { path, scopeDepth } = request;
  if (options.paths === undefined) {
    if (scopeDepth === undefined) return path;
    const prefix = Number.isInteger(scopeDepth) && scopeDepth >= 0 ? prefixOf(path, scopeDepth) : undefined;
    if (prefix === undefined) throw new SignRequestError('scopeDepth', `scope depth ${scopeDepth} does not fit the path ${path}`);
    if (!prefix.startsWith(routePrefix)) {
      throw new SignRequestError('scopeDepth', `scope depth ${scopeDepth} covers ${prefix}, outside the route ${routePrefix}`);
    }
    return prefix;
  }
  for (const { before, after } of options.paths) {
    const head = `${routePrefix}${before}`;
    if (!path.startsWith(head) || !path.endsWith(after) || path.length <= head.length + after.length) continue;
    const id = path.slice(head.length, path.length - after.length);
    if (/^[A-Za-z0-9._~-]{1,128}$/.test(id) && id !== '.' && id !== '..') return id;
  }
  const shapes = options.paths.map(({ before, after }) => `${routePrefix}${before}{${options.pathClaim}}${after}`).join(', ');
  throw new SignRequestError('path', `the path is not one this route's tokens name by an id (${shapes})`);
}

/**
 * Signs with node:crypto, not jose (jose signs asynchronously; signers are synchronous): the
 * service verifies every link a signer hands out with jose before it is handed out, so the two
 * are checked against each other on every link.
 */
export function jwtSigner(
  keys: readonly JwtKey[],
  options: JwtOptions,
  routePrefix: string,
): (request: SignRequest) => SignedToken {
  const key = keys.find((k) => k.signKey !== undefined);
  const supported = jwtSignOptions(options);
  return (request) => {
    checkSignRequest(request, supported, 'jwt');
    if (key?.signKey === undefined) {
      throw new SignRequestError(
        'path',
        'this route holds only public keys: it verifies tokens but cannot sign (give it a private key)',
      );
    }
    const claims: Record<string, unknown> = { [options.pathClaim]: claimFor(request, options, routePrefix) };
    // Where Mux's own signer writes it; the header names it too.
    if (options.payloadKid) claims.kid = key.kid;
    if (options.audience !== undefined) claims.aud = options.audience[0];
    if (options.issuer !== undefined) claims.iss = options.issuer[0];
    if (request.notBeforeSec !== undefined) claims.nbf = Number(formatUnixTime(request.notBeforeSec));
    // As CloudFront's Expires: the link is refused from expiresSec on (exp, RFC 7519 section 4.1.4).
    claims.exp = Number(formatUnixTime(request.expiresSec));
    if (request.clientIp !== undefined) {
      const ip = canonicalIp(request.clientIp);
      if (ip === undefined) throw new SignRequestError('clientIp', 'jwt tokens bind one client IP address (not a range)');
      claims[options.clientIpClaim!] = ip;
    }
    const input = `${b64(JSON.stringify({ alg: key.algorithm, typ: 'JWT', kid: key.kid }))}.${b64(JSON.stringify(claims))}`;
    const data = Buffer.from(input, 'latin1');
    const signature =
      key.algorithm === 'HS256'
        ? createHmac('sha256', key.signKey).update(data).digest()
        : key.algorithm === 'ES256'
          ? sign('sha256', data, { key: key.signKey, dsaEncoding: 'ieee-p1363' })
          : sign(key.algorithm === 'EdDSA' ? null : 'sha256', data, key.signKey);
    const token = `${input}.${signature.toString('base64url')}`;
    const { carrier, name } = options;
    if (carrier === 'query') return { carrier: 'query', query: `${name}=${token}` };
    if (carrier === 'cookie') return { carrier: 'cookie', name, value: token };
    return { carrier: 'header', name: 'Authorization', value: `Bearer ${token}` };
  };
}

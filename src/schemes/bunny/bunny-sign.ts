import { createHmac } from 'node:crypto';
import { clientIpProblem, parseClientIp } from '../../request/client-ip.js';
import type { SignedToken, SignRequest } from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime } from '../../scheme-kit/unix-time.js';
import { decodePath, signingData } from './bunny-params.js';
import { ipBytes } from './bunny-token.js';

export const bunnySignOptions: readonly SignOption[] = ['clientIp', 'scopeDepth'];

/** The token_path a scope depth asks for: the path's first `scopeDepth` segments and "/", inside the route. */
function scopeTokenPath(path: string, scopeDepth: number, routePrefix: string): string {
  const segments = path.split('/');
  if (scopeDepth < 1 || scopeDepth >= segments.length) {
    throw new SignRequestError('scopeDepth', 'the path has fewer segments than the scope depth');
  }
  const tokenPath = `${segments.slice(0, scopeDepth + 1).join('/')}/`;
  if (!tokenPath.startsWith(routePrefix)) {
    throw new SignRequestError('scopeDepth', `the scope ${tokenPath} reaches outside the route ${routePrefix}`);
  }
  if (decodePath(tokenPath) !== tokenPath) throw new SignRequestError('scopeDepth', 'the scope must be plain ASCII without "%"');
  return tokenPath;
}

/**
 * Signs HS256 tokens with token_path at most: within the parameter limit, and the IP signed as
 * bytes (the IPv6 re-split refusal is for advanced tokens), so parse refuses nothing this makes.
 */
export function bunnySigner(key: Buffer, routePrefix: string): (request: SignRequest) => SignedToken {
  return (request) => {
    checkSignRequest(request, bunnySignOptions, 'bunny');
    const { path, expiresSec, clientIp, scopeDepth } = request;
    const expires = formatUnixTime(expiresSec);
    const tokenPath = scopeDepth === undefined ? undefined : scopeTokenPath(path, scopeDepth, routePrefix);
    let ip: Buffer = Buffer.alloc(0);
    if (clientIp !== undefined) {
      const problem = clientIpProblem(clientIp);
      if (problem !== undefined) throw new SignRequestError('clientIp', `${problem}: bunny tokens bind one address (no range)`);
      ip = ipBytes(parseClientIp(clientIp)!);
    }
    const params = new Map(tokenPath === undefined ? [] : [['token_path', tokenPath] as [string, string]]);
    const message = Buffer.concat([
      Buffer.from(`${tokenPath ?? path}${expires}`, 'utf8'),
      ip,
      Buffer.from(signingData(params, false), 'utf8'),
    ]);
    const digest = createHmac('sha256', key).update(message).digest('base64url');
    const token = `HS256-${clientIp === undefined ? '' : '1-'}${digest}`;
    const extra = tokenPath === undefined ? '' : `&token_path=${encodeURIComponent(tokenPath)}`;
    return { carrier: 'query', query: `token=${token}${extra}&expires=${expires}` };
  };
}

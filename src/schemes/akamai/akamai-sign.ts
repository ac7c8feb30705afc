import { createHmac } from 'node:crypto';
import { clientIpProblem } from '../../request/client-ip.js';
import type { SignedToken, SignRequest } from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { formatUnixTime } from '../../scheme-kit/unix-time.js';
import type { AkamaiRoute } from './akamai-token.js';

export const akamaiSignOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'sessionId'];

/** The ACL a scope depth asks for: the path's first `scopeDepth` segments, then "/*", inside the route. */
function scopeAcl(path: string, scopeDepth: number, routePrefix: string): string {
  const segments = path.split('/');
  if (scopeDepth < 1 || scopeDepth >= segments.length) {
    throw new SignRequestError('scopeDepth', 'the path has fewer segments than the scope depth');
  }
  const acl = `${segments.slice(0, scopeDepth + 1).join('/')}/*`;
  if (!acl.startsWith(routePrefix)) {
    throw new SignRequestError('scopeDepth', `the scope ${acl} reaches outside the route ${routePrefix}`);
  }
  return acl;
}

/** Signs as the official generators do: fields in their order, a URL token without acl, the salt appended. */
export function akamaiSigner(route: AkamaiRoute, key: Buffer): (request: SignRequest) => SignedToken {
  const { algorithm, fieldDelimiter: d, carrier, name } = route.options;
  const { escapeText, saltSuffix } = route;
  return (request) => {
    checkSignRequest(request, akamaiSignOptions, 'akamai');
    const { path, expiresSec, notBeforeSec, clientIp, scopeDepth, sessionId } = request;
    const fields: string[] = [];
    if (clientIp !== undefined) {
      const problem = clientIpProblem(clientIp);
      if (problem !== undefined) throw new SignRequestError('clientIp', `${problem}: akamai tokens bind one address (no range)`);
      fields.push(`ip=${escapeText(clientIp)}`);
    }
    if (notBeforeSec !== undefined) fields.push(`st=${formatUnixTime(notBeforeSec)}`);
    fields.push(`exp=${formatUnixTime(expiresSec)}`);
    const acl = scopeDepth === undefined ? undefined : scopeAcl(path, scopeDepth, route.prefix);
    if (acl !== undefined) fields.push(`acl=${acl}`);
    if (sessionId !== undefined) fields.push(`id=${escapeText(sessionId)}`);
    const hashed = [...fields, ...(acl === undefined ? [`url=${escapeText(path)}`] : [])].join(d) + saltSuffix;
    const token = [...fields, `hmac=${createHmac(algorithm, key).update(hashed, 'utf8').digest('hex')}`].join(d);
    return carrier === 'query' ? { carrier: 'query', query: `${name}=${token}` } : { carrier, name, value: token };
  };
}

import type { Gate } from '../../src/decision/authorize.js';
import { findRoute } from '../../src/decision/authorize.js';
import type { SignRequest } from '../../src/scheme-kit/sign-request.js';
import { gateFor } from './gates.js';

/** Signs with the route covering `request.path` and returns path?query (query-carried tokens only). */
export function signedUrl(gate: Gate, request: SignRequest): string {
  const signed = findRoute(gate, request.path)!.scheme.sign(request);
  if (signed.carrier !== 'query') throw new Error(`the route carries tokens in a ${signed.carrier}`);
  return `${request.path}?${signed.query}`;
}

/** Alta URLs under `prefix`, signed now for a client IP (valid from an hour ago, `ttlSec` ahead; negative: expired). */
export function altaSigner(prefix: string, secret: string): (path: string, clientIp: string, ttlSec?: number) => string {
  const gate = gateFor([{ prefix, scheme: 'alta', keys: [{ id: 'a', env: 'A' }] }], { A: secret });
  return (path, clientIp, ttlSec = 600) => {
    const now = Math.floor(Date.now() / 1000);
    return signedUrl(gate, { path, expiresSec: now + ttlSec, notBeforeSec: now - 3600, clientIp });
  };
}

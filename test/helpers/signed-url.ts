import type { Gate } from '../../src/core/authorize.js';
import { findRoute } from '../../src/core/authorize.js';
import type { SignRequest } from '../../src/core/token-scheme.js';

/** Signs with the route covering `request.path` and returns path?query (query-carried tokens only). */
export function signedUrl(gate: Gate, request: SignRequest): string {
  const signed = findRoute(gate, request.path)!.scheme.sign(request);
  if (signed.carrier !== 'query') throw new Error(`the route carries tokens in a ${signed.carrier}`);
  return `${request.path}?${signed.query}`;
}

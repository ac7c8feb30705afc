/**
 * What the decision log and `tokengate verify` say of a request besides its verdict: the key
 * that signed its token and a short fingerprint of that token. Recomputed from the request (a
 * second parse), so the hot path carries none of it.
 */
import { isRejection, Verdict } from '../base/verdict.js';
import { parseClientIp } from '../request/client-ip.js';
import type { TokenHeaders } from '../request/token-headers.js';
import { type Decision, type Gate, selectRoute } from './authorize.js';
import { fingerprint } from './revocations.js';

export interface DecisionDetails {
  /** The key that made the signature (named by the token, or the first that verifies); undefined when none did. */
  readonly keyId: string | undefined;
  /** `fingerprint` of the token's signature, or of the query and token headers when it does not parse; undefined without a token. */
  readonly fingerprint: string | undefined;
}

export function decisionDetails(
  gate: Gate,
  uri: string,
  clientIp: string | undefined,
  headers: TokenHeaders,
  decision: Decision,
): DecisionDetails {
  const none: DecisionDetails = { keyId: undefined, fingerprint: undefined };
  if (decision.verdict === Verdict.missing) return none;
  const selected = selectRoute(gate, uri);
  const query = 'verdict' in selected ? uri.slice(uri.indexOf('?') + 1 || uri.length) : selected.query;
  const headerText = gate.tokenHeaders.map((name) => headers.get(name) ?? '').join('\n');
  const raw =
    query === '' && headerText.replaceAll('\n', '') === ''
      ? none
      : { keyId: undefined, fingerprint: fingerprint(`${query}\n${headerText}`) };
  if ('verdict' in selected) return raw;
  const { route } = selected;
  const path = route.signedPath(selected.path);
  if (typeof path !== 'string') return raw;
  const ip = clientIp === undefined ? undefined : parseClientIp(clientIp);
  if (route.clientIp === 'required' && ip === undefined) return raw;
  const token = route.scheme.parse({ path, query: selected.query, clientIp: ip, headers, pathToken: selected.pathToken });
  if (isRejection(token)) return raw;
  const { keyId, signature } = route.scheme.identify(token);
  return { keyId, fingerprint: fingerprint(signature) };
}

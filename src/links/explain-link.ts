import { Verdict } from '../base/verdict.js';
import { authorize, type Decision, type Gate, settle } from '../decision/authorize.js';
import { type DecisionDetails, decisionDetails } from '../decision/decision-details.js';
import { limitNeedsClientIp } from '../decision/limits.js';
import { noHeaders, type TokenHeaders } from '../request/token-headers.js';

export interface Explanation {
  readonly decision: Decision;
  /** The key that signed the token and its fingerprint, as the decision log writes them. */
  readonly details: DecisionDetails;
  /** Extra guidance for a human; empty when there is nothing more to say. */
  readonly hints: readonly string[];
}

/** The raw path+query of a URL, without decoding or normalising anything. */
export function rawTarget(url: string): string {
  const match = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(url);
  const target = match ? match[1]! : url;
  return target.startsWith('?') || target === '' ? `/${target}` : target;
}

/** Looks-alike paths a signer may have used instead of the one received. */
function pathVariants(path: string): [string, string][] {
  const variants: [string, string][] = [];
  variants.push(
    path.endsWith('/') && path.length > 1
      ? [path.slice(0, -1), 'without the trailing slash']
      : [`${path}/`, 'with a trailing slash'],
  );
  try {
    const decoded = decodeURIComponent(path);
    if (decoded !== path) variants.push([decoded, 'percent-decoded']);
  } catch {
    // a malformed escape was already reported as bad-uri
  }
  if (path !== path.toLowerCase()) variants.push([path.toLowerCase(), 'in lowercase']);
  return variants;
}

/**
 * The verdict for a URL, plus hints a person needs to fix a denial: e.g. that the signature
 * matches the path with a trailing slash, or that the token is bound to another client IP.
 * Never prints secrets: it only re-runs the same decision on variants of the request.
 * `ipInput` names where the caller takes the client IP (a CLI flag, a form field).
 */
export async function explain(
  gate: Gate,
  url: string,
  clientIp: string | undefined,
  nowSec: number,
  headers: TokenHeaders = noHeaders,
  ipInput = '--ip',
): Promise<Explanation> {
  const uri = rawTarget(url);
  const decided = await settle(authorize(gate, uri, clientIp, nowSec, headers));
  // The service's words for this ("no client IP is configured") name a proxy's deployment error;
  // here the missing client IP is an input the caller did not give. Two rules need one: the
  // route's format binds tokens to it, or the route's limits count client IPs.
  const needsIp = decided.verdict === Verdict.badSource && clientIp === undefined;
  const forLimits = decided.detail === limitNeedsClientIp.detail;
  const ipNeed = forLimits ? 'the route counts client IPs (limits)' : 'the route binds tokens to the client IP';
  const decision = needsIp ? { ...decided, detail: `${ipNeed} and none was given (${ipInput})` } : decided;
  const hints: string[] = [];
  if (decision.verdict === Verdict.forged) {
    const queryAt = uri.includes('?') ? uri.indexOf('?') : uri.length;
    const path = uri.slice(0, queryAt);
    const query = uri.slice(queryAt);
    for (const [variant, how] of pathVariants(path)) {
      const other = (await settle(authorize(gate, variant + query, clientIp, nowSec, headers))).verdict;
      if (other === Verdict.valid || other === Verdict.expired || other === Verdict.premature) {
        hints.push(`the signature matches the path ${how} (${variant}), not the path as received: note the difference`);
      }
    }
    const scope = /[?&][^&]*~p=(\d+)~/.exec(query)?.[1];
    if (scope !== undefined) {
      const covered = path
        .split('/')
        .slice(0, Number(scope) + 1)
        .join('/');
      hints.push(
        `the token covers one directory (p=${scope}: the first ${scope} segments of the path it was signed for); this path's are ${covered}/: was it signed for another directory?`,
      );
    }
    if (/key id/.test(decision.detail)) {
      hints.push(
        `route "${decision.route?.name}" has the key ids ${decision.route?.keyIds.join(', ')}: the token was signed with another (or removed) key`,
      );
    } else if (decision.route?.clientIp === 'required') {
      hints.push(
        clientIp === undefined
          ? `this route binds tokens to the client IP: give ${ipInput} with the address the token was issued for`
          : `the token may have been issued for another client IP than ${clientIp}, another path, or with another key`,
      );
    } else if (hints.length === 0) {
      hints.push(
        `no key of route "${decision.route?.name}" signed this path and these fields: wrong key, or the URL was changed`,
      );
    }
  }
  if (needsIp)
    hints.push(`${forLimits ? 'this route counts client IPs' : 'this route binds tokens to the client IP'}: give ${ipInput}`);
  return { decision, hints, details: decisionDetails(gate, uri, clientIp, headers, decision) };
}

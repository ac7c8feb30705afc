import type { AuthListenerConfig } from '../config/config.js';
import { authorize, type Decision, type Gate } from '../core/authorize.js';
import { type Rejection, rejection, Verdict } from '../core/verdict.js';

/** What the edge writes: a status line and headers; the body is always empty (DESIGN.md §2.3). */
export interface Answer {
  readonly status: number;
  readonly statusLine: string;
  readonly headers: readonly (readonly [string, string])[];
}

/** The original-request fields an engine copies out of the auth request, before any parsing. */
export interface SourceFields {
  /** Value of the URI source header; `count` says how many times it appeared. */
  uri: string;
  uriCount: number;
  clientIp: string;
  clientIpCount: number;
}

export function emptySourceFields(): SourceFields {
  return { uri: '', uriCount: 0, clientIp: '', clientIpCount: 0 };
}

const statusText: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 410: 'Gone', 503: 'Service Unavailable' };

/** The one place verdicts become statuses. */
function statusFor(verdict: Verdict, listener: AuthListenerConfig): number {
  if (verdict === Verdict.allow) return 200;
  if (verdict === Verdict.expired) return listener.expiredStatus;
  if (verdict === Verdict.badSource || verdict === Verdict.error) return 503;
  return 403;
}

export interface EdgeResult {
  readonly answer: Answer;
  readonly decision: Decision;
  /** Set when deciding threw (a bug): the answer is then 503, never an allow. */
  readonly error?: unknown;
}

export interface ListenerEdge {
  /** Decides one auth request; total: never throws. */
  answer(fields: SourceFields, gate: Gate, nowSec: number): EdgeResult;
}

/** Builds every status line and header once per listener; only `max-age` varies per allow. */
export function listenerEdge(listener: AuthListenerConfig): ListenerEdge {
  const denials = new Map<Verdict, Answer>();
  for (const verdict of Object.values(Verdict)) {
    const status = statusFor(verdict, listener);
    const headers: [string, string][] = [['X-Token-Status', verdict]];
    headers.push(['Cache-Control', 'no-store']);
    if (status === 503) headers.push(['Retry-After', '1']);
    denials.set(verdict, Object.freeze({ status, statusLine: `${status} ${statusText[status]}`, headers }));
  }
  const allows: Answer[] = [];
  const allowFor = (secondsLeft: number): Answer => {
    const maxAge = Math.max(0, Math.min(secondsLeft, listener.cacheMaxAgeSec));
    let answer = allows[maxAge];
    if (answer === undefined) {
      const headers: [string, string][] = [
        ['X-Token-Status', 'valid'],
        ['Cache-Control', `max-age=${maxAge}`],
      ];
      answer = Object.freeze<Answer>({ status: 200, statusLine: '200 OK', headers });
      allows[maxAge] = answer;
    }
    return answer;
  };
  const uriMissing = rejection(Verdict.badSource, `the ${listener.uriHeader} header is missing or empty`);
  const uriRepeated = rejection(Verdict.badSource, `the ${listener.uriHeader} header appears more than once`);
  const ipMissing = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header is missing or empty`);
  const ipRepeated = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header appears more than once`);
  const sourceProblem = (fields: SourceFields): Rejection | undefined => {
    if (fields.uriCount > 1) return uriRepeated;
    if (fields.uri === '') return uriMissing;
    if (listener.clientIpHeader === undefined) return undefined;
    if (fields.clientIpCount > 1) return ipRepeated;
    if (fields.clientIp === '') return ipMissing;
    return undefined;
  };
  return {
    answer(fields, gate, nowSec) {
      try {
        let decision: Decision;
        const problem = sourceProblem(fields);
        if (problem !== undefined) {
          decision = { verdict: problem.verdict, detail: problem.detail, route: undefined, expiresSec: 0 };
        } else {
          const clientIp = listener.clientIpHeader === undefined ? undefined : fields.clientIp;
          decision = authorize(gate, fields.uri, clientIp, nowSec);
        }
        const answer =
          decision.verdict === Verdict.allow ? allowFor(decision.expiresSec - nowSec) : denials.get(decision.verdict)!;
        return { answer, decision };
      } catch (error) {
        return { answer: denials.get(Verdict.error)!, decision: internalError, error };
      }
    },
  };
}

export const internalError: Decision = Object.freeze({
  verdict: Verdict.error,
  detail: 'internal error while deciding',
  route: undefined,
  expiresSec: 0,
});

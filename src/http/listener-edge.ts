import type { Logger } from '../base/log.js';
import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import type { AuthListenerConfig, ListenerBase } from '../config/config.js';
import { authorize, type Decision, deny, type Gate } from '../decision/authorize.js';
import { type LimitOutcome, limitStoreDown, overLimit } from '../decision/limits.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';
import { type ClientIp, parseClientIp } from '../request/client-ip.js';
import { trimOws } from '../request/http-whitespace.js';
import { type Answer, makeAnswer, statusFor } from './answers.js';
import type { SourceFields } from './request-sources.js';

/** Any listener: HTTP (URI from a header or the target) or Envoy gRPC (URI from the CheckRequest). */
export type EdgeListener = ListenerBase &
  Partial<Pick<AuthListenerConfig, 'uriHeader' | 'pathPrefix' | 'clientIpInPath' | 'methodHeader'>>;

/** How logs name where a listener reads the original URI. */
function uriSourceOf(listener: EdgeListener): string {
  if (listener.uriHeader !== undefined) return `the ${listener.uriHeader} header`;
  if (listener.pathPrefix !== undefined) return `the request path under ${listener.pathPrefix}/`;
  return 'attributes.request.http.path';
}

/** How logs name where a listener reads the original method. */
function methodSourceOf(listener: EdgeListener): string {
  if (listener.methodHeader !== undefined) return `the ${listener.methodHeader} header`;
  if (listener.uriHeader !== undefined || listener.pathPrefix !== undefined) return "the auth request's method";
  return 'attributes.request.http.method';
}

export interface EdgeResult {
  readonly answer: Answer;
  readonly decision: Decision;
  /** Set when deciding threw (a bug): the answer is then 503, never an allow. */
  readonly error?: unknown;
  /** The client IP the decision used (the header, or its `clientIpHop` entry); undefined when none. */
  readonly clientIp?: string | undefined;
}

/**
 * A result now, or (a promise that never rejects) once an allow on a route with `limits` is
 * counted by its limiter, or once a jwt route's signature is verified on a verdict cache miss.
 * Every other answer is synchronous.
 */
export type EdgeOutcome = EdgeResult | Promise<EdgeResult>;

export interface ListenerEdge {
  /** Decides one auth request at `nowSec`; total: never throws, and a promise it returns never rejects. */
  answer(fields: SourceFields, gate: Gate, nowSec: number): EdgeOutcome;
  /** `answer` now, timed and counted in the listener's metrics (when on): what a listener does per request. */
  decide(fields: SourceFields, gate: Gate): EdgeOutcome;
}

/** Every denial's answer, one per verdict, built once per listener. */
/** The expired answer with each status, for routes that set their own `expiredStatus`. */
function expiredAnswers(): Record<410 | 403, Answer> {
  const headers: [string, string][] = [
    ['X-Token-Status', Verdict.expired],
    ['Cache-Control', 'no-store'],
  ];
  return { 410: makeAnswer(410, headers), 403: makeAnswer(403, headers) };
}

function denialAnswers(listener: EdgeListener): Map<Verdict, Answer> {
  const denials = new Map<Verdict, Answer>();
  for (const verdict of Object.values(Verdict)) {
    const status = statusFor(verdict, listener);
    const headers: [string, string][] = [['X-Token-Status', verdict]];
    headers.push(['Cache-Control', 'no-store']);
    if (status === 503) headers.push(['Retry-After', '1']);
    denials.set(verdict, makeAnswer(status, headers));
  }
  return denials;
}

/** The allow answer for a number of seconds left, built the first time that `max-age` is asked for. */
function allowAnswers(listener: EdgeListener): (secondsLeft: number) => Answer {
  const allows: Answer[] = [];
  return (secondsLeft: number): Answer => {
    const maxAge = Math.max(0, Math.min(secondsLeft, listener.cacheMaxAgeSec));
    let answer = allows[maxAge];
    if (answer === undefined) {
      const headers: [string, string][] = [
        ['X-Token-Status', 'valid'],
        ['Cache-Control', `max-age=${maxAge}`],
      ];
      answer = makeAnswer(200, headers);
      allows[maxAge] = answer;
    }
    return answer;
  };
}

/**
 * Finishes an allow on a route with `limits` with its limiter's outcome: an allow that must not
 * be cached by the proxy (each request has to be counted), or the limit's denial; when the
 * counters cannot be reached, the route's `onStoreDown` decides.
 */
function limitedResult(denials: Map<Verdict, Answer>): {
  counted(result: EdgeResult, outcome: LimitOutcome): EdgeResult;
  uncounted(result: EdgeResult): EdgeResult;
} {
  const allowUncached = makeAnswer(200, [
    ['X-Token-Status', 'valid'],
    ['Cache-Control', 'no-store'],
  ]);
  return {
    counted(result, outcome) {
      if (outcome.over === undefined) return { ...result, answer: allowUncached };
      const decision = deny(overLimit[outcome.over], result.decision.route);
      return {
        ...result,
        answer: denials.get(decision.verdict)!,
        decision: { ...decision, expiresSec: result.decision.expiresSec },
      };
    },
    uncounted(result) {
      const limits = result.decision.route?.limits;
      if (limits?.spec.onStoreDown === 'allow') {
        return { ...result, answer: allowUncached, decision: { ...result.decision, detail: allowedUncounted } };
      }
      return { ...result, answer: denials.get(Verdict.storeDown)!, decision: deny(limitStoreDown, result.decision.route) };
    },
  };
}

const allowedUncounted =
  'the signature is genuine and the token is current; allowed without counting: the limits\' counters cannot be reached (limits.onStoreDown is "allow")';

/** Why a request's source fields are unusable (missing or repeated), or undefined; its rejections built once. */
function sourceChecker(listener: EdgeListener): (fields: SourceFields) => Rejection | undefined {
  const uriSource = uriSourceOf(listener);
  const uriMissing = rejection(Verdict.badSource, `${uriSource} is missing or empty`);
  const uriRepeated = rejection(Verdict.badSource, `${uriSource} appears more than once`);
  const methodSource = methodSourceOf(listener);
  const methodMissing = rejection(Verdict.badSource, `${methodSource} is missing or empty`);
  const methodRepeated = rejection(Verdict.badSource, `${methodSource} appears more than once`);
  const ipFromPath = listener.clientIpInPath === true;
  const readsIp = listener.clientIpHeader !== undefined || ipFromPath;
  const ipMissing = rejection(
    Verdict.badSource,
    ipFromPath
      ? `the client IP segment after ${listener.pathPrefix}/ is missing or empty`
      : `the ${listener.clientIpHeader} header is missing or empty`,
  );
  const ipRepeated = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header appears more than once`);
  return (fields: SourceFields): Rejection | undefined => {
    if (fields.uriCount > 1) return uriRepeated;
    if (fields.uri === '') return uriMissing;
    if (fields.methodCount > 1) return methodRepeated;
    if (fields.method === '') return methodMissing;
    if (!readsIp) return undefined;
    if (fields.clientIpCount > 1) return ipRepeated;
    if (fields.clientIp === '') return ipMissing;
    return undefined;
  };
}

/**
 * Reads the client IP text (the whole header, or with `clientIpHop` the Nth list entry from the
 * right), the parsed IP segment of the target form, undefined when the listener reads none, or
 * why the sources are unusable.
 */
function clientIpReader(listener: EdgeListener): (fields: SourceFields) => string | ClientIp | undefined | Rejection {
  const sourceProblem = sourceChecker(listener);
  const ipFromPath = listener.clientIpInPath === true;
  const readsIp = listener.clientIpHeader !== undefined || ipFromPath;
  const ipSegmentBad = rejection(
    Verdict.badSource,
    `the client IP segment after ${listener.pathPrefix}/ is not an IPv4 or IPv6 address`,
  );
  const hop = listener.clientIpHop;
  const ipHopMissing = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header has fewer than ${hop} addresses`);
  const ipHopEmpty = rejection(
    Verdict.badSource,
    `address ${hop} from the right of the ${listener.clientIpHeader} header is empty`,
  );
  return (fields: SourceFields): string | ClientIp | undefined | Rejection => {
    const problem = sourceProblem(fields);
    if (problem !== undefined || !readsIp) return problem;
    // Carved out of the target, the segment is checked for every route, IP-bound or not: nginx
    // writes $remote_addr there, so anything else means the URI was cut in the wrong place.
    if (ipFromPath) return parseClientIp(fields.clientIp) ?? ipSegmentBad;
    if (hop === undefined) return fields.clientIp;
    const entries = fields.clientIp.split(',');
    if (entries.length < hop) return ipHopMissing;
    const entry = trimOws(entries[entries.length - hop]!);
    return entry === '' ? ipHopEmpty : entry;
  };
}

/**
 * Builds every status line and header once per listener; only `max-age` varies per allow. The
 * per-request closures are the ones this function always made (built by the helpers above): a
 * request makes the same calls and allocations as before they were split out.
 */
export function listenerEdge(listener: EdgeListener, metrics?: ListenerMetrics): ListenerEdge {
  const denials = denialAnswers(listener);
  const expired = expiredAnswers();
  const allowFor = allowAnswers(listener);
  const clientIpOf = clientIpReader(listener);
  const limited = limitedResult(denials);
  const answer = (fields: SourceFields, gate: Gate, nowSec: number): EdgeOutcome => {
    try {
      const clientIp = clientIpOf(fields);
      const decision: Decision = isRejection(clientIp)
        ? deny(clientIp, undefined)
        : authorize(gate, fields.uri, clientIp, nowSec, fields.headers, fields.method);
      const ipText =
        clientIp === undefined || isRejection(clientIp) ? undefined : typeof clientIp === 'string' ? clientIp : fields.clientIp;
      const pending = decision.pending;
      if (pending === undefined) return settled(decision, ipText, nowSec);
      // A format verified asynchronously (jwt, a verdict cache miss): answered once it is checked.
      return pending.then(
        (verified) => {
          try {
            return settled(verified, ipText, nowSec);
          } catch (error) {
            return failed(error);
          }
        },
        (error) => failed(error),
      );
    } catch (error) {
      return failed(error);
    }
  };
  /** The answer to a final decision (counted first on a route with limits). */
  const settled = (decision: Decision, ipText: string | undefined, nowSec: number): EdgeOutcome => {
    // One second less than the token has left: caches count in whole seconds and keep an answer
    // through its last second (nginx serves it while valid_sec >= now), and may stamp it a second
    // after this decision, so the full count let nginx's auth cache serve an allow past the token.
    const answer =
      decision.verdict === Verdict.valid
        ? allowFor(decision.expiresSec - nowSec - 1)
        : decision.verdict === Verdict.expired && decision.route?.expiredStatus !== undefined
          ? expired[decision.route.expiredStatus]
          : denials.get(decision.verdict)!;
    const result: EdgeResult = { answer, decision, clientIp: ipText };
    return decision.limit === undefined ? result : count(result);
  };
  const failed = (error: unknown): EdgeResult => ({ answer: denials.get(Verdict.error)!, decision: internalError, error });
  /** Counts an allow of a limited route: synchronously when its limiter answers so (memory on this thread). */
  const count = (result: EdgeResult): EdgeOutcome => {
    const { decision } = result;
    let outcome: LimitOutcome | Promise<LimitOutcome>;
    try {
      outcome = decision.route!.limits!.limiter.check(decision.limit!);
    } catch {
      return limited.uncounted(result);
    }
    if (!(outcome instanceof Promise)) return limited.counted(result, outcome);
    return outcome.then(
      (counted) => {
        try {
          return limited.counted(result, counted);
        } catch (error) {
          return failed(error);
        }
      },
      () => limited.uncounted(result),
    );
  };
  return {
    answer,
    decide(fields, gate) {
      if (metrics === undefined) return answer(fields, gate, Math.floor(Date.now() / 1000));
      const started = performance.now();
      const result = answer(fields, gate, Math.floor(Date.now() / 1000));
      if (result instanceof Promise) {
        // A counted route's time includes its limiter's round trip.
        return result.then((counted) => {
          metrics.record(counted.decision, (performance.now() - started) / 1000);
          return counted;
        });
      }
      metrics.record(result.decision, (performance.now() - started) / 1000);
      return result;
    },
  };
}

export const internalError: Decision = Object.freeze({
  verdict: Verdict.error,
  detail: 'internal error while deciding',
  route: undefined,
  expiresSec: 0,
});

/** After answering: an internal error or unusable source headers are logged (rate-limited, no request data). */
export function logEdgeProblem(result: EdgeResult, listener: EdgeListener, logger: Logger): void {
  if (result.error !== undefined) {
    logger.limited('internal-error', 'error', 'internal error while deciding', {
      listener: listener.name,
      error: String((result.error as Error)?.stack ?? result.error),
    });
  } else if (result.decision.verdict === Verdict.badSource) {
    logger.limited(`bad-source:${listener.name}`, 'warn', 'proxy sent unusable source headers', {
      listener: listener.name,
      reason: result.decision.detail,
    });
  }
}

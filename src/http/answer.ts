import type { AuthListenerConfig, ListenerBase } from '../config/config.js';
import { authorize, type Decision, type Gate } from '../core/authorize.js';
import { trimOws } from '../core/http-whitespace.js';
import { noHeaders, type TokenHeaders } from '../core/token-scheme.js';
import { type Rejection, rejection, Verdict } from '../core/verdict.js';
import type { Logger } from '../log.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';

/** What the edge writes: a status line and headers; the body is always empty (DESIGN.md §2.3). */
export interface Answer {
  readonly status: number;
  readonly statusLine: string;
  readonly headers: readonly (readonly [string, string])[];
  /**
   * The same status line and headers as bytes, encoded once: uWS copies a Buffer as is but
   * converts a string on every call (measured under pipelined load: three string arguments
   * per answer cost ≈0.5-0.7 µs of the server's CPU, the Buffers almost nothing).
   */
  readonly wire: { readonly statusLine: Buffer; readonly headers: readonly (readonly [Buffer, Buffer])[] };
}

function makeAnswer(status: number, headers: [string, string][]): Answer {
  const statusLine = `${status} ${statusText[status]}`;
  return Object.freeze<Answer>({
    status,
    statusLine,
    headers,
    wire: {
      statusLine: Buffer.from(statusLine, 'latin1'),
      headers: headers.map(([name, value]) => [Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1')] as const),
    },
  });
}

/** The original-request fields an engine copies out of the auth request, before any parsing. */
export interface SourceFields {
  /** Value of the URI source header; `count` says how many times it appeared. */
  uri: string;
  uriCount: number;
  clientIp: string;
  clientIpCount: number;
  /** The headers the gate's routes read (cookies, token headers); noHeaders when none. */
  headers: TokenHeaders;
}

/** Headers copied out of a request for the schemes; allocated only when some route reads headers. */
export class CapturedHeaders implements TokenHeaders {
  private readonly values = new Map<string, string | null>();

  add(lowercaseName: string, value: string): void {
    const previous = this.values.get(lowercaseName);
    if (previous === undefined) this.values.set(lowercaseName, value);
    // Several Cookie lines are one cookie list (HTTP/2 splits it); any other header must be single.
    else if (lowercaseName === 'cookie' && previous !== null) this.values.set(lowercaseName, `${previous}; ${value}`);
    else this.values.set(lowercaseName, null);
  }

  get(lowercaseName: string): string | undefined | null {
    return this.values.get(lowercaseName);
  }
}

/**
 * One auth request's source fields, filled header by header in a single pass (so a repeated
 * source header is counted, not hidden), plus what the engine must know about its framing.
 * Both engines use it, so both read a request the same way.
 */
export class RequestSources implements SourceFields {
  uri = '';
  uriCount = 0;
  clientIp = '';
  clientIpCount = 0;
  headers: TokenHeaders = noHeaders;
  /** A body is announced (never waited for: the engine answers and closes). */
  bodyAnnounced = false;
  private lengths = 0;
  private encodings = 0;
  private readonly captured: CapturedHeaders | undefined;

  constructor(
    /** Undefined when the URI comes from the request target (`target`). */
    private readonly uriHeader: string | undefined,
    private readonly clientIpHeader: string | undefined,
    /** Lowercase names of the headers the gate's routes read. */
    private readonly wanted: readonly string[],
  ) {
    if (wanted.length > 0) this.headers = this.captured = new CapturedHeaders();
  }

  /** One header line; `name` lowercase. */
  add(name: string, value: string): void {
    if (name === this.uriHeader) {
      this.uri = value;
      this.uriCount++;
    } else if (name === this.clientIpHeader) {
      this.clientIp = value;
      this.clientIpCount++;
    } else if (name === 'content-length') {
      this.lengths++;
      if (value !== '0') this.bodyAnnounced = true;
    } else if (name === 'transfer-encoding') {
      this.encodings++;
      this.bodyAnnounced = true;
    } else if (this.captured !== undefined && this.wanted.includes(name)) {
      this.captured.add(name, value);
    }
  }

  /**
   * The original URI is the auth request's raw target minus `prefix` (Envoy sends `path_prefix` +
   * the original `:path`, query included; nginx `proxy_pass http://tokengate<prefix>$request_uri`),
   * after the client IP segment with `clientIpInPath`. A target outside the prefix leaves the URI
   * missing: a deployment error, answered 503.
   */
  target(rawTarget: string, prefix: string, clientIpInPath: boolean): void {
    if (!rawTarget.startsWith(prefix) || rawTarget.charCodeAt(prefix.length) !== 0x2f /* "/" */) return;
    let uriStart = prefix.length;
    if (clientIpInPath) {
      // "<prefix>/<client ip><original uri>": the IP is the segment before the URI's own "/".
      const slash = rawTarget.indexOf('/', prefix.length + 1);
      if (slash < 0) return;
      this.clientIp = rawTarget.slice(prefix.length + 1, slash);
      this.clientIpCount = 1;
      uriStart = slash;
    }
    this.setUri(rawTarget.slice(uriStart));
  }

  /** The original URI from a field of its own (Envoy gRPC: `attributes.request.http.path`). */
  setUri(uri: string): void {
    this.uri = uri;
    this.uriCount = 1;
  }

  /** Two length declarations, or one beside Transfer-Encoding: parsers may frame the body differently. */
  ambiguousFraming(): boolean {
    return this.lengths + this.encodings > 1;
  }
}

const statusText: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 410: 'Gone', 503: 'Service Unavailable' };

/** Any listener: HTTP (URI from a header or the target) or Envoy gRPC (URI from the CheckRequest). */
export type EdgeListener = ListenerBase & Partial<Pick<AuthListenerConfig, 'uriHeader' | 'pathPrefix' | 'clientIpInPath'>>;

/** How logs name where a listener reads the original URI. */
function uriSourceOf(listener: EdgeListener): string {
  if (listener.uriHeader !== undefined) return `the ${listener.uriHeader} header`;
  if (listener.pathPrefix !== undefined) return `the request path under ${listener.pathPrefix}/`;
  return 'attributes.request.http.path';
}

/** The one place verdicts become statuses. */
function statusFor(verdict: Verdict, listener: ListenerBase): number {
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
  /** Decides one auth request at `nowSec`; total: never throws. */
  answer(fields: SourceFields, gate: Gate, nowSec: number): EdgeResult;
  /** `answer` now, timed and counted in the listener's metrics (when on): what a listener does per request. */
  decide(fields: SourceFields, gate: Gate): EdgeResult;
}

/** Builds every status line and header once per listener; only `max-age` varies per allow. */
export function listenerEdge(listener: EdgeListener, metrics?: ListenerMetrics): ListenerEdge {
  const denials = new Map<Verdict, Answer>();
  for (const verdict of Object.values(Verdict)) {
    const status = statusFor(verdict, listener);
    const headers: [string, string][] = [['X-Token-Status', verdict]];
    headers.push(['Cache-Control', 'no-store']);
    if (status === 503) headers.push(['Retry-After', '1']);
    denials.set(verdict, makeAnswer(status, headers));
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
      answer = makeAnswer(200, headers);
      allows[maxAge] = answer;
    }
    return answer;
  };
  const uriSource = uriSourceOf(listener);
  const uriMissing = rejection(Verdict.badSource, `${uriSource} is missing or empty`);
  const uriRepeated = rejection(Verdict.badSource, `${uriSource} appears more than once`);
  const ipFromPath = listener.clientIpInPath === true;
  const readsIp = listener.clientIpHeader !== undefined || ipFromPath;
  const ipMissing = rejection(
    Verdict.badSource,
    ipFromPath
      ? `the client IP segment after ${listener.pathPrefix}/ is missing or empty`
      : `the ${listener.clientIpHeader} header is missing or empty`,
  );
  const ipRepeated = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header appears more than once`);
  const hop = listener.clientIpHop;
  const ipHopMissing = rejection(Verdict.badSource, `the ${listener.clientIpHeader} header has fewer than ${hop} addresses`);
  const ipHopEmpty = rejection(
    Verdict.badSource,
    `address ${hop} from the right of the ${listener.clientIpHeader} header is empty`,
  );
  const sourceProblem = (fields: SourceFields): Rejection | undefined => {
    if (fields.uriCount > 1) return uriRepeated;
    if (fields.uri === '') return uriMissing;
    if (!readsIp) return undefined;
    if (fields.clientIpCount > 1) return ipRepeated;
    if (fields.clientIp === '') return ipMissing;
    return undefined;
  };
  /**
   * The client IP text (the whole header, or with `clientIpHop` the Nth list entry from the
   * right), undefined when the listener reads none, or why the source headers are unusable.
   */
  const clientIpOf = (fields: SourceFields): string | undefined | Rejection => {
    const problem = sourceProblem(fields);
    if (problem !== undefined || !readsIp) return problem;
    if (hop === undefined) return fields.clientIp;
    const entries = fields.clientIp.split(',');
    if (entries.length < hop) return ipHopMissing;
    const entry = trimOws(entries[entries.length - hop]!);
    return entry === '' ? ipHopEmpty : entry;
  };
  const answer = (fields: SourceFields, gate: Gate, nowSec: number): EdgeResult => {
    try {
      const clientIp = clientIpOf(fields);
      const decision: Decision =
        typeof clientIp === 'object'
          ? { verdict: clientIp.verdict, detail: clientIp.detail, route: undefined, expiresSec: 0 }
          : authorize(gate, fields.uri, clientIp, nowSec, fields.headers);
      const answer = decision.verdict === Verdict.allow ? allowFor(decision.expiresSec - nowSec) : denials.get(decision.verdict)!;
      return { answer, decision };
    } catch (error) {
      return { answer: denials.get(Verdict.error)!, decision: internalError, error };
    }
  };
  return {
    answer,
    decide(fields, gate) {
      if (metrics === undefined) return answer(fields, gate, Math.floor(Date.now() / 1000));
      const started = performance.now();
      const result = answer(fields, gate, Math.floor(Date.now() / 1000));
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

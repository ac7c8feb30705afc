import { compileRoutes, defaultGateSettings } from '../../src/config/compile-gate.js';
import { parseRoutes } from '../../src/config/parse-config.js';
import { authorize, type Decision, type Gate, settle } from '../../src/decision/authorize.js';
import type { Limiter } from '../../src/decision/limits.js';
import type { RevocationBook } from '../../src/decision/revocations.js';
import type { EdgeOutcome, EdgeResult } from '../../src/http/listener-edge.js';
import type { ClientIp } from '../../src/request/client-ip.js';
import type { TokenHeaders } from '../../src/request/token-headers.js';

/** Builds a gate the way the service does (parse, validate, load keys), from a routes array. */
export function gateFor(
  routes: unknown[],
  env: Record<string, string> = {},
  clockSkewSec = defaultGateSettings.clockSkewSec,
  verdictCache?: { maxEntries: number },
  /** The book every route with `revocation` reads (default: an empty one of the gate's own). */
  revocations?: RevocationBook,
  /** Where every route with `limits` counts (default: memory counters of the gate's own). */
  limiter?: Limiter,
): Gate {
  const parsed = parseRoutes(routes);
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  const settings = {
    ...defaultGateSettings,
    clockSkewSec,
    verdictCacheEntries: verdictCache?.maxEntries ?? defaultGateSettings.verdictCacheEntries,
    revocations,
    limiter,
  };
  const compiled = compileRoutes(parsed, { baseDir: process.cwd(), env }, settings);
  if (compiled.problems.length > 0) throw new Error(compiled.problems.join('\n'));
  return compiled.gate;
}

/** The edge's answer for a route without limits, which is never a promise (a test that gets one has a limited route). */
export function settled(outcome: EdgeOutcome): EdgeResult {
  if (outcome instanceof Promise) throw new Error('the route counts limits: its answer is asynchronous (await it)');
  return outcome;
}

/** `authorize`, settled: some formats (jwt) verify asynchronously, so their decisions are pending at first. */
export async function decide(
  gate: Gate,
  uri: string,
  clientIp: string | ClientIp | undefined,
  nowSec: number,
  headers?: TokenHeaders,
  method?: string,
): Promise<Decision> {
  return settle(authorize(gate, uri, clientIp, nowSec, headers, method));
}

/** The verdict of `decide`. */
export async function verdictOf(...args: Parameters<typeof decide>): Promise<Decision['verdict']> {
  return (await decide(...args)).verdict;
}

/**
 * The optional per-request decision log (config `decisionLog`): one `info` line per logged
 * decision with the verdict, the precise reason, route, scheme, key id, client IP and a short
 * fingerprint of the token; never the token, the query or the path. Sampled, denials only or all,
 * and capped per second and serving thread (a flood of forged requests cannot flood the log:
 * what the cap drops is counted and reported in one `warn` line).
 */

import type { Logger } from '../base/log.js';
import { Verdict } from '../base/verdict.js';
import type { Gate } from '../decision/authorize.js';
import { decisionDetails } from '../decision/decision-details.js';
import type { EdgeResult } from './listener-edge.js';
import type { SourceFields } from './request-sources.js';

export type DecisionLogger = (result: EdgeResult, fields: SourceFields, gate: Gate) => void;

export function decisionLogger(listener: string, logger: Logger, random: () => number = Math.random): DecisionLogger {
  let windowStartMs = 0;
  let logged = 0;
  let dropped = 0;
  return (result, fields, gate) => {
    const settings = gate.decisionLog;
    if (settings === undefined) return;
    const { decision } = result;
    if (settings.verdicts === 'denials' && decision.verdict === Verdict.valid) return;
    if (settings.sample < 1 && random() >= settings.sample) return;
    const nowMs = Date.now();
    if (nowMs - windowStartMs >= 1000) {
      if (dropped > 0) logger.log('warn', 'decision log lines dropped', { listener, dropped, maxPerSec: settings.maxPerSec });
      windowStartMs = nowMs;
      logged = 0;
      dropped = 0;
    }
    if (logged >= settings.maxPerSec) {
      dropped++;
      return;
    }
    logged++;
    const { keyId, fingerprint } = decisionDetails(gate, fields.uri, result.clientIp, fields.headers, decision);
    logger.log('info', 'decision', {
      listener,
      verdict: decision.verdict,
      reason: decision.detail,
      route: decision.route?.name ?? '',
      scheme: decision.route?.schemeId ?? '',
      keyId,
      clientIp: result.clientIp,
      fp: fingerprint,
    });
  };
}

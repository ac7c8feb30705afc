import { ExitCode, UsageError } from '../base/exit-codes.js';
import { Verdict } from '../base/verdict.js';
import { loadConfig } from '../config/load-config.js';
import { fetchingReader } from '../config/remote-documents.js';
import type { LimitSpec } from '../decision/limits.js';
import { RevocationBook } from '../decision/revocations.js';
import { CapturedHeaders } from '../http/request-sources.js';
import { type Explanation, explain } from '../links/explain-link.js';
import { readStoredRevocations } from '../state/open-store.js';
import { type CommandInput, text } from './command-input.js';

/** The request headers --cookie and --header give. */
function headersOf(input: CommandInput): CapturedHeaders {
  const headers = new CapturedHeaders();
  const cookie = text(input.values, 'cookie');
  if (cookie !== undefined) headers.add('cookie', cookie);
  const header = text(input.values, 'header');
  if (header !== undefined) {
    const match = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(header);
    if (match === null) throw new UsageError('--header must be "NAME: VALUE"');
    headers.add(match[1]!.toLowerCase(), match[2]!);
  }
  return headers;
}

/** What `verify` prints: the verdict, route, reason, key, fingerprint, hints and the time left or past. */
function explanationLines({ decision, hints, details }: Explanation, nowSec: number): string[] {
  const lines = [
    `verdict: ${decision.verdict}`,
    `route:   ${decision.route ? `${decision.route.name} (${decision.route.prefix}, ${decision.route.schemeId})` : '-'}`,
    `reason:  ${decision.detail}`,
    ...(details.keyId === undefined ? [] : [`key:     ${details.keyId}`]),
    // The decision log's "fp": the same token, the same fingerprint.
    ...(details.fingerprint === undefined ? [] : [`fp:      ${details.fingerprint}`]),
    ...hints.map((hint) => `hint:    ${hint}`),
  ];
  const end = new Date(decision.expiresSec * 1000).toISOString();
  if (decision.verdict === Verdict.valid) lines.push(`expires: ${end} (in ${decision.expiresSec - nowSec} s)`);
  if (decision.verdict === Verdict.expired) lines.push(`expired: ${end} (${nowSec - decision.expiresSec} s ago)`);
  return lines;
}

/** A route's limits in a few words: "uses 100, 5/s, 3 client IPs per 86400 s". */
function limitWords(spec: LimitSpec): string {
  return [
    spec.uses === undefined ? [] : [`uses ${spec.uses}`],
    spec.perSecond === undefined ? [] : [`${spec.perSecond}/s`],
    spec.clientIps === undefined ? [] : [`${spec.clientIps.max} client IPs per ${spec.clientIps.windowSec} s`],
    spec.viewers === undefined ? [] : [`${spec.viewers.max} viewers within ${spec.viewers.windowSec} s`],
  ]
    .flat()
    .join(', ');
}

/** `tokengate verify`: says what the auth listener would answer for a URL, and why; the exit code is the verdict. */
export async function verifyCommand(input: CommandInput): Promise<number> {
  if (input.rest.length !== 1) throw new UsageError('verify takes exactly one URL');
  const headers = headersOf(input);
  // The routes that check revocations read the stored list, as the service does.
  const book = new RevocationBook();
  const loaded = loadConfig(input.configFile, process.env, await fetchingReader(input.configFile), undefined, {
    revocations: book,
  });
  const stored = await readStoredRevocations(loaded, book, process.env, input.nowSec);
  const explanation = await explain(loaded.gate, input.rest[0]!, text(input.values, 'ip'), input.nowSec, headers);
  const lines = explanationLines(explanation, input.nowSec);
  if (stored !== undefined && 'unread' in stored) {
    lines.push(`hint:    the revocation store could not be read (${stored.unread}): revocations were not checked`);
  }
  const limit = explanation.decision.limit;
  if (limit !== undefined) {
    // verify never counts: it would use up the link it explains.
    lines.push(
      `hint:    the route limits each ${limit.spec.per} (${limitWords(limit.spec)}): the service counts this request and may answer over-limit; verify does not count`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const { verdict } = explanation.decision;
  if (verdict === Verdict.valid) return ExitCode.ok;
  if (verdict === Verdict.expired) return ExitCode.expired;
  if (verdict === Verdict.badSource || verdict === Verdict.error) return ExitCode.undecided;
  return ExitCode.denied;
}

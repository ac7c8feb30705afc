/**
 * The origin oracle's property, checked on every answer: a 2xx from the proxy carries only a
 * file inside what the request's token covers (its route and its scope). Every other answer is
 * fine. A failure says the request, the file served and the token's scope, and is kept in
 * test/oracle/regressions.json, which every run replays.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Answer } from './oracle-client.js';
import { covers, describeScope, type GenuineLink, type LinkRecipe } from './oracle-links.js';
import type { Op } from './oracle-mutations.js';
import { type Origin, servedFile } from './oracle-origin.js';
import { carriesToken, printable } from './oracle-request.js';
import type { OracleRoute } from './oracle-routes.js';

/** Why an answer breaks the property; undefined when it holds. */
export function violation(
  origin: Origin,
  routes: readonly OracleRoute[],
  link: GenuineLink,
  request: string,
  answer: Answer,
): { readonly served: string; readonly why: string } | undefined {
  const { status } = answer;
  if (typeof status !== 'number' || status < 200 || status > 299) return undefined;
  const served = servedFile(origin, { ...answer, status });
  if ('unknown' in served) return { served: `(${served.unknown})`, why: `a ${status} the oracle cannot tie to a file` };
  const { path } = served.file;
  if (!carriesToken(request, link)) return { served: path, why: `a ${status} for a request without the token` };
  if (!covers(routes, link, path)) return { served: path, why: `a ${status} for a file the token does not cover` };
  return undefined;
}

/** A failure as it is kept: how to make the request again, and what it did. */
export interface RegressionCase {
  readonly door: string;
  readonly seed: number | undefined;
  readonly link: LinkRecipe;
  readonly ops: readonly Op[];
  /** As it was found (the token is not valid any more: the replay signs a fresh one). */
  readonly request: string;
  readonly status: number;
  readonly served: string;
  readonly scope: string;
  readonly why: string;
  /** Which code it was found against, where not the tree it is kept in (a copy with a past fix reverted). */
  readonly foundWith?: string;
}

/** The kind of a failure: its route, scope depth and operations (with the spellings' texts), so one of each is kept. */
export function classOf(link: LinkRecipe, ops: readonly Op[]): string {
  const detail = (op: Op) =>
    op.op === 'splice' || op.op === 'form' ? `${op.op}:${op.text}` : op.op === 'climb' ? `climb:${op.dots}${op.sep}` : op.op;
  const scope = link.scopeDepth === undefined ? 'unscoped' : `scope depth ${link.scopeDepth}`;
  return `${link.route} ${scope}${link.cookies === true ? ' cookies' : ''}: ${ops.length === 0 ? 'the genuine link' : ops.map(detail).join(' + ')}`;
}

/** The failure as a report: the door, the request, the file served, the token's scope. */
export function report(failure: RegressionCase): string {
  return [
    `${failure.why} through ${failure.door}`,
    `  request: ${failure.request}`,
    `  answer:  ${failure.status}, file served: ${failure.served}`,
    `  token:   ${failure.scope} (link ${JSON.stringify(failure.link)})`,
    `  ops:     ${JSON.stringify(failure.ops)}`,
  ].join('\n');
}

export function failureOf(
  door: string,
  seed: number | undefined,
  link: GenuineLink,
  ops: readonly Op[],
  request: string,
  status: number,
  found: { readonly served: string; readonly why: string },
): RegressionCase {
  return {
    door,
    seed,
    link: link.recipe,
    ops,
    request: printable(request),
    status,
    served: found.served,
    scope: describeScope(link),
    why: found.why,
  };
}

export const regressionsFile = new URL('../oracle/regressions.json', import.meta.url);

interface RegressionFile {
  readonly about: string;
  readonly cases: readonly RegressionCase[];
}

export function readRegressions(): RegressionCase[] {
  return [...(JSON.parse(readFileSync(regressionsFile, 'utf8')) as RegressionFile).cases];
}

/** Adds the failures of kinds the file does not hold yet; returns how many it added. */
export function keepRegressions(failures: readonly RegressionCase[]): number {
  const file = JSON.parse(readFileSync(regressionsFile, 'utf8')) as RegressionFile;
  const known = new Set(file.cases.map((c) => classOf(c.link, c.ops)));
  const added: RegressionCase[] = [];
  for (const failure of failures) {
    const kind = classOf(failure.link, failure.ops);
    if (known.has(kind)) continue;
    known.add(kind);
    added.push(failure);
  }
  if (added.length > 0)
    writeFileSync(regressionsFile, `${JSON.stringify({ ...file, cases: [...file.cases, ...added] }, null, 2)}\n`);
  return added.length;
}

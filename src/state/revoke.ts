/**
 * What a revoke request becomes: one `Revocation`, with the end it needs and no later. Shared by
 * `tokengate revoke`, the signing API and the page, so each says the same thing of the same input.
 */
import { Verdict } from '../base/verdict.js';
import type { CompiledRoute } from '../config/compile-gate.js';
import type { Gate } from '../decision/authorize.js';
import { type Revocation, type RevocationKind, revocationId, revocationValueProblem } from '../decision/revocations.js';
import { explain } from '../links/explain-link.js';
import { decodedPath, foldedPath } from '../request/path-readings.js';

/** A revoke request as the CLI and the API take it: exactly one target. */
export interface RevokeRequest {
  /** What to revoke: a fingerprint, a session id, a key id, a path prefix, or a whole link. */
  readonly kind: RevocationKind | 'link';
  readonly value: string;
  readonly route?: string | undefined;
  /** `prefix`: links issued before this second (default: now). */
  readonly issuedBeforeSec?: number | undefined;
  /** An end sooner than the one tokengate works out (never later: nothing matches after it). */
  readonly untilSec?: number | undefined;
  /** `link` on a route that binds tokens to the client IP: the IP the link was signed for. */
  readonly clientIp?: string | undefined;
  readonly note?: string | undefined;
  /** Who revokes ("cli", or the API's caller). */
  readonly by: string;
}

/** A request that cannot become a revocation: every problem, with the field it concerns. */
export class RevokeError extends Error {
  constructor(readonly problems: readonly { readonly field: string; readonly message: string }[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

/** What the service knows that a revocation needs: the routes and the clock's tolerance. */
export interface RevokeContext {
  readonly routes: readonly CompiledRoute[];
  readonly gate: Gate;
  readonly clockSkewSec: number;
}

const reading = (path: string) => foldedPath(decodedPath(path));

/** The routes with `revocation` that the target can concern. */
function concerned(request: RevokeRequest, routes: readonly CompiledRoute[]): CompiledRoute[] {
  return routes.filter((route) => {
    if (route.revocation === undefined) return false;
    if (request.route !== undefined && route.name !== request.route) return false;
    if (request.kind !== 'prefix') return true;
    const a = reading(route.prefix);
    const b = reading(request.value);
    return a.startsWith(b) || b.startsWith(a);
  });
}

/** A link: its fingerprint and end, read by the same decision the service makes. */
async function linkTarget(request: RevokeRequest, context: RevokeContext, nowSec: number) {
  const { decision, details } = await explain(context.gate, request.value, request.clientIp, nowSec);
  const route = decision.route;
  if (route !== undefined && request.route !== undefined && route.name !== request.route) {
    throw new RevokeError([{ field: 'route', message: `the link belongs to route "${route.name}"` }]);
  }
  if (decision.verdict === Verdict.expired) {
    throw new RevokeError([{ field: 'link', message: 'the link has already expired: nothing to revoke' }]);
  }
  if ((decision.verdict !== Verdict.valid && decision.verdict !== Verdict.revoked) || details.fingerprint === undefined) {
    const why =
      decision.verdict === Verdict.badSource
        ? 'its route binds links to the client IP: give the IP it was signed for'
        : `the service answers it "${decision.verdict}" (${decision.detail}); revoke by its fingerprint instead (\`tokengate verify\` prints it)`;
    throw new RevokeError([{ field: 'link', message: `is not a link the service allows now: ${why}` }]);
  }
  return { fp: details.fingerprint, endSec: decision.expiresSec, route: route!.name };
}

/**
 * The revocation for `request` at `nowSec`. Its end: the link's end for a link; otherwise the
 * latest end a matching link can have, from the concerned routes' `revocation.maxLifetimeSec`
 * (plus the clock skew); `untilSec` may only bring it sooner. Throws a RevokeError listing every
 * problem.
 */
export async function makeRevocation(request: RevokeRequest, context: RevokeContext, nowSec: number): Promise<Revocation> {
  const problems: { field: string; message: string }[] = [];
  const fail = () => new RevokeError(problems);
  const link = request.kind === 'link' ? await linkTarget(request, context, nowSec) : undefined;
  const kind: RevocationKind = request.kind === 'link' ? 'fp' : request.kind;
  const value = link?.fp ?? request.value;
  const route = link?.route ?? request.route;
  if (link === undefined) {
    const problem = revocationValueProblem(kind, value);
    if (problem !== undefined) problems.push({ field: kind, message: problem });
  }
  if (request.route !== undefined && !context.routes.some((r) => r.name === request.route)) {
    problems.push({ field: 'route', message: `no route is named "${request.route}"` });
  }
  if (kind === 'key') {
    const owner = context.routes.find((r) => r.name === request.route);
    if (request.route === undefined)
      problems.push({ field: 'route', message: 'is required to revoke a key (key ids belong to a route)' });
    else if (owner !== undefined && !owner.keyIds.includes(value)) {
      problems.push({
        field: 'key',
        message: `route "${owner.name}" has no key "${value}" (its keys: ${owner.keyIds.join(', ')})`,
      });
    }
  }
  if (request.issuedBeforeSec !== undefined && kind !== 'prefix') {
    problems.push({ field: 'issuedBefore', message: 'applies to a prefix revocation only' });
  }
  if (problems.length > 0) throw fail();
  const routes = concerned({ ...request, kind, route }, context.routes);
  if (routes.length === 0) {
    const which = route === undefined ? (kind === 'prefix' ? `under ${value}` : 'at all') : `named "${route}"`;
    problems.push({ field: 'route', message: `no route ${which} checks revocations (set "revocation" on the route)` });
    throw fail();
  }
  const issuedBeforeSec = kind === 'prefix' ? (request.issuedBeforeSec ?? nowSec) : undefined;
  const lifetimes = routes.map((r) => r.revocation!.maxLifetimeSec);
  const longest = lifetimes.includes(undefined) ? undefined : Math.max(...(lifetimes as number[]));
  const bound =
    link !== undefined
      ? link.endSec
      : longest === undefined
        ? undefined
        : (issuedBeforeSec ?? nowSec) + longest + context.clockSkewSec;
  const untilSec = bound === undefined ? request.untilSec : Math.min(bound, request.untilSec ?? bound);
  if (untilSec === undefined) {
    const names = routes.filter((r) => r.revocation!.maxLifetimeSec === undefined).map((r) => `"${r.name}"`);
    problems.push({
      field: 'until',
      message: `is required: route ${names.join(', ')} sets no revocation.maxLifetimeSec, so tokengate cannot tell when matching links end`,
    });
    throw fail();
  }
  if (untilSec < nowSec) {
    problems.push({ field: 'until', message: 'lies in the past: no link it matches is still valid' });
    throw fail();
  }
  const target = {
    kind,
    value,
    ...(route === undefined ? {} : { route }),
    ...(issuedBeforeSec === undefined ? {} : { issuedBeforeSec }),
  };
  return Object.freeze({
    id: revocationId(target),
    ...target,
    untilSec,
    createdSec: nowSec,
    by: request.by,
    ...(request.note === undefined || request.note === '' ? {} : { note: request.note }),
  });
}

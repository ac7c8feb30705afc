/**
 * The signing API's revocation endpoints: `POST /api/v1/revoke` (one target: a link, its
 * fingerprint, a session id, a key id, or a path prefix for links issued before a time),
 * `GET /api/v1/revocations` (the list in force and the store's state) and `POST /api/v1/unrevoke`.
 * Every revocation is logged with who made it; a session id is never written to the log.
 */
import type { ServerResponse } from 'node:http';
import { Problems } from '../base/problems.js';
import { type Revocation, revocationNotePattern } from '../decision/revocations.js';
import { makeRevocation, RevokeError, type RevokeRequest } from '../state/revoke.js';
import type { AdminClient } from './admin-client.js';
import { type FieldError, fieldErrors, invalidRequest, problem, sendJson, sendProblem } from './api-answers.js';
import { type Caller, mayUseRoute } from './signers.js';
import type { SigningContext } from './signing-api.js';

const targets = ['link', 'fp', 'session', 'key', 'prefix'] as const;
const maxTimeSec = 9_999_999_999;
const maxIds = 1000;

/** makeRevocation's field names as the API body spells them. */
const bodyField: Readonly<Record<string, string>> = { issuedBefore: 'issuedBeforeSec', until: 'untilSec' };

/** A revoke body as one RevokeRequest, or every problem with its field. */
export function readRevokeBody(raw: unknown, by: string): RevokeRequest | FieldError[] {
  const p = new Problems();
  const body = p.fields(raw, 'body');
  const kind = body.exactlyOne(
    targets,
    'needs exactly one of "link" (a whole signed URL), "fp" (a fingerprint), "session", "key" (with "route") or "prefix"',
  );
  const value = kind === undefined ? '' : body.string(kind);
  const request: RevokeRequest = {
    kind: kind ?? 'fp',
    value,
    route: body.optionalString('route'),
    issuedBeforeSec: body.optionalInt('issuedBeforeSec', 0, maxTimeSec),
    untilSec: body.optionalInt('untilSec', 0, maxTimeSec),
    clientIp: body.optionalString('clientIp'),
    note: body.matching('note', revocationNotePattern, 'must be at most 200 printable ASCII characters'),
    by,
  };
  body.done();
  return p.empty ? request : fieldErrors(p.entries);
}

/** What the log says of a revocation: never a session id (it names a viewer). */
export function revocationLogFields(entry: Revocation) {
  return {
    id: entry.id,
    kind: entry.kind,
    ...(entry.kind === 'session' ? {} : { value: entry.value }),
    route: entry.route,
    issuedBeforeSec: entry.issuedBeforeSec,
    untilSec: entry.untilSec,
  };
}

/** Whether `caller` may revoke (or remove) `entry`: a signer of some routes only, on those routes only. */
const mayTouch = (caller: Caller, entry: Revocation) =>
  caller.signer.routes === '*' || (entry.route !== undefined && mayUseRoute(caller.signer, entry.route));

export async function revoke(ctx: SigningContext, raw: unknown, client: AdminClient, caller: Caller, res: ServerResponse) {
  const nowSec = Math.floor(Date.now() / 1000);
  const request = readRevokeBody(raw, `api:${caller.signer.name}`);
  if (Array.isArray(request)) return sendProblem(res, invalidRequest(request));
  const loaded = ctx.current();
  let entry: Revocation;
  try {
    entry = await makeRevocation(
      request,
      { routes: loaded.routes, gate: loaded.gate, clockSkewSec: loaded.config.clockSkewSec },
      nowSec,
    );
  } catch (error) {
    if (!(error instanceof RevokeError)) throw error;
    const errors = error.problems.map((p) => {
      const field = p.field === 'link' || p.field === request.kind ? request.kind : (bodyField[p.field] ?? p.field);
      return { pointer: `/${field}`, detail: p.message };
    });
    return sendProblem(res, invalidRequest(errors));
  }
  if (!mayTouch(caller, entry)) {
    const detail = `signer "${caller.signer.name}" may revoke only on its routes (${[caller.signer.routes].flat().join(', ')}): name one in "route"`;
    return sendProblem(res, problem('not-permitted', 403, detail, [{ pointer: '/route', detail }]));
  }
  try {
    await ctx.revocations.revoke(entry);
  } catch (error) {
    ctx.logger.log('error', 'revocation not stored', { reason: (error as Error).message, caller: client.address });
    return sendProblem(
      res,
      problem('store-unavailable', 503, 'the revocation store did not take it (unreachable?): nothing was revoked; retry'),
    );
  }
  ctx.metrics.revocationMade(entry.kind);
  ctx.logger.log('info', 'link revoked', {
    ...revocationLogFields(entry),
    signer: caller.signer.name,
    user: caller.user,
    caller: client.address,
    proxy: client.proxy,
  });
  sendJson(res, 201, { revocation: entry });
}

export function revocations(ctx: SigningContext, res: ServerResponse, caller: Caller) {
  const list = ctx.revocations
    .list()
    .filter((entry) => mayTouch(caller, entry))
    .sort((a, b) => b.createdSec - a.createdSec || a.id.localeCompare(b.id));
  sendJson(res, 200, { store: ctx.revocations.status(), revocations: list });
}

export async function unrevoke(ctx: SigningContext, raw: unknown, client: AdminClient, caller: Caller, res: ServerResponse) {
  const p = new Problems();
  const body = p.fields(raw, 'body');
  const ids = body.array('ids', `must be a non-empty array of at most ${maxIds} revocation ids`);
  if (ids.length > maxIds || ids.some((id) => typeof id !== 'string' || !/^[a-z]{2,7}-[A-Za-z0-9_-]{12}$/.test(id))) {
    body.add('ids', `must be a non-empty array of at most ${maxIds} revocation ids ("<kind>-<12 characters>")`);
  }
  body.done();
  if (!p.empty) return sendProblem(res, invalidRequest(fieldErrors(p.entries)));
  const inForce = new Map(ctx.revocations.list().map((entry) => [entry.id, entry]));
  // A signer of some routes removes only what this instance knows is on them.
  const others = (ids as string[]).filter((id) =>
    inForce.has(id) ? !mayTouch(caller, inForce.get(id)!) : caller.signer.routes !== '*',
  );
  if (others.length > 0) {
    return sendProblem(
      res,
      problem(
        'not-permitted',
        403,
        `signer "${caller.signer.name}" may not remove revocations of other routes, or ones this instance does not hold: ${others.join(', ')}`,
      ),
    );
  }
  let removed: number;
  try {
    removed = await ctx.revocations.unrevoke(ids as string[]);
  } catch (error) {
    ctx.logger.log('error', 'revocation removal not stored', { reason: (error as Error).message, caller: client.address });
    return sendProblem(
      res,
      problem('store-unavailable', 503, 'the revocation store did not take it (unreachable?): nothing was removed; retry'),
    );
  }
  ctx.logger.log('info', 'revocations removed', {
    ids,
    removed,
    signer: caller.signer.name,
    user: caller.user,
    caller: client.address,
    proxy: client.proxy,
  });
  sendJson(res, 200, { removed });
}

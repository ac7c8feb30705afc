/**
 * The signing API on the admin listener (docs/signing.md): `GET /api/v1/routes`,
 * `POST /api/v1/sign`, `POST /api/v1/verify`. JSON in and out; every problem with its field,
 * like config errors. Bearer-token access (AccessGate); POSTs must be JSON and, when a browser
 * says where they come from (Origin), come from this listener's own origin.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../base/log.js';
import { Problems } from '../base/problems.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { LimitSpec } from '../decision/limits.js';
import type { Revocation } from '../decision/revocations.js';
import { statusFor } from '../http/answers.js';
import { CapturedHeaders } from '../http/request-sources.js';
import { explain } from '../links/explain-link.js';
import { LinkNotPermittedError, LinkRequestError, linkBaseOf, signLink } from '../links/sign-link.js';
import { linkJson, type SignedLink } from '../links/signed-link.js';
import type { ServiceMetrics } from '../metrics/exposition.js';
import type { IpRange } from '../request/client-ip.js';
import type { SignRequest } from '../scheme-kit/sign-request.js';
import type { RevocationStatus } from '../state/revocation-store.js';
import { type AccessGate, bearerToken } from './access.js';
import { type AdminClient, adminClient } from './admin-client.js';
import {
  type FieldError,
  fieldErrors,
  invalidRequest,
  type ProblemDetails,
  problem,
  sendJson,
  sendProblem,
} from './api-answers.js';
import { revocations, revoke, unrevoke } from './revoke-api.js';
import type { Sessions } from './sessions.js';
import { type Caller, mayUseRoute, signerNamed, signerOfUser, signRefusal, ssoUser } from './signers.js';

export interface SigningContext {
  /** The config now serving (reloads swap it). */
  current(): LoadedConfig;
  readonly access: AccessGate;
  /**
   * What a page session of `signer` is bound to: a digest of its current token (a rotated token
   * ends its sessions); undefined for a signer without a token (single sign-on only).
   */
  credentialOf(signer: string): string | undefined;
  /** Logins of the signing page: a live session cookie opens the API like the token does. */
  readonly sessions: Sessions;
  /** Revoking links: the service's list and store. */
  readonly revocations: RevocationControl;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
}

/** What the API does with revocations (the service's RevocationSync). */
export interface RevocationControl {
  /** Stores and applies one; rejects when the store did not take it. */
  revoke(entry: Revocation): Promise<void>;
  unrevoke(ids: readonly string[]): Promise<number>;
  list(): Revocation[];
  status(): RevocationStatus;
}

const maxBodyBytes = 16 * 1024;
const maxTimeSec = 9_999_999_999;

/**
 * The request body as JSON, or the status and message to refuse it with. A body that is not JSON
 * or grows past the limit is refused at once, never read to its end: the refusal closes the
 * connection (`refuse`), so unread bytes are never parsed as another request.
 */
function readJson(req: IncomingMessage): Promise<{ value: unknown } | { refused: ProblemDetails }> {
  const tooLarge = { refused: problem('body-too-large', 413, `the body is larger than ${maxBodyBytes} bytes`) };
  return new Promise((resolve) => {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return resolve({
        refused: problem('unsupported-media-type', 415, 'send the body as JSON (Content-Type: application/json)'),
      });
    }
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) return resolve(tooLarge);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
      else resolve(tooLarge);
    });
    req.on('end', () => {
      try {
        resolve({ value: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        resolve({ refused: problem('invalid-request', 400, 'the body is not valid JSON') });
      }
    });
    req.on('error', () => resolve({ refused: problem('invalid-request', 400, 'the body could not be read') }));
  });
}

/** Answers a refused body and closes the connection once the answer is written. */
function refuse(req: IncomingMessage, res: ServerResponse, refused: ProblemDetails): void {
  req.pause();
  sendProblem(res, refused, { Connection: 'close' });
  res.once('finish', () => req.socket.destroySoon());
}

/** A sign request's JSON body as the one SignRequest shape, or every problem with its field. */
export function readSignBody(
  raw: unknown,
  nowSec: number,
): { request: SignRequest; route: string | undefined; baseUrl: string | undefined } | FieldError[] {
  const p = new Problems();
  const body = p.fields(raw, 'body');
  const path = body.string('path');
  const notBeforeSec = body.optionalInt('notBeforeSec', 0, maxTimeSec);
  const expires = body.optionalInt('expiresSec', 1, maxTimeSec);
  const ttl = body.optionalInt('ttlSec', 1, 10 * 366 * 86_400);
  body.exactlyOne(
    ['expiresSec', 'ttlSec'],
    'needs exactly one of "expiresSec" (unix seconds) or "ttlSec" (seconds from notBeforeSec, or from now)',
  );
  const request: SignRequest = {
    path,
    expiresSec: expires ?? (notBeforeSec ?? nowSec) + (ttl ?? 0),
    notBeforeSec,
    clientIp: body.optionalString('clientIp'),
    scopeDepth: body.optionalInt('scopeDepth', 0, 32),
    sessionId: body.optionalString('sessionId'),
    cookies: body.optionalBool('cookies'),
  };
  const route = body.optionalString('route');
  const baseUrl = body.baseUrl('baseUrl');
  body.done();
  return p.empty ? { request, route, baseUrl } : fieldErrors(p.entries);
}

/** The routes `caller` may sign for, as the API lists them. */
function routeList(loaded: LoadedConfig, caller: Caller) {
  return loaded.routes
    .filter((route) => mayUseRoute(caller.signer, route.name))
    .map((route) => ({
      name: route.name,
      prefix: route.prefix,
      scheme: route.schemeId,
      keyIds: route.config.keys.map((key) => key.id),
      clientIp: route.clientIp,
      signs: route.config.scheme.signOptions,
      options: route.config.options.value,
      stream: route.config.stream ?? null,
      publicBaseUrl: linkBaseOf(loaded, route) ?? null,
      expiredStatus: route.config.expiredStatus ?? null,
      revocation:
        route.config.revocation === undefined ? null : { maxLifetimeSec: route.config.revocation.maxLifetimeSec ?? null },
      limits: limitsOf(route.config.limits),
    }));
}

/** A route's limits as the API shows them: every field, null when unset. */
function limitsOf(spec: LimitSpec | undefined) {
  if (spec === undefined) return null;
  return {
    per: spec.per,
    uses: spec.uses ?? null,
    perSecond: spec.perSecond ?? null,
    clientIps: spec.clientIps ?? null,
    viewers: spec.viewers ?? null,
    onStoreDown: spec.onStoreDown,
  };
}

async function sign(ctx: SigningContext, body: unknown, client: AdminClient, caller: Caller, res: ServerResponse) {
  const nowSec = Math.floor(Date.now() / 1000);
  const parsed = readSignBody(body, nowSec);
  if (Array.isArray(parsed)) return sendProblem(res, invalidRequest(parsed));
  let link: SignedLink;
  try {
    link = await signLink(ctx.current(), parsed.request, {
      route: parsed.route,
      baseUrl: parsed.baseUrl,
      nowSec,
      permit: (route, expiresSec) => signRefusal(caller.signer, route, expiresSec, nowSec),
      shown: (route) => mayUseRoute(caller.signer, route),
    });
  } catch (error) {
    if (!(error instanceof LinkRequestError)) throw error;
    const errors = error.problems.map(({ field, message }) => ({
      pointer: field === undefined ? '' : `/${field}`,
      detail: message,
    }));
    if (error instanceof LinkNotPermittedError) {
      ctx.logger.log('warn', 'link refused to signer', {
        signer: caller.signer.name,
        user: caller.user,
        reason: error.message,
        caller: client.address,
      });
      return sendProblem(res, problem('not-permitted', 403, undefined, errors));
    }
    return sendProblem(res, invalidRequest(errors));
  }
  ctx.metrics.linkSigned(link.route, caller.signer.name);
  ctx.logger.log('info', 'link signed', {
    signer: caller.signer.name,
    user: caller.user,
    route: link.route,
    path: link.path,
    scope: link.scope ?? 'exact',
    fp: link.fp,
    clientIp: parsed.request.clientIp,
    notBeforeSec: link.notBeforeSec,
    expiresSec: link.expiresSec,
    keyId: link.keyId,
    caller: client.address,
    proxy: client.proxy,
  });
  sendJson(res, 200, linkJson(link));
}

async function verify(ctx: SigningContext, body: unknown, caller: Caller, res: ServerResponse) {
  const p = new Problems();
  const fields = p.fields(body, 'body');
  const url = fields.string('url');
  const clientIp = fields.optionalString('clientIp');
  const cookie = fields.optionalString('cookie');
  const header = fields.object('header');
  const headerName = header?.requiredHeaderName('name');
  const headerValue = header?.string('value');
  header?.done();
  fields.done();
  if (!p.empty) return sendProblem(res, invalidRequest(fieldErrors(p.entries)));
  const headers = new CapturedHeaders();
  if (cookie !== undefined) headers.add('cookie', cookie);
  if (headerName !== undefined && headerValue !== undefined) headers.add(headerName, headerValue);
  const loaded = ctx.current();
  const nowSec = Math.floor(Date.now() / 1000);
  const { decision, hints } = await explain(loaded.gate, url, clientIp, nowSec, headers, 'the client IP');
  // A signer of some routes has links of those explained, no others.
  if (decision.route !== undefined && !mayUseRoute(caller.signer, decision.route.name)) {
    return sendProblem(
      res,
      problem('not-permitted', 403, `signer "${caller.signer.name}" may not check links of route "${decision.route.name}"`),
    );
  }
  const listener = loaded.config.listeners[0] ?? loaded.config.grpcListeners[0];
  sendJson(res, 200, {
    verdict: decision.verdict,
    status: statusFor(decision.verdict, listener ?? { expiredStatus: 410 }, decision.route),
    reason: decision.detail,
    hints,
    route:
      decision.route === undefined
        ? null
        : { name: decision.route.name, prefix: decision.route.prefix, scheme: decision.route.schemeId },
    expiresSec: decision.route === undefined || decision.expiresSec === 0 ? null : decision.expiresSec,
  });
}

let openApi: Buffer | undefined;

/** docs/openapi.json as the build copied it beside this module; read once. */
function openApiDocument(): Buffer {
  openApi ??= readFileSync(new URL('./openapi.json', import.meta.url));
  return openApi;
}

/**
 * A POST a browser may have sent from another site is refused: when it says where it comes from
 * (Origin), that must be this listener; a page session must say it (browsers always do on POST).
 */
export function sameOrigin(req: IncomingMessage, required: boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return !required;
  return origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
}

/** Why a request has no caller: no credential, a wrong one, too many wrong ones, or a single-sign-on user no signer names. */
type NoCaller = { readonly refused: 'missing' | 'wrong' | 'limited' } | { readonly refused: 'unmapped'; readonly user: string };

/**
 * The caller of a request: a Bearer token first (a program), then the page's session cookie, then
 * the single-sign-on user a trusted proxy names. A session of a signer since removed, or whose
 * token changed, is no session.
 */
export function authenticate(ctx: SigningContext, req: IncomingMessage, client: AdminClient): Caller | NoCaller {
  const signing = ctx.current().config.signing!;
  const bearer = bearerToken(req.headers.authorization);
  if (bearer === undefined) {
    const login = ctx.sessions.valid(req.headers.cookie, (req.socket as Partial<TLSSocket>).encrypted === true);
    const signer = login === undefined ? undefined : signerNamed(signing, login.signer);
    // Sessions are opened with a token: one whose signer has another token now, or none, has ended.
    if (signer !== undefined && login!.credential === ctx.credentialOf(signer.name)) {
      return { signer, via: 'session', user: undefined };
    }
    const sso = ssoUser(req, signing.sso);
    if (sso !== undefined) {
      const mapped = signerOfUser(signing, sso.user, sso.groups);
      return mapped === undefined ? { refused: 'unmapped', user: sso.user } : { signer: mapped, via: 'sso', user: sso.user };
    }
  }
  const access = ctx.access.check(bearer, client.key);
  if (typeof access === 'object') {
    const signer = signerNamed(signing, access.signer);
    if (signer !== undefined) return { signer, via: 'token', user: undefined };
  }
  return { refused: typeof access === 'object' ? 'wrong' : access };
}

function refuseCaller(ctx: SigningContext, res: ServerResponse, client: AdminClient, no: NoCaller) {
  if (no.refused !== 'missing') {
    ctx.logger.limited('signing-access', 'warn', 'signing API: access refused', {
      caller: client.address,
      proxy: client.proxy,
      result: no.refused,
      ...(no.refused === 'unmapped' ? { user: no.user } : {}),
    });
  }
  if (no.refused === 'unmapped') {
    return sendProblem(
      res,
      problem('not-permitted', 403, `single sign-on user "${no.user}" is no signer's (signing.signers[].users, groups)`),
    );
  }
  if (no.refused === 'limited') {
    const wait = ctx.access.retryAfterSec(client.key);
    return sendProblem(
      res,
      problem('too-many-attempts', 429, `too many different wrong access tokens from this client: retry in ${wait} s`),
      { 'Retry-After': String(wait) },
    );
  }
  if (no.refused === 'missing') {
    return sendProblem(res, problem('access-token-required', 401, 'send the access token: Authorization: Bearer <token>'), {
      'WWW-Authenticate': 'Bearer realm="tokengate"',
    });
  }
  return sendProblem(res, problem('access-token-invalid', 403, 'the access token is not valid'));
}

/**
 * Handles `/api/...`; the caller has already matched the prefix. `trusted`: the ranges of the
 * trusted proxies, whose X-Forwarded-For names the client that failed logins are counted for.
 */
export async function serveSigningApi(
  ctx: SigningContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  trusted: readonly IpRange[],
): Promise<void> {
  // The description of this API, for code generators: public (it holds no secret), like /healthz.
  if (path === '/api/v1/openapi.json' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : openApiDocument());
    return;
  }
  const client = adminClient(req, trusted);
  const caller = authenticate(ctx, req, client);
  if (!('signer' in caller)) return refuseCaller(ctx, res, client, caller);
  const endpoints: Record<string, string> = {
    '/api/v1/routes': 'GET',
    '/api/v1/sign': 'POST',
    '/api/v1/verify': 'POST',
    '/api/v1/revoke': 'POST',
    '/api/v1/revocations': 'GET',
    '/api/v1/unrevoke': 'POST',
  };
  const method = endpoints[path];
  if (method === undefined) return sendProblem(res, problem('not-found', 404, `no endpoint ${path.slice(0, 200)}`));
  if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
    return sendProblem(res, problem('method-not-allowed', 405, `${path} takes ${method}`), {
      Allow: method === 'GET' ? 'GET, HEAD' : method,
    });
  }
  const mayRevoke = path === '/api/v1/revoke' || path === '/api/v1/unrevoke' || path === '/api/v1/revocations';
  if (mayRevoke && !caller.signer.revoke) {
    return sendProblem(
      res,
      problem('not-permitted', 403, `signer "${caller.signer.name}" may not revoke (its "revoke" is not true)`),
    );
  }
  if (path === '/api/v1/revocations') return revocations(ctx, res, caller);
  if (method === 'GET') {
    const { name, maxTtlSec, revoke } = caller.signer;
    return sendJson(res, 200, {
      signer: { name, maxTtlSec: maxTtlSec ?? null, revoke, user: caller.user ?? null },
      routes: routeList(ctx.current(), caller),
    });
  }
  // A browser's session or single-sign-on cookie rides along on any site's POST: those must say they come from here.
  if (!sameOrigin(req, caller.via !== 'token'))
    return sendProblem(res, problem('cross-origin', 403, 'the request comes from another site (Origin): refused'));
  const body = await readJson(req);
  if (!('value' in body)) return refuse(req, res, body.refused);
  if (path === '/api/v1/sign') return sign(ctx, body.value, client, caller, res);
  if (path === '/api/v1/revoke') return revoke(ctx, body.value, client, caller, res);
  if (path === '/api/v1/unrevoke') return unrevoke(ctx, body.value, client, caller, res);
  return verify(ctx, body.value, caller, res);
}

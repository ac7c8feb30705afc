/**
 * Named signers against the built service: each signs only for its routes and within its longest
 * lifetime, revokes only with `revoke` and on its routes, is named in every audit line and in
 * tokengate_links_signed_total; a page login is logged and ends when its signer's token is
 * rotated; single sign-on users come from the configured header only on connections from the
 * trusted proxies, mapped to signers by user, domain or group. Config mistakes are refused with
 * their paths.
 */
import { hash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { fieldProblems, problemOf } from '../helpers/problem-details.js';
import {
  logLines,
  type RunningService,
  runCli,
  startService,
  tempDir,
  waitForLog,
  writeConfig,
} from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const tokens = {
  alice: 'alice-token-0123456789abcdef',
  ci: 'ci-token-0123456789abcdef-ci',
  bob: 'bob-token-0123456789abcdef',
  bobRotated: 'bob-token-rotated-0123456789',
};
let dir: string;
let configFile: string;
let service: RunningService;
let admin: number;

const config = () =>
  testConfig({
    signing: {
      signers: [
        { name: 'alice', tokenFile: 'alice.token', routes: ['vod'], maxTtlSec: 3600, revoke: true },
        { name: 'ci', tokenSha256: hash('sha256', tokens.ci, 'hex'), routes: ['*'] },
        { name: 'bob', tokenFile: 'bob.token', routes: ['my'] },
        {
          name: 'video-team',
          users: ['carol@example.com', '*@video.example'],
          groups: ['editors'],
          routes: ['vod', 'live'],
          revoke: true,
        },
        // Named on its own after the domain rule above: the named user is this signer, not the domain's.
        { name: 'dave', users: ['dave@video.example'], routes: ['my'] },
      ],
      sso: { userHeader: 'X-Forwarded-Email', groupsHeader: 'X-Forwarded-Groups', trustedProxies: ['127.0.0.1'] },
    },
    routes: [
      { name: 'my', prefix: '/my/', scheme: 'azion', keys: [{ id: 'a1', env: 'AZION_SECRET' }] },
      {
        name: 'vod',
        prefix: '/vod/',
        scheme: 'hmac',
        keys: [{ id: 'k1', file: 'hmac.key' }],
        revocation: { maxLifetimeSec: 86_400 },
      },
      {
        name: 'live',
        prefix: '/live/',
        scheme: 'hmac',
        keys: [{ id: 'k1', file: 'hmac.key' }],
        revocation: { maxLifetimeSec: 86_400 },
      },
    ],
  });

/** A request to the admin listener from `localAddress` (127.0.0.1 is the trusted proxy, 127.0.0.2 is not). */
function call(
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string | string[]>; from?: string | undefined } = {},
): Promise<Response> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: admin,
        path,
        method: body === undefined ? 'GET' : 'POST',
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve(
            new Response(text, {
              status: res.statusCode!,
              headers: Object.entries(res.headers).flatMap(([name, value]) =>
                typeof value === 'string' ? [[name, value] as [string, string]] : [],
              ),
            }),
          ),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
const sign = (token: string, body: Record<string, unknown>) => call('/api/v1/sign', { token, body });
const routeNames = async (response: Response) =>
  ((await response.json()) as { signer: string; routes: { name: string }[] }).routes.map((route) => route.name);

beforeAll(async () => {
  dir = tempDir();
  writeFileSync(join(dir, 'alice.token'), `${tokens.alice}\n`);
  writeFileSync(join(dir, 'bob.token'), `${tokens.bob}\n`);
  writeFileSync(join(dir, 'hmac.key'), 'ab'.repeat(32));
  configFile = writeConfig(dir, config());
  service = await startService(['serve', '--config', configFile], { AZION_SECRET: 'azion-secret-for-tests' });
  admin = service.ports.get('admin')!;
});

afterAll(async () => {
  await service?.stop();
});

describe('named signers', () => {
  it('sign only for their routes, each named in the audit line and the metric', async () => {
    const made = await sign(tokens.alice, { path: '/vod/show/a.mp4', ttlSec: 600, scopeDepth: 2 });
    expect(made.status).toBe(200);
    const link = (await made.json()) as { url: string; fp: string; scope: string };
    expect(link).toMatchObject({ scope: '/vod/show/', fp: expect.stringMatching(/^[\w-]{12}$/) });
    const line = await waitForLog(service, (entry) => entry.msg === 'link signed' && entry.fp === link.fp);
    expect(line).toMatchObject({
      signer: 'alice',
      route: 'vod',
      path: '/vod/show/a.mp4',
      scope: '/vod/show/',
      caller: '127.0.0.1',
    });
    expect(JSON.stringify(line)).not.toContain(link.url.split('?')[1]!);
    const refused = await problemOf(await sign(tokens.alice, { path: '/my/a.mp4', ttlSec: 600 }), 403);
    expect(refused).toMatchObject({
      type: 'urn:tokengate:problem:not-permitted',
      errors: [{ pointer: '/path', detail: 'signer "alice" may not sign for route "my"' }],
    });
    expect((await sign(tokens.bob, { path: '/my/a.mp4', ttlSec: 600 })).status).toBe(200);
    expect((await sign(tokens.ci, { path: '/live/a.mp4', ttlSec: 600 })).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/^tokengate_links_signed_total\{route="vod",signer="alice"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_links_signed_total\{route="my",signer="bob"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_links_signed_total\{route="live",signer="ci"\} 1$/m);
  });

  it('name no route outside their grant, and explain no link of another route', async () => {
    const nowhere = await problemOf(await sign(tokens.alice, { path: '/nowhere/a.mp4', ttlSec: 60 }), 400);
    expect(nowhere.errors).toEqual([{ pointer: '/path', detail: 'no route covers /nowhere/a.mp4; routes: vod (/vod/, hmac)' }]);
    const mine = (await (await sign(tokens.bob, { path: '/my/check.mp4', ttlSec: 60 })).json()) as { url: string };
    const foreign = await call('/api/v1/verify', { token: tokens.alice, body: { url: mine.url } });
    expect((await problemOf(foreign, 403)).detail).toBe('signer "alice" may not check links of route "my"');
    expect((await call('/api/v1/verify', { token: tokens.bob, body: { url: mine.url } })).status).toBe(200);
  });

  it('give links no longer than their maxTtlSec, counted from now', async () => {
    expect((await sign(tokens.alice, { path: '/vod/a.mp4', ttlSec: 3600 })).status).toBe(200);
    const long = await problemOf(await sign(tokens.alice, { path: '/vod/a.mp4', ttlSec: 3601 }), 403);
    expect(long.errors).toEqual([{ pointer: '/expiresSec', detail: expect.stringMatching(/at most 3600 s from now/) }]);
    // A start in the future does not stretch it: the end counts from the time of signing.
    const later = Math.floor(Date.now() / 1000) + 3000;
    expect((await sign(tokens.alice, { path: '/vod/a.mp4', notBeforeSec: later, ttlSec: 1800 })).status).toBe(403);
    // Not permitted comes before any other problem of the request: a route it may not use says nothing more.
    const other = await problemOf(await sign(tokens.alice, { path: '/my/a.mp4', ttlSec: 600, clientIp: 'x' }), 403);
    expect(other.errors!.map((error) => error.pointer)).toEqual(['/path']);
  });

  it('list only their routes; revoke only with "revoke", on their routes', async () => {
    expect(await routeNames(await call('/api/v1/routes', { token: tokens.alice }))).toEqual(['vod']);
    expect(await routeNames(await call('/api/v1/routes', { token: tokens.ci }))).toEqual(['my', 'vod', 'live']);
    const noRight = await problemOf(
      await call('/api/v1/revoke', { token: tokens.ci, body: { fp: 'AAAAAAAAAAAA', route: 'vod' } }),
      403,
    );
    expect(noRight.detail).toBe('signer "ci" may not revoke (its "revoke" is not true)');
    expect((await call('/api/v1/revocations', { token: tokens.ci })).status).toBe(403);
    const elsewhere = await call('/api/v1/revoke', { token: tokens.alice, body: { fp: 'AAAAAAAAAAAA', route: 'live' } });
    expect((await problemOf(elsewhere, 403)).errors).toEqual([
      { pointer: '/route', detail: expect.stringMatching(/only on its routes \(vod\)/) },
    ]);
    const everywhere = await call('/api/v1/revoke', { token: tokens.alice, body: { fp: 'AAAAAAAAAAAA' } });
    expect((await problemOf(everywhere, 403)).type).toBe('urn:tokengate:problem:not-permitted');
    const made = await call('/api/v1/revoke', { token: tokens.alice, body: { fp: 'BBBBBBBBBBBB', route: 'vod' } });
    expect(made.status).toBe(201);
    const { revocation } = (await made.json()) as { revocation: { id: string; by: string } };
    expect(revocation.by).toBe('api:alice');
    expect(await waitForLog(service, (line) => line.msg === 'link revoked' && line.id === revocation.id)).toMatchObject({
      signer: 'alice',
    });
    const sso = await call('/api/v1/revoke', {
      body: { fp: 'CCCCCCCCCCCC', route: 'live' },
      headers: { 'X-Forwarded-Email': 'carol@example.com', Origin: `http://127.0.0.1:${admin}` },
    });
    expect(sso.status).toBe(201);
    // Alice sees the revocations of her routes only; the SSO team's is on live.
    const listed = (await (await call('/api/v1/revocations', { token: tokens.alice })).json()) as {
      revocations: { id: string }[];
    };
    expect(listed.revocations.map((entry) => entry.id)).toEqual([revocation.id]);
    const { revocation: other } = (await sso.json()) as { revocation: { id: string } };
    const removal = await call('/api/v1/unrevoke', { token: tokens.alice, body: { ids: [other.id] } });
    expect((await problemOf(removal, 403)).detail).toMatch(/may not remove revocations of other routes/);
    // An id this instance does not hold may be another route's: a narrow signer cannot remove it.
    const unknown = await call('/api/v1/unrevoke', { token: tokens.alice, body: { ids: ['fp-AAAAAAAAAAAA'] } });
    expect((await problemOf(unknown, 403)).detail).toMatch(/or ones this instance does not hold: fp-AAAAAAAAAAAA$/);
    expect((await call('/api/v1/unrevoke', { token: tokens.alice, body: { ids: [revocation.id] } })).status).toBe(200);
  });

  it('log page logins with the signer; a session ends when its signer token is rotated (SIGHUP)', async () => {
    const form = await new Promise<{ status: number; cookie: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: admin,
          path: '/login',
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${admin}` },
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode!, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] });
        },
      );
      req.on('error', reject);
      req.end(`token=${tokens.bob}`);
    });
    expect(form.status).toBe(303);
    expect(form.cookie).toMatch(/^tokengate_session=/);
    expect(await waitForLog(service, (line) => line.msg === 'signing page: login')).toMatchObject({
      signer: 'bob',
      caller: '127.0.0.1',
    });
    const bySession = await call('/api/v1/routes', { headers: { Cookie: form.cookie! } });
    expect(await routeNames(bySession)).toEqual(['my']);
    writeFileSync(join(dir, 'bob.token'), `${tokens.bobRotated}\n`);
    service.process.kill('SIGHUP');
    await waitForLog(service, (line) => line.msg === 'config reloaded');
    expect((await call('/api/v1/routes', { headers: { Cookie: form.cookie! } })).status).toBe(401);
    expect((await call('/api/v1/routes', { token: tokens.bob })).status).toBe(403);
    expect((await call('/api/v1/routes', { token: tokens.bobRotated })).status).toBe(200);
  });
});

describe('single sign-on behind a trusted proxy', () => {
  const sso = (headers: Record<string, string | string[]>, from?: string) => call('/api/v1/routes', { headers, from });

  it('maps the user, the domain or a group to a signer', async () => {
    const carol = await sso({ 'X-Forwarded-Email': 'Carol@Example.com' });
    expect(await carol.json()).toMatchObject({
      signer: { name: 'video-team', user: 'carol@example.com', maxTtlSec: null, revoke: true },
      routes: [{ name: 'vod' }, { name: 'live' }],
    });
    expect(await sso({ 'X-Forwarded-Email': 'dave@video.example' }).then((r) => r.json())).toMatchObject({
      signer: { name: 'dave' },
    });
    expect(await sso({ 'X-Forwarded-Email': 'erin@video.example' }).then((r) => r.json())).toMatchObject({
      signer: { name: 'video-team' },
    });
    expect((await sso({ 'X-Forwarded-Email': 'erin@else.example', 'X-Forwarded-Groups': 'viewers, editors' })).status).toBe(200);
    const stranger = await problemOf(
      await sso({ 'X-Forwarded-Email': 'erin@else.example', 'X-Forwarded-Groups': 'viewers' }),
      403,
    );
    expect(stranger).toMatchObject({
      type: 'urn:tokengate:problem:not-permitted',
      detail: expect.stringMatching(/erin@else\.example/),
    });
    // A look-alike domain is not the domain.
    expect((await sso({ 'X-Forwarded-Email': 'mallory@evilvideo.example' })).status).toBe(403);
    expect((await sso({ 'X-Forwarded-Email': 'mallory@video.example.evil' })).status).toBe(403);
  });

  it('believes the header only from a trusted proxy, once, well-formed', async () => {
    // 127.0.0.2 is not a trusted proxy: its header is anyone's words.
    expect((await sso({ 'X-Forwarded-Email': 'carol@example.com' }, '127.0.0.2')).status).toBe(401);
    expect((await sso({ 'X-Forwarded-Email': ['carol@example.com', 'carol@example.com'] })).status).toBe(401);
    expect((await sso({ 'X-Forwarded-Email': 'carol@example.com, mallory@evil.example' })).status).toBe(401);
    expect((await sso({ 'X-Forwarded-Email': '' })).status).toBe(401);
    // The groups in one line too: a proxy appending its line would pass a client's own.
    expect((await sso({ 'X-Forwarded-Email': 'erin@else.example', 'X-Forwarded-Groups': ['viewers', 'editors'] })).status).toBe(
      401,
    );
    // A token still opens the API from anywhere.
    expect((await call('/api/v1/routes', { token: tokens.ci, from: '127.0.0.2' })).status).toBe(200);
  });

  it('signs as the signer, names the user in the audit line, and refuses a cross-site POST', async () => {
    const headers = { 'X-Forwarded-Email': 'carol@example.com' };
    const foreign = await call('/api/v1/sign', { body: { path: '/vod/sso.mp4', ttlSec: 60 }, headers });
    expect((await problemOf(foreign, 403)).type).toBe('urn:tokengate:problem:cross-origin');
    const made = await call('/api/v1/sign', {
      body: { path: '/vod/sso.mp4', ttlSec: 60 },
      headers: { ...headers, Origin: `http://127.0.0.1:${admin}` },
    });
    expect(made.status).toBe(200);
    const { fp } = (await made.json()) as { fp: string };
    expect(await waitForLog(service, (line) => line.msg === 'link signed' && line.fp === fp)).toMatchObject({
      signer: 'video-team',
      user: 'carol@example.com',
    });
    // The page opens for the user without a login.
    const page = await call('/', { headers });
    expect(page.status).toBe(200);
    expect((await call('/', {})).status).toBe(303);
  });
});

describe('signers in the config', () => {
  const base = (signing: unknown) => ({
    listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
    signing,
    routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] }],
  });

  it('refuses every mistake with its path', () => {
    expect(
      parseConfig(
        base({
          signers: [
            { name: 'a', tokenEnv: 'A', routes: ['vod', 'nope'] },
            { name: 'a', tokenSha256: 'ABC', routes: [] },
            { name: 'bad name!', routes: ['*', 'vod'], users: ['x@example.com'] },
            { name: 'c', tokenEnv: 'C', tokenFile: 'c', routes: ['*'], maxTtlSec: 0, colour: 1 },
          ],
        }),
      ),
    ).toEqual([
      'signing.signers[0].routes[1]: must name a route of this config (vod)',
      'signing.signers[1].tokenSha256: must be the SHA-256 of the access token, 64 lowercase hex digits (printf %s TOKEN | sha256sum)',
      'signing.signers[1].routes: must be a non-empty array of route names, or ["*"] for every route',
      'signing.signers[2].name: must be 1 to 64 characters from [A-Za-z0-9._@-], starting with a letter or digit',
      'signing.signers[2].routes[0]: "*" stands alone: every route',
      'signing.signers[3].tokenEnv: give one credential: tokenFile and tokenEnv are both set',
      'signing.signers[3].maxTtlSec: must be an integer from 1 to 316224000',
      'signing.signers[3].colour: unknown field (known: name, tokenFile, tokenEnv, tokenSha256, randomToken, users, groups, routes, maxTtlSec, revoke)',
      'signing.signers[1].name: "a" names another signer too',
      'signing.sso: is required when a signer names users or groups: the header they come in and the proxies believed',
    ]);
    expect(
      parseConfig(
        base({
          signers: [
            { name: 'a', randomToken: true, routes: ['*'] },
            { name: 'b', randomToken: true, routes: ['*'] },
          ],
        }),
      ),
    ).toEqual(['signing.signers[1].randomToken: one signer at most may have a random token']);
    expect(parseConfig(base({ tokenEnv: 'T', signers: [] }))).toEqual([
      'signing: needs exactly one of "signers" (named signers), or one access token: "tokenFile", "tokenEnv" or "randomToken": true',
    ]);
    expect(
      parseConfig(
        base({
          signers: [{ name: 'a', users: ['a@b.example'], routes: ['*'] }],
          sso: { userHeader: 'X-Forwarded-Email', trustedProxies: ['0.0.0.0/0'] },
        }),
      ),
    ).toEqual([
      'signing.sso.trustedProxies[0]: must be an IP address or a CIDR range written canonically, without host bits, and not every address (/0)',
      'signing.sso.trustedProxies: must name the proxies that write the user header: anyone else could write any user',
    ]);
  });

  it('refuses two signers with one token, and a token file out of grammar, at load (tokengate check)', async () => {
    const at = tempDir();
    writeFileSync(join(at, 'a.token'), 'same-token-0123456789');
    writeFileSync(join(at, 'short.token'), 'short');
    const file = writeConfig(
      at,
      base({
        signers: [
          { name: 'a', tokenFile: 'a.token', routes: ['*'] },
          { name: 'b', tokenSha256: hash('sha256', 'same-token-0123456789', 'hex'), routes: ['*'] },
          { name: 'c', tokenFile: 'short.token', routes: ['*'] },
        ],
      }),
    );
    const checked = await runCli(['check', '--config', file], { K: 'k'.repeat(32) });
    expect(checked.code).toBe(78);
    expect(checked.stderr).toContain('signing.signers[1]: has the same access token as signer "a" (each signer needs its own)');
    expect(checked.stderr).toContain(
      'signing.signers[2]: the access token must be 16 to 256 printable ASCII characters without spaces',
    );
    expect(checked.stderr).not.toContain('same-token');
    expect(logLines(checked.stderr)).toEqual([]);
  });
});

describe('a reload that removes signing', () => {
  it('takes the page and the API away (404) without stopping the service, and says a restart brings them back', async () => {
    const at = tempDir();
    writeFileSync(join(at, 'ops.token'), `${tokens.alice}\n`);
    const withSigning = testConfig({
      signing: { signers: [{ name: 'ops', tokenFile: 'ops.token', routes: ['*'] }] },
      routes: [{ name: 'my', prefix: '/my/', scheme: 'azion', keys: [{ id: 'a1', env: 'AZION_SECRET' }] }],
    });
    const file = writeConfig(at, withSigning);
    const running = await startService(['serve', '--config', file], { AZION_SECRET: 'azion-secret-for-tests' });
    try {
      const port = running.ports.get('admin')!;
      expect((await fetch(`http://127.0.0.1:${port}/login`)).status).toBe(200);
      const { signing: _removed, ...without } = withSigning;
      writeConfig(at, without);
      running.process.kill('SIGHUP');
      await waitForLog(running, (line) => line.msg === 'signing removed: the page and the API answer 404 until a restart');
      for (const path of ['/', '/login', '/api/v1/routes', '/assets/app.js'])
        expect([path, (await fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual' })).status]).toEqual([path, 404]);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(running.process.exitCode).toBeNull();
    } finally {
      await running.stop();
    }
  });
});

describe('field problems of a signer request are still field problems', () => {
  it('a signer permitted the route gets every field problem', async () => {
    const problems = await fieldProblems(
      await sign(tokens.ci, { path: '/vod/a.mp4', ttlSec: 60, clientIp: 'x', sessionId: 'a b' }),
    );
    expect(problems.map((line) => line.split(':')[0])).toEqual(['/clientIp', '/sessionId']);
  });
});

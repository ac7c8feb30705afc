/**
 * The signing API on the admin listener, against the built service as a real process: access
 * (401, 403, 429), every validation error with its field, a link for every scheme and carrier
 * that the auth listener then allows for its client IP and denies for another, verify, the
 * routes listing without key material, the log line and the metric.
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, hash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { fieldProblems, problemOf } from '../helpers/problem-details.js';
import {
  logLines,
  type RunningService,
  startDefaultService,
  startService,
  tempDir,
  waitForLog,
  writeConfig,
} from '../helpers/service-process.js';
import { altaStream, configIn, route, testConfig } from '../helpers/test-config.js';

const accessToken = 'signing-token-0123456789abcdef';
const hmacKey = 'ab'.repeat(32);
const altaSecret = 'alta-secret-for-tests';
const cloudfrontKey = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

let service: RunningService;
let admin: number;
let auth: number;

const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const { token = accessToken, ...rest } = init;
  return fetch(`http://127.0.0.1:${admin}${path}`, {
    ...rest,
    headers: {
      ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
      ...(rest.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(rest.headers as Record<string, string> | undefined),
    },
  });
};
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  api(path, { method: 'POST', body: JSON.stringify(body), headers });

/** What the auth listener answers for a link from `ip`, with the cookie or header the link names. */
async function authorizeLink(link: { url: string; cookie?: { name: string; value: string } | null }, ip: string) {
  const target = new URL(link.url);
  const response = await fetch(`http://127.0.0.1:${auth}/`, {
    headers: {
      'X-Original-URI': `${target.pathname}${target.search}`,
      'X-Real-IP': ip,
      ...(link.cookie ? { Cookie: `${link.cookie.name}=${link.cookie.value}` } : {}),
    },
  });
  return response.status;
}

beforeAll(async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'signing.token'), `${accessToken}\n`);
  writeFileSync(join(dir, 'hmac.key'), hmacKey);
  writeFileSync(join(dir, 'cloudfront.pem'), cloudfrontKey.privateKey);
  const file = writeConfig(
    dir,
    testConfig({
      signing: { tokenFile: 'signing.token', publicBaseUrl: 'https://media.example.com' },
      routes: [
        { name: 'my', prefix: '/my/', scheme: 'azion', keys: [{ id: 'a1', env: 'AZION_SECRET' }], expiredStatus: 403 },
        route('tv', '/tv/', 'alta', [{ id: 't1', env: 'ALTA_SECRET' }], altaStream),
        {
          name: 'vod',
          prefix: '/vod/',
          scheme: 'hmac',
          keys: [{ id: 'k1', file: 'hmac.key' }],
          revocation: { maxLifetimeSec: 86_400 },
        },
        {
          name: 'ck',
          prefix: '/ck/',
          scheme: 'hmac',
          keys: [{ id: 'k1', file: 'hmac.key' }],
          options: { carrier: 'cookie' },
          publicBaseUrl: 'https://books.example.com',
        },
        {
          name: 'cf',
          prefix: '/cf/',
          scheme: 'cloudfront',
          keys: [{ id: 'KCF', file: 'cloudfront.pem' }],
          options: { baseUrl: 'https://cdn.example.com' },
        },
      ],
    }),
  );
  service = await startService(['serve', '--config', file], { AZION_SECRET: 'azion-secret-for-tests', ALTA_SECRET: altaSecret });
  admin = service.ports.get('admin')!;
  auth = service.ports.get('auth')!;
});

afterAll(async () => {
  await service?.stop();
});

describe('signing API', () => {
  it('refuses without a token (401, WWW-Authenticate) and with a wrong one (403)', async () => {
    const none = await api('/api/v1/routes', { token: null });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="tokengate"');
    expect((await problemOf(none, 401)).type).toBe('urn:tokengate:problem:access-token-required');
    const wrong = await api('/api/v1/routes', { token: `${accessToken}x` });
    expect(await wrong.clone().text()).not.toContain(accessToken);
    expect((await problemOf(wrong, 403)).type).toBe('urn:tokengate:problem:access-token-invalid');
    expect((await api('/api/v1/routes', { token: null, headers: { Authorization: `Basic ${accessToken}` } })).status).toBe(401);
  });

  it('lists the routes with key ids, options and base URLs, never key material', async () => {
    const response = await api('/api/v1/routes');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    for (const secret of [hmacKey, altaSecret, 'azion-secret-for-tests', accessToken]) expect(text).not.toContain(secret);
    const { routes } = JSON.parse(text) as { routes: Record<string, unknown>[] };
    expect(routes.map((r) => [r.name, r.scheme, r.keyIds, r.clientIp, r.publicBaseUrl])).toEqual([
      ['my', 'azion', ['a1'], 'unused', 'https://media.example.com'],
      ['tv', 'alta', ['t1'], 'required', 'https://media.example.com'],
      ['vod', 'hmac', ['k1'], 'optional', 'https://media.example.com'],
      ['ck', 'hmac', ['k1'], 'optional', 'https://books.example.com'],
      ['cf', 'cloudfront', ['KCF'], 'optional', 'https://cdn.example.com'],
    ]);
    for (const secret of cloudfrontKey.privateKey.split('\n').slice(1, -2)) expect(text).not.toContain(secret);
    expect(routes[3]!.options).toEqual({ carrier: 'cookie', name: 'tg' });
  });

  it('signs a link for every scheme and carrier that the auth listener allows for its IP and refuses otherwise', async () => {
    const cases = [
      { body: { path: '/my/films/été.mp4', ttlSec: 600 }, ip: '192.0.2.1', other: undefined },
      { body: { path: '/tv/ch1/index.m3u8', ttlSec: 600, clientIp: '192.0.2.7' }, ip: '192.0.2.7', other: '192.0.2.8' },
      {
        body: { path: '/vod/a.mp4', ttlSec: 600, clientIp: '2001:db8::/32', scopeDepth: 1 },
        ip: '2001:db8::5',
        other: '2001:db9::5',
      },
      { body: { route: 'ck', path: '/ck/books/a.pdf', ttlSec: 600, sessionId: 'user-7' }, ip: '192.0.2.1', other: undefined },
    ];
    for (const { body, ip, other } of cases) {
      const response = await post('/api/v1/sign', body);
      const link = (await response.json()) as Record<string, unknown> & {
        url: string;
        cookie: { name: string; value: string } | null;
      };
      expect(response.status, JSON.stringify(link)).toBe(200);
      expect(link.url).toMatch(/^https:\/\/(media|books)\.example\.com\//);
      expect(await authorizeLink(link, ip)).toBe(200);
      if (other !== undefined) expect(await authorizeLink(link, other)).toBe(403);
      expect(link.end).toBe(new Date((link.expiresSec as number) * 1000).toISOString());
    }
    // A stream link signs the playlist and opens every file of the channel.
    const tv = (await (await post('/api/v1/sign', { path: '/tv/ch2/index.m3u8', ttlSec: 60, clientIp: '192.0.2.7' })).json()) as {
      url: string;
    };
    expect(await authorizeLink({ url: tv.url.replace('index.m3u8', 'seg-1.ts') }, '192.0.2.7')).toBe(200);
    // The cookie carrier: the link is the path; the token travels in the cookie the answer names.
    const ck = (await (await post('/api/v1/sign', { path: '/ck/books/b.pdf', ttlSec: 60 })).json()) as Record<string, unknown>;
    expect(ck.url).toBe('https://books.example.com/ck/books/b.pdf');
    expect(ck.carrier).toBe('cookie');
    expect(await authorizeLink({ url: ck.url as string }, '192.0.2.1')).toBe(403);
  });

  it('cloudfront: signed cookies when asked (every cookie, in order), a signed URL otherwise', async () => {
    const response = await post('/api/v1/sign', { path: '/cf/show/index.m3u8', ttlSec: 600, scopeDepth: 2, cookies: true });
    const link = (await response.json()) as {
      url: string;
      carrier: string;
      query?: string;
      cookie?: unknown;
      cookies: { name: string; value: string }[];
    };
    expect(response.status, JSON.stringify(link)).toBe(200);
    expect([link.url, link.carrier, link.query, link.cookie]).toEqual([
      'https://cdn.example.com/cf/show/index.m3u8',
      'cookie',
      undefined,
      undefined,
    ]);
    expect(link.cookies.map(({ name }) => name)).toEqual(['CloudFront-Key-Pair-Id', 'CloudFront-Signature', 'CloudFront-Policy']);
    const header = link.cookies.map(({ name, value }) => `${name}=${value}`).join('; ');
    const ask = async (path: string, cookie?: string) =>
      (
        await fetch(`http://127.0.0.1:${auth}/`, {
          headers: { 'X-Original-URI': path, 'X-Real-IP': '192.0.2.1', ...(cookie === undefined ? {} : { Cookie: cookie }) },
        })
      ).status;
    // The scope: every file under /cf/show/, nothing beside it, nothing without the cookies.
    expect(await ask('/cf/show/720p/seg-1.ts', header)).toBe(200);
    expect(await ask('/cf/other/seg-1.ts', header)).toBe(403);
    expect(await ask('/cf/show/720p/seg-1.ts')).toBe(403);
    const url = (await (await post('/api/v1/sign', { path: '/cf/a.mp4', ttlSec: 600 })).json()) as { url: string };
    expect(url.url).toMatch(/^https:\/\/cdn\.example\.com\/cf\/a\.mp4\?Expires=\d{10}&Key-Pair-Id=KCF&Signature=/);
    expect(await authorizeLink(url, '192.0.2.1')).toBe(200);
    const problems = await fieldProblems(await post('/api/v1/sign', { path: '/vod/a', ttlSec: 60, cookies: true }));
    expect(problems).toEqual([expect.stringMatching(/^\/cookies: hmac tokens cannot sign cookies/)]);
    // The host is signed: a link of this route starts with its baseUrl, never another.
    const elsewhere = await fieldProblems(
      await post('/api/v1/sign', { path: '/cf/a', ttlSec: 60, baseUrl: 'https://media.example.com' }),
    );
    expect(elsewhere).toEqual([expect.stringMatching(/^\/baseUrl: .*start with https:\/\/cdn\.example\.com/)]);
    const typed = await fieldProblems(await post('/api/v1/sign', { path: '/cf/a', ttlSec: 60, cookies: 'yes' }));
    expect(typed).toEqual(['/cookies: must be true or false']);
  });

  it('lists every problem of a sign request at once, each at its field, not only the first the format finds', async () => {
    const problems = await fieldProblems(
      await post('/api/v1/sign', {
        path: '/vod/a.mp4',
        expiresSec: 1_000_000_000,
        clientIp: '999.1.1.1',
        scopeDepth: 9,
        sessionId: 'not a session id',
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^\/expiresSec: the link would already be expired/),
      expect.stringMatching(/^\/scopeDepth: scope depth 9 does not fit/),
      expect.stringMatching(/^\/clientIp: client IP "999\.1\.1\.1" is not an IPv4 or IPv6 address/),
      expect.stringMatching(/^\/sessionId: the session id must be/),
    ]);
    // A route that requires the IP, and a format that refuses a field it cannot sign: both named.
    const alta = await fieldProblems(await post('/api/v1/sign', { path: '/tv/ch/index.m3u8', ttlSec: 60, scopeDepth: 1 }));
    expect(alta).toEqual([
      expect.stringMatching(/^\/clientIp: route "tv" \(alta\) binds tokens to the client IP/),
      expect.stringMatching(/^\/scopeDepth: alta tokens cannot sign scopeDepth/),
    ]);
    // docs/signing.md's example is what the service answers.
    const documented = await post('/api/v1/sign', { path: '/vod/a.mp4', ttlSec: 60, clientIp: '999.1.1.1', sessionId: 'a b' });
    expect(await problemOf(documented, 400)).toEqual(JSON.parse(docBlock('docs/signing.md', 'problem')));
    // The detail says it all in one line, for a human with curl.
    const whole = await problemOf(await post('/api/v1/sign', { path: '/vod/a.mp4', expiresSec: 1000, clientIp: 'x' }), 400);
    expect(whole.errors!.map((e) => e.pointer)).toEqual(['/expiresSec', '/clientIp']);
    expect(whole.detail).toMatch(/^expiresSec: must be unix seconds of ten digits.*; clientIp: client IP "x" is not/);
  });

  it('answers 400 with every problem and its field', async () => {
    const problems = async (body: unknown) => (await fieldProblems(await post('/api/v1/sign', body))).join('\n');
    expect(await problems({})).toMatch(/\/path: is required[\s\S]*exactly one of "expiresSec"/);
    expect(await problems({ path: '/vod/a', ttlSec: 60, expiresSec: 2000000000 })).toMatch(/exactly one of/);
    expect(await problems({ path: '/vod/a', ttlSec: 60, colour: 'red' })).toMatch(/\/colour: unknown field/);
    expect(await problems({ path: '/vod/a', ttlSec: -5 })).toMatch(/\/ttlSec: must be an integer/);
    expect(await problems({ path: '/vod/a', ttlSec: 60, scopeDepth: 'x' })).toMatch(/\/scopeDepth/);
    expect(await problems({ path: '/vod/a', ttlSec: 60, baseUrl: 'https://x.example/path' })).toMatch(/\/baseUrl/);
    expect(await problems({ path: '/my/a', ttlSec: 60, clientIp: '192.0.2.1' })).toMatch(
      /^\/clientIp: azion tokens cannot sign clientIp/,
    );
    expect(await problems({ path: '/my/a', ttlSec: 60, scopeDepth: 1 })).toMatch(/cannot sign scopeDepth/);
    expect(await problems({ path: '/tv/ch/index.m3u8', ttlSec: 60 })).toMatch(/^\/clientIp: .*binds tokens to the client IP/);
    expect(await problems({ path: '/my/../vod/a', ttlSec: 60 })).toMatch(/^\/path: the service would refuse this path/);
    expect(await problems({ path: '/elsewhere/a', ttlSec: 60 })).toMatch(/no route covers/);
    expect(await problems({ route: 'my', path: '/vod/a', ttlSec: 60 })).toMatch(/not under route prefix/);
    expect(await problems({ path: '/vod/a', expiresSec: 1000 })).toMatch(/^\/expiresSec: must be unix seconds of ten digits/);
    expect(await problems({ path: '/vod/a', expiresSec: 1_000_000_000 })).toMatch(/^\/expiresSec: .*already be expired/);
    expect(await problems({ path: '/vod/a', ttlSec: 60, scopeDepth: 0 })).toMatch(/^\/scopeDepth: .*outside the route/);
    expect(await problems([1, 2])).toMatch(/\(body\): must be an object/);
  });

  it('refuses what is not a JSON POST from its own origin', async () => {
    const form = await api('/api/v1/sign', {
      method: 'POST',
      body: 'path=/vod/a',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect((await problemOf(form, 415)).type).toBe('urn:tokengate:problem:unsupported-media-type');
    const broken = await problemOf(await api('/api/v1/sign', { method: 'POST', body: '{', headers: {} }), 400);
    expect([broken.type, broken.detail]).toEqual(['urn:tokengate:problem:invalid-request', 'the body is not valid JSON']);
    const large = await problemOf(await post('/api/v1/sign', { path: `/vod/${'a'.repeat(20_000)}`, ttlSec: 60 }), 413);
    expect(large.type).toBe('urn:tokengate:problem:body-too-large');
    const foreign = await post('/api/v1/sign', { path: '/vod/a', ttlSec: 60 }, { Origin: 'https://evil.example' });
    expect((await problemOf(foreign, 403)).type).toBe('urn:tokengate:problem:cross-origin');
    expect((await post('/api/v1/sign', { path: '/vod/a', ttlSec: 60 }, { Origin: `http://127.0.0.1:${admin}` })).status).toBe(
      200,
    );
    // A body announced far over the limit, or not JSON, is refused at once, not read to its end:
    // the service answers and closes itself. Reading to the end would last until the admin
    // listener's 10 s request timeout (a 408), so the test gives up on the connection at 8 s.
    for (const type of ['application/json', 'text/plain']) {
      const { answer, closedByService } = await new Promise<{ answer: string; closedByService: boolean }>((resolve, reject) => {
        let givenUp = false;
        const socket = connect(admin, '127.0.0.1', () => {
          socket.write(
            `POST /api/v1/sign HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${accessToken}\r\nContent-Type: ${type}\r\nContent-Length: 100000000\r\n\r\n${'x'.repeat(20_000)}`,
          );
        });
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
        });
        const timer = setTimeout(() => {
          givenUp = true;
          socket.destroy();
        }, 8000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ answer: text, closedByService: !givenUp });
        });
        socket.on('error', reject);
      });
      expect(answer, type).toMatch(type === 'text/plain' ? /^HTTP\/1\.1 415 / : /^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(closedByService, `${type}: the service closed the connection`).toBe(true);
    }
    const get = await api('/api/v1/sign');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await api('/api/v1/nothing')).status).toBe(404);
  });

  it('verify says what the auth listener would answer, and why', async () => {
    const link = (await (await post('/api/v1/sign', { path: '/vod/v.mp4', ttlSec: 600 })).json()) as { url: string };
    const check = async (body: unknown) => (await (await post('/api/v1/verify', body)).json()) as Record<string, unknown>;
    expect(await check({ url: link.url })).toMatchObject({ verdict: 'valid', status: 200, route: { name: 'vod' } });
    expect(await check({ url: link.url.replace('v.mp4', 'w.mp4') })).toMatchObject({ verdict: 'forged', status: 403 });
    expect(await check({ url: 'https://media.example.com/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000' })).toMatchObject({
      route: { name: 'my' },
      status: 403,
    });
    const cookie = (await (await post('/api/v1/sign', { path: '/ck/c.pdf', ttlSec: 600 })).json()) as {
      url: string;
      cookie: { name: string; value: string };
    };
    expect(await check({ url: cookie.url, cookie: `${cookie.cookie.name}=${cookie.cookie.value}` })).toMatchObject({
      status: 200,
    });
    expect(await check({ url: cookie.url })).toMatchObject({ verdict: 'missing', status: 403 });
    expect((await post('/api/v1/verify', { link: 'x' })).status).toBe(400);
  });

  it("verify answers an expired link with its route's expiredStatus", async () => {
    const e = Math.floor(Date.now() / 1000) - 60;
    const st = createHash('md5').update(`azion-secret-for-tests/my/old.mp4${e}`).digest('base64url');
    const check = async (body: unknown) => (await (await post('/api/v1/verify', body)).json()) as Record<string, unknown>;
    expect(await check({ url: `/my/old.mp4?st=${st}&e=${e}` })).toMatchObject({ verdict: 'expired', status: 403 });
    expect(await check({ url: `/my/old.mp4?st=${st}&e=${e + 120}` })).toMatchObject({ verdict: 'forged', status: 403 });
    const { routes } = (await (await api('/api/v1/routes')).json()) as {
      routes: { name: string; expiredStatus: number | null }[];
    };
    expect(routes.map((route) => [route.name, route.expiredStatus])).toEqual([
      ['my', 403],
      ['tv', null],
      ['vod', null],
      ['ck', null],
      ['cf', null],
    ]);
  });

  it('logs each signature without the token and counts it per route', async () => {
    const link = (await (await post('/api/v1/sign', { path: '/vod/logged.mp4', ttlSec: 60 })).json()) as { query: string };
    await expect.poll(() => service.stderr()).toMatch(/"path":"\/vod\/logged\.mp4"/);
    const line = service
      .stderr()
      .split('\n')
      .find((l) => l.includes('/vod/logged.mp4'))!;
    expect(JSON.parse(line)).toMatchObject({ msg: 'link signed', route: 'vod', keyId: 'k1', caller: '127.0.0.1' });
    expect(service.stderr()).not.toContain(link.query.slice(3));
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/tokengate_links_signed_total\{route="vod",signer="admin"\} [1-9]/);
  });

  it('the curl, Python and PHP clients of docs/signing.md run as written against the embedded default config, and get links it allows', async () => {
    const running = await startDefaultService();
    try {
      const env = { ...process.env, TOKENGATE_ADMIN: `http://127.0.0.1:${running.admin}`, TOKENGATE_TOKEN: running.token };
      const run = (command: string, args: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(command, args, { env, timeout: 10_000 }, (error, stdout, stderr) =>
            error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve(stdout),
          ),
        );
      const curl = JSON.parse(await run('sh', ['-c', docBlock('docs/signing.md', 'curl')])) as { url: string };
      const python = (await run('python3', ['-c', docBlock('docs/signing.md', 'python')])).trim();
      const php = (await run('php', ['-r', docBlock('docs/signing.md', 'php')])).trim();
      const ask = async (url: string, ip: string) =>
        (
          await fetch(`http://127.0.0.1:${running.auth}/`, {
            headers: { 'X-Original-URI': url, 'X-Real-IP': ip, 'X-Original-Method': 'GET' },
          })
        ).status;
      for (const url of [curl.url, python, php]) {
        expect(url).toMatch(/^\/tv\/news\/index\.m3u8\?token=[0-9a-f]{40}-/);
        expect(await ask(url, '203.0.113.7')).toBe(200);
        expect(await ask(url.replace('index.m3u8', 'seg-1.ts'), '203.0.113.7')).toBe(200);
        expect(await ask(url, '203.0.113.8')).toBe(403);
      }
    } finally {
      await running.service.stop();
    }
  });

  it('revokes a link: the auth listener refuses it at once (403, revoked), the list shows it, the log names the caller and never a session id', async () => {
    const sign = async (body: Record<string, unknown>) =>
      (await (await post('/api/v1/sign', { ttlSec: 600, ...body })).json()) as { url: string };
    const leaked = await sign({ path: '/vod/leaked/a.mp4' });
    const kept = await sign({ path: '/vod/leaked/b.mp4' });
    const viewer = await sign({ path: '/vod/leaked/c.mp4', sessionId: 'viewer-4711' });
    for (const link of [leaked, kept, viewer]) expect(await authorizeLink(link, '192.0.2.1')).toBe(200);
    const made = await post('/api/v1/revoke', { link: leaked.url, note: 'posted on a forum' });
    expect(made.status).toBe(201);
    const { revocation } = (await made.json()) as { revocation: Record<string, unknown> };
    expect(revocation).toMatchObject({ kind: 'fp', route: 'vod', by: 'api:admin', note: 'posted on a forum' });
    // The same fingerprint as `verify` gives, and an end no later than the link's own.
    const verified = (await (await post('/api/v1/verify', { url: leaked.url })).json()) as {
      verdict: string;
      expiresSec: number;
    };
    expect(verified.verdict).toBe('revoked');
    expect(revocation.untilSec).toBe(verified.expiresSec);
    const answer = await fetch(`http://127.0.0.1:${auth}/`, {
      headers: { 'X-Original-URI': new URL(leaked.url).pathname + new URL(leaked.url).search, 'X-Real-IP': '192.0.2.1' },
    });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-token-status')).toBe('revoked');
    expect(await authorizeLink(kept, '192.0.2.1')).toBe(200);
    // By session: every link signed with it; the log line leaves the session id out.
    expect((await post('/api/v1/revoke', { session: 'viewer-4711', route: 'vod' })).status).toBe(201);
    expect(await authorizeLink(viewer, '192.0.2.1')).toBe(403);
    await waitForLog(service, (line) => line.msg === 'link revoked' && line.kind === 'session');
    expect(service.stderr()).not.toContain('viewer-4711');
    const revoked = logLines(service.stderr()).filter((line) => line.msg === 'link revoked');
    expect(revoked[0]).toMatchObject({ kind: 'fp', route: 'vod', caller: '127.0.0.1' });
    const list = (await (await api('/api/v1/revocations')).json()) as {
      store: Record<string, unknown>;
      revocations: { id: string }[];
    };
    expect(list.store).toMatchObject({ store: 'file', up: true });
    expect(list.revocations.map((r) => r.id)).toContain(revocation.id);
    // Taken back: the link opens again.
    expect(await (await post('/api/v1/unrevoke', { ids: [revocation.id] })).json()).toEqual({ removed: 1 });
    expect(await authorizeLink(leaked, '192.0.2.1')).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/tokengate_revocations_made_total\{kind="fp"\} [1-9]/);
    expect(metrics).toMatch(/tokengate_state_store_up\{store="file"\} 1/);
  });

  it('the curl of docs/revocation.md revokes a link as written', async () => {
    const link = (await (await post('/api/v1/sign', { path: '/vod/doc/a.mp4', ttlSec: 600 })).json()) as { url: string };
    expect(await authorizeLink(link, '192.0.2.1')).toBe(200);
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'sh',
        ['-c', docBlock('docs/revocation.md', 'revoke-curl')],
        {
          env: { ...process.env, TOKENGATE_ADMIN: `http://127.0.0.1:${admin}`, TOKENGATE_TOKEN: accessToken, LINK: link.url },
          timeout: 10_000,
        },
        (error, stdout, stderr) => (error ? reject(new Error(`curl: ${stderr || error.message}`)) : resolve(stdout)),
      ),
    );
    expect(JSON.parse(output)).toMatchObject({ revocation: { kind: 'fp', route: 'vod', note: 'posted on a forum' } });
    expect(await authorizeLink(link, '192.0.2.1')).toBe(403);
  });

  it('refuses a revoke request with every problem named by its field', async () => {
    const problems = async (body: unknown) => (await fieldProblems(await post('/api/v1/revoke', body))).join('\n');
    expect(await problems({})).toMatch(/^\(body\): needs exactly one of "link"/);
    expect(await problems({ key: 'k1' })).toMatch(/\/route: is required to revoke a key/);
    expect(await problems({ key: 'k9', route: 'vod' })).toMatch(/\/key: route "vod" has no key "k9"/);
    expect(await problems({ fp: 'AAAAAAAAAAAA', route: 'my' })).toMatch(/\/route: no route named "my" checks revocations/);
    expect(await problems({ prefix: '/vod/x/', issuedBeforeSec: 1, untilSec: 2 })).toMatch(/\/untilSec: lies in the past/);
    expect(await problems({ fp: 'AAAAAAAAAAAA', note: 'line\nbreak' })).toMatch(/\/note: must be at most 200 printable/);
    expect(await problems({ link: '/vod/a.mp4' })).toMatch(/\/link: is not a link the service allows now/);
    expect(await problems({ fp: 'AAAAAAAAAAAA', colour: 'red' })).toMatch(/\/colour: unknown field/);
  });

  it('serves docs/openapi.json at /api/v1/openapi.json without a token, ready for generators: operationIds, servers, typed enums', async () => {
    const shipped = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    const served = await api('/api/v1/openapi.json', { token: null });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('application/json');
    expect(await served.text()).toBe(shipped);
    const spec = JSON.parse(shipped) as { servers: unknown[]; paths: Record<string, Record<string, { operationId?: string }>> };
    expect(spec.servers.length).toBeGreaterThan(0);
    const ids = Object.values(spec.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    /** Every enum in the document, with the path to it; each must say its type. */
    const untyped: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (typeof node !== 'object' || node === null) return;
      if (!Array.isArray(node) && 'enum' in node && !('type' in node)) untyped.push(at);
      for (const [key, child] of Object.entries(node)) walk(child, `${at}/${key}`);
    };
    walk(spec, '');
    expect(untyped).toEqual([]);
  });

  it('answers as docs/openapi.json describes (every path and method, every response checked by a JSON Schema validator)', async () => {
    const spec = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as {
      paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: unknown }> }>>;
      components: { schemas: Record<string, { properties: Record<string, { enum?: unknown[] }> }> };
    };
    const ajv = new Ajv2020.default({ strict: false, validateFormats: false });
    ajv.addSchema({ ...spec, $id: 'openapi' });
    /** The schema of `status` for `method path`, resolved through components/responses. */
    const check = async (method: string, path: string, response: Response) => {
      const entry = spec.paths[path]![method]!.responses[String(response.status)];
      expect(entry, `${method} ${path} ${response.status} is not in the spec`).toBeDefined();
      const pointer =
        entry!.$ref?.replace('#/', 'openapi#/') ??
        `openapi#/paths/${path.replaceAll('/', '~1')}/${method}/responses/${response.status}`;
      // Answers are application/json, refusals application/problem+json (RFC 9457): each as the spec says.
      const type = response.headers.get('content-type')!.split(';')[0]!;
      expect(['application/json', 'application/problem+json']).toContain(type);
      const validate = ajv.getSchema(`${pointer}/content/${type.replace('/', '~1')}/schema`)!;
      expect(validate, `${method} ${path} ${response.status}: no schema for ${type}`).toBeDefined();
      const body = await response.json();
      expect(
        validate(body),
        `${method} ${path} ${response.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
      ).toBe(true);
    };
    // Every path and method of the spec exists.
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) {
        const response = await api(path, method === 'get' ? {} : { method: 'POST', body: '{}' });
        expect([404, 405]).not.toContain(response.status);
      }
    }
    await check('get', '/api/v1/routes', await api('/api/v1/routes'));
    await check(
      'post',
      '/api/v1/sign',
      await post('/api/v1/sign', { path: '/vod/spec.mp4', ttlSec: 60, clientIp: '192.0.2.0/24' }),
    );
    await check('post', '/api/v1/sign', await post('/api/v1/sign', { path: '/ck/spec.pdf', ttlSec: 60, notBeforeSec: 1 }));
    await check(
      'post',
      '/api/v1/sign',
      await post('/api/v1/sign', { path: '/tv/x/index.m3u8', ttlSec: 60, clientIp: '192.0.2.1' }),
    );
    await check('post', '/api/v1/sign', await post('/api/v1/sign', { ttlSec: 0 }));
    await check(
      'post',
      '/api/v1/sign',
      await api('/api/v1/sign', { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } }),
    );
    await check('post', '/api/v1/verify', await post('/api/v1/verify', { url: '/vod/a?tg=v1', clientIp: '192.0.2.1' }));
    await check('post', '/api/v1/verify', await post('/api/v1/verify', { url: '/nowhere' }));
    await check('post', '/api/v1/verify', await post('/api/v1/verify', {}));
    await check('get', '/api/v1/routes', await api('/api/v1/routes', { token: null }));
    // Another Host (DNS rebinding): fetch cannot send one, node:http can.
    const misdirected = await new Promise<Response>((resolve, reject) =>
      httpGet(
        { port: admin, path: '/api/v1/routes', headers: { Host: 'rebind.example', Authorization: `Bearer ${accessToken}` } },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () =>
            resolve(new Response(text, { status: res.statusCode!, headers: { 'Content-Type': res.headers['content-type']! } })),
          );
        },
      ).on('error', reject),
    );
    expect(misdirected.status).toBe(421);
    await check('get', '/api/v1/routes', misdirected);
    const made = await post('/api/v1/revoke', { fp: 'AAAAAAAAAAAA', route: 'vod', note: 'spec' });
    expect(made.status).toBe(201);
    const { revocation } = (await made.clone().json()) as { revocation: { id: string } };
    await check('post', '/api/v1/revoke', made);
    await check('post', '/api/v1/revoke', await post('/api/v1/revoke', { fp: 'AAAAAAAAAAAA', session: 'x' }));
    await check('get', '/api/v1/revocations', await api('/api/v1/revocations'));
    await check('post', '/api/v1/unrevoke', await post('/api/v1/unrevoke', { ids: [revocation.id] }));
    await check('post', '/api/v1/unrevoke', await post('/api/v1/unrevoke', { ids: [] }));
    // The request schemas name exactly the fields the service accepts.
    for (const [path, schema] of [
      ['/api/v1/sign', 'SignRequest'],
      ['/api/v1/verify', 'VerifyRequest'],
      ['/api/v1/revoke', 'RevokeRequest'],
      ['/api/v1/unrevoke', 'UnrevokeRequest'],
    ] as const) {
      const refused = (await fieldProblems(await post(path, { unknownField: 1 }))).join('\n');
      const known = /unknown field \(known: ([^)]*)\)/.exec(refused)![1]!.split(', ');
      expect(known.sort()).toEqual(Object.keys(spec.components.schemas[schema]!.properties).sort());
    }
    expect(spec.components.schemas.Verdict!.properties.verdict!.enum).toEqual(Object.values(Verdict));
  });

  it('locks an address out after 10 failed attempts, even with the right token (429, Retry-After)', async () => {
    // A service of its own: the address stays locked out for a minute afterwards.
    const { file } = configIn(
      { 'signing.token': `${accessToken}\n` },
      { signing: { tokenFile: 'signing.token' }, routes: [route('my', '/my/', 'azion', [{ id: 'a1', env: 'AZION_SECRET' }])] },
    );
    const own = await startService(['serve', '--config', file], { AZION_SECRET: 'azion-secret-for-tests' });
    try {
      const routes = (token: string) =>
        fetch(`http://127.0.0.1:${own.ports.get('admin')}/api/v1/routes`, { headers: { Authorization: `Bearer ${token}` } });
      for (let i = 0; i < 10; i++) expect((await routes(`wrong-${i}`)).status).toBe(403);
      const locked = await routes(accessToken);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(own.stderr()).not.toContain('wrong-3');
    } finally {
      await own.stop();
    }
  });
});

describe('signing API with a token made at start (randomToken)', () => {
  it('prints the token once on stderr, never in a log line, and it opens the API', async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        signing: { randomToken: true },
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'AZION_SECRET' }] }],
      }),
    );
    const random = await startService(['serve', '--config', file], { AZION_SECRET: 'azion-secret-for-tests' });
    try {
      await expect.poll(() => random.stderr()).toMatch(/Access token \(made for this run, never logged\): ([A-Za-z0-9_-]{32})/);
      const token = /never logged\): ([A-Za-z0-9_-]{32})/.exec(random.stderr())![1]!;
      expect(
        random
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('{') && line.includes(token)),
      ).toEqual([]);
      const port = random.ports.get('admin')!;
      const ok = await fetch(`http://127.0.0.1:${port}/api/v1/routes`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(random.stderr()).toContain(`Signing page: http://127.0.0.1:${port}/ (API: /api/v1/)`);
    } finally {
      await random.stop();
    }
  });

  it('is refused in the config when the admin listener is not on loopback', async () => {
    const { parseConfig } = await import('../../src/config/parse-config.js');
    const problems = parseConfig({
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      admin: { host: '0.0.0.0', port: 0 },
      signing: { randomToken: true },
      routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }] }],
    });
    expect(problems).toEqual([
      'signing.randomToken: needs a loopback admin host (127.0.0.1, ::1): elsewhere give tokenFile or tokenEnv',
    ]);
  });
});

describe('AccessGate', () => {
  it('compares digests of the tokens: any length is a plain "wrong", never an error; a lockout ends with its window', async () => {
    const { AccessGate } = await import('../../src/admin/access.js');
    const gate = new AccessGate(new Map([['admin', hash('sha256', 'the-right-token-0123', 'buffer')]]));
    for (const given of ['', 'x', 'the-right-token-012', 'the-right-token-01234', 'é'.repeat(300)]) {
      expect(gate.check(given, '192.0.2.1', 0)).toBe('wrong');
    }
    expect(gate.check('the-right-token-0123', '192.0.2.2', 0)).toEqual({ signer: 'admin' });
    for (let i = 0; i < 5; i++) gate.check(`wrong-${i}`, '192.0.2.1', 1);
    expect(gate.check('the-right-token-0123', '192.0.2.1', 2)).toBe('limited');
    expect(gate.retryAfterSec('192.0.2.1', 2)).toBe(60);
    expect(gate.check('the-right-token-0123', '192.0.2.1', 60_000)).toEqual({ signer: 'admin' });
  });

  it('counts different wrong tokens per client: the same one sent again is no new guess', async () => {
    const { AccessGate } = await import('../../src/admin/access.js');
    const gate = new AccessGate(new Map([['admin', hash('sha256', 'the-right-token-0123', 'buffer')]]));
    for (let i = 0; i < 50; i++) expect(gate.check('a-stale-token', 'loopback', i)).toBe('wrong');
    for (let i = 0; i < 8; i++) expect(gate.check(`guess-${i}`, 'loopback', 100)).toBe('wrong');
    expect(gate.check('the-right-token-0123', 'loopback', 101)).toEqual({ signer: 'admin' });
    expect(gate.check('guess-8', 'loopback', 102)).toBe('wrong');
    expect(gate.check('the-right-token-0123', 'loopback', 103)).toBe('limited');
    // Another client is counted apart.
    expect(gate.check('the-right-token-0123', '2001:db8::/64', 103)).toEqual({ signer: 'admin' });
  });
});

describe('signing access token from a file', () => {
  it('a reload (SIGHUP) reads the token file again: the new token opens the API, the old one no longer does', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'signing.token'), 'first-token-0123456789');
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        signing: { tokenFile: 'signing.token' },
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'AZION_SECRET' }] }],
      }),
    );
    const running = await startService(['serve', '--config', file], { AZION_SECRET: 'azion-secret-for-tests' });
    try {
      const port = running.ports.get('admin')!;
      const status = async (token: string) =>
        (await fetch(`http://127.0.0.1:${port}/api/v1/routes`, { headers: { Authorization: `Bearer ${token}` } })).status;
      expect(await status('first-token-0123456789')).toBe(200);
      writeFileSync(join(dir, 'signing.token'), 'second-token-0123456789');
      running.process.kill('SIGHUP');
      await expect.poll(() => running.stderr()).toMatch(/"msg":"config reloaded"/);
      expect(await status('second-token-0123456789')).toBe(200);
      expect(await status('first-token-0123456789')).toBe(403);
    } finally {
      await running.stop();
    }
  });
});

/**
 * The built service as a real process on loopback, driven with raw HTTP/1.1 as a proxy sends it:
 * every outcome, HEAD, a body, missing and repeated source headers, keepalive, shutdown.
 *
 * Over 250 lines: every outcome of one running process, started once for the file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authRequest, header, RawConnection, rawRequest } from '../helpers/raw-http.js';
import { uwsLoads, uwsOnly } from '../helpers/runtime.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const realIp = '203.0.113.7';
const published = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
let service: RunningService;
let compat: RunningService;
let configFile: string;
let authPort: number;

async function sign(args: string[]): Promise<string> {
  const result = await runCli(['sign', '--config', configFile, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

const ask = (uri: string, ip: string = realIp, method = 'GET', port = authPort) =>
  rawRequest(
    port,
    authRequest(
      [
        ['X-Original-URI', uri],
        ['X-Real-IP', ip],
      ],
      method,
    ),
  );

beforeAll(async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
  const base = {
    admin: { port: 0 },
    routes: [
      { name: 'vod', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] },
      { name: 'live', prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k1', env: 'TG_ALTA_KEY' }] },
    ],
  };
  configFile = writeConfig(dir, {
    ...base,
    listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', cacheMaxAgeSec: 120 }],
  });
  const compatFile = writeConfig(
    dir,
    { ...base, listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', expiredStatus: 403 }] },
    'compat.json',
  );
  const env = { TG_ALTA_KEY: 'secret' };
  process.env.TG_ALTA_KEY = 'secret';
  [service, compat] = await Promise.all([
    startService(['serve', '--config', configFile], env),
    startService(['serve', '--config', compatFile], env),
  ]);
  authPort = service.ports.get('auth')!;
});

afterAll(async () => {
  await Promise.all([service?.stop(), compat?.stop()]);
});

describe('auth listener answers (README "What the service answers")', () => {
  it('200 with X-Token-Status: valid, capped max-age and an empty body for a fresh Azion URL', async () => {
    const response = await ask(await sign(['--path', '/my/video.mp4', '--ttl', '3600']));
    expect(response.status).toBe(200);
    expect(header(response, 'x-token-status')).toBe('valid');
    expect(header(response, 'cache-control')).toBe('max-age=120');
    expect(response.body).toBe('');
  });

  it('max-age never exceeds the seconds the token has left', async () => {
    const url = await sign(['--path', '/my/short.mp4', '--ttl', '30']);
    const expiresSec = Number(new URL(url, 'http://x').searchParams.get('e'));
    // The service decides at some second between these two: max-age is what is left then, less 1.
    const before = Math.floor(Date.now() / 1000);
    const response = await ask(url);
    const after = Math.floor(Date.now() / 1000);
    expect(response.status).toBe(200);
    const maxAge = Number(/^max-age=(\d+)$/.exec(header(response, 'cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(expiresSec - after - 1);
    expect(maxAge).toBeLessThanOrEqual(expiresSec - before - 1);
  });

  it('200 for a fresh Alta URL from its client IP, 403 from another IP', async () => {
    const url = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', realIp]);
    expect((await ask(url)).status).toBe(200);
    expect((await ask(url, `::ffff:${realIp}`)).status).toBe(200);
    const other = await ask(url, '203.0.113.8');
    expect([other.status, header(other, 'x-token-status')]).toEqual([403, 'forged']);
  });

  it('410 expired for the published Azion example, with no-store', async () => {
    const response = await ask(published);
    expect([response.status, header(response, 'x-token-status'), header(response, 'cache-control')]).toEqual([
      410,
      'expired',
      'no-store',
    ]);
    expect(response.body).toBe('');
  });

  it('compatibility mode answers an expired token with 403 + X-Token-Status: expired', async () => {
    const response = await ask(published, realIp, 'GET', compat.ports.get('auth'));
    expect([response.status, header(response, 'x-token-status')]).toEqual([403, 'expired']);
  });

  it.each([
    ['forged signature', '/my/uri?st=m6WCATfRgS_5lcyChCPgrA&e=1470055000', 'forged'],
    ['forged time (never 410)', '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055001', 'forged'],
    ['non-canonical base64url', '/my/uri?st=m6WCATfRgS_5lcyChCPgrx&e=1470055000', 'malformed'],
    ['leading zero time', '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=0470055000', 'malformed'],
    ['repeated parameter', `${published}&e=1470055000`, 'malformed'],
    ['missing token', '/my/uri', 'missing'],
    ['path no route covers', '/elsewhere/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', 'no-route'],
    ['dot-segment', '/my/../my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', 'bad-uri'],
    ['encoded slash', '/my%2furi?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', 'bad-uri'],
    ['alta without token', '/tv/news/index.m3u8', 'missing'],
    ['alta wrong field count', '/tv/a?token=e8bff06f373694dda657e8417fe76f6b54b69807-a5cd6c00-1669890000', 'malformed'],
  ])('403 for %s', async (_name, uri, reason) => {
    const response = await ask(uri);
    expect([response.status, header(response, 'x-token-status'), header(response, 'cache-control')]).toEqual([
      403,
      reason,
      'no-store',
    ]);
  });

  it('HEAD gets the same answer as GET', async () => {
    const url = await sign(['--path', '/my/head.mp4', '--ttl', '600']);
    const conn = await RawConnection.open(authPort);
    conn.write(
      authRequest(
        [
          ['X-Original-URI', url],
          ['X-Real-IP', realIp],
        ],
        'HEAD',
      ),
    );
    const allowed = await conn.read();
    conn.write(
      authRequest(
        [
          ['X-Original-URI', published],
          ['X-Real-IP', realIp],
        ],
        'HEAD',
      ),
    );
    const expired = await conn.read();
    conn.destroy();
    expect([allowed.status, header(allowed, 'x-token-status')]).toEqual([200, 'valid']);
    expect([expired.status, header(expired, 'x-token-status')]).toEqual([410, 'expired']);
  });

  it('keepalive: many decisions on one connection', async () => {
    const url = await sign(['--path', '/my/keep.mp4', '--ttl', '600']);
    const conn = await RawConnection.open(authPort);
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      conn.write(
        authRequest([
          ['X-Original-URI', i % 2 ? url : published],
          ['X-Real-IP', realIp],
        ]),
      );
      statuses.push((await conn.read()).status);
    }
    expect(conn.closed).toBe(false);
    conn.destroy();
    expect(statuses).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 ? 200 : 410)));
  });

  it('a request that announces a body is answered at once and its connection closed', async () => {
    const url = await sign(['--path', '/my/post.mp4', '--ttl', '600']);
    const framings = [
      [['Content-Length', '100000'], 'part of the body'],
      [['Transfer-Encoding', 'chunked'], '5\r\nhello\r\n'],
    ] as const;
    for (const [framing, bodyStart] of framings) {
      const conn = await RawConnection.open(authPort);
      // A GET: nginx's auth subrequest is one, and it forwards a client's Content-Length unless told not to.
      conn.write(authRequest([['X-Original-URI', url], ['X-Real-IP', realIp], framing], 'GET') + bodyStart);
      // Answered, not held: waiting for the body would be no answer, or a 408 at the head limit.
      const response = await conn.read();
      expect([response.status, header(response, 'connection')]).toEqual([200, 'close']);
      expect(await conn.waitClosed()).toBe(true);
    }
  });

  it('broken chunked framing: one answer for the head, then the connection is closed, the body never read', async () => {
    const url = await sign(['--path', '/my/chunk.mp4', '--ttl', '600']);
    const conn = await RawConnection.open(authPort);
    conn.write(
      `${authRequest(
        [
          ['X-Original-URI', url],
          ['X-Real-IP', realIp],
          ['Transfer-Encoding', 'chunked'],
        ],
        'GET',
      )}not a chunk`,
    );
    // The head is genuine (the uws engine closes such a connection unanswered: test/service/conformance.test.ts).
    expect((await conn.read()).status).toBe(200);
    expect(await conn.waitClosed()).toBe(true);
    await expect(conn.read(100)).rejects.toThrow(/closed before a complete response; got ""/);
  });

  it('a smuggled second request inside an announced body is never answered', async () => {
    const conn = await RawConnection.open(authPort);
    const smuggled = authRequest([
      ['X-Original-URI', published],
      ['X-Real-IP', realIp],
    ]);
    conn.write(
      authRequest(
        [
          ['X-Original-URI', '/my/x'],
          ['X-Real-IP', realIp],
          ['Content-Length', String(smuggled.length)],
        ],
        'POST',
      ) + smuggled,
    );
    expect((await conn.read()).status).toBe(403);
    expect(await conn.waitClosed()).toBe(true);
    await expect(conn.read(300)).rejects.toThrow();
  });

  it.each([
    ['missing URI header', [['X-Real-IP', realIp]]],
    [
      'empty URI header',
      [
        ['X-Original-URI', ''],
        ['X-Real-IP', realIp],
      ],
    ],
    [
      'repeated URI header',
      [
        ['X-Original-URI', published],
        ['X-Original-URI', '/my/other'],
        ['X-Real-IP', realIp],
      ],
    ],
    ['missing client IP header', [['X-Original-URI', published]]],
    [
      'repeated client IP header',
      [
        ['X-Original-URI', published],
        ['X-Real-IP', realIp],
        ['X-Real-IP', '198.51.100.1'],
      ],
    ],
    [
      'unparseable client IP on an IP-bound route',
      [
        ['X-Original-URI', '/tv/a?token=x'],
        ['X-Real-IP', 'unix:'],
      ],
    ],
  ] as const)('503 with Retry-After for a %s (a proxy deployment error)', async (_name, headers) => {
    const response = await rawRequest(authPort, authRequest(headers));
    expect([response.status, header(response, 'retry-after'), header(response, 'x-token-status')]).toEqual([
      503,
      '1',
      'bad-source',
    ]);
  });

  it('the repeated-header check holds for a genuinely valid token too', async () => {
    const url = await sign(['--path', '/my/twice.mp4', '--ttl', '600']);
    const response = await rawRequest(
      authPort,
      authRequest([
        ['X-Original-URI', url],
        ['X-Original-URI', url],
        ['X-Real-IP', realIp],
      ]),
    );
    expect(response.status).toBe(503);
  });

  it('every method and every auth path gets a decision (the auth request’s own method is judged: GET and HEAD open a GET link)', async () => {
    const url = await sign(['--path', '/my/any.mp4', '--ttl', '600']);
    for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const text = authRequest(
        [
          ['X-Original-URI', url],
          ['X-Real-IP', realIp],
        ],
        method,
      ).replace('/auth', '/some/other/path');
      expect([method, (await rawRequest(authPort, text)).status]).toEqual([method, method === 'GET' ? 200 : 403]);
    }
  });

  it('logs neither tokens nor query strings', async () => {
    // A line logged after every earlier one (one thread writes them in order): then all are in.
    const reloads = service.stderr().split('"msg":"config reloaded"').length;
    service.process.kill('SIGHUP');
    await expect.poll(() => service.stderr().split('"msg":"config reloaded"').length).toBe(reloads + 1);
    expect(service.stderr()).not.toMatch(/st=|token=|m6WCATfRgS/);
  });
});

describe('admin listener', () => {
  it('serves /healthz and /readyz, and nothing of the auth contract', async () => {
    const port = service.ports.get('admin')!;
    const get = (path: string) => rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).body).toBe('ready\n');
    expect((await get('/my/uri')).status).toBe(404);
  });
});

describe('process lifecycle', () => {
  it('refuses a bad config with every problem and exit code 78', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      routes: [{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', file: 'missing.key' }] }],
    });
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/listeners\[0\]\.clientIpHeader: is required/);
  });

  it('refuses an unreadable key file at start with exit code 78', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', file: 'missing.key' }] }],
    });
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/routes\[0\]\.keys\[0\]: cannot read key file .*missing\.key \(ENOENT\)/);
  });

  it('exits 71 when a port is taken', async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ port: authPort, uriHeader: 'X-Original-URI' }],
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] }],
      }),
    );
    const result = await runCli(['serve', '--config', file], { K: 'some-long-enough-secret' });
    expect(result.code).toBe(71);
    expect(result.stderr).toMatch(/cannot listen/);
  });

  it.skipIf(!uwsLoads)(
    `exits 71, not an abort, when a gRPC port is taken after the worker threads started ${uwsOnly}`,
    async () => {
      const dir = tempDir();
      const file = writeConfig(
        dir,
        testConfig({
          workers: 2,
          engine: 'uws',
          listeners: [
            { port: 0, pathPrefix: '/tokengate' },
            { name: 'envoy-grpc', protocol: 'envoy-grpc', port: authPort },
          ],
          routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] }],
        }),
      );
      const result = await runCli(['serve', '--config', file], { K: 'some-long-enough-secret' });
      expect(result.code).toBe(71);
      expect(result.stderr).toMatch(/"level":"fatal".*envoy-grpc listener cannot listen/);
      expect(result.stderr).not.toMatch(/Assertion failed|uv_loop_close/);
    },
  );

  it('the embedded default config warns loudly about its public demo secrets', async () => {
    // Start on the default config but on free ports: the documented ports may be in use here.
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'demo', publicDemoSecret: 'mysecret' }] }],
      }),
    );
    const demo = await startService(['serve', '--config', file]);
    const code = await demo.stop();
    expect(demo.stderr()).toMatch(/WARNING: tokengate is running with the PUBLISHED DEMO SECRETS/);
    expect(code).toBe(0);
  });

  it('SIGTERM stops it with exit code 0', async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] }],
      }),
    );
    const running = await startService(['serve', '--config', file], { K: 'some-long-enough-secret' });
    expect(await running.stop('SIGTERM')).toBe(0);
  });
});

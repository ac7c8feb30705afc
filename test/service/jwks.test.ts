/**
 * A jwt route whose keys come from a JWKS URL, served here by a real HTTP server on loopback: the
 * service fetches it before it starts (workers compile the very bytes), picks up a rotated set in
 * the background (the new key opens, the removed one stops), keeps the last set when the URL
 * fails, never fetches for a token's unknown kid, and refuses to start when the set cannot be read.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uwsLoads } from '../helpers/runtime.js';
import { logLines, type RunningService, runCli, startService, waitForLog } from '../helpers/service-process.js';
import { configIn, route, uwsPool } from '../helpers/test-config.js';

const now = () => Math.floor(Date.now() / 1000);
const keyA = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const keyB = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' });
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
function token(kid: string, privateKey: KeyObject, path = '/media/'): string {
  const input = `${b64({ alg: 'ES256', kid })}.${b64({ sub: path, exp: now() + 600 })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** The JWKS endpoint: what it serves now, and how many times it was asked. */
const endpoint = { body: JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] }), status: 200, fetches: 0, endless: false };
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    endpoint.fetches++;
    if (endpoint.endless) {
      // A body without a length that never ends (64 KiB chunks), until the client goes away.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(65_536, 0x20);
      const more = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', more);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      more();
      return;
    }
    res.writeHead(endpoint.status, { 'content-type': 'application/json' }).end(endpoint.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const configWith = (refreshSec: number, extra: object = {}) =>
  configIn(
    {},
    {
      ...extra,
      routes: [
        route('media', '/media/', 'jwt', [], { options: { algorithms: ['ES256'], jwksUrl: url, jwksRefreshSec: refreshSec } }),
      ],
    },
  );

/** The auth listener's answer for `uri`: in the header form, or (uws workers) in the target form under /auth. */
async function statusOf(service: RunningService, uri: string, targetForm = false): Promise<number> {
  const port = service.ports.get('auth');
  const response = targetForm
    ? await fetch(`http://127.0.0.1:${port}/auth${uri}`)
    : await fetch(`http://127.0.0.1:${port}/`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': '192.0.2.1' } });
  return response.status;
}

const uwsWorkers = { ...uwsPool, listeners: [{ name: 'auth', port: 0, pathPrefix: '/auth' }] };

describe.each(uwsLoads ? [{}, uwsWorkers] : [{}])('keys from a JWKS URL (%o)', (engine) => {
  const status = (service: RunningService, uri: string) => statusOf(service, uri, 'workers' in engine);
  let service: RunningService;
  afterAll(() => service?.stop());

  it('fetched at start; rotated in the background; the last set kept while the URL fails', async () => {
    endpoint.body = JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] });
    endpoint.status = 200;
    service = await startService(['serve', '--config', configWith(1, engine).file]);
    expect(await status(service, `/media/v.mp4?token=${token('a', keyA.privateKey)}`)).toBe(200);
    expect(await status(service, `/media/v.mp4?token=${token('b', keyB.privateKey)}`)).toBe(403);
    // Rotation: b in, a out.
    endpoint.body = JSON.stringify({ keys: [jwk(keyB.publicKey, 'b')] });
    await expect
      .poll(() => status(service, `/media/v.mp4?token=${token('b', keyB.privateKey)}`), { timeout: 15_000, interval: 250 })
      .toBe(200);
    expect(await status(service, `/media/v.mp4?token=${token('a', keyA.privateKey)}`)).toBe(403);
    await waitForLog(service, (line) => line.msg === 'a route document changed; reloading the config');
    // The URL fails: the last set stays, and it is said.
    endpoint.status = 503;
    await waitForLog(service, (line) => line.msg === 'a route document could not be fetched again; the last one stays in use');
    expect(await status(service, `/media/v.mp4?token=${token('b', keyB.privateKey)}`)).toBe(200);
    endpoint.status = 200;
  });
});

describe('fetching', () => {
  const status = (service: RunningService, uri: string) => statusOf(service, uri);
  it('an unknown kid never makes the service fetch', async () => {
    endpoint.body = JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] });
    endpoint.status = 200;
    const service = await startService(['serve', '--config', configWith(3600).file]);
    try {
      const fetched = endpoint.fetches;
      for (let i = 0; i < 30; i++) {
        expect(await status(service, `/media/v.mp4?token=${token(`unknown-${i}`, keyB.privateKey)}`)).toBe(403);
      }
      expect(await status(service, `/media/v.mp4?token=${token('a', keyA.privateKey)}`)).toBe(200);
      expect(endpoint.fetches).toBe(fetched);
    } finally {
      await service.stop();
    }
  });

  it('a set that cannot be fetched or read stops the start and tokengate check, naming the URL', async () => {
    endpoint.status = 404;
    const { file } = configWith(60);
    const started = await runCli(['serve', '--config', file]);
    expect(started.code).not.toBe(0);
    expect(started.stderr).toContain(`routes[0].options.jwksUrl: cannot fetch ${url} (HTTP status 404)`);
    const checked = await runCli(['check', '--config', file]);
    expect(checked.code).toBe(78);
    expect(checked.stdout + checked.stderr).toContain('HTTP status 404');
    endpoint.status = 200;
    endpoint.body = JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'x' }] });
    const unusable = await runCli(['check', '--config', file]);
    expect(unusable.stdout + unusable.stderr).toContain("the JWKS at jwksUrl: no key of the set serves the route's algorithms");
    endpoint.body = JSON.stringify({ keys: [jwk(keyA.publicKey, 'a'), { kty: 'oct', k: 'c2VjcmV0', kid: 'x' }] });
    expect((await runCli(['check', '--config', file])).code).toBe(0);
  });

  it('an endless answer is cut at 1 MiB, not read into memory', async () => {
    endpoint.endless = true;
    try {
      const started = Date.now();
      const checked = await runCli(['check', '--config', configWith(60).file]);
      expect(checked.stdout + checked.stderr).toContain(`cannot fetch ${url} (larger than 1048576 bytes)`);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      endpoint.endless = false;
    }
  });

  it('a changed set that does not load is refused, and tried again at each refresh', async () => {
    endpoint.body = JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] });
    endpoint.status = 200;
    const service = await startService(['serve', '--config', configWith(1).file]);
    try {
      endpoint.body = JSON.stringify({ keys: [] });
      const rejected = () =>
        logLines(service.stderr()).filter((line) => line.msg === 'config reload rejected; the previous config keeps serving');
      await expect.poll(() => rejected().length, { timeout: 15_000, interval: 250 }).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(rejected()[0]!.problems)).toContain('a JWKS needs \\"keys\\"');
      expect(await statusOf(service, `/media/v.mp4?token=${token('a', keyA.privateKey)}`)).toBe(200);
      endpoint.body = JSON.stringify({ keys: [jwk(keyB.publicKey, 'b')] });
      await expect
        .poll(() => statusOf(service, `/media/v.mp4?token=${token('b', keyB.privateKey)}`), { timeout: 15_000, interval: 250 })
        .toBe(200);
      expect(await statusOf(service, `/media/v.mp4?token=${token('a', keyA.privateKey)}`)).toBe(403);
    } finally {
      await service.stop();
      endpoint.body = JSON.stringify({ keys: [jwk(keyA.publicKey, 'a')] });
    }
  });

  it('only https, or http to loopback', async () => {
    const { file } = configIn(
      {},
      { routes: [route('m', '/m/', 'jwt', [], { options: { algorithms: ['ES256'], jwksUrl: 'http://example.com/jwks' } })] },
    );
    const checked = await runCli(['check', '--config', file]);
    expect(checked.stdout + checked.stderr).toContain('routes[0].options.jwksUrl: must be an https:// URL');
  });
});

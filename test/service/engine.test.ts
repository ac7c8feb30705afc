/**
 * Engine selection: `engine`, `engineFallback`, and what happens when the native uWS module
 * cannot load. The load failure is real: the built service runs from a copy of the package
 * whose node_modules has every dependency but a uWebSockets.js binary that is not a shared object
 * (what a musl system or a newer Node ABI gives: dlopen refuses it).
 */
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { authStatus, formFor, listenerSources, rawRequest } from '../helpers/raw-http.js';
import { logLines, type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { headerListener } from '../helpers/test-config.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const expired = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
let dir: string;
let brokenCli: string;
const running: RunningService[] = [];

/** A config for `extra.engine` (the default, node, when unset), with the listener form that engine takes. */
const config = (extra: Record<string, unknown>) => ({
  admin: { port: 0 },
  listeners: [{ port: 0, ...listenerSources(formFor(extra.engine === 'uws' ? 'uws' : 'node')) }],
  routes: [{ name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] }],
  ...extra,
});

/** The package as installed, except that its uWS binary cannot load. */
function packageWithBrokenUws(root: string): string {
  cpSync(join(repo, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(repo, 'package.json'), join(root, 'package.json'));
  const modules = join(root, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if (entry !== 'uWebSockets.js') symlinkSync(join(repo, 'node_modules', entry), join(modules, entry));
  }
  const binaries = join(modules, 'uWebSockets.js', 'binaries');
  mkdirSync(binaries, { recursive: true });
  writeFileSync(join(modules, 'uWebSockets.js', 'package.json'), '{"name":"uWebSockets.js","version":"0.0.0"}\n');
  writeFileSync(
    join(binaries, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`),
    'not a shared object\n',
  );
  return join(root, 'dist', 'cli', 'main.js');
}

async function metricsText(service: RunningService): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
}

beforeAll(() => {
  dir = tempDir();
  writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
  brokenCli = packageWithBrokenUws(join(dir, 'package'));
});

afterAll(async () => {
  await Promise.all(running.map((service) => service.stop()));
});

describe('when the native uWS module cannot load', () => {
  it('engine "uws" refuses to start: exit 69 and one fatal line saying why and what to set', async () => {
    const file = writeConfig(dir, config({ engine: 'uws' }), 'default.json');
    const result = await runCli(['serve', '--config', file], {}, brokenCli);
    expect(result.code).toBe(69);
    const fatal = logLines(result.stderr).filter((line) => line.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toMatch(/native uWebSockets\.js engine cannot load on this machine/);
    expect(fatal[0]!.msg).toMatch(/"engineFallback": "node"/);
    expect(result.stderr).not.toMatch(/"msg":"listening"/);
  });

  it('with engineFallback "node": one warning line, the fallback metric, one thread, same verdicts', async () => {
    const file = writeConfig(dir, config({ engine: 'uws', engineFallback: 'node', workers: 4 }), 'fallback.json');
    const service = await startService(['serve', '--config', file], {}, 2, brokenCli);
    running.push(service);
    const lines = logLines(service.stderr());
    const fallback = lines.filter((line) => /engine fallback/.test(line.msg));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toMatchObject({ level: 'warn', engine: 'node', workers: 1 });
    expect(String(fallback[0]!.reason)).toMatch(/cannot load on this machine/);
    expect(lines.find((line) => line.msg === 'config loaded')).toMatchObject({ engine: 'node' });
    const metrics = await metricsText(service);
    expect(metrics).toMatch(/^tokengate_engine_fallback 1$/m);
    expect(metrics).toMatch(/^tokengate_engine_info\{engine="node"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_workers 1$/m);
    const port = service.ports.get('auth')!;
    const signed = await runCli(['sign', '--config', file, '--path', '/my/a.mp4', '--ttl', '600']);
    // The node engine serves the uws config as it is: the URI (and IP) from the request target.
    expect(await authStatus(port, signed.stdout.trim(), '192.0.2.1', 'target')).toBe(200);
    expect(await authStatus(port, expired, '192.0.2.1', 'target')).toBe(410);
    expect(await authStatus(port, '/my/a.mp4?st=AAAAAAAAAAAAAAAAAAAAAA&e=4102444800', '192.0.2.1', 'target')).toBe(403);
  });
});

/**
 * A HEAD answer read raw (a HEAD answer's Content-Length announces no body): its status and the
 * bytes between its head and the answer to a GET sent once the head is in, where a body would sit.
 */
function headOnly(port: number, path: string): Promise<{ status: number; afterHead: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let headEnd = -1;
    const socket = connect(port, '127.0.0.1', () => socket.write(`HEAD ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    const finish = (afterHead: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(text.slice(9, 12)), afterHead });
    };
    // Long: it only ends a wait that has already failed.
    const timer = setTimeout(() => finish(headEnd < 0 ? '(no complete head)' : '(no answer to the GET after it)'), 10_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (headEnd < 0) {
        headEnd = text.indexOf('\r\n\r\n');
        if (headEnd >= 0) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      }
      const next = headEnd < 0 ? -1 : text.indexOf('HTTP/1.1 ', headEnd + 4);
      if (next >= 0) finish(text.slice(headEnd + 4, next));
    });
    socket.on('close', () => finish(headEnd < 0 ? '(no complete head)' : text.slice(headEnd + 4)));
    socket.on('error', reject);
  });
}

describe('engine selection in config', () => {
  it('engine "node" serves on the main thread; the metrics name it and no fallback', async () => {
    const file = writeConfig(dir, config({ engine: 'node' }), 'node.json');
    const service = await startService(['serve', '--config', file]);
    running.push(service);
    const metrics = await metricsText(service);
    expect(metrics).toMatch(/^tokengate_engine_info\{engine="node"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_engine_fallback 0$/m);
    expect(metrics).toMatch(/^tokengate_workers 1$/m);
    expect(await authStatus(service.ports.get('auth')!, expired)).toBe(410);
    // Decisions are counted the same way as on uWS.
    expect(await metricsText(service)).toMatch(
      /^tokengate_requests_total\{listener="auth",route="files",scheme="azion",verdict="expired"\} 1$/m,
    );
  });

  it('the default engine is node, on one thread', async () => {
    const file = writeConfig(dir, config({}), 'default.json');
    const service = await startService(['serve', '--config', file]);
    running.push(service);
    const metrics = await metricsText(service);
    expect(metrics).toMatch(/^tokengate_engine_info\{engine="node"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_workers 1$/m);
    expect(metrics).toMatch(/^tokengate_engine_fallback 0$/m);
  });

  it('the default deployment never opens a path longer than the signed one by bytes 0x80-0xFF (the uws trimming)', async () => {
    const key = '6d'.repeat(32);
    writeFileSync(join(dir, 'ck.hex'), key);
    const file = writeConfig(
      dir,
      config({
        routes: [
          { name: 'ck', prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k', file: 'ck.hex' }], options: { carrier: 'cookie' } },
        ],
      }),
      'default-cookie.json',
    );
    const service = await startService(['serve', '--config', file]);
    running.push(service);
    const token = hmacSigner({ keyId: 'k', key, carrier: 'cookie' }).token({ path: '/ck/books/', expiresSec: expiresIn(600) });
    const cookie = `tg=${(token as { value: string }).value}`;
    const ask = async (uri: string) =>
      (
        await rawRequest(
          service.ports.get('auth')!,
          `GET /auth HTTP/1.1\r\nHost: t\r\nX-Original-URI: ${uri}\r\nX-Real-IP: 192.0.2.1\r\nCookie: ${cookie}\r\n\r\n`,
        )
      ).status;
    expect(await ask('/ck/books/')).toBe(200);
    // "/ck/books/本": the uws engine, the default before, handed over "/ck/books/" and allowed it.
    expect(await ask('/ck/books/\xe6\x9c\xac')).toBe(403);
    expect(await ask('\xff/ck/books/')).toBe(403);
  });

  it('engine "uws" serves a target-form listener, with no fallback', async () => {
    const file = writeConfig(dir, config({ engine: 'uws', workers: 1 }), 'uws.json');
    const service = await startService(['serve', '--config', file]);
    running.push(service);
    const metrics = await metricsText(service);
    expect(metrics).toMatch(/^tokengate_engine_info\{engine="uws"\} 1$/m);
    expect(metrics).toMatch(/^tokengate_engine_fallback 0$/m);
    expect(await authStatus(service.ports.get('auth')!, expired, '192.0.2.1', 'target')).toBe(410);
  });

  it.each(['uws', 'node'] as const)('the %s admin listener answers HEAD like GET, without a body', async (engine) => {
    const file = writeConfig(dir, config({ engine, workers: 1 }), `admin-${engine}.json`);
    const service = await startService(['serve', '--config', file]);
    running.push(service);
    const admin = service.ports.get('admin')!;
    for (const path of ['/healthz', '/readyz', '/metrics', '/nowhere']) {
      const get = await rawRequest(admin, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      const head = await headOnly(admin, path);
      expect([path, head.status, head.afterHead]).toEqual([path, get.status, '']);
    }
  });

  const headerListeners = { listeners: [headerListener] };
  it.each([
    [{ engine: 'uws', ...headerListeners }, 'listeners[0].uriHeader: cannot be used with engine "uws"'],
    [{ engine: 'uws', ...headerListeners }, 'listeners[0].clientIpHeader: cannot be used with engine "uws"'],
    [
      {
        engine: 'uws',
        routes: [{ prefix: '/c/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], options: { carrier: 'cookie' } }],
      },
      'routes[0].options: this route reads the request header(s) cookie (a token in a cookie or header, or a host), which engine "uws" cannot read safely',
    ],
    [
      {
        engine: 'uws',
        routes: [
          { prefix: '/c/', scheme: 'google-cdn', keys: [{ id: 'k', env: 'K' }], options: { baseUrl: 'https://cdn.example.com' } },
        ],
      },
      'use engine "node", or "cookies": false and no hostHeader',
    ],
    [{ listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpInPath: true }] }, 'clientIpInPath: needs pathPrefix'],
    [{ listeners: [{ port: 0, pathPrefix: '/t', clientIpInPath: true, clientIpHeader: 'X-Real-IP' }] }, 'two client IP sources'],
  ])('the uws engine reads no signed value from a header: %j refused with exit 78', async (extra, problem) => {
    const file = writeConfig(dir, config(extra), 'uws-headers.json');
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(problem);
  });

  it.each([
    [{ engine: 'nginx' }, 'config.engine: must be "uws" or "node"'],
    [{ engineFallback: 'uws' }, 'config.engineFallback: must be "node" or "none"'],
    // Where node:http cannot share a port (this file runs on Node 20 only): test/service/node-workers.test.ts.
    [{ engine: 'node', workers: 2 }, 'config.workers: 2 needs the node engine to share a port between threads'],
  ])('refuses %j with exit 78', async (extra, problem) => {
    const file = writeConfig(dir, config(extra), 'bad.json');
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(problem);
  });
});

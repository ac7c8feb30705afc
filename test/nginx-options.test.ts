/**
 * The optional nginx shapes, each with real nginx and the real service: the auth-answer cache
 * and the cookie line of nginx.example.conf, bunny's path tokens, and the ingress-nginx shape
 * with tokengate's "403 + expired" mode.
 */

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getSignedCookies } from '@aws-sdk/cloudfront-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../src/hmac-signer.js';
import { docBlock } from './helpers/doc-blocks.js';
import { freePort, type RunningNginx, renderExampleConfig, startNginx, withTestPaths } from './helpers/nginx.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from './helpers/service-process.js';

const published = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const hmacKey = '5a'.repeat(32);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  dir: string;
  configFile: string;
  tokengate: RunningService;
  nginx: RunningNginx;
  base: string;
}

const azionRoute = { name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] };

async function setup(
  listener: Record<string, unknown>,
  nginxConfig: (paths: { listenPort: number; tokengatePort: number; prefix: string; root: string }) => string,
  route: Record<string, unknown> = azionRoute,
  files: (dir: string) => void = () => {},
): Promise<Setup> {
  const dir = tempDir();
  const root = join(dir, 'root');
  mkdirSync(join(root, 'my'), { recursive: true });
  writeFileSync(join(root, 'my', 'uri'), 'protected bytes\n');
  writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
  writeFileSync(join(dir, 'hmac.key'), `${hmacKey}\n`);
  files(dir);
  chmodSync(dir, 0o755); // nginx workers run unprivileged: they must reach the origin files
  const tokengatePort = await freePort();
  const configFile = writeConfig(dir, {
    listeners: [{ port: tokengatePort, ...listener }],
    admin: { port: 0 },
    routes: [route],
  });
  const tokengate = await startService(['serve', '--config', configFile]);
  const listenPort = await freePort();
  const prefix = join(dir, 'nginx');
  const nginx = await startNginx(nginxConfig({ listenPort, tokengatePort, prefix, root }), prefix, listenPort);
  return { dir, configFile, tokengate, nginx, base: `http://127.0.0.1:${listenPort}` };
}

async function sign(s: Setup, ttl: number, path = '/my/uri'): Promise<string> {
  const result = await runCli(['sign', '--config', s.configFile, '--path', path, '--ttl', String(ttl)]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

describe('option auth-cache: nginx caches allows, never past the token, never denials', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup({ uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }, (paths) =>
      renderExampleConfig(paths, ['auth-cache']),
    );
  });
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it('serves a cached allow while tokengate is away, but not after the token ends; 403 and 410 are never cached', async () => {
    const get = (path: string) => fetch(`${s.base}${path}`);
    const url = await sign(s, 4);
    const expiresSec = Number(/e=(\d{10})$/.exec(url)![1]);
    const forged = url.replace(/e=(\d{10})$/, (_m, e: string) => `e=${Number(e) + 1}`);
    expect((await get(url)).status).toBe(200);
    expect((await get(published)).status).toBe(410);
    expect((await get(forged)).status).toBe(403);

    await s.tokengate.stop();
    const cached = await get(url);
    expect([cached.status, await cached.text()]).toEqual([200, 'protected bytes\n']);
    expect((await get(published)).status).toBe(503);
    expect((await get(forged)).status).toBe(503);

    await sleep(Math.max(0, (expiresSec + 1) * 1000 - Date.now()) + 200);
    expect((await get(url)).status).toBe(503);
    s.tokengate = await startService(['serve', '--config', s.configFile]);
    expect((await get(url)).status).toBe(410);
  });
});

describe('option auth-cache on a route whose token travels in a cookie or header', () => {
  let s: Setup;
  const carriers = ['cookie', 'header'] as const;
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it.each(carriers)('%s: a cached allow is never served to a request without the token', async (carrier) => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
    // What README tells a cookie or header route to add to the auth location.
    const forward =
      carrier === 'cookie' ? 'proxy_set_header Cookie $http_cookie;' : 'proxy_set_header X-Tokengate $http_x_tokengate;';
    s = await setup(
      { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' },
      (paths) =>
        renderExampleConfig(paths, ['auth-cache']).replace(
          'proxy_set_header X-Real-IP $remote_addr;',
          `proxy_set_header X-Real-IP $remote_addr;\n            ${forward}`,
        ),
      { name: 'files', prefix: '/my/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.key' }], options: { carrier } },
    );
    const signed = hmacSigner({ keyId: 'k', key: hmacKey, carrier }).token({ path: '/my/uri', expiresSec: expiresIn(600) });
    if (signed.carrier === 'query') throw new Error('expected a cookie or header token');
    const withToken = {
      [carrier === 'cookie' ? 'Cookie' : 'X-Tokengate']: carrier === 'cookie' ? `tg=${signed.value}` : signed.value,
    };
    const get = (headers: Record<string, string> = {}) => fetch(`${s.base}/my/uri`, { headers });
    expect((await get(withToken)).status).toBe(200);
    expect((await get(withToken)).status).toBe(200); // from the cache by now
    expect((await get()).status).toBe(403);
    expect((await get({ [Object.keys(withToken)[0]!]: 'tg=v1~k=k~e=4102444800~m=AAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(403);
  });
});

describe("option cookies: CloudFront signed cookies (made by AWS's SDK) through real nginx", () => {
  let s: Setup;
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const cookieHeader = (cookies: object) =>
    Object.entries(cookies)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
  const signed = (resource: string, ttl: number, extra: Record<string, unknown> = {}) =>
    getSignedCookies({
      keyPairId: 'KNGINX',
      privateKey: keys.privateKey,
      policy: JSON.stringify({
        Statement: [
          {
            Resource: `https://cdn.example.com${resource}`,
            Condition: { DateLessThan: { 'AWS:EpochTime': Math.floor(Date.now() / 1000) + ttl } },
          },
        ],
      }),
      ...extra,
    });
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it.each([
    ['headers', { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
    ['target form', { pathPrefix: '/tokengate', clientIpInPath: true }],
  ])('%s listener: with the documented line the cookies open the file; without it nothing does', async (_name, listener) => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
    const route = {
      name: 'cdn',
      prefix: '/my/',
      scheme: 'cloudfront',
      keys: [{ id: 'KNGINX', file: 'cloudfront.pem' }],
      options: { baseUrl: 'https://cdn.example.com' },
    };
    const write = (dir: string) => writeFileSync(join(dir, 'cloudfront.pem'), keys.publicKey);
    s = await setup(listener, (paths) => renderExampleConfig(paths, ['cookies']), route, write);
    const get = (cookie?: string) => fetch(`${s.base}/my/uri`, { headers: cookie === undefined ? {} : { Cookie: cookie } });
    const valid = await get(`theme=dark; ${cookieHeader(signed('/my/*', 600))}`);
    expect([valid.status, await valid.text()]).toEqual([200, 'protected bytes\n']);
    expect((await get(cookieHeader(signed('/my/uri', 600, { algorithm: 'SHA256' })))).status).toBe(200);
    expect((await get()).status).toBe(403);
    expect((await get(cookieHeader(signed('/other/*', 600)))).status).toBe(403);
    const forged = signed('/my/*', 600);
    const signature = forged['CloudFront-Signature'];
    forged['CloudFront-Signature'] = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect((await get(cookieHeader(forged))).status).toBe(403);
    expect((await get(cookieHeader(signed('/my/*', -5)))).status).toBe(410);
    // The shipped config without the line: tokengate never sees the cookies.
    await s.nginx.stop();
    const port = Number(new URL(s.base).port);
    const prefix = join(s.dir, 'nginx-plain');
    const tokengatePort = Number(JSON.parse(readFileSync(s.configFile, 'utf8')).listeners[0].port);
    s.nginx = await startNginx(
      renderExampleConfig({ listenPort: port, tokengatePort, prefix, root: join(s.dir, 'root') }),
      prefix,
      port,
    );
    expect((await get(cookieHeader(signed('/my/*', 600)))).status).toBe(403);
  });
});

describe('ingress-nginx shape: "403 + X-Token-Status: expired" compatibility mode', () => {
  let s: Setup;
  beforeAll(async () => {
    const template = readFileSync(new URL('./nginx/ingress-nginx-shape.conf', import.meta.url), 'utf8');
    // The listener exactly as deploy/ingress-nginx ships it (ports and host aside).
    const shipped = JSON.parse(readFileSync(new URL('../deploy/ingress-nginx/config.json', import.meta.url), 'utf8'));
    const { name: _name, host: _host, port: _port, ...listener } = shipped.listeners[0];
    expect(listener).toEqual({ uriHeader: 'X-Auth-Request-Redirect', clientIpHeader: 'X-Real-IP', expiredStatus: 403 });
    // docs/nginx.md shows the same listener.
    const { name: _n, port: _p, ...documented } = JSON.parse(docBlock('docs/nginx.md', 'ingress-listener'));
    expect(documented).toEqual(listener);
    s = await setup(listener, (paths) =>
      withTestPaths(
        template
          .replaceAll('__LISTEN__', `127.0.0.1:${paths.listenPort}`)
          .replaceAll('__TOKENGATE__', `127.0.0.1:${paths.tokengatePort}`)
          .replaceAll('__ROOT__', paths.root),
        paths.prefix,
      ),
    );
  });
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it('valid 200, forged 403, expired 403 (never a 500), and no "unexpected status" in the error log', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${s.base}${path}`, { headers });
    const url = await sign(s, 600);
    const valid = await get(url);
    expect([valid.status, await valid.text()]).toEqual([200, 'protected bytes\n']);
    expect((await get(url.replace('st=', 'st=A').replace(/st=A(.)/, 'st=A'))).status).toBe(403);
    expect((await get(published)).status).toBe(403);
    expect(s.nginx.errorLog()).not.toMatch(/auth request unexpected status/);
    // Client headers reach the auth service here, but never the two tokengate reads.
    expect((await get('/my/uri', { 'X-Auth-Request-Redirect': url, 'X-Real-IP': '198.51.100.1' })).status).toBe(403);
    expect((await get(published, { 'X-Auth-Request-Redirect': url })).status).toBe(403);
    // ingress-nginx neither sets nor removes X-Original-URI: a listener reading it (the base
    // Kubernetes config) would check the client's choice here and allow the unsigned /my/uri.
    expect((await get('/my/uri', { 'X-Original-URI': url })).status).toBe(403);
  });
});

describe('option bunny-path: bunny.net path tokens through real nginx', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(
      { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' },
      (paths) => renderExampleConfig(paths, ['bunny-path']),
      {
        name: 'zone',
        prefix: '/my/',
        scheme: 'bunny',
        keys: [{ id: 'k', file: 'azion.key' }],
      },
    );
  });
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it('the file under the token segment is served for a genuine token, never for a forged one or none', async () => {
    const query = (await sign(s, 600)).split('?')[1]!;
    const pathForm = (q: string) => `${s.base}/bcdn_token=${q.replace(/^token=/, '')}/my/uri`;
    const valid = await fetch(pathForm(query));
    expect([valid.status, await valid.text()]).toEqual([200, 'protected bytes\n']);
    const forged = query.replace(/HS256-(.)/, (_m, c: string) => `HS256-${c === 'A' ? 'B' : 'A'}`);
    expect((await fetch(pathForm(forged))).status).toBe(403);
    expect((await fetch(`${s.base}/bcdn_token=/my/uri`)).status).toBe(403);
    expect((await fetch(`${s.base}/my/uri`)).status).toBe(403);
    // A dot-segment behind the token segment: nginx would normalise it away; tokengate refuses it.
    const sneaky = await rawGet(s, `/bcdn_token=${query.replace(/^token=/, '')}/my/../my/uri`);
    expect(sneaky).toBe(403);
  });
});

/** A GET with the target exactly as given (fetch would resolve dot-segments first). */
async function rawGet(s: Setup, target: string): Promise<number> {
  const { rawRequest } = await import('./helpers/raw-http.js');
  const port = Number(new URL(s.base).port);
  return (await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: files\r\nConnection: close\r\n\r\n`)).status;
}

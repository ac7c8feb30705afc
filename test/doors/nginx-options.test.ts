/**
 * The optional nginx shapes, each with real nginx and the real service: the auth-answer cache
 * and the cookie line of nginx.example.conf, bunny's path tokens, and the ingress-nginx shape
 * with tokengate's "403 + expired" mode, alone and behind a load balancer.
 */

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { getSignedCookies } from '@aws-sdk/cloudfront-signer';
import jsonwebtoken from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { bunnySampleUrl } from '../helpers/bunny-sample.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { freePort, type RunningNginx, renderExampleConfig, startNginx, withTestPaths } from '../helpers/nginx.js';
import { parseResponses } from '../helpers/raw-http.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

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
  extraConfig: Record<string, unknown> = {},
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
  const configFile = writeConfig(
    dir,
    testConfig({
      listeners: [{ port: tokengatePort, ...listener }],
      routes: [route],
      ...extraConfig,
    }),
  );
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
    s = await setup({ uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method' }, (paths) =>
      renderExampleConfig(paths, ['auth-cache']),
    );
  });
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it('a cached allow for GET never answers another method: the method is in the key', async () => {
    const url = await sign(s, 600);
    expect((await fetch(`${s.base}${url}`)).status).toBe(200);
    expect((await fetch(`${s.base}${url}`)).status).toBe(200); // from the cache by now
    for (const method of ['DELETE', 'POST'])
      expect([method, (await fetch(`${s.base}${url}`, { method })).status]).toEqual([method, 403]);
  });

  it('serves a cached allow while tokengate is away, but not after the token ends; 403 and 410 are never cached', async () => {
    const get = (path: string) => fetch(`${s.base}${path}`);
    // 10 s: nginx keeps the allow for the token's remaining life less 1 s, and it must still be
    // cached after two more requests and tokengate's stop (0.7 s idle, more on a busy machine).
    const url = await sign(s, 10);
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

describe('revocation through real nginx: 403 at once, and through the auth cache no later than cacheMaxAgeSec', () => {
  const setups: Setup[] = [];
  afterAll(async () => {
    await Promise.all(setups.flatMap((s) => [s.nginx.stop(), s.tokengate.stop()]));
  });
  const revocable = { ...azionRoute, name: 'vod', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.key' }], revocation: true };
  const link = (ttlSec: number) =>
    hmacSigner({ keyId: 'k', key: hmacKey }).sign({ path: '/my/uri', expiresSec: expiresIn(ttlSec) }) as string;

  it.each([
    ['without the auth cache', [] as string[], 0],
    ['with the auth cache (cacheMaxAgeSec 2)', ['auth-cache'], 2],
  ] as const)('%s', async (_, options, cacheMaxAgeSec) => {
    const s = await setup(
      { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method', cacheMaxAgeSec },
      (paths) => renderExampleConfig(paths, [...options]),
      revocable,
    );
    setups.push(s);
    const url = link(600);
    const other = link(900);
    expect((await fetch(`${s.base}${url}`)).status).toBe(200);
    expect((await fetch(`${s.base}${url}`)).status).toBe(200);
    const revoked = await runCli(['revoke', '--config', s.configFile, '--link', url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const at = Date.now();
    // tokengate applies the file within a second; a cached allow lives at most cacheMaxAgeSec more.
    await expect
      .poll(async () => (await fetch(`${s.base}${url}`)).status, { interval: 100, timeout: 1000 + cacheMaxAgeSec * 1000 + 1500 })
      .toBe(403);
    expect(Date.now() - at).toBeLessThan(1000 + cacheMaxAgeSec * 1000 + 1500);
    expect(s.tokengate.stderr()).toMatch(/"msg":"revocations: list loaded"/);
    // Another link of the route still opens.
    expect((await fetch(`${s.base}${other}`)).status).toBe(200);
  });
});

describe('limits through real nginx: every use counted even with the auth cache on; over-limit 403, store-down 503', () => {
  const setups: Setup[] = [];
  afterAll(async () => {
    await Promise.all(setups.flatMap((s) => [s.nginx.stop(), s.tokengate.stop()]));
  });
  const limited = { ...azionRoute, name: 'dl', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.key' }], limits: { uses: 2 } };
  const link = (ttlSec = 600) =>
    hmacSigner({ keyId: 'k', key: hmacKey }).sign({ path: '/my/uri', expiresSec: expiresIn(ttlSec) }) as string;
  const listener = { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method' };

  it('uses: two downloads, then 403 (the allows are no-store, so the auth cache never answers for tokengate)', async () => {
    const s = await setup(listener, (paths) => renderExampleConfig(paths, ['auth-cache']), limited);
    setups.push(s);
    const url = link();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${s.base}${url}`)).status);
    expect(statuses).toEqual([200, 200, 403, 403]);
    // Another link (another end: another token) has uses of its own.
    expect(await (await fetch(`${s.base}${link(900)}`)).text()).toBe('protected bytes\n');
  });

  it('counters out of reach (Redis not listening): clients get 503 with Retry-After, never the file', async () => {
    const closedPort = await freePort();
    const state = { store: 'redis', redis: { url: `redis://127.0.0.1:${closedPort}` } };
    const s = await setup(
      listener,
      (paths) => renderExampleConfig(paths, []),
      limited,
      () => {},
      { state },
    );
    setups.push(s);
    const response = await fetch(`${s.base}${link()}`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.text()).not.toContain('protected bytes');
  });
});

describe('option auth-cache on a route whose token travels in a cookie or header', () => {
  let s: Setup;
  const carriers = ['cookie', 'header', 'bearer'] as const;
  afterAll(async () => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
  });

  it.each(carriers)('%s: a cached allow is never served to a request without the token', async (carrier) => {
    await Promise.all([s?.nginx.stop(), s?.tokengate.stop()]);
    // What README tells a cookie or header route to add to the auth location; bearer: the example's #[bearer] line.
    const forward =
      carrier === 'cookie' ? 'proxy_set_header Cookie $http_cookie;' : 'proxy_set_header X-Tokengate $http_x_tokengate;';
    s = await setup(
      { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' },
      (paths) =>
        carrier === 'bearer'
          ? renderExampleConfig(paths, ['auth-cache', 'bearer'])
          : renderExampleConfig(paths, ['auth-cache']).replace(
              'proxy_set_header X-Real-IP $remote_addr;',
              `proxy_set_header X-Real-IP $remote_addr;\n            ${forward}`,
            ),
      carrier === 'bearer'
        ? {
            name: 'files',
            prefix: '/my/',
            scheme: 'jwt',
            keys: [{ id: 'k', file: 'hmac.key', encoding: 'hex' }],
            options: { algorithms: ['HS256'], carrier: 'bearer' },
          }
        : { name: 'files', prefix: '/my/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.key' }], options: { carrier } },
    );
    let withToken: Record<string, string>;
    if (carrier === 'bearer') {
      withToken = {
        Authorization: `Bearer ${jsonwebtoken.sign({ sub: '/my/uri', exp: expiresIn(600) }, Buffer.from(hmacKey, 'hex'), { algorithm: 'HS256' })}`,
      };
    } else {
      const signed = hmacSigner({ keyId: 'k', key: hmacKey, carrier }).token({ path: '/my/uri', expiresSec: expiresIn(600) });
      if (signed.carrier === 'query') throw new Error('expected a cookie or header token');
      withToken = {
        [carrier === 'cookie' ? 'Cookie' : 'X-Tokengate']: carrier === 'cookie' ? `tg=${signed.value}` : signed.value,
      };
    }
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
    // The listener exactly as deploy/ingress-nginx ships it (ports and host aside).
    const shipped = JSON.parse(readFileSync(new URL('../../deploy/ingress-nginx/config.json', import.meta.url), 'utf8'));
    const { name: _name, host: _host, port: _port, ...listener } = shipped.listeners[0];
    expect(listener).toEqual({
      uriHeader: 'X-Auth-Request-Redirect',
      clientIpHeader: 'X-Real-IP',
      methodHeader: 'X-Original-Method',
      expiredStatus: 403,
    });
    // docs/nginx.md shows the same listener.
    const { name: _n, port: _p, ...documented } = JSON.parse(docBlock('docs/nginx.md', 'ingress-listener'));
    expect(documented).toEqual(listener);
    s = await setup(listener, (paths) => ingressShape(paths, {}));
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

  it('the method is X-Original-Method, which ingress-nginx sets over a client copy: a GET link opens GET and HEAD only', async () => {
    const url = await sign(s, 600);
    const ask = (method: string, headers: Record<string, string> = {}) => fetch(`${s.base}${url}`, { method, headers });
    expect((await ask('HEAD')).status).toBe(200);
    for (const method of ['DELETE', 'PUT', 'POST']) {
      expect([method, (await ask(method)).status]).toEqual([method, 403]);
      expect([method, (await ask(method, { 'X-Original-Method': 'GET' })).status]).toEqual([method, 403]);
    }
  });
});

/** The controller settings deploy/ingress-nginx ships for a load balancer in front (controller-config.yaml). */
const controllerConfig = (): Record<string, string> =>
  parse(readFileSync(new URL('../../deploy/ingress-nginx/controller-config.yaml', import.meta.url), 'utf8')).data;

/**
 * The ingress-nginx shape for these controller ConfigMap keys: the realip lines and the listen
 * option its nginx.tmpl writes for them (X-Forwarded-For and the PROXY protocol together, a
 * chain of proxies, is not rendered here).
 */
function ingressShape(
  paths: { listenPort: number; tokengatePort: number; prefix: string; root: string },
  keys: Record<string, string>,
) {
  const forwarded = keys['use-forwarded-headers'] === 'true' || keys['enable-real-ip'] === 'true';
  const proxyProtocol = keys['use-proxy-protocol'] === 'true';
  if (forwarded && proxyProtocol) throw new Error('X-Forwarded-For behind the PROXY protocol is not rendered here');
  const trusted = (keys['proxy-real-ip-cidr'] ?? '0.0.0.0/0').split(',').map((cidr) => cidr.trim());
  const realIp =
    forwarded || proxyProtocol
      ? [`real_ip_header ${proxyProtocol ? 'proxy_protocol' : 'X-Forwarded-For'};`, 'real_ip_recursive on;']
          .concat(trusted.map((cidr) => `set_real_ip_from ${cidr};`))
          .join('\n    ')
      : '';
  const template = readFileSync(new URL('../nginx/ingress-nginx-shape.conf', import.meta.url), 'utf8');
  return withTestPaths(
    template
      .replaceAll('__LISTEN__', `127.0.0.1:${paths.listenPort}${proxyProtocol ? ' proxy_protocol' : ''}`)
      .replaceAll('__TOKENGATE__', `127.0.0.1:${paths.tokengatePort}`)
      .replaceAll('__ROOT__', paths.root)
      .replaceAll('__REALIP__', realIp),
    paths.prefix,
  );
}

/** One request on a connection from the loopback address `from`, after `proxyLine` (a PROXY protocol v1 header) if given. */
function requestFrom(from: string, port: number, request: string, proxyLine = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from }, () => socket.write(proxyLine + request, 'latin1'));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    // Long: it only ends a wait that has already failed (nginx answers these at once).
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer within 10 s: ${JSON.stringify(received)}`)));
    socket.on('close', () => resolve(parseResponses(received)[0]?.status ?? -1));
  });
}

describe('ingress-nginx behind a load balancer: only the balancer names the client (deploy/ingress-nginx/controller-config.yaml)', () => {
  // Loopback addresses play the parts: the test's load balancer, a client that reaches the
  // controller directly, and the address a token is bound to that the client claims.
  const balancer = '127.0.0.3';
  const client = '127.0.0.2';
  const claimed = '127.0.0.1';
  const far = '198.51.100.9';
  let dir: string;
  let tokengate: RunningService;
  const proxies: RunningNginx[] = [];
  const key = Buffer.from(hmacKey, 'hex');
  const linkFor = (ip: string) =>
    hmacSigner({ keyId: 'k', key }).sign({ path: '/my/uri', expiresSec: expiresIn(600), clientIp: ip });
  const get = (link: string, headers = '') => `GET ${link} HTTP/1.1\r\nHost: files\r\n${headers}Connection: close\r\n\r\n`;
  /** An nginx in the ingress-nginx shape for these controller keys, in front of the shared tokengate. */
  async function shapeWith(keys: Record<string, string>): Promise<number> {
    const listenPort = await freePort();
    const prefix = join(dir, `nginx-${proxies.length}`);
    const paths = { listenPort, tokengatePort: tokengate.ports.get('auth')!, prefix, root: join(dir, 'root') };
    proxies.push(await startNginx(ingressShape(paths, keys), prefix, listenPort));
    return listenPort;
  }
  beforeAll(async () => {
    const shipped = JSON.parse(readFileSync(new URL('../../deploy/ingress-nginx/config.json', import.meta.url), 'utf8'));
    const { name: _name, host: _host, port: _port, ...listener } = shipped.listeners[0];
    const route = { name: 'files', prefix: '/my/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.key' }] };
    const s = await setup(listener, (paths) => ingressShape(paths, {}), route);
    dir = s.dir;
    tokengate = s.tokengate;
    proxies.push(s.nginx);
  });
  afterAll(async () => {
    await Promise.all([...proxies.map((nginx) => nginx.stop()), tokengate?.stop()]);
  });

  it('contrast: use-forwarded-headers with the default proxy-real-ip-cidr lets a client name the IP its link is bound to', async () => {
    const port = await shapeWith({ 'use-forwarded-headers': 'true' });
    expect(await requestFrom(client, port, get(linkFor(claimed)))).toBe(403);
    expect(await requestFrom(client, port, get(linkFor(claimed), `X-Forwarded-For: ${claimed}\r\n`))).toBe(200);
  });

  it('as shipped (the PROXY protocol, proxy-real-ip-cidr the balancer): the balancer names the client; a client’s PROXY line or X-Forwarded-For changes nothing', async () => {
    const keys = controllerConfig();
    expect(keys).toEqual({ 'use-proxy-protocol': 'true', 'proxy-real-ip-cidr': '192.0.2.0/24' });
    const port = await shapeWith({ ...keys, 'proxy-real-ip-cidr': `${balancer}/32` });
    const proxyLine = (source: string) => `PROXY TCP4 ${source} 127.0.0.1 40000 80\r\n`;
    expect(await requestFrom(balancer, port, get(linkFor(far)), proxyLine(far))).toBe(200);
    expect(await requestFrom(balancer, port, get(linkFor(claimed), `X-Forwarded-For: ${claimed}\r\n`), proxyLine(far))).toBe(403);
    expect(await requestFrom(client, port, get(linkFor(client)), proxyLine(client))).toBe(200);
    expect(await requestFrom(client, port, get(linkFor(claimed)), proxyLine(claimed))).toBe(403);
    expect(await requestFrom(client, port, get(linkFor(claimed), `X-Forwarded-For: ${claimed}\r\n`), proxyLine(client))).toBe(
      403,
    );
  });

  it('the alternative for an HTTP balancer (use-forwarded-headers, proxy-real-ip-cidr the balancer): only the address the balancer appended counts', async () => {
    const { 'use-proxy-protocol': _pp, ...keys } = controllerConfig();
    const port = await shapeWith({ ...keys, 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': `${balancer}/32` });
    // The balancer appends the address it saw to what the client sent.
    expect(await requestFrom(balancer, port, get(linkFor(far), `X-Forwarded-For: ${claimed}, ${far}\r\n`))).toBe(200);
    expect(await requestFrom(balancer, port, get(linkFor(claimed), `X-Forwarded-For: ${claimed}, ${far}\r\n`))).toBe(403);
    // A client that reaches the controller directly is itself.
    expect(await requestFrom(client, port, get(linkFor(claimed), `X-Forwarded-For: ${claimed}\r\n`))).toBe(403);
    expect(await requestFrom(client, port, get(linkFor(client), `X-Forwarded-For: ${claimed}\r\n`))).toBe(200);
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
      (dir) => {
        mkdirSync(join(dir, 'root', 'my', 'show'), { recursive: true });
        writeFileSync(join(dir, 'root', 'my', 'show', 'seg-1.ts'), 'segment of the show\n');
        writeFileSync(join(dir, 'root', 'my', 'other.ts'), 'another file\n');
      },
    );
  });

  it("token_path in the segment, as bunny's samples send it (%2F): the files under it are served, nothing else", async () => {
    const expires = Math.floor(Date.now() / 1000) + 600;
    const signed = new URL(
      bunnySampleUrl('http://zone.example/my/show/seg-1.ts', 'mysecret', {
        pathAllowed: '/my/show/',
        expires,
        isDirectory: true,
      }),
    );
    const uri = `${signed.pathname}${signed.search}`;
    expect(uri).toMatch(/^\/bcdn_token=HS256-[\w-]+&token_path=%2Fmy%2Fshow%2F&expires=\d{10}\/my\/show\/seg-1\.ts$/);
    const served = await fetch(`${s.base}${uri}`);
    expect([served.status, await served.text()]).toEqual([200, 'segment of the show\n']);
    const segment = uri.slice(0, uri.indexOf('/my/show/seg-1.ts'));
    expect((await fetch(`${s.base}${segment}/my/other.ts`)).status).toBe(403);
    // An escaped "&" would move nginx's cut (it decodes the segment first): refused.
    expect(await rawGet(s, uri.replace('%2Fmy%2Fshow%2F&', '%2Fmy%2Fshow%2F%26expires%3D1%2Fmy%2Fother.ts&'))).toBe(403);
    // The review's attacks: expires moved before token_path, the file named after a second
    // "&expires=<digits>/" in the path, or expires in the query: nginx would serve /my/other.ts.
    const token = /bcdn_token=([^&]+)/.exec(segment)![1]!;
    const e = /&expires=(\d+)/.exec(segment)![1]!;
    expect(await rawGet(s, `/bcdn_token=${token}&expires=${e}&token_path=%2Fmy%2Fshow%2F/my/show/a&expires=1/my/other.ts`)).toBe(
      403,
    );
    expect(await rawGet(s, `/bcdn_token=${token}&token_path=%2Fmy%2Fshow%2F/my/show/a&expires=1/my/other.ts?expires=${e}`)).toBe(
      403,
    );
    // A token_path that nginx's normalisation would change: refused.
    expect(await rawGet(s, uri.replace('token_path=%2Fmy%2Fshow%2F', 'token_path=%2Fmy%2F..%2Fmy%2Fshow%2F'))).toBe(403);
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
  const { rawRequest } = await import('../helpers/raw-http.js');
  const port = Number(new URL(s.base).port);
  return (await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: files\r\nConnection: close\r\n\r\n`)).status;
}

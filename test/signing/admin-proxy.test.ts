/**
 * The admin listener reached through a browser or a reverse proxy, against the built service as a
 * real process: the Host check that stops DNS rebinding (in Chromium too), the signing lockout
 * counted per client (loopback and IPv6 /64 as one client, forwarded clients apart behind trusted
 * proxies, an untrusted peer's X-Forwarded-For ignored, a repeated wrong token counted once), the
 * session cookie's Secure flag, and docs/signing.md's nginx TLS proxy in front of it all.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { parseIpRange } from '../../src/request/client-ip.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { freePort, startNginx, withTestPaths } from '../helpers/nginx.js';
import { logLines, type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { route, testConfig } from '../helpers/test-config.js';

const accessToken = 'proxy-test-token-0123456789';
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Sent {
  port: number;
  path: string;
  method?: string;
  /** The Host header; null: none at all. Default: the address and port connected to. */
  host?: string | null;
  /** The local address to connect from (127.0.0.2 is another client of this machine). */
  from?: string;
  /** The address to connect to. */
  to?: string;
  headers?: Record<string, string>;
  body?: string;
  tls?: boolean;
}

/** One request on its own connection (so `from` applies), with exactly the headers given. */
function send(sent: Sent): Promise<Answer> {
  const to = sent.to ?? '127.0.0.1';
  const host = sent.host === undefined ? `${to.includes(':') ? `[${to}]` : to}:${sent.port}` : sent.host;
  const headers: Record<string, string> = {
    ...(host === null ? {} : { Host: host }),
    ...sent.headers,
    ...(sent.body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(sent.body)) }),
  };
  const options = {
    host: to,
    port: sent.port,
    path: sent.path,
    method: sent.method ?? 'GET',
    headers,
    setHost: false,
    agent: false,
    ...(sent.from === undefined ? {} : { localAddress: sent.from }),
  } as const;
  return new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    };
    const req = sent.tls
      ? httpsRequest({ ...options, rejectUnauthorized: false, servername: 'admin.example.com' }, done)
      : httpRequest(options, done);
    req.on('error', reject);
    req.end(sent.body);
  });
}

/** `GET /api/v1/routes` with `token` as the bearer token. */
const routes = (port: number, token: string, extra: Partial<Sent> = {}) =>
  send({ port, path: '/api/v1/routes', ...extra, headers: { Authorization: `Bearer ${token}`, ...extra.headers } });

/** The login form's POST; answers the Set-Cookie line (or undefined) and the redirect. */
async function login(port: number, token: string, origin: string, extra: Partial<Sent> = {}) {
  const answer = await send({
    port,
    path: '/login',
    method: 'POST',
    body: `token=${encodeURIComponent(token)}`,
    ...extra,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin, ...extra.headers },
  });
  return { status: answer.status, location: answer.headers.location, cookie: answer.headers['set-cookie']?.[0] };
}

/** Whether this machine has a dual-stack IPv6 socket (a listener on "::" that IPv4 clients reach). */
async function dualStack(): Promise<boolean> {
  const server = createServer((socket) => socket.end());
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '::', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve, reject) => netConnect(port, '127.0.0.1', resolve).once('error', reject));
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

const signingConfig = (dir: string, admin: Record<string, unknown>) => {
  writeFileSync(join(dir, 'signing.token'), accessToken);
  return writeConfig(
    dir,
    testConfig({
      admin: { port: 0, ...admin },
      signing: { tokenFile: 'signing.token', publicBaseUrl: 'https://media.example.com' },
      routes: [
        { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', env: 'HMAC_KEY' }] },
        route('books', '/books/', 'hmac', [{ id: 'k1', env: 'HMAC_KEY' }], { publicBaseUrl: 'https://books.example.com:8443' }),
      ],
    }),
  );
};
const env = { HMAC_KEY: 'cd'.repeat(32) };

describe('the admin listener with no proxy settings', () => {
  let service: RunningService;
  let port: number;
  let ipv6: boolean;

  beforeAll(async () => {
    // Listening on "::" (dual-stack) lets the same listener take 127.0.0.x and ::1 clients.
    ipv6 = await dualStack();
    service = await startService(['serve', '--config', signingConfig(tempDir(), { host: ipv6 ? '::' : '127.0.0.1' })], env);
    port = service.ports.get('admin')!;
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('answers /metrics, the page and the API only for its own names (DNS rebinding gets 421); the probes for any', async () => {
    const rebound = 'rebind.attacker.example';
    for (const path of ['/metrics', '/', '/login', '/assets/app.js']) {
      const refused = await send({ port, path, host: `${rebound}:${port}` });
      expect([path, refused.status]).toEqual([path, 421]);
      expect(refused.body).not.toMatch(/tokengate_|<html/);
    }
    const api = await routes(port, accessToken, { host: rebound });
    expect(api.status).toBe(421);
    expect(JSON.parse(api.body)).toMatchObject({
      type: 'urn:tokengate:problem:misdirected-request',
      status: 421,
      detail: expect.stringMatching(/^this admin listener does not answer for that Host/),
    });
    const posted = await login(port, accessToken, `http://${rebound}:${port}`, { host: `${rebound}:${port}` });
    expect([posted.status, posted.cookie]).toEqual([421, undefined]);
    // Its names: any IP literal (no rebinding through one), localhost, the publicBaseUrl hosts; case and a final dot aside.
    const names = [`127.0.0.1:${port}`, `[::1]:${port}`, '192.0.2.50', 'localhost', `LocalHost.:${port}`];
    for (const host of [...names, 'media.example.com', 'books.example.com:8443']) {
      expect([host, (await send({ port, path: '/metrics', host })).status]).toEqual([host, 200]);
    }
    expect((await routes(port, accessToken, { host: 'media.example.com' })).status).toBe(200);
    // No Host at all: no browser sends that (HTTP/1.0 tools do).
    expect((await send({ port, path: '/metrics', host: null })).status).toBe(200);
    for (const host of ['127.0.0.1:80:80', '[::1', 'localhost:http', '0x7f.1', 'example.com@localhost']) {
      expect([host, (await send({ port, path: '/metrics', host })).status]).toEqual([host, 421]);
    }
    // Kubernetes probes and Docker health checks name the pod any way: they are never refused, nor is a 404.
    for (const path of ['/healthz', '/readyz']) expect((await send({ port, path, host: rebound })).status).toBe(200);
    expect((await send({ port, path: '/nowhere', host: rebound })).status).toBe(404);
    // Some line names the refused host, path and caller (the Chromium test's may come first, in any order).
    await expect
      .poll(() =>
        logLines(service.stderr()).some(
          (line) =>
            line.msg === 'admin listener: request for another host refused' &&
            line.level === 'warn' &&
            line.host === `${rebound}:${port}` &&
            line.path === '/metrics' &&
            line.caller === '127.0.0.1',
        ),
      )
      .toBe(true);
  });

  it('in Chromium, a page whose name is rebound to the listener can neither read /metrics nor try a login', async (context) => {
    if (chromiumPath === undefined) return context.skip('Chromium missing: run "sh test/install-test-deps.sh"');
    // The attacker's name resolves to this machine (the second answer of a DNS rebinding attack).
    const browser: Browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--host-resolver-rules=MAP rebind.attacker.example 127.0.0.1'],
    });
    try {
      const page = await browser.newPage();
      // A page of the attacker's origin (the probe answers any Host), whose script then asks its own origin.
      const probe = await page.goto(`http://rebind.attacker.example:${port}/healthz`);
      expect(probe?.status()).toBe(200);
      const attempts = await page.evaluate(async () => {
        const metrics = await fetch('/metrics');
        const form = await fetch('/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'token=guess',
          redirect: 'manual',
        });
        return { metrics: metrics.status, text: await metrics.text(), login: form.status };
      });
      expect(attempts.metrics).toBe(421);
      expect(attempts.text).not.toContain('tokengate_');
      expect(attempts.login).toBe(421);
      // The same browser by the listener's own names.
      expect((await page.goto(`http://localhost:${port}/login`))?.status()).toBe(200);
      expect((await page.goto(`http://127.0.0.1:${port}/metrics`))?.status()).toBe(200);
    } finally {
      await browser.close();
    }
  });

  it('sets Secure on the session cookie when the browser reached the page over https (Origin), never over http', async () => {
    const plain = await login(port, accessToken, `http://127.0.0.1:${port}`);
    expect(plain.location).toBe('/');
    expect(plain.cookie).toMatch(/^tokengate_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    const secure = await login(port, accessToken, 'https://media.example.com', { host: 'media.example.com' });
    expect(secure.location).toBe('/');
    expect(secure.cookie).toMatch(/; Secure$/);
    // Signing out over https clears it with the same attributes.
    const session = secure.cookie!.split(';')[0]!;
    const out = await send({
      port,
      path: '/logout',
      method: 'POST',
      host: 'media.example.com',
      headers: { Origin: 'https://media.example.com', Cookie: session },
    });
    expect(out.headers['set-cookie']?.[0]).toMatch(/^tokengate_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0; Secure$/);
    // A client of its own (not a trusted proxy) saying https changes nothing over http.
    const claimed = await login(port, accessToken, `http://127.0.0.1:${port}`, { headers: { 'X-Forwarded-Proto': 'https' } });
    expect(claimed.cookie).not.toMatch(/Secure/);
  });
});

describe('the admin listener with no proxy settings: failed logins', () => {
  // Each test has a service of its own: the failures it counts are its own, whatever ran before.
  async function ownService(): Promise<{ service: RunningService; port: number; ipv6: boolean }> {
    const ipv6 = await dualStack();
    const service = await startService(['serve', '--config', signingConfig(tempDir(), { host: ipv6 ? '::' : '127.0.0.1' })], env);
    return { service, port: service.ports.get('admin')!, ipv6 };
  }

  it('counts a wrong token sent again once: a stale client does not lock the others out', async () => {
    const { service, port } = await ownService();
    try {
      for (let i = 0; i < 15; i++) {
        expect((await routes(port, 'an-old-token-rotated-away', { from: '127.0.0.2' })).status).toBe(403);
      }
      expect((await routes(port, accessToken, { from: '127.0.0.2' })).status).toBe(200);
      expect((await routes(port, accessToken)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('counts every loopback address (127.0.0.0/8, ::1) as one client: another one gets no fresh tries', async () => {
    const { service, port, ipv6 } = await ownService();
    try {
      for (let i = 0; i < 10; i++) expect((await routes(port, `guess-${i}`, { from: '127.0.0.2' })).status).toBe(403);
      const locked = await routes(port, accessToken, { from: '127.0.0.2' });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await routes(port, accessToken, { from: '127.0.0.3' })).status).toBe(429);
      expect((await routes(port, accessToken)).status).toBe(429);
      expect((await login(port, accessToken, `http://127.0.0.1:${port}`, { from: '127.0.0.4' })).location).toBe(
        '/login?error=limited',
      );
      if (ipv6) expect((await routes(port, accessToken, { to: '::1' })).status).toBe(429);
      expect(service.stderr()).not.toMatch(/guess-3/);
    } finally {
      await service.stop();
    }
  });
});

describe('the admin listener behind trusted proxies', () => {
  let service: RunningService;
  let port: number;

  const startTrusted = () =>
    startService(
      [
        'serve',
        '--config',
        signingConfig(tempDir(), {
          host: '127.0.0.1',
          trustedProxies: ['127.0.0.1'],
          allowedHosts: ['admin.example.com', 'tokengate-admin.tokengate.svc'],
        }),
      ],
      env,
    );

  beforeAll(async () => {
    service = await startTrusted();
    port = service.ports.get('admin')!;
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('answers for the names in allowedHosts, and still refuses others', async () => {
    for (const host of ['admin.example.com', 'ADMIN.example.com:443', 'tokengate-admin.tokengate.svc:9090']) {
      expect([host, (await send({ port, path: '/metrics', host })).status]).toEqual([host, 200]);
    }
    expect((await send({ port, path: '/metrics', host: 'other.example.com' })).status).toBe(421);
    expect((await send({ port, path: '/metrics', host: 'sub.admin.example.com' })).status).toBe(421);
  });

  it('counts the clients a trusted proxy forwards (X-Forwarded-For) apart, and IPv6 clients per /64', async () => {
    const via = (xff: string) => ({ headers: { 'X-Forwarded-For': xff } });
    for (let i = 0; i < 10; i++) expect((await routes(port, `guess-${i}`, via('203.0.113.1'))).status).toBe(403);
    expect((await routes(port, accessToken, via('203.0.113.1'))).status).toBe(429);
    expect((await routes(port, accessToken, via('203.0.113.2'))).status).toBe(200);
    // The proxy appends the address it saw: what a client wrote before it is never read.
    expect((await routes(port, accessToken, via('203.0.113.2, 203.0.113.1'))).status).toBe(429);
    // Trusted hops are skipped from the right: the client is the first address no trusted proxy holds.
    expect((await routes(port, accessToken, via('203.0.113.1, 127.0.0.1'))).status).toBe(429);
    // The proxy itself, and its other clients, are not locked out.
    expect((await routes(port, accessToken)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await routes(port, `guess-${i}`, via('2001:db8:1:2::1'))).status).toBe(403);
    expect((await routes(port, accessToken, via('2001:db8:1:2:ffff:ffff:ffff:ffff'))).status).toBe(429);
    expect((await routes(port, accessToken, via('2001:db8:1:3::1'))).status).toBe(200);
    // A line the service writes is collected from another pipe than the answer: polled (bounded).
    await expect
      .poll(() => logLines(service.stderr()).find((line) => line.msg === 'signing API: access refused'))
      .toMatchObject({ caller: '203.0.113.1', proxy: '127.0.0.1', result: 'wrong' });
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy (and X-Forwarded-Proto: it gets no Secure)', async () => {
    // A service of its own: it ends with every loopback client but the trusted proxy's forwards locked out.
    const own = await startTrusted();
    const port = own.ports.get('admin')!;
    try {
      const claimed = await login(port, accessToken, 'http://admin.example.com', {
        from: '127.0.0.2',
        host: 'admin.example.com',
        headers: { 'X-Forwarded-Proto': 'https' },
      });
      expect(claimed.cookie).not.toMatch(/Secure/);
      const trusted = await login(port, accessToken, 'http://admin.example.com', {
        host: 'admin.example.com',
        headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.40' },
      });
      expect(trusted.cookie).toMatch(/; Secure$/);
      // 127.0.0.2 (and with it every loopback client but the trusted proxy's forwards) is locked out.
      for (let i = 0; i < 10; i++) {
        const answer = await routes(port, `guess-${i}`, { from: '127.0.0.2', headers: { 'X-Forwarded-For': `198.51.100.${i}` } });
        expect(answer.status).toBe(403);
      }
      const locked = await routes(port, accessToken, { from: '127.0.0.2', headers: { 'X-Forwarded-For': '198.51.100.99' } });
      expect(locked.status).toBe(429);
      expect((await routes(port, accessToken, { headers: { 'X-Forwarded-For': '203.0.113.3' } })).status).toBe(200);
    } finally {
      await own.stop();
    }
  });

  it('refuses trustedProxies and allowedHosts entries it cannot read, with their paths', () => {
    const config = (admin: Record<string, unknown>) =>
      parseConfig({
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        admin,
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }] }],
      });
    expect(
      config({
        trustedProxies: ['10.0.0.1/8', 'proxy.example', '10.0.0.0/33', '::ffff:10.0.0.1', '0.0.0.0/0', '::/0'],
        allowedHosts: ['a b', 'x:80', ''],
      }),
    ).toEqual([
      'admin.trustedProxies[0]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.trustedProxies[1]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.trustedProxies[2]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.trustedProxies[3]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.trustedProxies[4]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.trustedProxies[5]: must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
      'admin.allowedHosts[0]: must be a host name (letters, digits, "-" and "."), without scheme or port',
      'admin.allowedHosts[1]: must be a host name (letters, digits, "-" and "."), without scheme or port',
      'admin.allowedHosts[2]: must be a host name (letters, digits, "-" and "."), without scheme or port',
    ]);
    expect(config({ trustedProxies: '10.0.0.0/8' })).toEqual(['admin.trustedProxies: must be an array']);
    expect(
      config({ trustedProxies: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], allowedHosts: ['Admin.Example.com'] }),
    ).toMatchObject({
      admin: { trustedProxies: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], allowedHosts: ['admin.example.com'] },
    });
    expect(config({})).toMatchObject({ admin: { host: '127.0.0.1', port: 9090, trustedProxies: [], allowedHosts: [] } });
  });
});

describe('the client a request stands for', () => {
  const trusted = ['10.0.0.0/8', '2001:db8:ffff::/48'].map((text) => parseIpRange(text)!);
  it('is the peer, or behind trusted proxies the rightmost address none of them holds; its lockout key groups loopback and /64', async () => {
    const { clientOf } = await import('../../src/admin/admin-client.js');
    expect(clientOf('192.0.2.1', '203.0.113.9', trusted)).toEqual({ address: '192.0.2.1', key: '192.0.2.1', proxy: undefined });
    expect(clientOf('::ffff:192.0.2.1', undefined, trusted)).toMatchObject({ address: '192.0.2.1', key: '192.0.2.1' });
    expect(clientOf('10.1.2.3', '203.0.113.9, 10.9.9.9', trusted)).toEqual({
      address: '203.0.113.9',
      key: '203.0.113.9',
      proxy: '10.1.2.3',
    });
    expect(clientOf('10.1.2.3', undefined, trusted)).toMatchObject({ address: '10.1.2.3', proxy: undefined });
    // An entry that is no address ends the walk at the last trusted hop.
    expect(clientOf('10.1.2.3', '203.0.113.9, unknown', trusted)).toMatchObject({ address: '10.1.2.3', key: '10.1.2.3' });
    expect(clientOf('2001:db8:ffff::1', '2001:DB8:0:1:0:0:0:7', trusted)).toMatchObject({
      address: '2001:db8:0:1::7',
      key: '2001:db8:0:1::/64',
    });
    for (const peer of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.2'])
      expect(clientOf(peer, undefined, []).key).toBe('loopback');
    expect(clientOf(undefined, undefined, trusted)).toMatchObject({ address: 'unknown', key: 'unknown' });
  });
});

describe('the host names the admin listener answers for', () => {
  it('include admin.host when it is a name; a bracketed address must be IPv6; a zone id or user part never passes', async () => {
    const { AllowedHosts } = await import('../../src/admin/allowed-hosts.js');
    const hosts = new AllowedHosts({ host: 'Admin.Internal', port: 9090, trustedProxies: [], allowedHosts: [] });
    for (const host of [
      'admin.internal:9090',
      'ADMIN.INTERNAL.',
      '[2001:db8::1]:9090',
      '[::ffff:7f00:1]',
      '10.1.2.3:9090',
      undefined,
    ]) {
      expect([host, hosts.allows(host, undefined)]).toEqual([host, true]);
    }
    for (const host of ['other.internal', '[127.0.0.1]', '[fe80::1%25eth0]', 'user@admin.internal', 'admin.internal:', '']) {
      expect([host, hosts.allows(host, undefined)]).toEqual([host, false]);
    }
  });
});

describe("docs/signing.md's nginx in front of the admin listener (TLS, X-Forwarded-For, X-Forwarded-Proto)", () => {
  /** The documented admin block behind the documented nginx server block; 127.0.0.2 plays a load balancer in front of nginx, trusted too. */
  async function proxied() {
    const dir = tempDir();
    const shown = JSON.parse(docBlock('docs/signing.md', 'proxy-config')) as { admin: Record<string, unknown> };
    const admin = { ...shown.admin, port: 0, trustedProxies: [...(shown.admin.trustedProxies as string[]), '127.0.0.2'] };
    const service = await startService(['serve', '--config', signingConfig(dir, admin)], env);
    const port = await freePort();
    const prefix = join(dir, 'nginx');
    mkdirSync(prefix);
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
        ...['-subj', '/CN=admin.example.com', '-keyout', join(prefix, 'tls.key'), '-out', join(prefix, 'tls.crt')],
      ],
      { stdio: 'ignore' },
    );
    const server = docBlock('docs/signing.md', 'proxy-nginx')
      .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
      .replace('/etc/nginx/tls/admin.example.com.crt', join(prefix, 'tls.crt'))
      .replace('/etc/nginx/tls/admin.example.com.key', join(prefix, 'tls.key'))
      .replace('http://127.0.0.1:9090', `http://127.0.0.1:${service.ports.get('admin')}`);
    const nginx = await startNginx(withTestPaths(`events {}\nhttp {\n${server}}\n`, prefix), prefix, port);
    return {
      port,
      through: (sent: Partial<Sent> & { path: string }) => send({ port, tls: true, host: `admin.example.com:${port}`, ...sent }),
      stop: async () => {
        await nginx.stop();
        await service.stop();
      },
    };
  }

  it('signs in over https with a Secure cookie; the page refuses another Host; /metrics is not published', async () => {
    const { port, through, stop } = await proxied();
    try {
      const origin = `https://admin.example.com:${port}`;
      const signedIn = await login(port, accessToken, origin, { tls: true, host: `admin.example.com:${port}` });
      expect(signedIn.location).toBe('/');
      expect(signedIn.cookie).toMatch(/; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200; Secure$/);
      const page = await through({ path: '/', headers: { Cookie: signedIn.cookie!.split(';')[0]! } });
      expect([page.status, page.body]).toEqual([200, expect.stringContaining('<html')]);
      expect((await through({ path: '/login', host: `rebind.attacker.example:${port}` })).status).toBe(421);
      expect((await through({ path: '/metrics' })).status).toBe(404);
    } finally {
      await stop();
    }
  });

  it('counts each client apart behind it; a client-written X-Forwarded-For gets no fresh tries', async () => {
    // A proxy and service of their own: this locks every loopback client straight at nginx out.
    const { through, stop } = await proxied();
    try {
      const api = async (from: string, forwardedFor: string, token: string) =>
        (
          await through({
            path: '/api/v1/routes',
            from,
            headers: { 'X-Forwarded-For': forwardedFor, Authorization: `Bearer ${token}` },
          })
        ).status;
      // 127.0.0.2, the load balancer, forwards the clients 198.51.100.x.
      for (let i = 0; i < 10; i++) expect(await api('127.0.0.2', '198.51.100.1', `guess-${i}`)).toBe(403);
      expect(await api('127.0.0.2', '198.51.100.1', accessToken)).toBe(429);
      expect(await api('127.0.0.2', '198.51.100.2', accessToken)).toBe(200);
      // A client straight at nginx (127.0.0.3, untrusted) cannot pass itself off as another.
      for (let i = 0; i < 10; i++) expect(await api('127.0.0.3', `192.0.2.${i}`, `guess-${i}`)).toBe(403);
      expect(await api('127.0.0.3', '192.0.2.99', accessToken)).toBe(429);
      expect(await api('127.0.0.2', '198.51.100.3', accessToken)).toBe(200);
    } finally {
      await stop();
    }
  });
});

/**
 * `signing.listener`: the page and the API on a listener of their own, over https, against the
 * built service: the admin listener keeps /metrics and the probes and no longer serves the page
 * or the API; the signing listener serves nothing else; its certificate is read again by a
 * reload (SIGHUP), a broken one is refused and the old one keeps serving; `tokengate check`
 * names unreadable files.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, runCli, startService, tempDir, waitForLog, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const token = 'listener-token-0123456789abcdef';
let dir: string;
let service: RunningService;
let admin: number;
let signing: number;

/** A self-signed certificate for 127.0.0.1 with `name` as its CN, written over cert.pem and key.pem. */
function certificate(name: string): string {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { cwd: dir, stdio: 'ignore', timeout: 20_000 },
  );
  return execFileSync('openssl', ['x509', '-in', 'cert.pem', '-noout', '-fingerprint', '-sha256'], { cwd: dir, encoding: 'utf8' })
    .trim()
    .split('=')[1]!;
}

/** The SHA-256 fingerprint of the certificate the signing listener presents to a new connection. */
function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: signing, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

function https(
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: signing, path, method: body === undefined ? 'GET' : 'POST', headers, rejectUnauthorized: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let first: string;

beforeAll(async () => {
  dir = tempDir();
  first = certificate('first');
  writeFileSync(join(dir, 'signing.token'), `${token}\n`);
  writeFileSync(join(dir, 'hmac.key'), 'ab'.repeat(32));
  const file = writeConfig(
    dir,
    testConfig({
      signing: {
        signers: [{ name: 'ops', tokenFile: 'signing.token', routes: ['*'] }],
        listener: { host: '127.0.0.1', port: 0, tls: { certFile: 'cert.pem', keyFile: 'key.pem' } },
      },
      routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', file: 'hmac.key' }] }],
    }),
  );
  service = await startService(['serve', '--config', file], {}, 3);
  admin = service.ports.get('admin')!;
  signing = service.ports.get('signing')!;
});

afterAll(async () => {
  await service?.stop();
});

describe('the signing listener', () => {
  it('serves the page and the API over https, and nothing else; the admin listener keeps the rest', async () => {
    expect(signing).not.toBe(admin);
    const routes = await https('/api/v1/routes', { Authorization: `Bearer ${token}` });
    expect(routes.status).toBe(200);
    expect(JSON.parse(routes.text)).toMatchObject({ signer: { name: 'ops' }, routes: [{ name: 'vod' }] });
    expect((await https('/login')).status).toBe(200);
    for (const path of ['/metrics', '/healthz', '/readyz']) expect([path, (await https(path)).status]).toEqual([path, 404]);
    // The admin listener: metrics and probes, no page and no API.
    expect((await fetch(`http://127.0.0.1:${admin}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
    for (const path of ['/api/v1/routes', '/', '/login']) {
      const response = await fetch(`http://127.0.0.1:${admin}${path}`, { headers: { Authorization: `Bearer ${token}` } });
      expect([path, response.status]).toEqual([path, 404]);
    }
    // Over https the page session's cookie is Secure.
    const login = await https(
      '/login',
      { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `https://127.0.0.1:${signing}` },
      `token=${token}`,
    );
    expect(login.status).toBe(303);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-tokengate_session=[\w-]{43}; .*; Secure$/);
    const session = cookie.split(';')[0]!;
    expect((await https('/api/v1/routes', { Cookie: session })).status).toBe(200);
    // The plain name is not read here: a sibling subdomain cannot plant a session.
    expect((await https('/api/v1/routes', { Cookie: session.replace('__Host-', '') })).status).toBe(401);
  });

  it('serves a renewed certificate after a reload; a broken one is refused and the old one keeps serving', async () => {
    expect(await servedFingerprint()).toBe(first);
    const second = certificate('second');
    expect(second).not.toBe(first);
    service.process.kill('SIGHUP');
    await waitForLog(service, (line) => line.msg === 'config reloaded');
    expect(await servedFingerprint()).toBe(second);
    writeFileSync(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
    service.process.kill('SIGHUP');
    const rejected = await waitForLog(
      service,
      (line) => line.msg === 'config reload rejected; the previous config keeps serving',
    );
    expect(JSON.stringify(rejected.problems)).toMatch(
      /signing\.listener\.tls: the certificate and key do not make a TLS context/,
    );
    expect(await servedFingerprint()).toBe(second);
  });

  it('tokengate check names a certificate file it cannot read', async () => {
    const at = tempDir();
    const file = writeConfig(
      at,
      testConfig({
        signing: {
          signers: [{ name: 'ops', tokenEnv: 'SIGNING_TOKEN', routes: ['*'] }],
          listener: { port: 8443, tls: { certFile: 'missing.pem', keyFile: 'missing.key' } },
        },
        routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', env: 'K' }] }],
      }),
    );
    const checked = await runCli(['check', '--config', file], { SIGNING_TOKEN: token, K: 'k'.repeat(32) });
    expect(checked.code).toBe(78);
    expect(checked.stderr).toMatch(/signing\.listener\.tls: cannot read .*missing\.pem \(ENOENT\)/);
  });
});

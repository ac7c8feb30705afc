/**
 * One contract, every door: the same table of cases through the nginx-style headers, the
 * target form (nginx `proxy_pass .../tokengate/$remote_addr$request_uri`), Envoy HTTP mode (path
 * prefix), Envoy gRPC mode (a real gRPC client, Envoy's wire format) and real Caddy (Debian
 * package, deploy/caddy/Caddyfile) in front of the service. The node engine serves every door;
 * the uws engine only those that put no signed value in a header (it trims header values:
 * docs/security.md rule 11), which its config refuses. Every door must give every case the same
 * verdict. Then what is particular to Envoy HTTP mode and to
 * Caddy's forward_auth. Routes and paths are those of deploy/caddy/Caddyfile (/vod/, /live/).
 * Real nginx with the shipped nginx.example.conf is a door too, on both engines.
 *
 * Over 250 lines: one table of cases through every door, started once; splitting it would split the table.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getSignedCookies } from '@aws-sdk/cloudfront-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { findScheme } from '../../src/schemes/registry.js';
import { encodeCheckRequest, envoyClient } from '../helpers/envoy-wire.js';
import {
  covers,
  type FormatFixture,
  fixtureEnv,
  fixtureRoute,
  formatFixtures,
  registeredFixtures,
} from '../helpers/formats/index.js';
import { freePort, type RunningNginx, renderExampleConfig, startNginx } from '../helpers/nginx.js';
import { firstAnswer, insert, pooled, positions, probeBytes } from '../helpers/raw-bytes.js';
import { header, rawRequest } from '../helpers/raw-http.js';
import { withEnginesHere } from '../helpers/runtime.js';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { altaSigner } from '../helpers/signed-url.js';
import { testConfig } from '../helpers/test-config.js';

type EngineName = 'uws' | 'node';
const hmacKey = '7e'.repeat(32);
const altaKey = 'doors-test-alta-secret';
/** The client as every door sees it: Caddy's peer is this test on loopback. */
const clientIp = '127.0.0.1';
const otherIp = '198.51.100.7';
const hmac = hmacSigner({ keyId: 'k', key: hmacKey });
/** Links of the outer route /vod/ scoped to all of it: they must never open the nested /vod/premium/ (its own key). */
const vodScope = (path: string) =>
  hmacSigner({ keyId: 'k', key: hmacKey, routePrefix: '/vod/' })
    .sign({ path: '/vod/free/x.mp4', expiresSec: expiresIn(600), scopeDepth: 1 })
    .replace('/vod/free/x.mp4', path);
const alta = altaSigner('/live/', altaKey);
/** The same key on a route that answers an expired token 403 (route `expiredStatus`), as CDNs do. */
const altaOld = altaSigner('/old/', altaKey);
const akamaiFixture = formatFixtures.akamai!;
/** An Akamai ACL token of Akamai's own Node SDK (akamai-edgeauth) for the whole akamai route, bound to `ip`. */
const akamaiAcl = (path: string, ip: string) => {
  const EdgeAuth = createRequire(import.meta.url)('akamai-edgeauth');
  const now = Math.floor(Date.now() / 1000);
  const sdk = new EdgeAuth({ key: akamaiFixture.keys[0].material, startTime: now - 60, endTime: now + 600, ip });
  return `${path}?__token__=${sdk.generateACLToken(`${akamaiFixture.prefix}*`)}`;
};
const secureLinkFixture = formatFixtures['nginx-secure-link']!;
const cloudfrontFixture = formatFixtures.cloudfront!;
/** The file each format's cases ask for, under its fixture's route. */
const formatFile = (fixture: FormatFixture) => `${fixture.prefix}f.bin`;

/** Every registered format through every door: a genuine link of its fixture, another path's, an expired one, another client's. */
function formatCases(fixture: FormatFixture): { name: string; uri: () => string; expected: Verdict }[] {
  const scheme = findScheme(fixture.id)!;
  const file = formatFile(fixture);
  const other = `${fixture.prefix}other.bin`;
  // Formats that hash the IP cannot tell a wrong IP from a forgery; formats that sign it can.
  const hashed = (scheme.ipBinding ?? (scheme.clientIp === 'required' ? 'hashed' : 'signed')) === 'hashed';
  return [
    {
      name: `valid (${fixture.id}, made by ${fixture.madeBy}) ${covers(fixture.id)}`,
      uri: () => fixture.link(file, { clientIp }),
      expected: { status: 200, tokenStatus: 'valid' },
    },
    {
      name: `${fixture.id} link for another path`,
      uri: () => fixture.link(other, { clientIp }).replace(other, file),
      expected: { status: 403, tokenStatus: 'forged' },
    },
    {
      name: `${fixture.id} expired`,
      uri: () => fixture.link(file, { clientIp, ttlSec: -10 }),
      expected: { status: 410, tokenStatus: 'expired' },
    },
    ...(fixture.bindsClientIp
      ? [
          {
            name: `${fixture.id} wrong IP (${hashed ? 'hashed in' : 'signed'})`,
            uri: () => fixture.link(file, { clientIp: otherIp }),
            expected: { status: 403, tokenStatus: hashed ? 'forged' : 'wrong-ip' },
          },
        ]
      : []),
  ];
}
/** The formats with signed cookies: on for the node engine only (the uws engine reads no header). */
const cookieFormats = new Set(['cloudfront', 'google-cdn']);
const forge = (url: string) => url.replace(/token=(.)/, (_m, c: string) => `token=${c === 'a' ? 'b' : 'a'}`);

let dir: string;
let root: string;
const files = new Map<string, string>();

interface Verdict {
  readonly status: number;
  readonly tokenStatus: string | undefined;
}

/** The contract: each case and the verdict every door must give it. */
const cases: readonly { name: string; uri: () => string; expected: Verdict }[] = [
  {
    name: 'valid (alta, IP-bound)',
    uri: () => alta('/live/ch/seg-1.ts', clientIp),
    expected: { status: 200, tokenStatus: 'valid' },
  },
  {
    name: 'valid (hmac)',
    uri: () => hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) }),
    expected: { status: 200, tokenStatus: 'valid' },
  },
  { name: 'forged', uri: () => forge(alta('/live/ch/seg-1.ts', clientIp)), expected: { status: 403, tokenStatus: 'forged' } },
  { name: 'malformed', uri: () => '/live/ch/seg-1.ts?token=zz', expected: { status: 403, tokenStatus: 'malformed' } },
  { name: 'expired', uri: () => alta('/live/ch/seg-1.ts', clientIp, -60), expected: { status: 410, tokenStatus: 'expired' } },
  {
    name: 'expired on a route with expiredStatus 403',
    uri: () => altaOld('/old/ch/seg-1.ts', clientIp, -60),
    expected: { status: 403, tokenStatus: 'expired' },
  },
  {
    name: 'valid on that route',
    uri: () => altaOld('/old/ch/seg-1.ts', clientIp),
    expected: { status: 200, tokenStatus: 'valid' },
  },
  {
    name: 'wrong IP (alta: the IP is in the hash)',
    uri: () => alta('/live/ch/seg-1.ts', otherIp),
    expected: { status: 403, tokenStatus: 'forged' },
  },
  {
    name: 'wrong IP (hmac: a signed IP binding)',
    uri: () => hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600), clientIp: otherIp }),
    expected: { status: 403, tokenStatus: 'wrong-ip' },
  },
  {
    name: 'valid (akamai ACL token)',
    uri: () => akamaiAcl(formatFile(akamaiFixture), clientIp),
    expected: { status: 200, tokenStatus: 'valid' },
  },
  {
    name: 'nginx secure_link, missing expires',
    uri: () => secureLinkFixture.link(formatFile(secureLinkFixture), { clientIp }).replace(/&expires=\d+/, ''),
    expected: { status: 403, tokenStatus: 'malformed' },
  },
  ...registeredFixtures().flatMap(formatCases),
  { name: 'valid (hmac scope of /vod/)', uri: () => vodScope('/vod/a.mp4'), expected: { status: 200, tokenStatus: 'valid' } },
  // docs/security.md rule 12: the nested route under another spelling of its prefix, never opened by the outer scope.
  {
    name: 'outer scope, nested route spelled with an escape (/vod/%70remium/)',
    uri: () => vodScope('/vod/%70remium/secret.mp4'),
    expected: { status: 403, tokenStatus: 'bad-uri' },
  },
  {
    name: 'outer scope, nested route spelled with a ; parameter (/vod/premium;x/)',
    uri: () => vodScope('/vod/premium;x/secret.mp4'),
    expected: { status: 403, tokenStatus: 'bad-uri' },
  },
  {
    name: 'outer scope, nested route in upper case (/vod/PREMIUM/)',
    uri: () => vodScope('/vod/PREMIUM/secret.mp4'),
    expected: { status: 403, tokenStatus: 'bad-uri' },
  },
  {
    name: 'outer scope, nested route spelled plainly',
    uri: () => vodScope('/vod/premium/secret.mp4'),
    expected: { status: 403, tokenStatus: 'forged' },
  },
  { name: 'missing token', uri: () => '/live/ch/seg-1.ts', expected: { status: 403, tokenStatus: 'missing' } },
  { name: 'bad URI', uri: () => '/live/ch/%2e%2e/seg-1.ts?token=x', expected: { status: 403, tokenStatus: 'bad-uri' } },
];

/** The formats whose cases are in the table, as registry-coverage.test.ts reads them in the test's name. */
const casesCover = [...new Set(cases.flatMap(({ name }) => name.match(/\[format [^\]]+\]/g) ?? []))].join(' ');

/** A door: how one request reaches tokengate, normalised to status and X-Token-Status. */
type Door = (uri: string) => Promise<Verdict>;
/** A door asked with the client's `method`. */
type MethodDoor = (uri: string, method: string) => Promise<Verdict>;

const fromHttp = (response: { status: number; headers: ReadonlyMap<string, readonly string[]> }): Verdict => ({
  status: response.status,
  tokenStatus: response.headers.get('x-token-status')?.[0],
});

function startCaddy(listenPort: number, tokengatePort: number): Promise<{ stop(): Promise<void>; log(): string }> {
  let text = readFileSync(new URL('../../deploy/caddy/Caddyfile', import.meta.url), 'utf8');
  const replace = (from: string, to: string) => {
    if (text.split(from).length !== 2) throw new Error(`deploy/caddy/Caddyfile no longer has exactly one "${from}"`);
    text = text.replace(from, to);
  };
  replace(':8000 {', `:${listenPort} {\n\tbind 127.0.0.1`);
  replace('127.0.0.1:8080', `127.0.0.1:${tokengatePort}`);
  replace('/var/www/protected', root);
  const home = join(dir, `caddy-${listenPort}`);
  mkdirSync(home, { recursive: true });
  const file = join(home, 'Caddyfile');
  writeFileSync(file, text);
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home };
  const child: ChildProcess = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = () =>
      fetch(`http://127.0.0.1:${listenPort}/`).then(
        () =>
          resolve({
            stop: () => {
              child.kill('SIGTERM');
              return exited;
            },
            log: () => log,
          }),
        () => (Date.now() > deadline ? reject(new Error(`caddy did not start:\n${log}`)) : setTimeout(poll, 50)),
      );
    child.once('exit', (code) => reject(new Error(`caddy exited with ${code}:\n${log}`)));
    poll();
  });
}

beforeAll(() => {
  dir = tempDir();
  root = join(dir, 'www');
  for (const [path, content] of [
    ['/live/ch/seg-1.ts', 'segment one\n'],
    ['/old/ch/seg-1.ts', 'an old segment\n'],
    ['/vod/a.mp4', 'video a\n'],
    ['/vod/premium/secret.mp4', 'premium, for its own links only\n'],
    ['/dl/a.zip', 'a download, twice per link\n'],
    ...registeredFixtures().map((fixture) => [formatFile(fixture), `${fixture.id} f\n`] as const),
    // What the proxies serve for "/", the path no route covers: never to be reached through a token.
    ['/index.html', 'the root index, not for anyone\n'],
  ] as const) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
    files.set(path, content);
  }
  writeFileSync(join(dir, 'hmac.hex'), hmacKey);
});

/** The listener of deploy/caddy/tokengate.json, as shipped (name and address aside). */
const {
  name: _name,
  host: _host,
  port: _port,
  ...caddyListener
} = JSON.parse(readFileSync(new URL('../../deploy/caddy/tokengate.json', import.meta.url), 'utf8')).listeners[0];

/** Doors that read the URI or the client IP from a header: the node engine's only. */
const headerListeners = [
  { name: 'nginx', port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method' },
  // The auth request carries the original method itself: no method header.
  { name: 'envoy-http', port: 0, pathPrefix: '/tokengate', clientIpHeader: 'X-Real-IP' },
  { name: 'caddy', port: 0, ...caddyListener },
];

describe.each(withEnginesHere(['uws', 'node'] as const, (engine) => engine))('every door, %s engine', (engine: EngineName) => {
  let service: RunningService;
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let caddyPort: number;
  let grpcClient: ReturnType<typeof envoyClient>;
  let nginx: RunningNginx;
  const doors: Record<string, Door> = {};
  const methodDoors: Record<string, MethodDoor> = {};
  /** The status nginx gave `target` (absolute-form), and whether it served the root's index. */
  let nginxAbsolute: (target: string) => Promise<[number, boolean]>;

  beforeAll(async () => {
    const file = writeConfig(
      dir,
      testConfig({
        engine,
        workers: 1,
        listeners: [
          { name: 'nginx-target', port: 0, pathPrefix: '/tokengate', clientIpInPath: true, methodHeader: 'X-Original-Method' },
          { name: 'envoy-grpc', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address' },
          ...(engine === 'uws' ? [] : headerListeners),
        ],
        routes: [
          { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.hex' }] },
          { name: 'premium', prefix: '/vod/premium/', scheme: 'hmac', keys: [{ id: 'p', env: 'TG_PREMIUM' }] },
          { name: 'live', prefix: '/live/', scheme: 'alta', keys: [{ id: 'a', env: 'TG_ALTA' }] },
          { name: 'old', prefix: '/old/', scheme: 'alta', keys: [{ id: 'a', env: 'TG_ALTA' }], expiredStatus: 403 },
          { name: 'dl', prefix: '/dl/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.hex' }], limits: { uses: 2 } },
          // Every registered format's route (nginx-secure-link signs nginx's $uri: every route is then chosen on it).
          ...registeredFixtures().map((fixture) =>
            // The uws engine reads no header: signed URLs only there.
            fixtureRoute(fixture, cookieFormats.has(fixture.id) ? { options: { cookies: engine === 'node' } } : {}),
          ),
        ],
      }),
      `${engine}.json`,
    );
    service = await startService(
      ['serve', '--config', file],
      {
        TG_ALTA: altaKey,
        TG_PREMIUM: '9f'.repeat(32),
        ...fixtureEnv(registeredFixtures()),
      },
      engine === 'uws' ? 3 : 6,
    );
    grpcClient = envoyClient(service.ports.get('envoy-grpc')!);
    // What nginx sends with `proxy_pass http://tokengate/tokengate/$remote_addr$request_uri`.
    doors['target form'] = async (uri) =>
      fromHttp(
        await rawRequest(
          service.ports.get('nginx-target')!,
          `GET /tokengate/${clientIp}${uri} HTTP/1.1\r\nHost: tokengate\r\nX-Original-Method: GET\r\n\r\n`,
        ),
      );
    methodDoors['target form'] = async (uri, method) =>
      fromHttp(
        await rawRequest(
          service.ports.get('nginx-target')!,
          `GET /tokengate/${clientIp}${uri} HTTP/1.1\r\nHost: tokengate\r\nX-Original-Method: ${method}\r\n\r\n`,
        ),
      );
    methodDoors['Envoy gRPC mode'] = async (uri, method) => {
      const verdict = await grpcClient.check(
        encodeCheckRequest({ method, path: uri, headers: { 'x-envoy-external-address': clientIp, ':path': uri } }),
      );
      return verdict.code === 0
        ? { status: 200, tokenStatus: verdict.headers['x-token-status'] }
        : { status: verdict.httpStatus || 403, tokenStatus: verdict.headers['x-token-status'] };
    };
    doors['Envoy gRPC mode'] = (uri) => methodDoors['Envoy gRPC mode']!(uri, 'GET');
    // Real nginx with nginx.example.conf as shipped, in front of the listener it suits this engine:
    // the target form for uws, the headers for node. The verdict is what nginx logged from
    // tokengate's X-Token-Status (the shipped access log's verdict="…"); allowed: the file itself.
    const nginxPort = await freePort();
    const nginxPrefix = join(dir, `nginx-${engine}`);
    execFileSync('chmod', ['-R', 'a+rX', dir]); // nginx's workers run unprivileged: they read the files
    nginx = await startNginx(
      renderExampleConfig({
        listenPort: nginxPort,
        tokengatePort: service.ports.get(engine === 'uws' ? 'nginx-target' : 'nginx')!,
        prefix: nginxPrefix,
        root,
      }),
      nginxPrefix,
      nginxPort,
    );
    const accessLog = () => {
      try {
        return readFileSync(join(nginxPrefix, 'tokengate-access.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    /** The verdict of the access-log line after the first `before` (nginx logs after it answered: polled for). */
    const loggedVerdict = async (before: number) => {
      await expect.poll(() => accessLog().length, { message: "nginx's access-log line for the request" }).toBeGreaterThan(before);
      return /verdict="([^"]*)"/.exec(accessLog()[before] ?? '')?.[1];
    };
    doors['real nginx (nginx.example.conf)'] = async (uri) => {
      const before = accessLog().length;
      const response = await rawRequest(nginxPort, `GET ${uri} HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n`);
      const tokenStatus = await loggedVerdict(before);
      if (response.status !== 200) return { status: response.status, tokenStatus };
      return { status: response.body === files.get(uri.split('?')[0]!) ? 200 : -1, tokenStatus };
    };
    // A client that adds the method header the proxy sets, naming GET.
    methodDoors['real nginx (nginx.example.conf)'] = async (uri, method) => {
      const before = accessLog().length;
      const response = await fetch(`http://127.0.0.1:${nginxPort}${uri}`, { method, headers: { 'X-Original-Method': 'GET' } });
      const body = await response.text();
      const tokenStatus = await loggedVerdict(before);
      if (response.status !== 200) return { status: response.status, tokenStatus };
      return { status: method === 'HEAD' || body === files.get(uri.split('?')[0]!) ? 200 : -1, tokenStatus };
    };
    nginxAbsolute = async (target) => {
      const response = await rawRequest(nginxPort, `GET ${target} HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n`);
      return [response.status, response.body === files.get('/index.html')];
    };
    if (engine === 'uws') return;
    caddyPort = await freePort();
    caddy = await startCaddy(caddyPort, service.ports.get('caddy')!);
    methodDoors['nginx-style headers'] = async (uri, method) =>
      fromHttp(
        await rawRequest(
          service.ports.get('nginx')!,
          `GET /auth HTTP/1.1\r\nHost: tokengate\r\nX-Original-URI: ${uri}\r\nX-Real-IP: ${clientIp}\r\nX-Original-Method: ${method}\r\n\r\n`,
        ),
      );
    // Envoy HTTP mode passes the client's method as the auth request's own; a client header is not read.
    methodDoors['Envoy HTTP mode'] = async (uri, method) =>
      fromHttp(
        await rawRequest(
          service.ports.get('envoy-http')!,
          `${method} /tokengate${uri} HTTP/1.1\r\nHost: files.example\r\nContent-Length: 0\r\nX-Real-IP: ${clientIp}\r\nX-Original-Method: GET\r\n\r\n`,
        ),
      );
    // A client that adds the method header Caddy sets, naming GET.
    methodDoors['Caddy forward_auth'] = async (uri, method) => {
      const response = await fetch(`http://127.0.0.1:${caddyPort}${uri}`, { method, headers: { 'X-Forwarded-Method': 'GET' } });
      const body = await response.text();
      if (response.status !== 200)
        return { status: response.status, tokenStatus: response.headers.get('x-token-status') ?? undefined };
      return { status: method === 'HEAD' || body === files.get(uri.split('?')[0]!) ? 200 : -1, tokenStatus: 'valid' };
    };
    doors['nginx-style headers'] = async (uri) =>
      fromHttp(
        await rawRequest(
          service.ports.get('nginx')!,
          `GET /auth HTTP/1.1\r\nHost: tokengate\r\nX-Original-URI: ${uri}\r\nX-Real-IP: ${clientIp}\r\nX-Original-Method: GET\r\n\r\n`,
        ),
      );
    // What Envoy sends with deploy/envoy/envoy-http.yaml: path_prefix + the original path and query.
    doors['Envoy HTTP mode'] = async (uri) =>
      fromHttp(
        await rawRequest(
          service.ports.get('envoy-http')!,
          `GET /tokengate${uri} HTTP/1.1\r\nHost: files.example\r\nContent-Length: 0\r\nX-Real-IP: ${clientIp}\r\n\r\n`,
        ),
      );
    // Raw bytes, as a client may send them (fetch would resolve "%2e%2e" before sending).
    doors['Caddy forward_auth'] = async (uri) => {
      const response = await rawRequest(caddyPort, `GET ${uri} HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n`);
      if (response.status !== 200) return fromHttp(response);
      // Allowed: the file itself (Caddy does not copy the auth answer's headers on a 2xx).
      return { status: response.body === files.get(uri.split('?')[0]!) ? 200 : -1, tokenStatus: 'valid' };
    };
  });

  afterAll(async () => {
    grpcClient?.close();
    await Promise.all([caddy?.stop(), nginx?.stop(), service?.stop()]);
  });

  it(`the same verdict for every case through every door ${casesCover}`, async () => {
    const table: Record<string, Record<string, Verdict>> = {};
    const expected: Record<string, Record<string, Verdict>> = {};
    for (const { name, uri, expected: verdict } of cases) {
      const url = uri();
      for (const [door, ask] of Object.entries(doors)) {
        table[door] = { ...table[door], [name]: await ask(url) };
        expected[door] = { ...expected[door], [name]: verdict };
      }
    }
    expect(table).toEqual(expected);
    expect(Object.keys(doors)).toHaveLength(engine === 'uws' ? 3 : 6);
  });

  it('the method: a GET link opens GET and HEAD at every door; any other method is 403 bad-method, whatever method header the client adds', async () => {
    const url = hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) });
    const table: Record<string, Record<string, Verdict>> = {};
    const expected: Record<string, Record<string, Verdict>> = {};
    for (const [door, ask] of Object.entries(methodDoors)) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) {
        table[door] = { ...table[door], [method]: await ask(url, method) };
        expected[door] = {
          ...expected[door],
          [method]:
            method === 'GET' || method === 'HEAD'
              ? { status: 200, tokenStatus: 'valid' }
              : { status: 403, tokenStatus: 'bad-method' },
        };
      }
    }
    expect(table).toEqual(expected);
    expect(Object.keys(methodDoors)).toHaveLength(engine === 'uws' ? 3 : 6);
  });

  it('limits at every door: a link limited to 2 uses opens twice, then 403 over-limit (each door its own link)', async () => {
    const valid: Verdict = { status: 200, tokenStatus: 'valid' };
    const table: Record<string, Verdict[]> = {};
    const expected: Record<string, Verdict[]> = {};
    for (const [i, [door, ask]] of Object.entries(doors).entries()) {
      // Another end, another token: each door counts a link of its own.
      const url = hmac.sign({ path: '/dl/a.zip', expiresSec: expiresIn(600 + i) });
      table[door] = [await ask(url), await ask(url), await ask(url)];
      expected[door] = [valid, valid, { status: 403, tokenStatus: 'over-limit' }];
    }
    expect(table).toEqual(expected);
    expect(Object.keys(doors)).toHaveLength(engine === 'uws' ? 3 : 6);
  });

  it('a URI that does not start with "/" (nginx\'s $request_uri of "GET http://h?…"): never an allow, never a 5xx, at any door', async () => {
    const url = hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) });
    const badUri: Verdict = { status: 403, tokenStatus: 'bad-uri' };
    const got: Record<string, unknown[]> = {};
    const want: Record<string, unknown[]> = {};
    const raw = async (listener: string, request: string) => fromHttp(await rawRequest(service.ports.get(listener)!, request));
    // What the target form reads of nginx's "/tokengate/$remote_addr$request_uri" for such a request.
    got['target form'] = [
      await raw('nginx-target', `GET /tokengate/${clientIp}?${url} HTTP/1.1\r\nHost: t\r\nX-Original-Method: GET\r\n\r\n`),
      await raw('nginx-target', `GET /tokengate/${clientIp}?x HTTP/1.1\r\nHost: t\r\nX-Original-Method: GET\r\n\r\n`),
    ];
    want['target form'] = [badUri, badUri];
    got['Envoy gRPC mode'] = [
      await methodDoors['Envoy gRPC mode']!(`?${url}`, 'GET'),
      await methodDoors['Envoy gRPC mode']!('?x', 'GET'),
    ];
    want['Envoy gRPC mode'] = [badUri, badUri];
    // nginx refuses such a target itself (400), and never serves "/" for it.
    got['real nginx (nginx.example.conf)'] = [await nginxAbsolute(`http://h?${url}`), await nginxAbsolute('http://h?x')];
    want['real nginx (nginx.example.conf)'] = [
      [400, false],
      [400, false],
    ];
    if (engine === 'node') {
      got['nginx-style headers'] = [await methodDoors['nginx-style headers']!(`?${url}`, 'GET')];
      want['nginx-style headers'] = [badUri];
      got['Envoy HTTP mode'] = [
        await raw('envoy-http', `GET /tokengate?${url} HTTP/1.1\r\nHost: t\r\nX-Real-IP: ${clientIp}\r\n\r\n`),
        await raw('envoy-http', `GET /tokengate?x HTTP/1.1\r\nHost: t\r\nX-Real-IP: ${clientIp}\r\n\r\n`),
      ];
      want['Envoy HTTP mode'] = [badUri, badUri];
      // Caddy reads "http://h?…" as the path "/" with that query: no route covers it.
      const caddy = await rawRequest(
        caddyPort,
        `GET http://h?${url} HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n`,
      );
      got['Caddy forward_auth'] = [[...Object.values(fromHttp(caddy)), caddy.body === files.get('/index.html')]];
      want['Caddy forward_auth'] = [[403, 'no-route', false]];
    }
    expect(got).toEqual(want);
  });

  // Envoy HTTP mode (X-Real-IP) and Caddy (X-Forwarded-Uri) read header sources: the uws engine's
  // config refuses them (test/service/engine.test.ts), so their particulars run on the node engine only.
  if (engine === 'uws') return;

  describe('Envoy HTTP mode', () => {
    const ask = (target: string, extra = '') =>
      rawRequest(service.ports.get('envoy-http')!, `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Real-IP: ${clientIp}\r\n${extra}\r\n`);

    it.each([
      ['outside the prefix', '/live/ch/seg-1.ts?token=x'],
      ['the prefix alone', '/tokengate'],
      ['a longer segment that starts like the prefix', '/tokengatex/live/ch/seg-1.ts?token=x'],
    ])('a target %s is a deployment error: 503, never an allow', async (_name, target) => {
      const response = await ask(target);
      expect([response.status, header(response, 'x-token-status')]).toEqual([503, 'bad-source']);
    });

    it('the auth request’s own method is the original one (Envoy sends it, with Content-Length 0): GET and HEAD only', async () => {
      const url = alta('/live/ch/seg-1.ts', clientIp);
      for (const [method, status] of [
        ['GET', 200],
        ['HEAD', 200],
        ['POST', 403],
        ['DELETE', 403],
      ] as const) {
        const response = await rawRequest(
          service.ports.get('envoy-http')!,
          `${method} /tokengate${url} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Real-IP: ${clientIp}\r\n\r\n`,
        );
        expect([method, response.status]).toEqual([method, status]);
      }
    });

    it('a client X-Original-URI or X-Forwarded-Uri is not read: only the path counts', async () => {
      const response = await ask('/tokengate/live/ch/seg-1.ts', `X-Original-URI: ${alta('/live/ch/seg-1.ts', clientIp)}\r\n`);
      expect([response.status, header(response, 'x-token-status')]).toEqual([403, 'missing']);
    });
  });

  it('CloudFront signed cookies (made by the SDK) through every door that passes the Cookie header', async () => {
    const cfFile = formatFile(cloudfrontFixture);
    const cookies = (resource: string, ttl: number) =>
      Object.entries(
        getSignedCookies({
          keyPairId: cloudfrontFixture.keys[0].id,
          privateKey: cloudfrontFixture.keys[0].material,
          policy: JSON.stringify({
            Statement: [
              {
                Resource: `${cloudfrontFixture.options!.baseUrl}${resource}`,
                Condition: { DateLessThan: { 'AWS:EpochTime': Math.floor(Date.now() / 1000) + ttl } },
              },
            ],
          }),
        }),
      )
        .map(([name, value]) => `${name}=${value}`)
        .join('; ');
    const through: Record<string, (cookie: string) => Promise<number>> = {
      'nginx-style headers': async (cookie) =>
        (
          await rawRequest(
            service.ports.get('nginx')!,
            `GET /auth HTTP/1.1\r\nHost: tokengate\r\nX-Original-URI: ${cfFile}\r\nX-Real-IP: ${clientIp}\r\nX-Original-Method: GET\r\nCookie: ${cookie}\r\n\r\n`,
          )
        ).status,
      // With `cookie` in the ext_authz filter's allowed_headers (docs/formats/cloudfront.md).
      'Envoy HTTP mode': async (cookie) =>
        (
          await rawRequest(
            service.ports.get('envoy-http')!,
            `GET /tokengate${cfFile} HTTP/1.1\r\nHost: files.example\r\nContent-Length: 0\r\nX-Real-IP: ${clientIp}\r\nCookie: ${cookie}\r\n\r\n`,
          )
        ).status,
      'Envoy gRPC mode': async (cookie) => {
        const verdict = await grpcClient.check(
          encodeCheckRequest({
            method: 'GET',
            path: cfFile,
            headers: { 'x-envoy-external-address': clientIp, ':path': cfFile, cookie },
          }),
        );
        return verdict.code === 0 ? 200 : verdict.httpStatus || 403;
      },
      'Caddy forward_auth': async (cookie) => {
        const response = await rawRequest(
          caddyPort,
          `GET ${cfFile} HTTP/1.1\r\nHost: files.example\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
        );
        return response.status === 200 && response.body !== files.get(cfFile) ? -1 : response.status;
      },
    };
    const table: Record<string, number[]> = {};
    for (const [door, ask] of Object.entries(through)) {
      table[door] = [
        await ask(`a=1; ${cookies(`${cloudfrontFixture.prefix}*`, 600)}`),
        await ask(cookies(`${cloudfrontFixture.prefix}other.bin`, 600)),
        await ask(cookies(`${cloudfrontFixture.prefix}*`, -10)),
        await ask('a=1'),
      ];
    }
    expect(table).toEqual(Object.fromEntries(Object.keys(through).map((door) => [door, [200, 403, 410, 403]])));
  });

  describe('Caddy forward_auth (deploy/caddy/Caddyfile)', () => {
    it('serves the file for a valid token; 403 and 410 reach the client with X-Token-Status and no-store', async () => {
      const valid = await fetch(`http://127.0.0.1:${caddyPort}${alta('/live/ch/seg-1.ts', clientIp)}`);
      expect([valid.status, await valid.text()]).toEqual([200, files.get('/live/ch/seg-1.ts')]);
      for (const [uri, status, reason] of [
        [forge(alta('/live/ch/seg-1.ts', clientIp)), 403, 'forged'],
        [alta('/live/ch/seg-1.ts', clientIp, -60), 410, 'expired'],
      ] as const) {
        const response = await fetch(`http://127.0.0.1:${caddyPort}${uri}`);
        expect([
          response.status,
          response.headers.get('x-token-status'),
          response.headers.get('cache-control'),
          await response.text(),
        ]).toEqual([status, reason, 'no-store', '']);
      }
    });

    it('a client-supplied X-Forwarded-Uri cannot change the verdict', async () => {
      const valid = alta('/live/ch/seg-1.ts', clientIp);
      const denied = await fetch(`http://127.0.0.1:${caddyPort}/live/ch/seg-1.ts`, { headers: { 'X-Forwarded-Uri': valid } });
      expect([denied.status, denied.headers.get('x-token-status')]).toEqual([403, 'missing']);
      const allowed = await fetch(`http://127.0.0.1:${caddyPort}${valid}`, {
        headers: { 'X-Forwarded-Uri': '/live/ch/seg-1.ts' },
      });
      expect(allowed.status).toBe(200);
    });

    it('raw bytes anywhere in the client request target: never the file, always answered or closed, never left waiting', async () => {
      const url = alta('/live/ch/seg-1.ts', clientIp);
      expect((await firstAnswer(caddyPort, `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`)).result).toBe(200);
      const targets = probeBytes.flatMap((byte) =>
        positions.flatMap((at) =>
          [insert(url, byte, at, '/live/'.length), insert(url, byte, at, url.indexOf('-') + 3)].map((target) => ({
            byte,
            at,
            text: `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`,
          })),
        ),
      );
      const results = await pooled(targets.length, 16, (i) => firstAnswer(caddyPort, targets[i]!.text, 10_000));
      for (const [i, { result, settledMs }] of results.entries()) {
        const { byte, at, text } = targets[i]!;
        const name = `${JSON.stringify(text.split('\r\n')[0])} (0x${byte.toString(16)} ${at})`;
        // Caddy answers a malformed request at once; left waiting, a row would get no answer in the 10 s window.
        expect(settledMs, `${name}: answered or closed within 5 s`).toBeLessThan(5000);
        // A space before or after the target separates it from the method and version: the genuine URL remains.
        if (!(byte === 0x20 && at !== 'middle')) expect(result, name).not.toBe(200);
      }
    }, 60_000);

    it('a client-supplied X-Forwarded-For cannot borrow another client IP', async () => {
      const response = await fetch(`http://127.0.0.1:${caddyPort}${alta('/live/ch/seg-1.ts', otherIp)}`, {
        headers: { 'X-Forwarded-For': otherIp },
      });
      expect([response.status, response.headers.get('x-token-status')]).toEqual([403, 'forged']);
    });
  });
});

describe('Caddy with tokengate unreachable', () => {
  it('answers 502, never the file', async () => {
    const port = await freePort();
    const caddy = await startCaddy(port, await freePort());
    try {
      const response = await fetch(`http://127.0.0.1:${port}${hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) })}`);
      expect(response.status).toBe(502);
      expect(await response.text()).not.toContain(files.get('/vod/a.mp4'));
    } finally {
      await caddy.stop();
    }
  });
});

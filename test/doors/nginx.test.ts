/**
 * Real nginx (Debian package) in front of the real service, configured from nginx.example.conf
 * with test ports and paths only; a static origin on disk. Asserts what a client sees. The
 * shipped config sends the original request in both listener forms; a second nginx, the same
 * config, asks the service's target-form listener, and the cases of both forms run through both.
 *
 * Over 250 lines: the cases share one real nginx and one service, started once for the file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exampleConfigPath,
  freePort,
  nginxBinary,
  type RunningNginx,
  renderExampleConfig,
  socketsOnPort,
  startNginx,
} from '../helpers/nginx.js';
import { firstAnswer, pooled } from '../helpers/raw-bytes.js';
import { type RawResponse, rawRequest } from '../helpers/raw-http.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { altaStream, route, testConfig } from '../helpers/test-config.js';

const published = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const clientIp = '127.0.0.1'; // what nginx sees as $remote_addr for this test client
const files = new Map<string, Buffer>();
let dir: string;
let configFile: string;
let tokengatePort: number;
let targetPort: number;
let tokengate: RunningService;
let nginx: RunningNginx;
/** The same nginx.example.conf in front of the target-form listener (`/tokengate/<ip><uri>`). */
let targetNginx: RunningNginx;
let base: string;

const env = { TG_TV_KEY: 'nginx-test-alta-secret' };

function origin(root: string): void {
  const put = (path: string, content: Buffer | string) => {
    const bytes = Buffer.from(content);
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), bytes);
    files.set(path, bytes);
  };
  put('/my/video.mp4', randomBytes(4096));
  put('/my/uri', 'the published example path\n');
  put('/unrouted.txt', 'not for anyone\n');
  // What nginx serves for "/" (the path no route covers): never to be reached through a token.
  put('/index.html', 'the root index, not for anyone\n');
  put('/elsewhere/deep/file.txt', 'not for anyone\n');
  for (const channel of ['news', 'sport']) {
    put(
      `/tv/${channel}/index.m3u8`,
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n',
    );
    for (const variant of ['720p', '360p']) {
      put(
        `/tv/${channel}/${variant}/index.m3u8`,
        '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg-0.ts\n#EXTINF:4.0,\nseg-1.ts\n#EXT-X-ENDLIST\n',
      );
      for (const segment of ['seg-0.ts', 'seg-1.ts']) put(`/tv/${channel}/${variant}/${segment}`, randomBytes(1880));
    }
  }
}

async function sign(args: string[]): Promise<string> {
  const result = await runCli(['sign', '--config', configFile, ...args], env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

/** The tests' config, its listeners on these ports, in `dir` (a second one gets its own file). */
function configWith(port: number, target: number, name = 'config.json'): string {
  return writeConfig(
    dir,
    testConfig({
      // The listener forms nginx.example.conf serves, each reading the method nginx passes in X-Original-Method.
      listeners: [
        { port: port, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method' },
        { name: 'target', port: target, pathPrefix: '/tokengate', clientIpInPath: true, methodHeader: 'X-Original-Method' },
      ],
      routes: [
        { name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] },
        route('tv', '/tv/', 'alta', [{ id: 'k1', env: 'TG_TV_KEY' }], altaStream),
      ],
    }),
    name,
  );
}

let ownPairs = 0;
/**
 * A tokengate of its own behind nginx.example.conf, for tests that stop or freeze it: the shared
 * pair's keepalive pool and error log stay untouched, whatever order the tests run in.
 */
async function ownPair() {
  const n = ++ownPairs;
  const file = configWith(await freePort(), await freePort(), `config-own-${n}.json`);
  const start = () => startService(['serve', '--config', file], env, 3);
  let tokengate = await start();
  const port = JSON.parse(readFileSync(file, 'utf8')).listeners[0].port as number;
  const listenPort = await freePort();
  const prefix = join(dir, `nginx-own-${n}`);
  const server = await startNginx(
    renderExampleConfig({ listenPort, tokengatePort: port, prefix, root: join(dir, 'root') }),
    prefix,
    listenPort,
  );
  return {
    get tokengate() {
      return tokengate;
    },
    /** Starts it again on its ports after a stop. */
    async restart() {
      tokengate = await start();
    },
    port,
    get: (path: string) => fetch(`http://127.0.0.1:${listenPort}${path}`, { redirect: 'manual' }),
    stop: () => Promise.all([server.stop(), tokengate.stop()]),
  };
}

function startTokengate(): Promise<RunningService> {
  return startService(['serve', '--config', configFile], env, 3);
}

const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { redirect: 'manual', ...init });

beforeAll(async () => {
  dir = tempDir();
  const root = join(dir, 'root');
  origin(root);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  // The published example's secret, so its URL is a genuine, expired token here.
  writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
  tokengatePort = await freePort();
  targetPort = await freePort();
  configFile = configWith(tokengatePort, targetPort);
  tokengate = await startTokengate();
  const listenPort = await freePort();
  nginx = await startNginx(
    renderExampleConfig({ listenPort, tokengatePort, prefix: join(dir, 'nginx'), root }),
    join(dir, 'nginx'),
    listenPort,
  );
  base = `http://127.0.0.1:${listenPort}`;
  const targetListen = await freePort();
  const targetPrefix = join(dir, 'nginx-target');
  targetNginx = await startNginx(
    renderExampleConfig({ listenPort: targetListen, tokengatePort: targetPort, prefix: targetPrefix, root }),
    targetPrefix,
    targetListen,
  );
});

afterAll(async () => {
  await Promise.all([nginx?.stop(), targetNginx?.stop(), tokengate?.stop()]);
});

describe('nginx.example.conf as shipped', () => {
  it('nginx -t accepts it as it stands', () => {
    const output = execFileSync(nginxBinary(), ['-t', '-c', exampleConfigPath.pathname], { encoding: 'utf8', stdio: 'pipe' });
    expect(output).toBe('');
  });
});

describe('through real nginx', () => {
  it('serves the file for valid Azion and Alta URLs', async () => {
    const azion = await get(await sign(['--path', '/my/video.mp4', '--ttl', '600']));
    expect(azion.status).toBe(200);
    expect(Buffer.from(await azion.arrayBuffer()).equals(files.get('/my/video.mp4')!)).toBe(true);
    const alta = await get(await sign(['--path', '/tv/news/720p/seg-0.ts', '--ttl', '600', '--ip', clientIp]));
    expect(alta.status).toBe(200);
    expect(Buffer.from(await alta.arrayBuffer()).equals(files.get('/tv/news/720p/seg-0.ts')!)).toBe(true);
  });

  it('403 for forged and malformed tokens, 410 for the expired published example', async () => {
    const url = await sign(['--path', '/my/uri', '--ttl', '600']);
    const forged = url.replace(/st=(.)/, (_m, c: string) => `st=${c === 'A' ? 'B' : 'A'}`);
    for (const denied of [
      forged,
      '/my/uri?st=short&e=1470055000',
      '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=01470055000',
      '/my/uri',
    ]) {
      const response = await get(denied);
      expect([denied, response.status]).toEqual([denied, 403]);
    }
    expect((await get(url)).status).toBe(200);
    expect((await get(published)).status).toBe(410);
    expect(nginx.errorLog()).not.toMatch(/auth request unexpected status/);
  });

  it('a file outside every route is never served unchecked: 403 no-route, also under a location of no route', async () => {
    const response = await get('/unrouted.txt');
    expect([response.status, await response.text()]).not.toContain('not for anyone\n');
    expect(response.status).toBe(403);
    const deep = await get('/elsewhere/deep/file.txt?st=m6WCATfRgS_5lcyChCPgrw&e=4102444800');
    expect(deep.status).toBe(403);
  });

  it('410 for a genuine token past its end, with no "auth request unexpected status" in the error log', async () => {
    // 3 s, not 1: the first GET must be decided before the end, counted on the sign command's clock.
    const url = await sign(['--path', '/my/uri', '--ttl', '3']);
    const expiresSec = Number(/e=(\d{10})$/.exec(url)![1]);
    expect((await get(url)).status).toBe(200);
    // Expired means now > e: wait until the second after e has begun (a lower bound only).
    await new Promise((r) => setTimeout(r, Math.max(0, (expiresSec + 1) * 1000 - Date.now()) + 200));
    const response = await get(url);
    expect(response.status).toBe(410);
    expect(nginx.errorLog()).not.toMatch(/auth request unexpected status/);
  });

  it('nginx itself refuses a request target with bytes outside printable ASCII (400), before any auth request', async () => {
    const port = Number(new URL(base).port);
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    expect((await rawRequest(port, `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(200);
    for (const target of [
      `/my/video.mp4\xe6\x9c\xac?${url.split('?')[1]}`,
      `${url}\xff`,
      `/my/\x7fvideo.mp4?${url.split('?')[1]}`,
    ]) {
      const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect([JSON.stringify(target), response.status]).toEqual([JSON.stringify(target), 400]);
    }
  });

  it('HEAD behaves like GET', async () => {
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    const head = await get(url, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '4096']);
    expect((await get('/my/video.mp4', { method: 'HEAD' })).status).toBe(403);
  });

  it('a POST with a body is decided at once, never left hanging', async () => {
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    const body = randomBytes(256 * 1024);
    // Hanging would mean waiting for nginx's 60 s client_body_timeout: 10 s tells the two apart.
    let started = Date.now();
    const denied = await get('/my/video.mp4?st=AAAAAAAAAAAAAAAAAAAAAA&e=1900000000', { method: 'POST', body });
    expect([denied.status, Date.now() - started < 10_000]).toEqual([403, true]);
    started = Date.now();
    // A genuine link, but the route allows GET and HEAD only (bad-method).
    const refused = await get(url, { method: 'POST', body });
    expect([refused.status, Date.now() - started < 10_000]).toEqual([403, true]);
  });

  it('a client-supplied X-Original-URI or X-Real-IP cannot change the verdict', async () => {
    const valid = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    expect((await get('/my/video.mp4', { headers: { 'X-Original-URI': valid } })).status).toBe(403);
    const forOther = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', '198.51.100.9']);
    expect((await get(forOther, { headers: { 'X-Real-IP': '198.51.100.9', 'X-Forwarded-For': '198.51.100.9' } })).status).toBe(
      403,
    );
    const forMe = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    expect((await get(forMe, { headers: { 'X-Real-IP': '198.51.100.9' } })).status).toBe(200);
  });

  it('keepalive: hundreds of checks use a small, bounded number of connections to tokengate', async () => {
    // A pair of its own: the shared nginx's pool holds what the concurrency test below opened.
    const pair = await ownPair();
    try {
      const url = await sign(['--path', '/my/uri', '--ttl', '600']);
      const statuses = new Set<number>();
      for (let i = 0; i < 300; i++) statuses.add((await pair.get(i % 3 ? url : published)).status);
      expect([...statuses].sort()).toEqual([200, 410]);
      // Without keepalive each check would leave its own socket (ESTABLISHED or TIME_WAIT): ~300.
      expect(socketsOnPort(pair.port)).toBeLessThanOrEqual(8);
    } finally {
      await pair.stop();
    }
  });

  it('keepalive under concurrency: 150 checks at once, four times over, open connections to tokengate and close none of them', async () => {
    const url = await sign(['--path', '/my/uri', '--ttl', '600']);
    // A connection nginx closes ends in TIME_WAIT on its side. With the pool at 32 per worker,
    // each wave closed every connection beyond 32 again: about 300 of 600 checks opened one.
    const closedBefore = timeWaitOnPort(tokengatePort);
    for (let wave = 0; wave < 4; wave++) {
      const statuses = await Promise.all(Array.from({ length: 150 }, () => get(url).then((response) => response.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    }
    expect(timeWaitOnPort(tokengatePort) - closedBefore).toBeLessThanOrEqual(10);
  });
});

/** Connections on `port` in TIME_WAIT (/proc/net/tcp state 06): each one a connection closed in the last minute. */
function timeWaitOnPort(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[3] === '06' && (f[1]!.endsWith(hex) || f[2]!.endsWith(hex))).length;
}

/** The tokengate_requests_total counts of the verdicts that page the on-call (bad-source, error). */
async function pagingDecisions(): Promise<number> {
  const response = await rawRequest(tokengate.ports.get('admin')!, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  return [...response.body.matchAll(/^tokengate_requests_total\{[^}]*verdict="(?:bad-source|error)"\} (\d+)$/gm)]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0);
}

describe.each(['headers', 'target'] as const)('what a client chooses, through nginx.example.conf, %s form', (form) => {
  const proxy = () => (form === 'headers' ? nginx : targetNginx);
  const send = (request: string): Promise<RawResponse> => rawRequest(proxy().port, request);
  const ask = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${proxy().port}${path}`, { redirect: 'manual', ...init });
  /** The verdict nginx has logged so far for the first request `line` matches (it logs after answering: poll it). */
  const loggedVerdict = (line: RegExp): string | undefined => {
    const found = readFileSync(join(proxy().prefix, 'tokengate-access.log'), 'utf8')
      .split('\n')
      .find((entry) => line.test(entry));
    return found === undefined ? undefined : /verdict="([^"]*)"/.exec(found)?.[1];
  };

  it('an absolute-form target with an empty path ("http://h?…") is refused by nginx (400), never the root behind a genuine token', async () => {
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    expect((await send(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(200);
    // nginx's $request_uri of these starts with "?": the IP segment of the target form took it.
    for (const target of [`http://h?${url}`, `http://h:80?${url}`, 'http://h?x', 'http://h:80?']) {
      const response = await send(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect([target, response.status, response.body.includes('root index')]).toEqual([target, 400, false]);
    }
    // With a path, the absolute form is an ordinary request; without one, it is "/" (no route).
    expect((await send(`GET http://h${url} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(200);
    expect((await send('GET http://h HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(403);
  });

  it('a GET link opens GET and HEAD only (the route default): other methods are 403 bad-method, whatever the client says', async () => {
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    expect((await ask(url)).status).toBe(200);
    const head = await ask(url, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '4096']);
    for (const method of ['DELETE', 'PUT', 'POST', 'PATCH', 'OPTIONS', 'PROPFIND']) {
      expect([method, (await ask(url, { method })).status]).toEqual([method, 403]);
    }
    // nginx sets X-Original-Method from $request_method and forwards no client header. A path of
    // its own (the log has no query) marks this request's line apart from the DELETEs above.
    const marked = await sign(['--path', '/my/uri', '--ttl', '600']);
    expect((await ask(marked, { method: 'DELETE', headers: { 'X-Original-Method': 'GET' } })).status).toBe(403);
    await expect.poll(() => loggedVerdict(/"DELETE \/my\/uri /)).toBe('bad-method');
  });

  it('the longest URI nginx takes gets a verdict, never a 5xx (the auth request carries it twice)', async () => {
    // nginx takes a request line up to its 8k header buffer (a longer one is its own 414): this URI is 8,172 bytes.
    const long = `/my/${'a'.repeat(8_125)}`;
    const url = await sign(['--path', long, '--ttl', '600']);
    const forged = url.replace(/st=(.)/, (_m, c: string) => `st=${c === 'A' ? 'B' : 'A'}`);
    // Allowed, then the static origin has no such file.
    expect((await send(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(404);
    expect((await send(`GET ${forged} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(403);
    expect((await send(`GET ${long}${'b'.repeat(200)} HTTP/1.1\r\nHost: x\r\n\r\n`)).status).toBe(414);
  });

  it('any printable ASCII byte anywhere in the target: never a 5xx, and nothing pages the on-call', async () => {
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    const before = await pagingDecisions();
    const targets: string[] = [];
    for (let byte = 0x21; byte <= 0x7e; byte++) {
      const b = String.fromCharCode(byte);
      targets.push(`${b}${url}`, `/my/${b}video.mp4?${url.split('?')[1]}`, `${url.replace('&', `&${b}`)}`, `${url}${b}`);
    }
    const results = await pooled(targets.length, 8, (i) =>
      firstAnswer(proxy().port, `GET ${targets[i]} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    const fiveHundreds = results.flatMap(({ result }, i) =>
      typeof result === 'number' && result >= 500 ? [[targets[i], result]] : [],
    );
    expect(fiveHundreds).toEqual([]);
    expect(await pagingDecisions()).toBe(before);
  }, 30_000);
});

describe('HLS through nginx: one playlist token covers the channel', () => {
  /** Resolves every URI line of a playlist against the playlist's own URL, as players do. */
  const references = (playlist: string, url: string) =>
    playlist
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const resolved = new URL(line, `${base}${url}`);
        return resolved.pathname + resolved.search;
      });

  it('rewriting: the player follows the rewritten playlists to every segment', async () => {
    const master = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    const response = await get(master);
    expect(response.status).toBe(200);
    const variants = references(await response.text(), master);
    expect(variants).toHaveLength(2);
    let segments = 0;
    for (const variant of variants) {
      expect(variant).toMatch(/^\/tv\/news\/\d+p\/index\.m3u8\?token=/);
      const variantResponse = await get(variant);
      expect(variantResponse.status).toBe(200);
      for (const segment of references(await variantResponse.text(), variant)) {
        const segmentResponse = await get(segment);
        expect(segmentResponse.status).toBe(200);
        const bytes = Buffer.from(await segmentResponse.arrayBuffer());
        expect(bytes.equals(files.get(segment.split('?')[0]!)!)).toBe(true);
        segments++;
      }
    }
    expect(segments).toBe(4);
  });

  it('without the token, or with another channel’s token, every file is 403', async () => {
    const sport = await sign(['--path', '/tv/sport/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    const query = sport.slice(sport.indexOf('?'));
    for (const path of ['/tv/news/index.m3u8', '/tv/news/720p/index.m3u8', '/tv/news/720p/seg-1.ts']) {
      expect((await get(path)).status).toBe(403);
      expect((await get(path + query)).status).toBe(403);
    }
    expect((await get(sport)).status).toBe(200);
  });

  it('cookie: the tokenized playlist sets a channel cookie that authorizes query-less requests', async () => {
    const master = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    const response = await get(master);
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^tokengate=token=[0-9a-f]{40}-\w+-\d{10}-\d{10}; Path=\/tv\/news\/; HttpOnly; Secure; SameSite=Lax$/);
    const jar = cookie.split(';')[0]!;
    for (const path of ['/tv/news/720p/index.m3u8', '/tv/news/360p/seg-0.ts']) {
      const withCookie = await get(path, { headers: { Cookie: jar } });
      expect(withCookie.status).toBe(200);
      expect(withCookie.headers.get('set-cookie')).toBeNull();
      expect((await get(path)).status).toBe(403);
    }
    // The playlist fetched by cookie is served without a dangling "?" on its references.
    const variant = await (await get('/tv/news/720p/index.m3u8', { headers: { Cookie: jar } })).text();
    expect(variant).toMatch(/^seg-0\.ts$/m);
    expect((await get('/tv/sport/720p/seg-0.ts', { headers: { Cookie: jar } })).status).toBe(403);
    expect((await get('/tv/news/720p/seg-0.ts', { headers: { Cookie: 'tokengate=token=junk' } })).status).toBe(403);
  });

  it('only the strict, lowercase token parameter reaches Set-Cookie and the playlists, never other query text', async () => {
    const master = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    const token = master.split('token=')[1]!;
    // "Token" (case differs) before the genuine one: nginx's $arg_token took it, text and all.
    const injected = '/tv/news/index.m3u8?Token=x;Path=/;Domain=evil.example&token=';
    const response = await get(`${injected}${token}&utm=%3Cscript%3E`);
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBe(`tokengate=token=${token}; Path=/tv/news/; HttpOnly; Secure; SameSite=Lax`);
    const playlist = await response.text();
    // Every reference carries the token alone: no "Token=", no "utm", no other text of the query.
    expect(playlist).toMatch(new RegExp(`^720p/index\\.m3u8\\?token=${token}$`, 'm'));
    expect(playlist).not.toMatch(/Token=|utm|evil|script/);
    // A token that breaks the grammar sets no cookie and is appended nowhere (and tokengate refuses it).
    const bad = await get(`/tv/news/index.m3u8?token=${token};Path=/`);
    expect([bad.status, bad.headers.get('set-cookie')]).toEqual([403, null]);
  });

  it('a cookie that is not exactly a token is ignored: no injected query text reaches tokengate', async () => {
    const master = await sign(['--path', '/tv/news/index.m3u8', '--ttl', '600', '--ip', clientIp]);
    const token = master.split('token=')[1]!;
    expect((await get('/tv/news/720p/seg-0.ts', { headers: { Cookie: `tokengate=token=${token}` } })).status).toBe(200);
    for (const cookie of [`tokengate=token=${token}&x=1`, `tokengate=x&token=${token}`, `tokengate=Token=${token}`]) {
      expect((await get('/tv/news/720p/seg-0.ts', { headers: { Cookie: cookie } })).status, cookie).toBe(403);
    }
  });
});

describe('tokengate down or slow', () => {
  it('503 with Retry-After while tokengate is stopped, and 200 again once it is back', async () => {
    const pair = await ownPair();
    try {
      const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
      expect((await pair.get(url)).status).toBe(200);
      await pair.tokengate.stop();
      const down = await pair.get(url);
      expect([down.status, down.headers.get('retry-after')]).toEqual([503, '5']);
      expect((await pair.get(published)).status).toBe(503);
      await pair.restart();
      expect((await pair.get(url)).status).toBe(200);
    } finally {
      await pair.stop();
    }
  });

  it('503 with Retry-After when tokengate is too slow, 200 when it answers again', async () => {
    const pair = await ownPair();
    try {
      const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
      pair.tokengate.process.kill('SIGSTOP');
      try {
        const started = Date.now();
        const slow = await pair.get(url);
        expect([slow.status, slow.headers.get('retry-after')]).toEqual([503, '5']);
        // nginx.example.conf's proxy_read_timeout is 2 s; without it nginx would wait 60 s.
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        pair.tokengate.process.kill('SIGCONT');
      }
      expect((await pair.get(url)).status).toBe(200);
    } finally {
      await pair.stop();
    }
  });
});

describe('logs as shipped: the verdict in the access log, no token in either log', () => {
  let logNginxes = 0;
  /** One more nginx from the example on the same tokengate, with its own prefix and logs. */
  async function nginxWith(shippedErrorLogLevel: boolean, port = tokengatePort) {
    const listenPort = await freePort();
    // A prefix (and logs) of its own per instance: no test reads another's lines.
    const prefix = join(dir, `nginx-logs-${shippedErrorLogLevel ? 'crit' : 'error'}-${++logNginxes}`);
    // Not shipped: the tests' level (NGINX_LOG_LEVEL or info, which includes "error").
    const config = renderExampleConfig({
      listenPort,
      tokengatePort: port,
      prefix,
      root: join(dir, 'root'),
      shippedErrorLogLevel,
    });
    const server = await startNginx(config, prefix, listenPort);
    return { server, base: `http://127.0.0.1:${listenPort}`, prefix };
  }

  it('each request is one access-log line with the verdict and the path, never the query', async () => {
    const shipped = await nginxWith(true);
    try {
      const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
      const forged = url.replace(/st=(.)/, (_m, c: string) => `st=${c === 'A' ? 'B' : 'A'}`);
      expect((await fetch(`${shipped.base}${url}`)).status).toBe(200);
      expect((await fetch(`${shipped.base}${forged}`)).status).toBe(403);
      expect((await fetch(`${shipped.base}${published}`)).status).toBe(410);
      // nginx writes a request's line after answering it: wait (bounded) for the third.
      const log = join(shipped.prefix, 'tokengate-access.log');
      const read = () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .filter((line) => line !== '');
      await expect.poll(() => read().length).toBeGreaterThanOrEqual(3);
      const lines = read();
      expect(lines.map((line) => /"GET (\S+) HTTP\/1\.1" (\d{3}) \d+ verdict="([a-z-]*)"/.exec(line)?.slice(1))).toEqual([
        ['/my/video.mp4', '200', 'valid'],
        ['/my/video.mp4', '403', 'forged'],
        ['/my/uri', '410', 'expired'],
      ]);
      expect(lines.join('\n')).not.toMatch(/st=|e=\d|\?/);
    } finally {
      await shipped.server.stop();
    }
  });

  it('with tokengate down, nginx at a lower level writes the token into its error log; the shipped "crit" does not', async () => {
    // A tokengate of its own to stop: the shared one keeps serving the other tests.
    const pair = await ownPair();
    const shipped = await nginxWith(true, pair.port);
    const verbose = await nginxWith(false, pair.port);
    const url = await sign(['--path', '/my/video.mp4', '--ttl', '600']);
    const st = /st=([\w-]+)/.exec(url)![1]!;
    await pair.tokengate.stop();
    try {
      expect((await fetch(`${shipped.base}${url}`)).status).toBe(503);
      expect((await fetch(`${verbose.base}${url}`)).status).toBe(503);
      // The contrast shows the level matters: nginx quotes the request line in "error" lines.
      await expect.poll(() => verbose.server.errorLog()).toContain(st);
      expect(shipped.server.errorLog()).not.toContain(st);
      await expect
        .poll(() => readFileSync(join(shipped.prefix, 'tokengate-access.log'), 'utf8'))
        .toMatch(/"GET \/my\/video\.mp4 HTTP\/1\.1" 503 \d+ verdict=""/);
    } finally {
      await Promise.all([shipped.server.stop(), verbose.server.stop(), pair.stop()]);
    }
  });
});

/**
 * Transport conformance: the same raw-socket cases against both engines, each with the outcome
 * it must have on each. Where the uWS build falls short of the ideal (DESIGN.md §5), the case
 * asserts what makes it safe anyway: never an allow, other clients keep being answered, and the
 * shipped nginx config never forwards such a request (checked through real nginx below).
 * docs/security.md "Engine differences" is the prose of this table.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleConfigPath, freePort, type RunningNginx, renderExampleConfig, startNginx } from './helpers/nginx.js';
import { authStatus, parseResponses, type RawResponse } from './helpers/raw-http.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from './helpers/service-process.js';

type EngineName = 'uws' | 'node';
const engines: readonly EngineName[] = ['uws', 'node'];

const realIp = '203.0.113.7';
const expired = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const forged = '/my/uri?st=m6WCATfRgS_5lcyChCPgrX&e=4102444800';
let valid: string;
const services = new Map<EngineName, RunningService>();
let dir: string;
let configFile: string;

/** What one connection got: statuses of the complete responses in order, and whether the service closed it. */
interface Outcome {
  readonly statuses: readonly number[];
  readonly connection: 'open' | 'closed';
}
const answered = (connection: Outcome['connection'], ...statuses: number[]): Outcome => ({ statuses, connection });
/** No answer at all; `open`: held until the engine's 10 s idle timeout. */
const silent = (connection: Outcome['connection']): Outcome => ({ statuses: [], connection });

interface Exchange {
  readonly responses: RawResponse[];
  readonly closed: boolean;
  readonly socket: Socket;
}

/**
 * Writes each chunk (50 ms apart, so a later request follows the earlier answer), then collects
 * what arrives until the service closes the connection, `windowMs` has passed or `enough`
 * responses have arrived.
 * The socket stays open for the caller (to show other clients are served meanwhile).
 */
function exchange(port: number, chunks: readonly string[], windowMs = 600, enough = Number.POSITIVE_INFINITY): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      received += data;
      if (parseResponses(received).length >= enough) {
        clearTimeout(timer);
        done();
      }
    });
    socket.on('error', () => {});
    const done = () => resolve({ responses: parseResponses(received), closed, socket });
    const timer = setTimeout(done, windowMs);
    socket.once('close', () => {
      closed = true;
      clearTimeout(timer);
      done();
    });
    socket.once('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        if (!socket.destroyed) socket.write(chunk, 'latin1');
      }
    });
  });
}

const request = (uri: string, { method = 'GET', version = '1.1', extra = [] as [string, string][], eol = '\r\n' } = {}) =>
  [`${method} /auth HTTP/${version}`, 'Host: tokengate', `X-Original-URI: ${uri}`, `X-Real-IP: ${realIp}`]
    .concat(extra.map(([name, value]) => `${name}: ${value}`))
    .join(eol) +
  eol +
  eol;

const padding = (count: number, size = 1) =>
  Array.from({ length: count }, (_, i) => [`X-Pad-${i}`, 'v'.repeat(size)] as [string, string]);

interface Case {
  readonly name: string;
  readonly chunks: () => string[];
  readonly uws: Outcome;
  readonly node: Outcome;
  /** Why an engine's outcome is safe although it is not the ideal. */
  readonly note?: string;
}

const cases: readonly Case[] = [
  {
    name: 'keepalive: three requests one after another',
    chunks: () => [request(valid), request(expired), request(forged)],
    uws: answered('open', 200, 410, 403),
    node: answered('open', 200, 410, 403),
  },
  {
    name: 'pipelining: three requests in one write',
    chunks: () => [request(valid) + request(expired) + request(forged)],
    uws: answered('open', 200, 410, 403),
    node: answered('open', 200, 410, 403),
  },
  {
    name: 'HTTP/1.0',
    chunks: () => [request(valid, { version: '1.0' })],
    uws: silent('open'),
    node: answered('closed', 200),
    note: 'uWS never answers HTTP/1.0; the shipped nginx config sends HTTP/1.1 (proxy_http_version 1.1)',
  },
  {
    name: 'HEAD',
    chunks: () => [request(valid, { method: 'HEAD' }) + request(expired, { method: 'HEAD' })],
    uws: answered('open', 200, 410),
    node: answered('open', 200, 410),
  },
  {
    name: 'a body announced by Content-Length (never waited for)',
    chunks: () => [`${request(valid, { method: 'POST', extra: [['Content-Length', '100000']] })}part of it`],
    uws: answered('closed', 200),
    node: answered('closed', 200),
  },
  {
    name: 'a chunked body (never waited for)',
    chunks: () => [`${request(valid, { method: 'POST', extra: [['Transfer-Encoding', 'chunked']] })}5\r\nhello\r\n`],
    uws: answered('closed', 200),
    node: answered('closed', 200),
  },
  {
    name: 'a chunked body with a whole request inside it',
    chunks: () => {
      const inside = request(valid);
      return [
        `${request(expired, { method: 'POST', extra: [['Transfer-Encoding', 'chunked']] })}${inside.length.toString(16)}\r\n${inside}\r\n0\r\n\r\n`,
      ];
    },
    uws: answered('closed', 410),
    node: answered('closed', 410),
  },
  {
    name: '130 headers, then the client IP source header again',
    chunks: () => [request(valid, { extra: [...padding(130), ['X-Real-IP', '198.51.100.1']] })],
    uws: silent('open'),
    node: answered('open', 503),
    note: 'node reads every header line (no silent cut-off that would hide the repeat); uWS hangs beyond ~48 headers',
  },
  {
    name: 'two different Content-Length values with a second request inside',
    chunks: () => {
      const smuggled = request(valid);
      return [
        request(expired, {
          method: 'POST',
          extra: [
            ['Content-Length', '0'],
            ['Content-Length', String(smuggled.length)],
          ],
        }) + smuggled,
      ];
    },
    uws: silent('closed'),
    node: answered('closed', 400),
    note: 'uWS would parse the smuggled request even after an answer that closes; the engine closes such a connection unanswered',
  },
  {
    name: 'Content-Length and Transfer-Encoding together',
    chunks: () => [
      `${request(valid, {
        method: 'POST',
        extra: [
          ['Content-Length', '5'],
          ['Transfer-Encoding', 'chunked'],
        ],
      })}0\r\n\r\n`,
    ],
    uws: silent('closed'),
    node: answered('closed', 400),
  },
  {
    name: 'an empty header name before the source headers',
    chunks: () => [`GET /auth HTTP/1.1\r\nHost: tokengate\r\n: x\r\nX-Original-URI: ${valid}\r\nX-Real-IP: ${realIp}\r\n\r\n`],
    uws: answered('open', 503),
    node: answered('closed', 400),
    note: 'uWS hides every header after the empty name: the source headers go missing, which is a 503, never an allow',
  },
  {
    name: 'a header name with "_" (a look-alike of the URI source header)',
    chunks: () => [request(valid, { extra: [['X_Original_URI', expired]] })],
    uws: silent('open'),
    node: answered('open', 200),
    note: 'uWS hangs on "_" in a header name; nginx forwards only the headers its config sets (proxy_pass_request_headers off)',
  },
  {
    name: '60 headers',
    chunks: () => [request(valid, { extra: padding(56) })],
    uws: silent('open'),
    node: answered('open', 200),
    note: 'uWS hangs beyond ~48 headers; the shipped nginx config sends 4',
  },
  {
    name: 'an oversized URI (20 KB source header)',
    chunks: () => [request(`/my/${'a'.repeat(20_000)}?st=x&e=1`)],
    uws: answered('open', 403),
    node: answered('closed', 431),
  },
  {
    name: 'oversized headers (40 × 1 KB)',
    chunks: () => [request(valid, { extra: padding(40, 1000) })],
    uws: answered('open', 200),
    node: answered('closed', 431),
    note: 'uWS answered a 60 KB head here (and refused 200 KB); nginx refuses client heads beyond its 4 × 8k buffers and forwards 4 headers',
  },
  {
    name: 'a 200 KB request head',
    chunks: () => [request(valid, { extra: padding(200, 1000) })],
    uws: silent('closed'),
    node: answered('closed', 431),
  },
  {
    name: 'a repeated URI source header',
    chunks: () => [request(valid, { extra: [['X-Original-URI', valid]] })],
    uws: answered('open', 503),
    node: answered('open', 503),
  },
  {
    name: 'a repeated client IP source header',
    chunks: () => [request(valid, { extra: [['X-Real-IP', '198.51.100.1']] })],
    uws: answered('open', 503),
    node: answered('open', 503),
  },
  {
    name: 'no Host header',
    chunks: () => [request(valid).replace('Host: tokengate\r\n', '')],
    uws: silent('closed'),
    node: answered('open', 200),
    note: 'nginx always sends Host (the shipped config sets "Host tokengate")',
  },
  {
    name: 'bare LF line endings',
    chunks: () => [request(valid, { eol: '\n' })],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'an HTTP/2 connection preface',
    chunks: () => ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    uws: silent('open'),
    node: answered('closed', 400),
  },
];

beforeAll(async () => {
  dir = tempDir();
  writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
  const config = (engine: EngineName) => ({
    engine,
    workers: 1,
    admin: { port: 0 },
    listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
    routes: [{ name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] }],
  });
  configFile = writeConfig(dir, config('uws'));
  writeConfig(dir, config('node'), 'node.json');
  const signed = await runCli(['sign', '--config', configFile, '--path', '/my/video.mp4', '--ttl', '3600']);
  expect(signed.code, signed.stderr).toBe(0);
  valid = signed.stdout.trim();
  const [uws, node] = await Promise.all([
    startService(['serve', '--config', configFile]),
    startService(['serve', '--config', join(dir, 'node.json')]),
  ]);
  services.set('uws', uws);
  services.set('node', node);
});

afterAll(async () => {
  await Promise.all([...services.values()].map((service) => service.stop()));
});

const authPort = (engine: EngineName) => services.get(engine)!.ports.get('auth')!;

describe.each(engines)('transport conformance: %s engine', (engine) => {
  it.each(cases)('$name', async (testCase) => {
    const port = authPort(engine);
    const expected = testCase[engine];
    const got = await exchange(port, testCase.chunks(), expected.connection === 'open' ? 600 : 2000);
    try {
      // Other clients are answered while this connection is open, hung or just closed.
      expect(await authStatus(port, valid, realIp)).toBe(200);
    } finally {
      got.socket.destroy();
    }
    expect({ statuses: got.responses.map((r) => r.status), connection: got.closed ? 'closed' : 'open' }, testCase.note).toEqual(
      expected,
    );
    for (const response of got.responses) expect(response.body).toBe('');
    // Never an allow for anything but the genuine token.
    if (!testCase.chunks().join('').includes(valid)) expect(got.responses.map((r) => r.status)).not.toContain(200);
    expect(services.get(engine)!.process.exitCode).toBeNull();
  });

  it('a malformed request after two pipelined ones: the answers come in order, never a status in their place', async () => {
    const got = await exchange(authPort(engine), [request(valid) + request(valid) + request(valid, { eol: '\n' })]);
    got.socket.destroy();
    const statuses = got.responses.map((r) => r.status);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200)).toBe(true);
  });

  it('a slow client sending one byte a second is cut off at the 10 s head limit; others are answered meanwhile', async () => {
    const port = authPort(engine);
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (data: string) => {
      received += data;
    });
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    const bytes = request(valid);
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < bytes.length && !socket.destroyed) socket.write(bytes[sent++]!, 'latin1');
    }, 1000);
    const others: number[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        others.push(await authStatus(port, valid, realIp));
        await new Promise((r) => setTimeout(r, 1000));
      }
      const elapsed = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 6000))]);
      // uSockets checks timeouts on a 4 s tick, so its 10 s limit fires after 8 to 12 s.
      expect(elapsed).toBeGreaterThanOrEqual(7_500);
      expect(elapsed).toBeLessThanOrEqual(13_500);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    expect(sent).toBeLessThan(bytes.length);
    expect(others).toEqual(Array(8).fill(200));
    // node tells the client why (408); uWS closes without a word. Neither ever decides on a partial head.
    expect(parseResponses(received).map((r) => r.status)).toEqual(engine === 'node' ? [408] : []);
  }, 20_000);

  it('abrupt disconnects mid-request (mid-head, mid-body, before reading the answer) leave the service answering', async () => {
    const port = authPort(engine);
    const head = request(valid, { method: 'POST', extra: [['Content-Length', '1000']] });
    const cuts = [head.slice(0, 17), head.slice(0, head.indexOf('X-Real-IP')), `${head}partial body`, request(valid)];
    await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
              socket.write(cuts[i % cuts.length]!, 'latin1');
              // Half of them with a TCP reset, half with a normal close.
              setTimeout(() => (i % 2 === 0 ? socket.resetAndDestroy() : socket.destroy()), i % 3);
            });
            socket.on('error', () => {});
            socket.once('close', () => resolve());
          }),
      ),
    );
    const statuses = await Promise.all(Array.from({ length: 10 }, () => authStatus(port, valid, realIp)));
    expect(statuses).toEqual(Array(10).fill(200));
    expect(services.get(engine)!.process.exitCode).toBeNull();
  });
});

describe('the uWS shortfalls behind the shipped nginx config', () => {
  let nginx: RunningNginx;
  let base: number;
  beforeAll(async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'my'), { recursive: true });
    writeFileSync(join(root, 'my', 'video.mp4'), 'video bytes\n');
    writeFileSync(join(root, 'my', 'uri'), 'published example\n');
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const listenPort = await freePort();
    const prefix = join(dir, 'nginx');
    nginx = await startNginx(
      renderExampleConfig({ listenPort, tokengatePort: authPort('uws'), prefix, root }),
      prefix,
      listenPort,
    );
    base = listenPort;
  });
  afterAll(async () => {
    await nginx?.stop();
  });

  it('the auth location speaks HTTP/1.1 and forwards only the few headers it sets', () => {
    const text = readFileSync(exampleConfigPath, 'utf8');
    const auth = text.slice(text.indexOf('location = /.tokengate-auth'), text.indexOf('location @tokengate_expired'));
    expect(auth).toMatch(/^\s*proxy_http_version 1\.1;/m);
    expect(auth).toMatch(/^\s*proxy_pass_request_headers off;/m);
    expect(auth).toMatch(/^\s*proxy_pass_request_body off;/m);
    const names = [...auth.matchAll(/^\s*proxy_set_header (\S+)/gm)].map((m) => m[1]!);
    expect(names.sort()).toEqual(['Connection', 'Content-Length', 'Host', 'X-Original-URI', 'X-Real-IP']);
  });

  /** A client request shape; `nginx`: the status nginx itself refuses it with, or 'verdict' when it forwards the token. */
  const shapes: readonly [string, (uri: string) => string, 'verdict' | 400][] = [
    ['HTTP/1.0', (uri) => `GET ${uri} HTTP/1.0\r\nHost: x\r\n\r\n`, 'verdict'],
    [
      '"_" header names',
      (uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\nX_Original_URI: /my/other\r\nX_Real_IP: 1.2.3.4\r\n\r\n`,
      'verdict',
    ],
    [
      '60 headers',
      (uri) =>
        `GET ${uri} HTTP/1.1\r\nHost: x\r\n${padding(58)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join('')}\r\n`,
      'verdict',
    ],
    [
      'injected source headers',
      (uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\nX-Original-URI: /my/other\r\nX-Real-IP: 1.2.3.4\r\n\r\n`,
      'verdict',
    ],
    ['bare LF line endings', (uri) => `GET ${uri} HTTP/1.1\nHost: x\n\n`, 'verdict'],
    ['an empty header name', (uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n`, 400],
    [
      'two Content-Length values',
      (uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello`,
      400,
    ],
    [
      '40 KB of headers',
      (uri) =>
        `GET ${uri} HTTP/1.1\r\nHost: x\r\n${padding(40, 1000)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join('')}\r\n`,
      400,
    ],
  ];
  it.each(shapes)(
    'a client sending %s through nginx gets the verdict of its token, or nginx refuses it (uWS backend)',
    async (_name, build, nginxAnswer) => {
      for (const [uri, verdict] of [
        [valid, 200],
        [expired, 410],
        [forged, 403],
      ] as const) {
        const got = await exchange(base, [build(uri)], 3000, 1);
        got.socket.destroy();
        expect([uri, got.responses.map((r) => r.status)]).toEqual([uri, [nginxAnswer === 'verdict' ? verdict : nginxAnswer]]);
      }
    },
  );
});

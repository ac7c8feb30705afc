/**
 * Transport conformance: the same raw bytes against both engines, each with the outcome it must
 * have. The uws engine reads no signed value from a header (it trims bytes 0x80-0xFF from both
 * ends of header values: docs/security.md rule 11), so the engines are compared on the target form
 * (`/tokengate/<client ip><original uri>`, what the shipped nginx config sends as the auth
 * request's own target); the header form (the embedded default config) runs on node.
 * Where the uWS build falls short of the ideal (docs/engines.md), the case says why it is safe
 * anyway: never an allow, other clients keep being answered, and the shipped nginx config never
 * forwards such a request (checked through real nginx below).
 * docs/engines.md "What each engine does with unusual requests" is the prose of this table.
 *
 * Over 250 lines: one byte matrix for both engines and nginx; its rows only make sense side by side.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { exampleConfigPath, freePort, type RunningNginx, renderExampleConfig, startNginx } from '../helpers/nginx.js';
import { firstAnswer, insert, type Position, pooled, positions, probeBytes, type Result } from '../helpers/raw-bytes.js';
import {
  authStatus,
  listenerSources,
  parseResponses,
  type RawResponse,
  type SourceForm,
  sourcedRequest,
  targetPrefix,
} from '../helpers/raw-http.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';

/** uws and node serve the same target-form config; node-headers the default config's header form. */
type ServiceName = 'uws' | 'node' | 'node-headers';
const serviceNames: readonly ServiceName[] = ['uws', 'node', 'node-headers'];
const formOf = (service: ServiceName): SourceForm => (service === 'node-headers' ? 'headers' : 'target');

const realIp = '203.0.113.7';
const expired = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const forged = '/my/uri?st=m6WCATfRgS_5lcyChCPgrX&e=4102444800';
const hmacKey = '4b'.repeat(32);
let valid: string;
let altaValid: string;
/** An alta URL for nginx's view of this test client (127.0.0.1). */
let altaLocal: string;
const services = new Map<ServiceName, RunningService>();
let dir: string;

/** What one connection got: statuses of the complete responses in order, and whether the service closed it. */
interface Outcome {
  readonly statuses: readonly number[];
  readonly connection: 'open' | 'closed';
}
const answered = (connection: Outcome['connection'], ...statuses: number[]): Outcome => ({ statuses, connection });
/** No answer at all; `open`: held until the uWS engine's idle cut (8-12 s). */
const silent = (connection: Outcome['connection']): Outcome => ({ statuses: [], connection });

interface Exchange {
  readonly responses: RawResponse[];
  readonly closed: boolean;
  /** Milliseconds from the last write to the first answer or the close; undefined when neither came. */
  readonly settledMs: number | undefined;
  readonly socket: Socket;
}

/**
 * Writes each chunk (50 ms apart, so a later request follows the earlier answer), then collects
 * what arrives until the service closes the connection, `windowMs` has passed, or `graceMs` after
 * `enough` responses have arrived (time for a close or a stray answer to follow them). The socket
 * stays open for the caller (to show other clients are served meanwhile).
 */
function exchange(
  port: number,
  chunks: readonly (string | Buffer)[],
  windowMs = 600,
  enough = Number.POSITIVE_INFINITY,
  graceMs = 300,
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    let writtenAt = Date.now();
    let settledMs: number | undefined;
    socket.setEncoding('latin1');
    const settle = () => {
      if (settledMs === undefined) settledMs = Date.now() - writtenAt;
    };
    socket.on('data', (data: string) => {
      settle();
      received += data;
      if (parseResponses(received).length >= enough && !graced) {
        graced = true;
        clearTimeout(timer);
        timer = setTimeout(done, graceMs);
      }
    });
    socket.on('error', () => {});
    const done = () => resolve({ responses: parseResponses(received), closed, settledMs, socket });
    let graced = false;
    let timer = setTimeout(done, windowMs);
    socket.once('close', () => {
      closed = true;
      settle();
      clearTimeout(timer);
      done();
    });
    socket.once('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        if (!socket.destroyed) socket.write(chunk, 'latin1');
        writtenAt = Date.now();
      }
    });
  });
}

interface RequestShape {
  method?: string;
  version?: string;
  extra?: [string, string][];
  eol?: string;
}

/** One auth request for `uri` in the service's form, the client IP `realIp`. */
const request = (
  service: ServiceName,
  uri: string,
  { method = 'GET', version = '1.1', extra = [], eol = '\r\n' }: RequestShape = {},
) =>
  sourcedRequest(formOf(service), uri, realIp, extra, method)
    .replace(' HTTP/1.1\r\n', ` HTTP/${version}\r\n`)
    .replaceAll('\r\n', eol);

const padding = (count: number, size = 1) =>
  Array.from({ length: count }, (_, i) => [`X-Pad-${i}`, 'v'.repeat(size)] as [string, string]);

interface Case {
  readonly name: string;
  readonly chunks: (service: ServiceName) => string[];
  /** Either outcome, where uWS's answer depends on how the kernel splits the bytes into reads. */
  readonly uws: Outcome | readonly [Outcome, Outcome];
  readonly node: Outcome;
  /** node with the header form, when it differs from `node`. */
  readonly nodeHeaders?: Outcome;
  /** Why an engine's outcome is safe although it is not the ideal. */
  readonly note?: string;
}

const cases: readonly Case[] = [
  {
    name: 'keepalive: three requests one after another',
    chunks: (s) => [request(s, valid), request(s, expired), request(s, forged)],
    uws: answered('open', 200, 410, 403),
    node: answered('open', 200, 410, 403),
  },
  {
    name: 'pipelining: three requests in one write',
    chunks: (s) => [request(s, valid) + request(s, expired) + request(s, forged)],
    uws: answered('open', 200, 410, 403),
    node: answered('open', 200, 410, 403),
  },
  {
    name: 'HTTP/1.0',
    chunks: (s) => [request(s, valid, { version: '1.0' })],
    uws: silent('open'),
    node: answered('closed', 200),
    note: 'uWS never answers HTTP/1.0; the shipped nginx config sends HTTP/1.1 (proxy_http_version 1.1)',
  },
  {
    name: 'an HTTP/2.0 request line',
    chunks: (s) => [request(s, valid, { version: '2.0' })],
    uws: silent('open'),
    node: answered('closed', 505),
    note: 'llhttp parses it and would serve it as 1.1: the node engine refuses it with 505; uWS never answers',
  },
  {
    name: 'an HTTP/1.7 request line',
    chunks: (s) => [request(s, valid, { version: '1.7' })],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'an HTTP/0.9 one-line request (no version, no headers)',
    chunks: (s) => [`GET ${formOf(s) === 'target' ? `${targetPrefix}/${realIp}${valid}` : valid}\r\n`],
    uws: silent('open'),
    node: answered('closed', 408),
    note: 'llhttp waits for the version: the node engine answers 408 at its 1.5 s head limit',
  },
  {
    name: 'HEAD',
    chunks: (s) => [request(s, valid, { method: 'HEAD' }) + request(s, expired, { method: 'HEAD' })],
    uws: answered('open', 200, 410),
    node: answered('open', 200, 410),
  },
  {
    // A GET with a body: nginx's auth subrequest is a GET, and it forwards the client's
    // Content-Length unless told not to (the verdict is the token's; another method would be bad-method).
    name: 'a body announced by Content-Length (never waited for)',
    chunks: (s) => [`${request(s, valid, { method: 'GET', extra: [['Content-Length', '100000']] })}part of it`],
    uws: silent('closed'),
    node: answered('closed', 200),
    note: 'uWS would parse body bytes as further requests: the engine closes such a connection unanswered',
  },
  {
    name: 'a chunked body (never waited for)',
    chunks: (s) => [`${request(s, valid, { method: 'GET', extra: [['Transfer-Encoding', 'chunked']] })}5\r\nhello\r\n`],
    uws: silent('closed'),
    node: answered('closed', 200),
  },
  {
    name: 'a body with a second request in the same write',
    chunks: (s) => [`${request(s, expired, { method: 'GET', extra: [['Content-Length', '5']] })}hello${request(s, valid)}`],
    uws: silent('closed'),
    node: answered('closed', 410),
    note: 'uWS answered the second request and kept the connection open; now nothing after a body is read',
  },
  {
    name: 'a chunked body with a whole request inside it',
    chunks: (s) => {
      const inside = request(s, valid);
      return [
        `${request(s, expired, { method: 'GET', extra: [['Transfer-Encoding', 'chunked']] })}${inside.length.toString(16)}\r\n${inside}\r\n0\r\n\r\n`,
      ];
    },
    uws: silent('closed'),
    node: answered('closed', 410),
  },
  {
    name: '130 headers, then the client IP source header again',
    chunks: (s) => [request(s, valid, { extra: [...padding(130), ['X-Real-IP', '198.51.100.1']] })],
    uws: silent('open'),
    node: answered('open', 200),
    nodeHeaders: answered('open', 503),
    note: 'node reads every header line (no silent cut-off that would hide a repeated source); uWS hangs beyond ~48 headers',
  },
  {
    name: 'two different Content-Length values with a second request inside',
    chunks: (s) => {
      const smuggled = request(s, valid);
      return [
        request(s, expired, {
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
    chunks: (s) => [
      `${request(s, valid, {
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
    name: 'an empty header name',
    chunks: (s) => [request(s, valid).replace('Host: tokengate\r\n', 'Host: tokengate\r\n: x\r\n')],
    uws: answered('open', 200),
    node: answered('closed', 400),
    note: 'uWS hides every header after the empty name; in the target form no source is a header, so the genuine token is judged as sent',
  },
  {
    name: 'a header name with "_" (a look-alike of the URI source header)',
    chunks: (s) => [request(s, valid, { extra: [['X_Original_URI', expired]] })],
    uws: silent('open'),
    node: answered('open', 200),
    note: 'uWS hangs on "_" in a header name; nginx forwards only the headers its config sets (proxy_pass_request_headers off)',
  },
  {
    name: '60 headers',
    chunks: (s) => [request(s, valid, { extra: padding(56) })],
    uws: silent('open'),
    node: answered('open', 200),
    note: 'uWS hangs beyond ~48 headers; the shipped nginx config sends 4',
  },
  {
    name: 'an oversized URI (20 KB)',
    chunks: (s) => [request(s, `/my/${'a'.repeat(20_000)}?st=x&e=1`)],
    uws: answered('open', 403),
    node: answered('open', 403),
    note: 'both read a 20 KB target and tokengate refuses it (longer than 8 KiB)',
  },
  {
    name: 'oversized headers (40 × 1 KB)',
    chunks: (s) => [request(s, valid, { extra: padding(40, 1000) })],
    // uWS parses a head that arrives in one read; one the kernel hands over in several reads it
    // buffers only up to a few KB, then closes unanswered (seen once in CI with both cores busy).
    uws: [answered('open', 200), silent('closed')],
    node: answered('open', 200),
    note: 'node reads heads up to 64 KiB (what ingress-nginx can pass on); uWS answered a 60 KB head in one read here, closed a split one, and refused 200 KB',
  },
  {
    name: 'a 70 KB request head',
    chunks: (s) => [request(s, valid, { extra: padding(70, 1000) })],
    uws: silent('closed'),
    node: answered('closed', 431),
    note: 'beyond the node engine’s 64 KiB head limit; uWS closes unanswered',
  },
  {
    name: 'a 200 KB request head',
    chunks: (s) => [request(s, valid, { extra: padding(200, 1000) })],
    uws: silent('closed'),
    node: answered('closed', 431),
  },
  {
    name: 'the auth request’s own method, when no method header is configured (uWS: getCaseSensitiveMethod)',
    chunks: (s) => [
      request(s, valid, { method: 'DELETE' }),
      request(s, valid, { method: 'HEAD' }),
      request(s, valid, { method: 'OPTIONS' }),
    ],
    uws: answered('open', 403, 200, 403),
    node: answered('open', 403, 200, 403),
    note: 'a GET link opens GET and HEAD only',
  },
  {
    name: 'no Host header',
    chunks: (s) => [request(s, valid).replace('Host: tokengate\r\n', '')],
    uws: silent('open'),
    node: answered('open', 200),
    note: 'nginx always sends Host (the shipped config sets "Host tokengate")',
  },
  {
    name: 'bare LF line endings',
    chunks: (s) => [request(s, valid, { eol: '\n' })],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'an obs-fold continuation line',
    chunks: (s) => [request(s, valid, { extra: [['X-Pad', 'a\r\n b']] })],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'a bare CR inside a header value',
    chunks: (s) => [request(s, valid, { extra: [['X-Pad', 'a\rb']] })],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'DEL inside a header value',
    chunks: (s) => [request(s, valid, { extra: [['X-Pad', 'a\x7fb']] })],
    uws: answered('closed', 400),
    node: answered('closed', 400),
    note: 'this uWS build passes DEL on; the engine refuses it as llhttp does',
  },
  {
    name: 'a space before the colon',
    chunks: (s) => [request(s, valid).replace('Host: tokengate', 'Host : tokengate')],
    uws: silent('open'),
    node: answered('closed', 400),
  },
  {
    name: 'an absolute-form target',
    chunks: (s) => [request(s, valid).replace(/^GET \//, 'GET http://tokengate/')],
    uws: silent('open'),
    node: answered('open', 503),
    nodeHeaders: answered('open', 200),
    note: 'node reads the target "http://…", outside the prefix: no URI, 503; the header form reads the URI header',
  },
  {
    name: 'CONNECT',
    chunks: () => [`CONNECT tokengate:443 HTTP/1.1\r\nHost: tokengate:443\r\n\r\n`],
    uws: silent('open'),
    node: silent('closed'),
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
  writeFileSync(join(dir, 'alta.key'), 'conformance-alta-secret\n');
  writeFileSync(join(dir, 'hmac.hex'), hmacKey);
  const routes = [
    { name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', file: 'azion.key' }] },
    { name: 'tv', prefix: '/tv/', scheme: 'alta', keys: [{ id: 'a', file: 'alta.key' }] },
  ];
  // The header form adds the routes whose token travels in a header (the uws engine refuses them).
  const headerRoutes = [
    { name: 'cookie', prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.hex' }], options: { carrier: 'cookie' } },
    { name: 'header', prefix: '/hd/', scheme: 'hmac', keys: [{ id: 'k', file: 'hmac.hex' }], options: { carrier: 'header' } },
  ];
  const config = (service: ServiceName) => ({
    engine: service === 'uws' ? 'uws' : 'node',
    workers: 1,
    admin: { port: 0 },
    listeners: [{ port: 0, ...listenerSources(formOf(service)) }],
    routes: formOf(service) === 'headers' ? [...routes, ...headerRoutes] : routes,
  });
  const files = serviceNames.map((service) => writeConfig(dir, config(service), `${service}.json`));
  const signed = await runCli(['sign', '--config', files[0]!, '--path', '/my/video.mp4', '--ttl', '3600']);
  expect(signed.code, signed.stderr).toBe(0);
  valid = signed.stdout.trim();
  const alta = await runCli(['sign', '--config', files[0]!, '--path', '/tv/ch/index.m3u8', '--ttl', '3600', '--ip', realIp]);
  altaValid = alta.stdout.trim();
  const local = await runCli([
    'sign',
    '--config',
    files[0]!,
    '--path',
    '/tv/ch/index.m3u8',
    '--ttl',
    '3600',
    '--ip',
    '127.0.0.1',
  ]);
  altaLocal = local.stdout.trim();
  const started = await Promise.all(files.map((file) => startService(['serve', '--config', file])));
  for (const [i, name] of serviceNames.entries()) services.set(name, started[i]!);
});

afterAll(async () => {
  await Promise.all([...services.values()].map((service) => service.stop()));
});

const authPort = (service: ServiceName) => services.get(service)!.ports.get('auth')!;

describe.each(serviceNames)('transport conformance: %s', (service) => {
  const engine = service === 'uws' ? 'uws' : 'node';
  it.concurrent.each(cases)('$name', async (testCase) => {
    const port = authPort(service);
    const outcomes = (service === 'node-headers' ? testCase.nodeHeaders : undefined) ?? testCase[engine];
    const alternatives: readonly Outcome[] = Array.isArray(outcomes) ? outcomes : [outcomes as Outcome];
    const expected = alternatives[0]!;
    // Answers and closes are waited for (10 s only ends a failing wait); only "no answer, still
    // open" is judged after a fixed 600 ms, since waiting is what it asserts.
    const got = await (expected.connection === 'closed'
      ? exchange(port, testCase.chunks(service), 10_000)
      : expected.statuses.length > 0
        ? exchange(port, testCase.chunks(service), 10_000, expected.statuses.length)
        : exchange(port, testCase.chunks(service)));
    try {
      // Other clients are answered while this connection is open, hung or just closed.
      expect(await authStatus(port, valid, realIp, formOf(service))).toBe(200);
    } finally {
      got.socket.destroy();
    }
    const outcome: Outcome = { statuses: got.responses.map((r) => r.status), connection: got.closed ? 'closed' : 'open' };
    if (alternatives.length === 1) expect(outcome, testCase.note).toEqual(expected);
    else expect(alternatives, testCase.note).toContainEqual(outcome);
    if (engine === 'node') {
      // The node engine answers or closes every request by its head limit (1.5 s, checked every
      // 250 ms), never at its 10 s idle cut; a 408 is that limit firing, not an early answer.
      expect(got.settledMs, 'answered or closed well before the 10 s idle cut').toBeLessThan(5000);
      if (got.responses.some((r) => r.status === 408)) expect(got.settledMs, 'the head limit').toBeGreaterThanOrEqual(1400);
    }
    for (const response of got.responses) expect(response.body).toBe('');
    // Never an allow for anything but the genuine token.
    if (!testCase.chunks(service).join('').includes(valid)) expect(got.responses.map((r) => r.status)).not.toContain(200);
    expect(services.get(service)!.process.exitCode).toBeNull();
  });

  it('a malformed request after two pipelined ones: the answers come in order, never a status in their place', async () => {
    const got = await exchange(
      authPort(service),
      [request(service, valid) + request(service, valid) + request(service, valid, { eol: '\n' })],
      10_000,
      2,
    );
    got.socket.destroy();
    const statuses = got.responses.map((r) => r.status);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200)).toBe(true);
  });

  it('a connection that never sends a byte is closed (node: its 1.5 s head limit, from the connect; uws: its 8-12 s idle cut)', async () => {
    const socket = connect(authPort(service), '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
    });
    const connectedAt = await new Promise<number>((resolve) => socket.once('connect', () => resolve(Date.now())));
    // Each bound lies between the engine's own limit and "never" (node: also its 10 s idle cut).
    const limitMs = engine === 'uws' ? 16_000 : 6_000;
    const elapsed = await Promise.race([
      new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - connectedAt))),
      new Promise<number>((resolve) => setTimeout(() => resolve(-1), limitMs)),
    ]);
    socket.destroy();
    // -1: still open at the bound. node: 1.5 s checked every 250 ms (bounded generously for a busy machine).
    expect(elapsed).toBeGreaterThan(engine === 'uws' ? 7_500 : 1_400);
    expect(elapsed).toBeLessThan(limitMs);
    // Nothing was asked, so nothing is answered but, from node, the 408 that tells why.
    expect(parseResponses(received).map((r) => r.status)).toEqual(engine === 'node' ? [408] : []);
  }, 30_000);

  it('a slow client sending one byte a second is cut off (node: 408 at its 1.5 s head limit; uws: its 8-12 s idle cut); others are answered meanwhile', async () => {
    const port = authPort(service);
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (data: string) => {
      received += data;
    });
    // node's head limit runs from the request's first byte; uWS's idle cut from the connect.
    const connectedAt = Date.now();
    let started = engine === 'uws' ? connectedAt : Number.NaN;
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    const bytes = request(service, valid);
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent === 0 && engine === 'node') started = Date.now();
      if (sent < bytes.length && !socket.destroyed) socket.write(bytes[sent++]!, 'latin1');
    }, 1000);
    const others: number[] = [];
    const rounds = engine === 'uws' ? 8 : 2;
    try {
      for (let i = 0; i < rounds; i++) {
        others.push(await authStatus(port, valid, realIp, formOf(service)));
        await new Promise((r) => setTimeout(r, 1000));
      }
      const elapsed = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
      if (engine === 'uws') {
        // uSockets checks timeouts on a 4 s tick, so its 10 s limit fires after 8 to 12 s (upper bound: "never").
        expect(elapsed).toBeGreaterThanOrEqual(7_500);
        expect(elapsed).toBeLessThanOrEqual(16_000);
      } else {
        // 1.5 s head limit, checked every 250 ms (with the 408 below); the upper bound excludes the 10 s idle cut.
        expect(elapsed).toBeGreaterThanOrEqual(1_400);
        expect(elapsed).toBeLessThan(5_000);
      }
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    expect(sent).toBeLessThan(bytes.length);
    expect(others).toEqual(Array(rounds).fill(200));
    // node tells the client why (408); uWS closes without a word. Neither ever decides on a partial head.
    expect(parseResponses(received).map((r) => r.status)).toEqual(engine === 'node' ? [408] : []);
  }, 30_000);

  it('abrupt disconnects mid-request (mid-head, mid-body, before reading the answer) leave the service answering', async () => {
    const port = authPort(service);
    const head = request(service, valid, { method: 'POST', extra: [['Content-Length', '1000']] });
    const cuts = [head.slice(0, 17), head.slice(0, head.indexOf('Host')), `${head}partial body`, request(service, valid)];
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
    const statuses = await Promise.all(Array.from({ length: 10 }, () => authStatus(port, valid, realIp, formOf(service))));
    expect(statuses).toEqual(Array(10).fill(200));
    expect(services.get(service)!.process.exitCode).toBeNull();
  });
});

const isControl = (byte: number) => byte <= 0x20;
const send = (port: number, bytes: string, windowMs?: number) => firstAnswer(port, bytes, windowMs);
/** The node engine settles a row at once or by its 1.5 s head limit (then 408, never sooner); never at its 10 s idle cut. */
function expectNodeSettled(name: string, result: Result, settledMs: number | undefined): void {
  expect(settledMs, `${name}: answered or closed well before the 10 s idle cut`).toBeLessThan(5000);
  if (result === 408) expect(settledMs, `${name}: the head limit`).toBeGreaterThanOrEqual(1400);
}

describe('raw bytes at both ends and in the middle of every source (docs/security.md rule 11)', () => {
  it('the request target, on both engines: never an allow, the same answer from both, node at once or by its head limit', async () => {
    // The target is "/tokengate/<ip><uri>": bytes around and inside the IP segment and the URI.
    const sources = {
      ip: (byte: number, at: Position) => `${targetPrefix}/${insert(realIp, byte, at)}${altaValid}`,
      uri: (byte: number, at: Position) => `${targetPrefix}/${realIp}${insert(altaValid, byte, at, '/tv/ch/'.length)}`,
      query: (byte: number, at: Position) =>
        `${targetPrefix}/${realIp}${insert(altaValid, byte, at, altaValid.indexOf('-') + 3)}`,
    };
    const combos = Object.entries(sources).flatMap(([source, make]) =>
      probeBytes.flatMap((byte) => positions.map((at) => ({ source, byte, at, target: make(byte, at) }))),
    );
    // uWS holds some rows silent until its 8-12 s idle cut: 2 s of silence is the outcome asserted for it.
    const ask = (service: ServiceName) =>
      pooled(combos.length, 32, (i) =>
        send(
          authPort(service),
          `GET ${combos[i]!.target} HTTP/1.1\r\nHost: tokengate\r\n\r\n`,
          service === 'uws' ? 2000 : undefined,
        ),
      );
    const [uws, node] = await Promise.all([ask('uws'), ask('node')]);
    const table = combos.map((combo, i) => ({
      case: `${combo.source} ${combo.at} 0x${combo.byte.toString(16).padStart(2, '0')}`,
      uws: uws[i]!.result,
      node: node[i]!.result,
    }));
    // The genuine target is allowed on both (so a deny below is the byte's doing).
    expect(await authStatus(authPort('uws'), altaValid, realIp, 'target')).toBe(200);
    expect(await authStatus(authPort('node'), altaValid, realIp, 'target')).toBe(200);
    for (const [i, row] of table.entries()) {
      const { source, byte, at } = combos[i]!;
      // A space after the whole target is the request line's own separator: the target is the genuine one.
      const separator = byte === 0x20 && at === 'end' && source !== 'ip';
      expect(row.uws, row.case).not.toBe(200);
      expect(row.node, row.case).toSatisfy((result: Result) => (separator ? result === 200 : result !== 200));
      expectNodeSettled(row.case, row.node, node[i]!.settledMs);
      // Both engines agree on every byte the uWS parser reads. It holds a request line with a
      // control byte or a space until its idle cut (8-12 s) without an answer: nginx refuses such
      // a line itself (400), so it never reaches a uws backend through the shipped config.
      if (isControl(byte)) expect([row.case, row.uws, row.node]).toEqual([row.case, 'silent', separator ? 200 : 400]);
      else expect([row.case, row.uws]).toEqual([row.case, row.node]);
    }
    expect(table.filter((_row, i) => !isControl(combos[i]!.byte))).toHaveLength(
      combos.length * (probeBytes.filter((byte) => !isControl(byte)).length / probeBytes.length),
    );
  }, 60_000);

  it('every source header of the header form (node): never an allow but where HTTP strips the byte, at once or by the head limit', async () => {
    const cookie = hmacSigner({ keyId: 'k', key: hmacKey, carrier: 'cookie' }).token({
      path: '/ck/books/',
      expiresSec: expiresIn(600),
    });
    const token = hmacSigner({ keyId: 'k', key: hmacKey, carrier: 'header' }).token({
      path: '/hd/books/',
      expiresSec: expiresIn(600),
    });
    if (cookie.carrier === 'query' || token.carrier === 'query') throw new Error('expected header carriers');
    /** Each source header, with the genuine value around which bytes go, and the rest of the request. */
    const sources: Record<string, { value: string; head: (value: string) => [string, string][]; uri: string }> = {
      'X-Original-URI': {
        value: altaValid,
        head: (v) => [
          ['X-Original-URI', v],
          ['X-Real-IP', realIp],
        ],
        uri: altaValid,
      },
      'X-Real-IP': {
        value: realIp,
        head: (v) => [
          ['X-Original-URI', altaValid],
          ['X-Real-IP', v],
        ],
        uri: altaValid,
      },
      Cookie: {
        value: `tg=${cookie.value}`,
        head: (v) => [
          ['X-Original-URI', '/ck/books/'],
          ['X-Real-IP', realIp],
          ['Cookie', v],
        ],
        uri: '/ck/books/',
      },
      'X-Tokengate': {
        value: token.value,
        head: (v) => [
          ['X-Original-URI', '/hd/books/'],
          ['X-Real-IP', realIp],
          ['X-Tokengate', v],
        ],
        uri: '/hd/books/',
      },
    };
    const combos = Object.entries(sources).flatMap(([source, { value, head }]) =>
      probeBytes.flatMap((byte) =>
        positions.map((at) => {
          const lines = head(insert(value, byte, at)).map(([n, v]) => `${n}: ${v}\r\n`);
          return { source, byte, at, request: `GET /auth HTTP/1.1\r\nHost: tokengate\r\n${lines.join('')}\r\n` };
        }),
      ),
    );
    for (const { head, value } of Object.values(sources)) {
      const lines = head(value).map(([n, v]) => `${n}: ${v}\r\n`);
      expect((await send(authPort('node-headers'), `GET /auth HTTP/1.1\r\nHost: t\r\n${lines.join('')}\r\n`)).result).toBe(200);
    }
    const results = await pooled(combos.length, 32, (i) => send(authPort('node-headers'), combos[i]!.request));
    for (const [i, { source, byte, at }] of combos.entries()) {
      const name = `${source} ${at} 0x${byte.toString(16).padStart(2, '0')}`;
      const { result, settledMs } = results[i]!;
      expectNodeSettled(name, result, settledMs);
      // Space and tab around a header value are not part of it (RFC 9110 §5.5): the genuine value remains.
      const stripped = (byte === 0x20 || byte === 0x09) && at !== 'middle';
      if (stripped) expect(result, name).toBe(200);
      else expect(result, name).not.toBe(200);
    }
  }, 60_000);
});

describe('behind real nginx with the shipped config, on both engines', () => {
  const proxies = new Map<ServiceName, RunningNginx>();
  beforeAll(async () => {
    const root = join(dir, 'root');
    for (const [path, content] of [
      ['my/video.mp4', 'video bytes\n'],
      ['my/uri', 'published example\n'],
      ['tv/ch/index.m3u8', '#EXTM3U\n'],
    ] as const) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    // One nginx config for both: it sends the original request as target and as headers.
    for (const service of ['uws', 'node-headers'] as const) {
      const listenPort = await freePort();
      const prefix = join(dir, `nginx-${service}`);
      proxies.set(
        service,
        await startNginx(renderExampleConfig({ listenPort, tokengatePort: authPort(service), prefix, root }), prefix, listenPort),
      );
    }
  });
  afterAll(async () => {
    await Promise.all([...proxies.values()].map((nginx) => nginx.stop()));
  });

  it('the auth location speaks HTTP/1.1, forwards only the few headers it sets, and passes the original request as its target', () => {
    const text = readFileSync(exampleConfigPath, 'utf8');
    const auth = text.slice(text.indexOf('location = /.tokengate-auth'), text.indexOf('location @tokengate_expired'));
    expect(auth).toMatch(/^\s*proxy_http_version 1\.1;/m);
    expect(auth).toMatch(/^\s*proxy_pass_request_headers off;/m);
    expect(auth).toMatch(/^\s*proxy_pass_request_body off;/m);
    expect(auth).toMatch(/^\s*proxy_pass http:\/\/tokengate\/tokengate\/\$remote_addr\$tokengate_original_uri;/m);
    const names = [...auth.matchAll(/^\s*proxy_set_header (\S+)/gm)].map((m) => m[1]!);
    expect(names.sort()).toEqual(['Connection', 'Content-Length', 'Host', 'X-Original-Method', 'X-Original-URI', 'X-Real-IP']);
  });

  /** A client request shape; `nginx`: the status nginx itself refuses it with, or 'verdict' when it forwards the token. */
  const shapes: readonly [string, (uri: string) => string, 'verdict' | 400 | 505][] = [
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
    ['an HTTP/2.0 request line', (uri) => `GET ${uri} HTTP/2.0\r\nHost: x\r\n\r\n`, 505],
  ];
  describe.each(['uws', 'node-headers'] as const)('tokengate on %s', (service) => {
    it.each(shapes)(
      'a client sending %s gets the verdict of its token, or nginx refuses it',
      async (_name, build, nginxAnswer) => {
        for (const [uri, verdict] of [
          [valid, 200],
          [expired, 410],
          [forged, 403],
        ] as const) {
          const got = await exchange(proxies.get(service)!.port, [build(uri)], 3000, 1);
          got.socket.destroy();
          expect([uri, got.responses.map((r) => r.status)]).toEqual([uri, [nginxAnswer === 'verdict' ? verdict : nginxAnswer]]);
        }
      },
    );

    it('raw bytes anywhere in the client request target or its token cookie: never the file, always within 2 s', async () => {
      const port = proxies.get(service)!.port;
      const cookie = `tokengate=token=${altaLocal.split('token=')[1]}`;
      // Unaltered, each way is allowed: a deny below is the byte's doing.
      expect((await send(port, `GET ${valid} HTTP/1.1\r\nHost: x\r\n\r\n`)).result).toBe(200);
      expect((await send(port, `GET /tv/ch/index.m3u8 HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n\r\n`)).result).toBe(200);
      const targets = probeBytes.flatMap((byte) =>
        positions.flatMap((at) => [
          { byte, at, cookie: false, text: `GET ${insert(valid, byte, at, '/my/'.length)} HTTP/1.1\r\nHost: x\r\n\r\n` },
          { byte, at, cookie: false, text: `GET ${insert(valid, byte, at, valid.indexOf('&'))} HTTP/1.1\r\nHost: x\r\n\r\n` },
          // The HLS cookie path: a query-less request whose token comes from the "tokengate" cookie.
          {
            byte,
            at,
            cookie: true,
            text: `GET /tv/ch/index.m3u8 HTTP/1.1\r\nHost: x\r\nCookie: ${insert(cookie, byte, at)}\r\n\r\n`,
          },
        ]),
      );
      const results = await pooled(targets.length, 16, (i) => send(port, targets[i]!.text));
      for (const [i, { result, settledMs }] of results.entries()) {
        const { byte, at, cookie: inCookie, text } = targets[i]!;
        const name = `${JSON.stringify(text.split('\r\n').find((line) => line.startsWith(inCookie ? 'Cookie' : 'GET')))} (0x${byte.toString(16)} ${at})`;
        // Below nginx's proxy_read_timeout (2 s in the shipped config): a tokengate that held the
        // subrequest would show here as at least 2 s, whatever nginx then answers.
        expect(settledMs, `${name}: answered or closed within 2 s`).toBeLessThan(2000);
        // Space and tab around a header value or the target, and a bare LF or CR ending a header line,
        // are separators: the genuine request remains, and nginx may pass it or refuse it.
        const blank = byte === 0x20 || (inCookie && byte === 0x09);
        const separator = (blank && at !== 'middle') || (inCookie && (byte === 0x0a || byte === 0x0d) && at === 'end');
        if (!separator) expect(result, name).not.toBe(200);
      }
      expect(results.length).toBe(probeBytes.length * positions.length * 3);
    }, 60_000);
  });
});

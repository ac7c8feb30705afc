/**
 * The Envoy gRPC listener's connection limits (src/http/grpc-door.ts), against the built
 * service with raw peers that a real gRPC client would never be: silent sockets, HTTP/2 sessions
 * without calls, calls whose request never completes, more connections than allowed, and a flood
 * of silent connections in a process whose file limit is lowered, while its HTTP listener must
 * keep answering. Node engine only, so the file runs on Node 20 and Node 24 alike.
 */
import { type ClientHttp2Session, constants, connect as h2Connect, type IncomingHttpHeaders } from 'node:http2';
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { checkHeaders, encodeCheckRequest, envoyClient, grpcMessage, h2ClientStart, rawCheck } from '../helpers/envoy-wire.js';
import { logLines, type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const hmacKey = '5a'.repeat(32);
const hmac = hmacSigner({ keyId: 'k', key: hmacKey });
const client = '198.51.100.7';
const routes = [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'TG_HMAC' }] }];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const validCheck = () =>
  encodeCheckRequest({
    method: 'GET',
    path: hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) }),
    headers: { 'x-envoy-external-address': client },
  });

/** A raw TCP peer: writes `first` (if any), then nothing; sees what the server sends and when it closes. */
function rawPeer(port: number, first?: Buffer): Promise<{ socket: Socket; closed: Promise<void>; received(): number }> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first);
      resolve({ socket, closed, received: () => received });
    });
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
}

/** 'closed' once the server closes the connection, 'open' if it has not after `ms` (a bound, not a measurement). */
const closedWithin = (peer: { closed: Promise<void> }, ms: number) =>
  Promise.race([peer.closed.then(() => 'closed'), sleep(ms).then(() => 'open')]);

/** tokengate_grpc_limits_total for one listener and limit, read from /metrics. */
async function limitCount(service: RunningService, listener: string, limit: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
  const match = new RegExp(`^tokengate_grpc_limits_total\\{listener="${listener}",limit="${limit}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

/** The listener's open connections, as `tokengate_grpc_connections` says. */
async function openConnections(service: RunningService, listener: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
  const match = new RegExp(`^tokengate_grpc_connections\\{listener="${listener}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

/** Resolves once the server has processed every frame sent before it on `session` (PING is answered in order). */
async function roundTrip(session: ClientHttp2Session): Promise<void> {
  // A ping before the connection is up is cancelled; the streams queued until then go out first.
  if (session.connecting) await new Promise((resolve) => session.once('connect', resolve));
  await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
}

describe('Envoy gRPC listener: every connection and call is bounded', () => {
  let service: RunningService;
  // Short enough for a test, long enough for a client on a busy machine to send its preface.
  const tight = { handshakeTimeoutMs: 1500, idleTimeoutMs: 2000, requestTimeoutMs: 500 };

  beforeAll(async () => {
    const file = writeConfig(tempDir(), {
      engine: 'node',
      workers: 1,
      admin: { port: 0 },
      listeners: [
        { name: 'envoy-grpc', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address' },
        { name: 'grpc-tight', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address', ...tight },
        { name: 'grpc-few', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address', maxConnections: 4 },
      ],
      routes,
    });
    service = await startService(['serve', '--config', file], { TG_HMAC: hmacKey }, 4);
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('a connection that never sends the HTTP/2 preface and SETTINGS is closed after the handshake timeout (default 2 s), and counted', async () => {
    const port = service.ports.get('envoy-grpc')!;
    const before = await limitCount(service, 'envoy-grpc', 'handshake');
    const silent = await rawPeer(port);
    const halfPreface = await rawPeer(port, h2ClientStart.subarray(0, 16));
    expect(await closedWithin(silent, 6000)).toBe('closed');
    expect(await closedWithin(halfPreface, 1000)).toBe('closed');
    // Counted when the server closes, which the test may see first: polled (bounded).
    await expect.poll(() => limitCount(service, 'envoy-grpc', 'handshake')).toBe(before + 2);
    // Configured per listener: 1.5 s here.
    const tightSilent = await rawPeer(service.ports.get('grpc-tight')!);
    expect(await closedWithin(tightSilent, 5000)).toBe('closed');
  });

  it('an HTTP/2 connection without calls gets a GOAWAY after the idle timeout; one that stays open anyway is cut', async () => {
    const port = service.ports.get('grpc-tight')!;
    const before = await limitCount(service, 'grpc-tight', 'idle');
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const goaway = new Promise<string>((resolve) => {
      session.once('goaway', () => resolve('goaway'));
      session.once('close', () => resolve('closed without a GOAWAY'));
    });
    // Sends the preface and SETTINGS, then nothing: never acknowledges, never closes.
    const mute = await rawPeer(port, h2ClientStart);
    // A call cancelled for its missing request leaves the client's half of the stream open: not idle
    // to grpc-js (no GOAWAY ever), idle to tokengate once the call was answered.
    const stalled = h2Connect(`http://127.0.0.1:${port}`);
    stalled.on('error', () => {});
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    const open = stalled.request(checkHeaders, { endStream: false });
    open.on('error', () => {});
    const answered = new Promise((resolve) => open.once('response', (headers) => resolve(headers['grpc-status'])));
    expect(await Promise.race([answered, sleep(5000)])).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(await Promise.race([goaway, sleep(8000).then(() => 'none')])).toBe('goaway');
    expect(await closedWithin(mute, 8000)).toBe('closed');
    expect(mute.received()).toBeGreaterThan(0);
    expect(await closedWithin({ closed: stalledClosed }, 8000)).toBe('closed');
    await expect.poll(() => limitCount(service, 'grpc-tight', 'idle')).toBeGreaterThanOrEqual(before + 1);
    session.close();
  });

  it('a connection making calls is not idle, however long it lives', async () => {
    const port = service.ports.get('grpc-tight')!;
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    let goaway = false;
    session.once('goaway', () => (goaway = true));
    // Calls every 200 ms for twice the 2 s idle timeout.
    for (let i = 0; i < 20; i++) {
      const answer = await rawCheck(session, validCheck(), 'whole', 5000);
      expect(answer).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
      await sleep(200);
    }
    expect([goaway, session.closed, session.destroyed]).toEqual([false, false, false]);
    session.close();
  });

  it('a call whose request never completes is cancelled with DEADLINE_EXCEEDED (default 2 s); the connection keeps serving', async () => {
    const before = await limitCount(service, 'envoy-grpc', 'request');
    const session = h2Connect(`http://127.0.0.1:${service.ports.get('envoy-grpc')!}`);
    session.on('error', () => {});
    const stalled = await Promise.all(
      (['headers only', 'half a message', 'no end of stream'] as const).map((sent) =>
        rawCheck(session, validCheck(), sent, 8000),
      ),
    );
    expect(stalled).toEqual(Array(3).fill({ grpcStatus: String(grpc.status.DEADLINE_EXCEEDED), verdict: undefined }));
    expect(await rawCheck(session, validCheck(), 'whole', 5000)).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
    await expect.poll(() => limitCount(service, 'envoy-grpc', 'request')).toBe(before + 3);
    session.close();
  });

  it("a call's grpc-timeout bounds it when shorter than the listener's limit (not counted as the listener's cut); a malformed one is refused; a whole call with one is answered", async () => {
    const before = await limitCount(service, 'envoy-grpc', 'request');
    const session = h2Connect(`http://127.0.0.1:${service.ports.get('envoy-grpc')!}`);
    session.on('error', () => {});
    const call = (timeout: string, endStream: boolean) =>
      new Promise<{ status: string; message: string; ms: number }>((resolve) => {
        const started = performance.now();
        const stream = session.request({ ...checkHeaders, 'grpc-timeout': timeout }, { endStream: false });
        stream.on('error', () => {});
        const done = (headers: IncomingHttpHeaders) => {
          if (headers['grpc-status'] === undefined) return;
          resolve({
            status: String(headers['grpc-status']),
            message: String(headers['grpc-message'] ?? ''),
            ms: performance.now() - started,
          });
        };
        stream.on('response', done);
        stream.on('trailers', done);
        stream.resume();
        const message = grpcMessage(validCheck());
        if (endStream) stream.end(message);
        else stream.write(message);
      });
    // 300 ms against the listener's 2 s: the call's own deadline, counted from its HEADERS.
    const short = await call('300m', false);
    expect([short.status, short.message]).toEqual([String(grpc.status.DEADLINE_EXCEEDED), 'Deadline exceeded']);
    // Never before it (the listener's 2 s limit would say so in its message, checked above).
    expect(short.ms).toBeGreaterThanOrEqual(290);
    expect(await call('3 seconds', false)).toMatchObject({ status: String(grpc.status.INTERNAL) });
    expect(await call('1S', true)).toMatchObject({ status: '0' });
    // A grpc-timeout longer than the listener's limit leaves the limit in charge: counted.
    expect(await call('60S', false)).toMatchObject({ status: String(grpc.status.DEADLINE_EXCEEDED) });
    await expect.poll(() => limitCount(service, 'envoy-grpc', 'request')).toBe(before + 1);
    session.close();
  });

  it('a stream the peer resets while its request is incomplete ends its call: the connection then idles out', async () => {
    const port = service.ports.get('grpc-tight')!;
    const before = await limitCount(service, 'grpc-tight', 'request');
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => session.once('goaway', () => resolve(performance.now())));
    const streams = Array.from({ length: 20 }, () => {
      const stream = session.request(checkHeaders, { endStream: false });
      stream.on('error', () => {});
      stream.write(grpcMessage(validCheck()).subarray(0, 3));
      return stream;
    });
    // Reset as soon as the server has the calls (their 500 ms request limit is running), not after a fixed sleep.
    await roundTrip(session);
    const reset = performance.now();
    for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
    // Idle 2 s after the resets: had the calls stayed open, the connection would never be idle.
    const at = await Promise.race([goaway, sleep(8000).then(() => Number.NaN)]);
    expect(at - reset).toBeGreaterThanOrEqual(1900);
    expect(at - reset).toBeLessThan(6000);
    // None of them ran into the request limit: the reset ended them.
    expect(await limitCount(service, 'grpc-tight', 'request')).toBe(before);
    session.close();
    // A connection dropped under waiting calls ends them too: none is cut by the limit later.
    const dropped = h2Connect(`http://127.0.0.1:${port}`);
    dropped.on('error', () => {});
    for (let i = 0; i < 20; i++) {
      const stream = dropped.request(checkHeaders, { endStream: false });
      stream.on('error', () => {});
      stream.write(grpcMessage(validCheck()).subarray(0, 3));
    }
    await roundTrip(dropped);
    dropped.destroy();
    // The sentinel: a call started after those, which the limit does cut. Its timer runs out after
    // theirs would have, so once its cut is counted, any cut of theirs would be counted too.
    const sentinel = h2Connect(`http://127.0.0.1:${port}`);
    sentinel.on('error', () => {});
    expect(await rawCheck(sentinel, validCheck(), 'half a message', 8000)).toEqual({
      grpcStatus: String(grpc.status.DEADLINE_EXCEEDED),
      verdict: undefined,
    });
    sentinel.close();
    await expect.poll(() => limitCount(service, 'grpc-tight', 'request')).toBe(before + 1);
  });

  it('partial messages held on one connection past 2 MiB: the call that goes over is refused RESOURCE_EXHAUSTED, counted and logged; the others and other connections are served', async () => {
    const before = await limitCount(service, 'envoy-grpc', 'pending-bytes');
    const port = service.ports.get('envoy-grpc')!;
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    // Each announces a message of 256 KiB (the largest accepted) and sends 5 bytes of it: the
    // listener sets aside the whole message for each, 8 of them fill the 2 MiB budget.
    const prefix = Buffer.alloc(10);
    prefix.writeUInt32BE(256 * 1024, 1);
    const statuses = Array.from(
      { length: 9 },
      () =>
        new Promise<string>((resolve) => {
          const stream = session.request(checkHeaders, { endStream: false });
          stream.on('error', () => {});
          const done = (headers: IncomingHttpHeaders) => {
            if (headers['grpc-status'] !== undefined) resolve(`${headers['grpc-status']} ${headers['grpc-message'] ?? ''}`);
          };
          stream.on('response', done);
          stream.on('trailers', done);
          stream.once('close', () => resolve(`closed ${stream.rstCode}`));
          stream.write(prefix);
        }),
    );
    const refused = `${grpc.status.RESOURCE_EXHAUSTED} tokengate: too many request bytes pending on this connection`;
    const waited = `${grpc.status.DEADLINE_EXCEEDED} tokengate: the request did not arrive within 2000 ms`;
    // Whichever call's bytes arrive ninth is refused at once; the others wait for the rest of their message.
    expect(await Promise.race([...statuses, sleep(5000).then(() => 'no answer')])).toBe(refused);
    // Another connection is not charged for this one's bytes.
    const other = h2Connect(`http://127.0.0.1:${port}`);
    other.on('error', () => {});
    expect(await rawCheck(other, validCheck(), 'whole', 5000)).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
    other.close();
    await expect.poll(() => limitCount(service, 'envoy-grpc', 'pending-bytes')).toBe(before + 1);
    // The eight within budget wait for the rest of their message until the request limit.
    expect((await Promise.all(statuses)).sort()).toEqual([...Array(8).fill(waited), refused].sort());
    // Logged after the answer: waited for, bounded.
    await expect
      .poll(
        () =>
          logLines(service.stderr()).find(
            (line) => line.msg === 'gRPC connection or call cut off' && line.limit === 'pending-bytes',
          ),
        { timeout: 5000 },
      )
      .toMatchObject({ listener: 'envoy-grpc', level: 'warn' });
    session.close();
  });

  it('a peer that opens every stream it may and never ends one: each is answered and released, the streams beyond wait their turn', async () => {
    const port = service.ports.get('grpc-tight')!;
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    // The server's SETTINGS first, so the client holds back what is beyond its 1000 streams.
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(1000);
    const stalled = Array.from(
      { length: 1100 },
      () =>
        new Promise<string>((resolve) => {
          const stream = session.request(checkHeaders, { endStream: false });
          stream.on('error', () => {});
          stream.once('response', (headers) => resolve(String(headers['grpc-status'])));
          stream.once('close', () => resolve(`closed ${stream.rstCode}`));
        }),
    );
    // The last 100 are sent only once earlier streams are released (RST_STREAM after the answer).
    const answers = await Promise.race([Promise.all(stalled), sleep(15_000).then(() => 'streams never released')]);
    expect(answers).toEqual(Array(1100).fill(String(grpc.status.DEADLINE_EXCEEDED)));
    expect(await rawCheck(session, validCheck(), 'whole', 5000)).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
    session.close();
  });

  it('a header block over 64 KiB or 128 fields is refused on its stream, and the connection keeps serving; a huge one ends the session', async () => {
    const port = service.ports.get('envoy-grpc')!;
    // Sent at once, before the server's SETTINGS are acknowledged, nghttp2's own bound applies: 1 MiB ends that session.
    const early = h2Connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 4 << 20 });
    early.on('error', () => {});
    const earlyStream = early.request({ ...checkHeaders, 'x-big': 'a'.repeat(1 << 20) });
    earlyStream.on('error', () => {});
    await Promise.race([new Promise((resolve) => early.once('close', resolve)), sleep(5000)]);
    expect(early.destroyed).toBe(true);
    const session = h2Connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1 << 20 });
    session.on('error', () => {});
    // Once they are (the client acknowledges them on receipt), the 64 KiB and 128 fields of http2Options.
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    expect(session.remoteSettings.maxHeaderListSize).toBe(64 * 1024);
    const refused = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const stream = session.request({ ...checkHeaders, ...headers }, { endStream: false });
        let answered = '';
        stream.on('error', () => {});
        stream.once('response', (answer) => (answered = `answered ${answer[':status']} ${answer['grpc-status'] ?? ''}`));
        stream.once('trailers', (trailers) => (answered += trailers['grpc-status']));
        stream.resume();
        stream.once('close', () => resolve(answered || `reset ${stream.rstCode}`));
        stream.end(grpcMessage(validCheck()));
      });
    const fields = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-field-${i}`, 'v']));
    expect(await refused({ 'x-big': 'a'.repeat(100 * 1024) })).toMatch(/^reset [1-9]/);
    expect(await refused(fields)).toMatch(/^reset [1-9]/);
    // Under both limits: answered.
    expect(await refused({ 'x-big': 'a'.repeat(32 * 1024) })).toBe('answered 200 0');
    expect(await rawCheck(session, validCheck(), 'whole', 5000)).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
    session.close();
  });

  it('beyond maxConnections a new connection is closed at once and counted; a closed one frees its place', async () => {
    const port = service.ports.get('grpc-few')!;
    const before = await limitCount(service, 'grpc-few', 'max-connections');
    const held = await Promise.all(Array.from({ length: 4 }, () => rawPeer(port, h2ClientStart)));
    // Each got the server's SETTINGS: accepted and served.
    await expect.poll(() => held.map((peer) => peer.received() > 0)).toEqual([true, true, true, true]);
    const extra = await rawPeer(port, h2ClientStart);
    // At once, against the alternative: accepted, it would stay open until the 10 s idle timeout.
    expect(await closedWithin(extra, 5000)).toBe('closed');
    expect(extra.received()).toBe(0);
    const refused = envoyClient(port);
    try {
      // The deadline only ends a call left hanging (that would read DEADLINE_EXCEEDED, not UNAVAILABLE).
      await expect(refused.check(validCheck(), 10_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      await expect.poll(() => limitCount(service, 'grpc-few', 'max-connections')).toBeGreaterThanOrEqual(before + 2);
    } finally {
      refused.close();
    }
    held[0]!.socket.destroy();
    try {
      // The server sees the close asynchronously (later on a busy machine): wait until it has, bounded,
      // then one new connection is served.
      await expect.poll(() => openConnections(service, 'grpc-few')).toBe(3);
      const session = h2Connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
      const answer = await rawCheck(session, validCheck(), 'whole', 5000);
      session.destroy();
      expect(answer).toMatchObject({ grpcStatus: '0', verdict: { code: 0 } });
    } finally {
      for (const peer of held) peer.socket.destroy();
    }
  });
});

describe('Envoy gRPC listener flooded with silent connections, in a process with 96 open files', () => {
  let service: RunningService;

  beforeAll(async () => {
    const file = writeConfig(tempDir(), {
      engine: 'node',
      workers: 1,
      admin: { port: 0 },
      listeners: [
        { name: 'auth', port: 0, pathPrefix: '/tokengate', clientIpInPath: true },
        { name: 'envoy-grpc', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address', maxConnections: 32 },
        { name: 'grpc-greedy', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address', maxConnections: 64 },
      ],
      routes,
    });
    service = await startService(['serve', '--config', file], { TG_HMAC: hmacKey }, 4, undefined, [
      'prlimit',
      '--nofile=96:96',
      '--',
    ]);
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('a maxConnections over half the open-file limit is a warning at start', () => {
    const warnings = logLines(service.stderr()).filter((line) => line.msg.startsWith('gRPC maxConnections'));
    expect(warnings.map((line) => [line.listener, line.maxConnections, line.openFileLimit])).toEqual([['grpc-greedy', 64, 96]]);
  });

  it('the HTTP auth listener and the admin listener of the same process keep answering', async () => {
    const grpcPort = service.ports.get('envoy-grpc')!;
    const flood = await Promise.all(Array.from({ length: 150 }, () => rawPeer(grpcPort).catch(() => undefined)));
    // The server takes connections in order: once this one is answered or closed, it has taken the flood.
    const marker = await rawPeer(grpcPort, h2ClientStart);
    let markerClosed = false;
    void marker.closed.then(() => (markerClosed = true));
    flood.push(marker);
    await expect
      .poll(() => marker.received() > 0 || markerClosed, { message: 'the marker connection answered or closed' })
      .toBe(true);
    try {
      const url = hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) });
      const auth = `http://127.0.0.1:${service.ports.get('auth')}/tokengate/${client}`;
      const answers = [];
      for (const path of [url, '/vod/a.mp4']) {
        // Long: the timeout only ends a wait that has already failed (a starved listener never answers).
        const response = await fetch(`${auth}${path}`, { signal: AbortSignal.timeout(10_000) });
        answers.push([response.status, response.headers.get('x-token-status')]);
      }
      expect(answers).toEqual([
        [200, 'valid'],
        [403, 'missing'],
      ]);
      // The connections beyond the limit were refused at once, not left to exhaust the files.
      await expect.poll(() => limitCount(service, 'envoy-grpc', 'max-connections')).toBeGreaterThanOrEqual(151 - 32);
    } finally {
      for (const peer of flood) peer?.socket.destroy();
    }
    // And the gRPC listener itself serves again, once it has seen the flood's sockets close (a
    // busy machine delivers those closes later than this test sends the next connection).
    await expect.poll(() => openConnections(service, 'envoy-grpc')).toBe(0);
    const check = envoyClient(grpcPort);
    try {
      expect(await check.check(validCheck(), 10_000)).toMatchObject({ code: 0 });
    } finally {
      check.close();
    }
  });
});

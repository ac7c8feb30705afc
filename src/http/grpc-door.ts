/**
 * A gRPC server for one unary method, on node:http2 directly (the `'stream'` event: no gRPC
 * library in the request path), with every connection and call bounded. It accepts on its own
 * net.Server and hands each socket to an HTTP/2 server (`emit('connection')`), so every socket is
 * ours to count, time and close:
 *   more than maxConnections open   → a new connection is closed at once (net.Server.maxConnections)
 *   no preface and SETTINGS in time → closed (handshakeTimeoutMs)
 *   no calls for idleTimeoutMs      → GOAWAY; a peer that keeps the connection open is cut 1 s later
 *   a call's request not complete   → answered DEADLINE_EXCEEDED after requestTimeoutMs (the method
 *                                     answers at once when it is, so that is the whole call's bound),
 *                                     or at its grpc-timeout if that comes first (the client's own
 *                                     deadline: not counted as a cut)
 *   over 2 MiB of partial messages   → the call that takes a connection's partial messages (those
 *     held on one connection           spanning DATA frames) past 2 MiB is answered RESOURCE_EXHAUSTED
 * Every cut is counted (tokengate_grpc_limits_total) and logged, rate limited. HTTP/2 itself is
 * bounded by `http2Options`. A call answered before its client ended the request is then reset
 * (RST_STREAM NO_ERROR, RFC 9113 §8.1), so a stalled stream does not keep its slot.
 * Requests other than a POST of `application/grpc` to the method's path: 415 for another
 * content-type (as grpc-js answered), 405 for another method (grpc-js served any), UNIMPLEMENTED
 * for another path.
 */
import { readFileSync } from 'node:fs';
import { constants, createServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';
import type { Logger } from '../base/log.js';
import type { GrpcListenerConfig } from '../config/config.js';
import { ConnectionCounts, type ConnectionLimit } from '../metrics/connection-metrics.js';
import { answerStream, failStream, grpcStatus, MessageReader, type Refusal, timeoutMs, trailersOnly } from './grpc-call.js';

/** The client preface (24 bytes) and a frame header (9), which must be SETTINGS (RFC 9113 §3.4): nghttp2 checks both. */
const handshakeBytes = 24 + 9;

/** After the idle GOAWAY, how long a peer has to close the connection itself. */
const idleGraceMs = 1000;

/** Request bytes one connection may hold for messages that span DATA frames (Envoy's arrive whole). */
const heldBytesPerConnection = 2 * 1024 * 1024;

/**
 * HTTP/2 bounds, explicit rather than node's defaults: 1000 streams at once per connection (grpc-js's
 * `grpc.max_concurrent_streams` here before), a header block of 64 KiB (the HTTP listeners' head
 * limit) and 128 fields, 10 MB of nghttp2 memory per session, and the rapid-reset bound (Node 24;
 * Node 20's nghttp2 applies the same defaults itself). PING and SETTINGS floods are nghttp2's to
 * stop (at most 1000 queued acknowledgements, then the session ends).
 */
export const http2Options = {
  maxSessionMemory: 10,
  maxHeaderListPairs: 128,
  maxSettings: 32,
  maxSessionInvalidFrames: 1000,
  maxSessionRejectedStreams: 100,
  streamResetBurst: 1000,
  streamResetRate: 33,
  settings: { maxConcurrentStreams: 1000, maxHeaderListSize: 64 * 1024, enablePush: false },
} as const;

export type GrpcLimits = Pick<GrpcListenerConfig, 'handshakeTimeoutMs' | 'idleTimeoutMs' | 'requestTimeoutMs' | 'maxConnections'>;

/** The one method the door serves. */
export interface UnaryMethod<Request> {
  readonly path: string;
  /** Largest request message, compressed or not (grpc.max_receive_message_length). */
  readonly maxMessageBytes: number;
  /** Throws on bytes that do not decode: the call is answered INTERNAL. */
  decode(bytes: Buffer): Request;
  /** Answers through `call`, synchronously. */
  handle(request: Request, call: UnaryCall): void;
}

export interface UnaryCall {
  /** grpc-status 0 with `framed`, a message with its 5-byte prefix. */
  answer(framed: Buffer): void;
  fail(code: number, message: string): void;
}

interface Connection {
  readonly socket: Socket;
  session: Http2Session | undefined;
  /** Calls started and not yet answered. */
  calls: number;
  /** When the last call ended, or the connection opened. */
  idleSinceMs: number;
  handshaken: boolean;
  /** When it was found idle (and sent its GOAWAY): the grace runs from here. */
  idleFoundMs: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Bytes held by its calls' partial messages. */
  heldBytes: number;
}

/** The process's soft limit of open files (Linux: /proc/self/limits); undefined where unknown or unlimited. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isInteger(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

const noop = () => {};
const wrongType = Object.freeze({ [constants.HTTP2_HEADER_STATUS]: 415 });
const wrongMethod = Object.freeze({ [constants.HTTP2_HEADER_STATUS]: 405, allow: 'POST' });
const undecodable = Object.freeze(trailersOnly(grpcStatus.INTERNAL, 'Error deserializing request'));
const handlerFailed = Object.freeze(trailersOnly(grpcStatus.UNKNOWN, 'Unknown error'));

/** `application/grpc`, or it followed by `+format` or `;parameters` (PROTOCOL-HTTP2.md, Content-Type). */
const isGrpcType = (type: unknown) =>
  type === 'application/grpc' ||
  (typeof type === 'string' && type.startsWith('application/grpc') && (type[16] === '+' || type[16] === ';'));

export class GrpcDoor<Request> {
  readonly counts = new ConnectionCounts();
  private readonly open = new Set<Connection>();
  private readonly netServer = new NetServer();
  private readonly http2Server = createServer(http2Options);
  /** The connection whose socket is being handed to the HTTP/2 server (its 'session' comes synchronously). */
  private handing: Connection | undefined;
  private readonly unimplemented = new Map<string, Readonly<Record<string, string | number>>>();
  private readonly calls: CallContext<Request>;

  constructor(
    private readonly name: string,
    private readonly limits: GrpcLimits,
    private readonly logger: Logger,
    private readonly method: UnaryMethod<Request>,
  ) {
    this.calls = { method, requestTimeoutMs: limits.requestTimeoutMs, callCut: (limit) => this.cut(undefined, limit) };
    this.http2Server.on('session', (session: Http2Session) => {
      const connection = this.handing;
      if (connection === undefined) return;
      connection.session = session;
      session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.call(connection, stream, headers));
    });
    // Session errors end the session; node would otherwise rethrow them.
    this.http2Server.on('sessionError', noop);
  }

  /** Listens on host:port; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const { netServer } = this;
    const { maxConnections } = this.limits;
    const files = openFileLimit();
    // The gRPC connections would then take the descriptors the other listeners need (docs/front-doors.md).
    if (files !== undefined && maxConnections > files / 2) {
      this.logger.log('warn', 'gRPC maxConnections is over half the open-file limit: a flood could starve the other listeners', {
        listener: this.name,
        maxConnections,
        openFileLimit: files,
      });
    }
    netServer.maxConnections = maxConnections;
    netServer.on('drop', () => this.cut(undefined, 'max-connections'));
    netServer.on('connection', (socket: Socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      netServer.once('error', reject);
      netServer.listen({ host, port, exclusive: true }, () => {
        netServer.off('error', reject);
        resolve((netServer.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting; each open connection gets a GOAWAY, and its calls in flight are answered. */
  close(): void {
    this.netServer.close();
    for (const connection of this.open) connection.session?.close();
  }

  /** Closes every open connection. */
  closeAll(): void {
    this.netServer.close();
    for (const connection of this.open) {
      clearTimeout(connection.timer);
      connection.session?.destroy();
      connection.socket.destroy();
    }
  }

  private accept(socket: Socket): void {
    // Already closed (no address): nothing to serve.
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const connection: Connection = {
      socket,
      session: undefined,
      calls: 0,
      idleSinceMs: Date.now(),
      handshaken: false,
      idleFoundMs: undefined,
      timer: undefined,
      heldBytes: 0,
    };
    this.open.add(connection);
    this.counts.open++;
    socket.once('close', () => {
      clearTimeout(connection.timer);
      this.open.delete(connection);
      this.counts.open--;
    });
    this.wake(connection, this.limits.handshakeTimeoutMs);
    this.handing = connection;
    try {
      this.http2Server.emit('connection', socket);
    } finally {
      this.handing = undefined;
    }
  }

  private wake(connection: Connection, afterMs: number): void {
    connection.timer = setTimeout(() => this.check(connection), afterMs).unref();
  }

  private check(connection: Connection, polled = false): void {
    if (connection.socket.destroyed) return;
    // bytesRead counts what nghttp2 consumed too; fewer bytes: the preface or SETTINGS never came.
    if (!connection.handshaken && connection.socket.bytesRead < handshakeBytes) {
      // Decided after this turn's poll phase, which reads what arrived while the timer was late.
      if (polled) this.cut(connection, 'handshake');
      else setImmediate(() => this.check(connection, true));
      return;
    }
    connection.handshaken = true;
    const now = Date.now();
    const idleMs = connection.calls === 0 ? now - connection.idleSinceMs : 0;
    if (idleMs < this.limits.idleTimeoutMs) {
      connection.idleFoundMs = undefined;
      this.wake(connection, this.limits.idleTimeoutMs - idleMs);
    } else if (connection.idleFoundMs === undefined) {
      // The GOAWAY now (a peer then closes the connection itself); the cut after the grace.
      connection.idleFoundMs = now;
      const { session } = connection;
      if (session !== undefined && !session.closed && !session.destroyed) session.goaway(constants.NGHTTP2_NO_ERROR);
      this.wake(connection, idleGraceMs);
    } else if (now - connection.idleFoundMs >= idleGraceMs) {
      this.cut(connection, 'idle');
    } else {
      this.wake(connection, idleGraceMs - (now - connection.idleFoundMs));
    }
  }

  private cut(connection: Connection | undefined, limit: ConnectionLimit): void {
    connection?.session?.destroy();
    connection?.socket.destroy();
    this.counts.cut(limit);
    this.logger.limited(`grpc-limit:${this.name}:${limit}`, 'warn', 'gRPC connection or call cut off', {
      listener: this.name,
      limit,
    });
  }

  private call(connection: Connection, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // Errors (a peer's RST_STREAM) end the stream; 'close' below does the rest.
    stream.on('error', noop);
    if (!isGrpcType(headers[constants.HTTP2_HEADER_CONTENT_TYPE])) {
      failStream(stream, wrongType);
      return;
    }
    // A pseudo-header is one string (nghttp2 refuses a request without :path or with two).
    const path = headers[constants.HTTP2_HEADER_PATH] as string;
    if (path !== this.method.path) {
      failStream(stream, this.unimplementedFor(path));
      return;
    }
    if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST') {
      failStream(stream, wrongMethod);
      return;
    }
    new PendingCall(this.calls, connection, stream, headers);
  }

  /** grpc-js's answer for a path it has no method for (its message names the path). */
  private unimplementedFor(path: string): Readonly<Record<string, string | number>> {
    let headers = this.unimplemented.get(path);
    if (headers === undefined) {
      headers = trailersOnly(grpcStatus.UNIMPLEMENTED, `The server does not implement the method ${path}`);
      // Bounded: a peer could name any number of paths.
      if (this.unimplemented.size < 64) this.unimplemented.set(path, headers);
    }
    return headers;
  }
}

/** What a call needs of its door. */
interface CallContext<Request> {
  readonly method: UnaryMethod<Request>;
  readonly requestTimeoutMs: number;
  /** Counts and logs a call cut off by a limit: its request late, or its connection's pending bytes over budget. */
  callCut(limit: 'request' | 'pending-bytes'): void;
}

/** A call from its HEADERS to its answer: reads the one message, bounds the wait, hands it on. */
class PendingCall<Request> implements UnaryCall {
  private readonly reader: MessageReader;
  private readonly timer: NodeJS.Timeout;
  private done = false;
  /** Whether the reader's held bytes count in the connection's budget. */
  private holding = false;
  /** Whether the timer is the listener's request limit (counted) rather than the call's grpc-timeout. */
  private readonly limitFires: boolean;

  constructor(
    private readonly door: CallContext<Request>,
    private readonly connection: Connection,
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
  ) {
    connection.calls++;
    const encoding = headers['grpc-encoding'];
    this.reader = new MessageReader(door.method.maxMessageBytes, typeof encoding === 'string' ? encoding : undefined);
    let waitMs = door.requestTimeoutMs;
    const timeout = headers['grpc-timeout'];
    let badTimeout: string | undefined;
    if (typeof timeout === 'string') {
      const ms = timeoutMs(timeout);
      if (ms === undefined) badTimeout = timeout;
      else if (ms < waitMs) waitMs = ms;
    }
    this.limitFires = waitMs === door.requestTimeoutMs;
    this.timer = setTimeout(() => this.expire(), waitMs);
    stream.on('data', (chunk: Buffer) => this.data(chunk));
    stream.once('end', () => this.end());
    stream.once('close', () => this.settle());
    if (badTimeout !== undefined) this.fail(grpcStatus.INTERNAL, `Invalid grpc-timeout value "${badTimeout}"`);
  }

  answer(framed: Buffer): void {
    if (this.settle()) answerStream(this.stream, framed);
  }

  fail(code: number, message: string): void {
    this.failWith(trailersOnly(code, message));
  }

  private failWith(headers: Readonly<Record<string, string | number>>): void {
    if (!this.settle()) return;
    failStream(this.stream, headers);
    // Answered before the client ended its request: release the stream (RFC 9113 §8.1).
    if (!this.stream.readableEnded) this.stream.close(constants.NGHTTP2_NO_ERROR);
  }

  private data(chunk: Buffer): void {
    if (this.done) return;
    const refusal = this.reader.push(chunk);
    if (refusal !== undefined) {
      this.refuse(refusal);
      return;
    }
    if (this.reader.held > 0 && !this.holding) {
      this.holding = true;
      this.connection.heldBytes += this.reader.held;
      if (this.connection.heldBytes > heldBytesPerConnection) {
        this.door.callCut('pending-bytes');
        this.refuse({
          code: grpcStatus.RESOURCE_EXHAUSTED,
          message: 'tokengate: too many request bytes pending on this connection',
        });
      }
    }
  }

  private end(): void {
    if (this.done) return;
    const message = this.reader.finish();
    if (!Buffer.isBuffer(message)) {
      this.refuse(message as Refusal);
      return;
    }
    let request: Request;
    try {
      request = this.door.method.decode(message);
    } catch {
      this.failWith(undecodable);
      return;
    }
    try {
      this.door.method.handle(request, this);
    } catch {
      this.failWith(handlerFailed);
    }
  }

  private refuse(refusal: Refusal): void {
    this.fail(refusal.code, refusal.message);
  }

  private expire(): void {
    if (this.done) return;
    if (this.limitFires) {
      this.door.callCut('request');
      this.fail(grpcStatus.DEADLINE_EXCEEDED, `tokengate: the request did not arrive within ${this.door.requestTimeoutMs} ms`);
    } else {
      this.fail(grpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
    }
  }

  /** Ends the call's accounting once; false if it had ended. */
  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    const { connection } = this;
    if (this.holding) connection.heldBytes -= this.reader.held;
    if (--connection.calls === 0) connection.idleSinceMs = Date.now();
    return true;
  }
}

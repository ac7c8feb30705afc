/**
 * Bounds for the Envoy gRPC listener's connections, which grpc-js leaves unbounded (it turns the
 * HTTP/2 server timeout off; its idle GOAWAY neither closes a peer that never sent the preface
 * nor comes while a peer holds a stream open).
 * The listener accepts on its own net.Server and hands each socket to grpc-js
 * (`createConnectionInjector`), so every socket is ours to count, time and close:
 *   more than maxConnections open   → a new connection is closed at once (net.Server.maxConnections)
 *   no preface and SETTINGS in time → closed (handshakeTimeoutMs)
 *   no calls for idleTimeoutMs      → grpc-js sends a GOAWAY; a peer that keeps it open is cut 1 s later
 *   a call's request not complete   → answered DEADLINE_EXCEEDED after requestTimeoutMs (the handler
 *                                     answers at once when it is, so that is the whole call's bound)
 * Every cut is counted (tokengate_grpc_limits_total) and logged, rate limited.
 */
import { readFileSync } from 'node:fs';
import { Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { GrpcListenerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { ConnectionCounts, type ConnectionLimit } from '../metrics/connection-metrics.js';

/** The client preface (24 bytes) and a frame header (9), which must be SETTINGS (RFC 9113 §3.4): nghttp2 checks both. */
const handshakeBytes = 24 + 9;

/** After the GOAWAY of the idle timeout, how long a peer has to close the connection itself. */
const idleGraceMs = 1000;

interface Connection {
  readonly socket: Socket;
  /** Calls started and not yet ended. */
  calls: number;
  /** When the last call ended, or the connection opened. */
  idleSinceMs: number;
  handshaken: boolean;
  /** When it was found idle (grpc-js sends its GOAWAY then): the grace runs from here. */
  idleFoundMs: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** The same connection seen from its socket and from a call (grpc-js's ConnectionInfo). */
const keyOf = (remoteAddress?: string, remotePort?: number, localAddress?: string, localPort?: number) =>
  `${remoteAddress} ${remotePort} ${localAddress} ${localPort}`;

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

export type GrpcLimits = Pick<GrpcListenerConfig, 'handshakeTimeoutMs' | 'idleTimeoutMs' | 'requestTimeoutMs' | 'maxConnections'>;

export class GrpcConnections {
  readonly counts = new ConnectionCounts();
  private readonly open = new Map<string, Connection>();
  private readonly netServer = new NetServer();

  constructor(
    private readonly name: string,
    private readonly limits: GrpcLimits,
    private readonly logger: Logger,
  ) {}

  /** What the grpc-js Server needs for these bounds: its graceful idle close, and the call interceptor. */
  serverOptions(): grpc.ServerOptions {
    return { 'grpc.max_connection_idle_ms': this.limits.idleTimeoutMs, interceptors: [this.boundCall] };
  }

  /** Listens on host:port and serves `server` there; resolves with the bound port. */
  listen(server: grpc.Server, host: string, port: number): Promise<number> {
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
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
    netServer.on('connection', (socket: Socket) => {
      if (this.track(socket)) injector.injectConnection(socket);
    });
    return new Promise((resolve, reject) => {
      netServer.once('error', reject);
      netServer.listen({ host, port, exclusive: true }, () => {
        netServer.off('error', reject);
        resolve((netServer.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting; open connections stay (grpc-js's tryShutdown sends them a GOAWAY). */
  close(): void {
    this.netServer.close();
  }

  /** Closes every open connection. */
  closeAll(): void {
    this.netServer.close();
    for (const connection of this.open.values()) {
      clearTimeout(connection.timer);
      connection.socket.destroy();
    }
  }

  private track(socket: Socket): boolean {
    const key = keyOf(socket.remoteAddress, socket.remotePort, socket.localAddress, socket.localPort);
    // Already closed (no address), or a 4-tuple still tracked: never two connections under one key.
    if (socket.remoteAddress === undefined || this.open.has(key)) {
      socket.destroy();
      return false;
    }
    const connection: Connection = {
      socket,
      calls: 0,
      idleSinceMs: Date.now(),
      handshaken: false,
      idleFoundMs: undefined,
      timer: undefined,
    };
    this.open.set(key, connection);
    this.counts.open++;
    socket.once('close', () => {
      clearTimeout(connection.timer);
      this.open.delete(key);
      this.counts.open--;
    });
    this.wake(connection, this.limits.handshakeTimeoutMs);
    return true;
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
      // Two steps, so the GOAWAY grpc-js writes now is on the wire before the cut, however late timers run.
      connection.idleFoundMs = now;
      this.wake(connection, idleGraceMs);
    } else if (now - connection.idleFoundMs >= idleGraceMs) {
      this.cut(connection, 'idle');
    } else {
      this.wake(connection, idleGraceMs - (now - connection.idleFoundMs));
    }
  }

  private cut(connection: Connection | undefined, limit: ConnectionLimit): void {
    connection?.socket.destroy();
    this.counts.cut(limit);
    this.logger.limited(`grpc-limit:${this.name}:${limit}`, 'warn', 'gRPC connection or call cut off', {
      listener: this.name,
      limit,
    });
  }

  /** Counts each call on its connection and answers DEADLINE_EXCEEDED if it has not ended in time. */
  private readonly boundCall: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        const info = call.getConnectionInfo();
        const connection = this.open.get(keyOf(info.remoteAddress, info.remotePort, info.localAddress, info.localPort));
        if (connection !== undefined) connection.calls++;
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          clearTimeout(timer);
          if (connection !== undefined && --connection.calls === 0) connection.idleSinceMs = Date.now();
        };
        const timer = setTimeout(() => {
          if (ended) return;
          this.cut(undefined, 'request');
          call.sendStatus({
            code: grpc.status.DEADLINE_EXCEEDED,
            details: `tokengate: the request did not arrive within ${this.limits.requestTimeoutMs} ms`,
          });
          end();
        }, this.limits.requestTimeoutMs);
        // grpc-js calls onCancel when a call has ended, answered or not (the timer ends the rare call
        // whose stream closed before the listener was set).
        next({ onCancel: end });
      },
    });
}

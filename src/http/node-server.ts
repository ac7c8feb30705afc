import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../base/log.js';
import type { RunningListener } from './engine.js';

/**
 * Connection limits of the node engine. The idle limit matches the uWS engine's fixed 10 s, so
 * proxy keepalive settings (nginx `keepalive_timeout`, Envoy `idle_timeout`) fit both engines.
 */
export const nodeLimits = Object.freeze({
  /** A connection idle this long between requests is closed (one silent from the start: by the head limit below). */
  idleMs: 10_000,
  /**
   * The whole request head must arrive within this (for a connection's first request: counted from
   * the connect while it sends nothing, from its first byte once it does; both measured in
   * test/service/conformance.test.ts), however slowly it trickles (slowloris), and
   * a head llhttp cannot finish (an HTTP/0.9 one-line "GET /path") is answered 408 by then. A
   * proxy writes a head at once; with the check interval below, every head is answered or closed
   * within 2 s.
   */
  headersMs: 1_500,
  /** How often Node checks the head deadline. */
  checkMs: 250,
  /**
   * Request line plus headers; beyond it: 431. Above what a shipped proxy can send for a client
   * head nginx accepts (its 4 × 8k buffers): nginx.example.conf carries the URI twice (target and
   * X-Original-URI, up to 8k each) and, for cookie routes, the Cookie line; ingress-nginx passes
   * every client header and adds the URI twice. At Node's 16 KiB default, a genuine 8,172-byte
   * link got 431, which nginx turns into 500 (a 503 for the client).
   */
  maxHeaderBytes: 64 * 1024,
});

const reasonPhrase: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

/**
 * HTTP/1.1, and 1.0 (nginx's default for subrequests), are what proxies speak. llhttp also
 * parses "HTTP/2.0" or "HTTP/1.7" request lines and would serve them as 1.1: refused instead.
 */
export function refuseVersion(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.httpVersionMajor === 1 && (req.httpVersionMinor === 1 || req.httpVersionMinor === 0)) return false;
  res.writeHead(505, reasonPhrase[505], { Connection: 'close', 'Cache-Control': 'no-store', 'Content-Length': '0' });
  res.end();
  res.once('finish', () => req.socket.destroySoon());
  return true;
}

export function hardenedServer(
  name: string,
  logger: Logger,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  /** Certificate and key (PEM): an https server (TLS 1.2 and up, the handshake bounded like a head). */
  tls?: { readonly cert: Buffer; readonly key: Buffer },
): Server {
  const options = {
    headersTimeout: nodeLimits.headersMs,
    requestTimeout: nodeLimits.headersMs,
    keepAliveTimeout: nodeLimits.idleMs,
    connectionsCheckingInterval: nodeLimits.checkMs,
    maxHeaderSize: nodeLimits.maxHeaderBytes,
    // Proxies always send Host; a missing one changes nothing for a decision (uWS does not require it either).
    requireHostHeader: false,
    insecureHTTPParser: false,
    noDelay: true,
  };
  // An https.Server answers requests exactly as an http.Server does (it is one over TLS sockets).
  const server =
    tls === undefined
      ? createServer(options, handler)
      : (createHttpsServer(
          { ...options, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: nodeLimits.headersMs },
          handler,
        ) as unknown as Server);
  // Every header line is read (Node would silently drop lines past maxHeadersCount, hiding a
  // repeated source header); the head is bounded by maxHeaderBytes instead.
  server.maxHeadersCount = 0;
  // No `server.timeout`: a connection that never sends a byte is closed by the head limit above
  // (Node starts it at the connect: test/service/conformance.test.ts), an idle keepalive one by
  // keepAliveTimeout. Node re-arms server.timeout around every request (two timer list moves a
  // request): measured 5% fewer requests a second with it (node:http, 10 alternated rounds).
  // Malformed framing, oversized heads, the head deadline: answer with a status and close; never reach a handler.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const code = error.code ?? 'unknown';
    // An answer to an earlier pipelined request may still be queued: a status written now would
    // take its place, so then the connection is only closed.
    const answering = (socket as { _httpMessage?: unknown })._httpMessage != null;
    if (code !== 'ECONNRESET' && code !== 'EPIPE' && socket.writable && !answering) {
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.write(
        `HTTP/1.1 ${status} ${reasonPhrase[status]}\r\nConnection: close\r\nCache-Control: no-store\r\nContent-Length: 0\r\n\r\n`,
      );
      (socket as Socket).destroySoon();
    } else if (answering) {
      (socket as Socket).destroySoon();
    } else {
      socket.destroy();
    }
    // The code names the parser rule; the request bytes (which may hold a token) are never logged.
    logger.limited(`client-error:${name}`, 'warn', 'malformed request refused', { listener: name, code });
  });
  return server;
}

const netClose = NetServer.prototype.close;

/**
 * Listens on `host:port`. `reusePort` (SO_REUSEPORT, Node 22.12+/23.1+ on Linux): the worker
 * threads of the pool join the port the main thread claimed with a plain bind first
 * (src/service/claim-port.ts); one thread listens without it.
 */
export function listen(server: Server, name: string, host: string, port: number, reusePort = false): Promise<RunningListener> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      reject(new Error(`${name} listener cannot listen on ${host}:${port} (${error.code ?? error.message})`));
    };
    server.once('error', failed);
    server.listen({ host, port, exclusive: true, ...(reusePort ? { reusePort } : {}) }, () => {
      server.off('error', failed);
      const address = server.address();
      resolve({
        name,
        host,
        port: typeof address === 'object' && address !== null ? address.port : port,
        // net.Server's close, not http.Server's: that one also drops idle keepalive connections at
        // once, racing a request the proxy is writing onto one. Open connections keep being answered
        // (with Connection: close while draining) until closeAll.
        close: () => netClose.call(server),
        closeAll: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}

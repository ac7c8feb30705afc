/**
 * The origin oracle's HTTP client: raw bytes on keepalive connections to one door, one request
 * in flight per connection. It frames answers by Content-Length, chunks or the close, skips
 * interim 1xx answers, and opens a new connection whenever the door closed or framing is unsure.
 */
import { connect, type Socket } from 'node:net';

export interface Answer {
  /** The status; "closed" when the door closed without an answer, "timeout" when none came in time. */
  readonly status: number | 'closed' | 'timeout';
  /** Lowercase name → values. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
}

interface Parsed {
  readonly answer: Answer;
  /** The connection may carry another request. */
  readonly reusable: boolean;
}

const headEnd = Buffer.from('\r\n\r\n');

/** One complete answer at the start of `data`, or undefined while more bytes are needed (`closed`: no more come). */
function parse(data: Buffer, head: boolean, closed: boolean): Parsed | undefined {
  let start = 0;
  for (;;) {
    const end = data.indexOf(headEnd, start);
    if (end < 0) return undefined;
    const lines = data.subarray(start, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
    if (!Number.isInteger(status)) return { answer: { status: 'closed', headers: new Map(), body: data }, reusable: false };
    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const keep = !/close/i.test(headers.get('connection')?.[0] ?? '') && lines[0]!.startsWith('HTTP/1.1');
    if (head || status === 204 || status === 304) {
      return { answer: { status, headers, body: Buffer.alloc(0) }, reusable: keep && data.length === bodyStart };
    }
    if (/chunked/i.test(headers.get('transfer-encoding')?.[0] ?? '')) {
      const chunks: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at);
        if (lineEnd < 0)
          return closed ? { answer: { status, headers, body: Buffer.concat(chunks) }, reusable: false } : undefined;
        const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = data.indexOf(headEnd, lineEnd);
          const done = data.subarray(lineEnd, lineEnd + 4).equals(headEnd) || trailerEnd >= 0;
          if (!done && !closed) return undefined;
          return { answer: { status, headers, body: Buffer.concat(chunks) }, reusable: false };
        }
        if (data.length < lineEnd + 2 + size + 2)
          return closed ? { answer: { status, headers, body: Buffer.concat(chunks) }, reusable: false } : undefined;
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    }
    const length = headers.get('content-length')?.[0];
    if (length === undefined)
      return closed ? { answer: { status, headers, body: data.subarray(bodyStart) }, reusable: false } : undefined;
    const bodyEnd = bodyStart + Number(length);
    if (data.length < bodyEnd)
      return closed ? { answer: { status, headers, body: data.subarray(bodyStart) }, reusable: false } : undefined;
    return { answer: { status, headers, body: data.subarray(bodyStart, bodyEnd) }, reusable: keep && data.length === bodyEnd };
  }
}

/** Sends requests to 127.0.0.1:`port`, reusing idle connections. */
export class KeepaliveClient {
  private readonly idle: Socket[] = [];
  /** Connections opened: how well keepalive held. */
  opened = 0;

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 5000,
  ) {}

  private open(): Promise<Socket> {
    this.opened++;
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  /** One request (latin1 bytes); `head`: its answer has no body. A reused connection the door had closed is retried once. */
  async send(request: string, head: boolean): Promise<Answer> {
    const reused = this.idle.pop();
    const socket = reused ?? (await this.open());
    const { parsed, received, timedOut } = await this.exchange(socket, request, head);
    if (parsed === undefined && received === 0 && !timedOut && reused !== undefined) return this.send(request, head);
    if (parsed?.reusable === true) this.idle.push(socket);
    else socket.destroy();
    return parsed?.answer ?? { status: timedOut ? 'timeout' : 'closed', headers: new Map(), body: Buffer.alloc(0) };
  }

  private exchange(
    socket: Socket,
    request: string,
    head: boolean,
  ): Promise<{ parsed: Parsed | undefined; received: number; timedOut: boolean }> {
    return new Promise((resolve) => {
      let data = Buffer.alloc(0);
      let timedOut = false;
      const finish = (parsed: Parsed | undefined) => {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        resolve({ parsed, received: data.length, timedOut });
      };
      const timer = setTimeout(() => {
        timedOut = true;
        socket.destroy();
        finish(undefined);
      }, this.timeoutMs);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const parsed = parse(data, head, false);
        if (parsed !== undefined) finish(parsed);
      });
      socket.once('close', () => finish(data.length === 0 ? undefined : parse(data, head, true)));
      socket.write(request, 'latin1');
    });
  }

  close(): void {
    for (const socket of this.idle.splice(0)) socket.destroy();
  }
}

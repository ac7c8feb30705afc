import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lowercase header name → values in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: string;
}

function header(response: RawResponse, name: string): string | undefined {
  return response.headers.get(name.toLowerCase())?.[0];
}

export { header };

/** Parses one complete response at the start of `text`; undefined until it is complete. */
function parseOne(text: string): { response: RawResponse; rest: string } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const length = Number(headers.get('content-length')?.[0] ?? '0');
  if (text.length < end + 4 + length) return undefined;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  return {
    response: { status, headers, body: text.slice(end + 4, end + 4 + length) },
    rest: text.slice(end + 4 + length),
  };
}

/** Every complete response at the start of `text`, in order (what a connection received). */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  for (let parsed = parseOne(rest); parsed !== undefined; parsed = parseOne(rest)) {
    responses.push(parsed.response);
    rest = parsed.rest;
  }
  return responses;
}

/** A raw HTTP/1.1 connection on loopback: write exact bytes, read parsed responses, see closes. */
export class RawConnection {
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string): void {
    this.socket.write(bytes, 'latin1');
  }

  /** The next complete response; rejects after `timeoutMs` (long: it only ends a failing wait) or when the peer closes first. */
  read(timeoutMs = 10_000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(this.buffer)}`));
      }, timeoutMs);
      const check = () => {
        const parsed = parseOne(this.buffer);
        if (parsed !== undefined) {
          this.buffer = parsed.rest;
          this.waiting = undefined;
          clearTimeout(timer);
          resolve(parsed.response);
        } else if (this.closed) {
          this.waiting = undefined;
          clearTimeout(timer);
          reject(new Error(`connection closed before a complete response; got ${JSON.stringify(this.buffer)}`));
        }
      };
      this.waiting = check;
      check();
    });
  }

  /** Resolves true when the peer closes within `timeoutMs`, false otherwise (pass a short window to assert "stays open"). */
  waitClosed(timeoutMs = 10_000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends one request on a fresh connection and returns its response. */
export async function rawRequest(port: number, request: string): Promise<RawResponse> {
  const connection = await RawConnection.open(port);
  try {
    connection.write(request);
    return await connection.read();
  } finally {
    connection.destroy();
  }
}

/** An auth subrequest as nginx sends it with the shipped config (headers given in order). */
export function authRequest(headers: readonly (readonly [string, string])[], method = 'GET'): string {
  const lines = [`${method} /auth HTTP/1.1`, 'Host: tokengate', ...headers.map(([name, value]) => `${name}: ${value}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Where a listener reads the original URI and client IP: proxy-set headers, or the auth request's target. */
export type SourceForm = 'headers' | 'target';

/** The prefix of target-form listeners in the tests (`listenerSources('target')`). */
export const targetPrefix = '/tokengate';

/**
 * The listener fields of each form. The uws engine accepts only the target form (it trims bytes
 * 0x80-0xFF from header values); the node engine accepts both.
 */
export function listenerSources(form: SourceForm) {
  return form === 'target'
    ? { pathPrefix: targetPrefix, clientIpInPath: true }
    : { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' };
}

/** The form the tests use for an engine: target for uws (its only one), headers for node (the default config's). */
export const formFor = (engine: 'uws' | 'node'): SourceForm => (engine === 'uws' ? 'target' : 'headers');

/** An auth request for `uri` from `clientIp` in the listener's form, with extra headers. */
export function sourcedRequest(
  form: SourceForm,
  uri: string,
  clientIp: string,
  extra: readonly (readonly [string, string])[] = [],
  method = 'GET',
): string {
  if (form === 'headers') return authRequest([['X-Original-URI', uri], ['X-Real-IP', clientIp], ...extra], method);
  const lines = [
    `${method} ${targetPrefix}/${clientIp}${uri} HTTP/1.1`,
    'Host: tokengate',
    ...extra.map(([n, v]) => `${n}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The status of one auth request on a fresh connection (nginx-style source headers unless told). */
export async function authStatus(
  port: number,
  uri: string,
  clientIp = '192.0.2.1',
  form: SourceForm = 'headers',
): Promise<number> {
  // The method as nginx.example.conf sends it (listeners without methodHeader ignore the header).
  const response = await rawRequest(port, sourcedRequest(form, uri, clientIp, [['X-Original-Method', 'GET']]));
  return response.status;
}

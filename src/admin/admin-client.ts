/**
 * Who is asking the admin listener. Behind a reverse proxy every request comes from the proxy's
 * address, so the client is read from `X-Forwarded-For`, but only where a configured trusted proxy
 * wrote it: anyone else could write any address there and get fresh login tries with each.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type ClientIp, type IpRange, parseClientIp } from '../request/client-ip.js';
import { trimOws } from '../request/http-whitespace.js';

export interface AdminClient {
  /** The client's address in canonical text (for logs); "unknown" when the socket has none. */
  readonly address: string;
  /** What failed logins are counted under: loopback and each IPv6 /64 are one client. */
  readonly key: string;
  /** The trusted proxy the request came through; undefined for a direct client. */
  readonly proxy: string | undefined;
}

/**
 * The lockout key of an address. One machine's addresses count as one client (127.0.0.0/8 and ::1:
 * a local process may connect from any of them), and so does an IPv6 /64, the smallest block
 * one subscriber is given (RFC 6177): its holder can pick any of 2^64 source addresses.
 */
export function lockoutKey(ip: ClientIp): string {
  if (ip.v6 === undefined) return ip.v4 >>> 24 === 127 ? 'loopback' : ip.text;
  if (ip.text === '::1') return 'loopback';
  const [a, b, c, d] = ip.v6.map((group) => group.toString(16));
  return `${parseClientIp(`${a}:${b}:${c}:${d}::`)!.text}/64`;
}

const trustedBy = (ip: ClientIp, trusted: readonly IpRange[]) => trusted.some((range) => range.contains(ip));

/**
 * The client of a request from `peer` (the socket's address) carrying `forwardedFor`: the peer,
 * unless it is a trusted proxy; then the `X-Forwarded-For` entries are walked from the right (each
 * proxy appends the address it saw) past every trusted one, and the first other address is the
 * client. An entry that is no address ends the walk at the last trusted hop: the proxies' own
 * word is all that is believed, never what a client wrote before them.
 */
export function clientOf(peer: string | undefined, forwardedFor: string | undefined, trusted: readonly IpRange[]): AdminClient {
  const direct = peer === undefined ? undefined : parseClientIp(peer);
  if (direct === undefined) return { address: 'unknown', key: 'unknown', proxy: undefined };
  let client = direct;
  if (forwardedFor !== undefined && trustedBy(direct, trusted)) {
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0 && trustedBy(client, trusted); i--) {
      const hop = parseClientIp(trimOws(hops[i]!));
      if (hop === undefined) break;
      client = hop;
    }
  }
  return { address: client.text, key: lockoutKey(client), proxy: client === direct ? undefined : direct.text };
}

/** The request's client as `clientOf` reads it. */
export function adminClient(req: IncomingMessage, trusted: readonly IpRange[]): AdminClient {
  // Node joins repeated X-Forwarded-For lines with ", " in their order: one list either way.
  const forwardedFor = req.headers['x-forwarded-for'];
  return clientOf(req.socket.remoteAddress, typeof forwardedFor === 'string' ? forwardedFor : undefined, trusted);
}

/**
 * Whether the browser reached the page over https: the listener's own TLS, a trusted proxy's
 * `X-Forwarded-Proto: https`, or the browser's own word (`Origin: https://...`, which only
 * changes what that browser keeps: its session cookie gets `Secure`).
 */
export function reachedOverHttps(req: IncomingMessage, trusted: readonly IpRange[]): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  if (req.headers.origin?.startsWith('https://')) return true;
  const proto = req.headers['x-forwarded-proto'];
  if (typeof proto !== 'string') return false;
  const peer = req.socket.remoteAddress === undefined ? undefined : parseClientIp(req.socket.remoteAddress);
  // The first entry is what the outermost proxy, the one the browser talked to, saw.
  return peer !== undefined && trustedBy(peer, trusted) && trimOws(proto.split(',')[0]!).toLowerCase() === 'https';
}

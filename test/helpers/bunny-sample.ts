/**
 * bunny.net signed URLs as BunnyWay's own samples make them (BunnyCDN.TokenAuthentication,
 * nodejs/token.js `signUrl`), written again here from that algorithm so the tests' oracle is not
 * tokengate's signer: the URL's query parameters (and token_countries, token_countries_blocked,
 * limit), or only token_ignore_params, plus token_path, sorted by name; HMAC-SHA256 over the
 * signed path (token_path, else the path), expires, the IP's bytes (IPv6 cut to its /64) and the
 * parameters joined raw; the URL carries them percent-encoded (encodeURIComponent), in the query,
 * or with `isDirectory` in the first path segment: `/bcdn_token=<token>&…&expires=<t>/path`.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';

export interface BunnySampleOptions {
  readonly expires: number;
  readonly userIp?: string;
  readonly isDirectory?: boolean;
  readonly pathAllowed?: string;
  readonly countriesAllowed?: string;
  readonly countriesBlocked?: string;
  readonly ignoreParams?: boolean;
  readonly speedLimit?: number;
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  const bytes = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return bytes.fill(0, 8);
}

export function bunnySampleUrl(url: string, key: string, options: BunnySampleOptions): string {
  const parsed = new URL(url);
  const query: Record<string, string> = Object.fromEntries(parsed.searchParams);
  if (options.countriesAllowed) query.token_countries = options.countriesAllowed;
  if (options.countriesBlocked) query.token_countries_blocked = options.countriesBlocked;
  if ((options.speedLimit ?? 0) > 0) query.limit = String(options.speedLimit);
  const parameters: Record<string, string> = options.ignoreParams ? { token_ignore_params: 'true' } : { ...query };
  if (options.pathAllowed) parameters.token_path = options.pathAllowed;
  const sorted = Object.entries(parameters).sort(([a], [b]) => a.localeCompare(b));
  const expires = String(options.expires);
  const mac = createHmac('sha256', key)
    .update(options.pathAllowed || parsed.pathname)
    .update(expires)
    .update(options.userIp ? ipBytes(options.userIp) : Buffer.alloc(0))
    .update(sorted.map(([k, v]) => `${k}=${v}`).join('&'))
    .digest('base64url');
  const token = `HS256-${options.userIp ? '1-' : ''}${mac}`;
  const urlData = sorted.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const tail = urlData === '' ? '' : `&${urlData}`;
  const base = `${parsed.protocol}//${parsed.host}`;
  return options.isDirectory
    ? `${base}/bcdn_token=${token}${tail}&expires=${expires}${parsed.pathname}`
    : `${base}${parsed.pathname}?token=${token}${tail}&expires=${expires}`;
}

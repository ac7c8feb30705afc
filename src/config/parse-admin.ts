import type { Problems } from '../base/problems.js';
import { parseIpRange } from '../request/client-ip.js';
import type { AdminListenerConfig } from './config.js';

/** A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const hostName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The entries of an optional array of strings, each checked by `read` (undefined: refused). */
function list(
  obj: Readonly<Record<string, unknown>>,
  key: string,
  p: Problems,
  read: (text: string) => string | undefined,
  why: string,
) {
  const value = obj[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    p.add(`admin.${key}`, 'must be an array');
    return [];
  }
  return value.flatMap((entry: unknown, i) => {
    const parsed = typeof entry === 'string' ? read(entry) : undefined;
    if (parsed === undefined) p.add(`admin.${key}[${i}]`, why);
    return parsed === undefined ? [] : [parsed];
  });
}

/**
 * `admin`: where the admin listener listens, which reverse proxies in front of it are believed
 * (their `X-Forwarded-For` and `X-Forwarded-Proto`), and which host names it answers for besides
 * the ones it knows (DNS rebinding: docs/signing.md). Every field takes effect at start.
 */
export function parseAdmin(raw: unknown, p: Problems): AdminListenerConfig {
  const obj = p.object(raw === undefined ? {} : raw, 'admin', ['host', 'port', 'trustedProxies', 'allowedHosts']) ?? {};
  return {
    host: p.string(obj, 'host', 'admin', '127.0.0.1'),
    port: p.integer(obj, 'port', 'admin', 9090, 0, 65535),
    // One spelling per range (parseIpRange), so the config logged is the config matched.
    trustedProxies: list(
      obj,
      'trustedProxies',
      p,
      // A range of every address (/0) would let any client name itself in X-Forwarded-For.
      (text) => (/\/0$/.test(text) ? undefined : parseIpRange(text)?.text),
      'must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
    ),
    allowedHosts: list(
      obj,
      'allowedHosts',
      p,
      (text) => (hostName.test(text.toLowerCase()) ? text.toLowerCase() : undefined),
      'must be a host name (letters, digits, "-" and "."), without scheme or port',
    ),
  };
}

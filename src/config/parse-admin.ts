import type { Fields, Problems } from '../base/problems.js';
import { parseIpRange } from '../request/client-ip.js';
import type { AdminListenerConfig } from './config.js';

/** A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const hostName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The entries of an optional array of strings, each checked by `read` (undefined: refused). */
export function list(fields: Fields, name: string, read: (text: string) => string | undefined, why: string): string[] {
  if (!fields.has(name)) return [];
  return fields.array(name, 'must be an array', true).flatMap((entry: unknown, i) => {
    const parsed = typeof entry === 'string' ? read(entry) : undefined;
    if (parsed === undefined) fields.add(`${name}[${i}]`, why);
    return parsed === undefined ? [] : [parsed];
  });
}

/**
 * `admin`: where the admin listener listens, which reverse proxies in front of it are believed
 * (their `X-Forwarded-For` and `X-Forwarded-Proto`), and which host names it answers for besides
 * the ones it knows (DNS rebinding: docs/signing.md). Every field takes effect at start.
 */
export function parseAdmin(raw: unknown, p: Problems): AdminListenerConfig {
  const fields = p.fields(raw === undefined ? {} : raw, 'admin');
  const admin = parseAdminFields(fields, 9090);
  fields.done();
  return admin;
}

/** The fields an admin-like listener shares (`admin`, `signing.listener`): host, port, trusted proxies, host names. */
export function parseAdminFields(fields: Fields, defaultPort: number): AdminListenerConfig {
  return {
    host: fields.string('host', '127.0.0.1'),
    port: fields.int('port', defaultPort, 0, 65535),
    // One spelling per range (parseIpRange), so the config logged is the config matched.
    trustedProxies: list(
      fields,
      'trustedProxies',
      // A range of every address (/0) would let any client name itself in X-Forwarded-For.
      (text) => (/\/0$/.test(text) ? undefined : parseIpRange(text)?.text),
      'must be an IP address or a CIDR range written canonically, without host bits (10.0.0.0/8, 2001:db8::/32), and not every address (/0)',
    ),
    allowedHosts: list(
      fields,
      'allowedHosts',
      (text) => (hostName.test(text.toLowerCase()) ? text.toLowerCase() : undefined),
      'must be a host name (letters, digits, "-" and "."), without scheme or port',
    ),
  };
}

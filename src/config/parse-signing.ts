import type { Problems } from '../base/problems.js';
import type { SigningConfig } from './config.js';

const loopbackHosts = ['127.0.0.1', '::1', 'localhost'];

/** A host only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export const isLoopbackHost = (host: string) => loopbackHosts.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * A public base URL: `http(s)://host[:port]`, nothing else. A path would change the path the
 * proxy sees, which is not the path that was signed; credentials, query and fragment have no place.
 */
export function parseBaseUrl(value: unknown, path: string, p: Problems): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    !/^https?:\/\/[^/?#]+\/?$/.test(value as string)
  ) {
    p.add(path, 'must be an http(s) origin like "https://media.example.com" (no path, query or credentials)');
    return undefined;
  }
  return url.origin;
}

/**
 * `signing`: the secure-link generator page and the signing API on the admin listener. Off when
 * absent. Whoever holds the access token can sign links for every route, so it comes from a file
 * or an environment variable, or (`randomToken`, loopback admin only) is made at each start and
 * printed once with the page's address.
 */
export function parseSigning(raw: unknown, adminHost: string, p: Problems): SigningConfig | undefined {
  if (raw === undefined) return undefined;
  const obj = p.object(raw, 'signing', ['tokenFile', 'tokenEnv', 'randomToken', 'publicBaseUrl']);
  if (obj === undefined) return undefined;
  const sources = (['tokenFile', 'tokenEnv', 'randomToken'] as const).filter((name) => obj[name] !== undefined);
  let token: SigningConfig['token'] = 'random';
  if (sources.length !== 1) {
    p.add('signing', 'needs exactly one of "tokenFile", "tokenEnv" or "randomToken": true');
  } else if (sources[0] === 'randomToken') {
    if (obj.randomToken !== true) p.add('signing.randomToken', 'must be true (or leave it out and give tokenFile or tokenEnv)');
    if (!isLoopbackHost(adminHost)) {
      p.add('signing.randomToken', 'needs a loopback admin host (127.0.0.1, ::1): elsewhere give tokenFile or tokenEnv');
    }
  } else {
    const value = p.string(obj, sources[0]!, 'signing');
    if (sources[0] === 'tokenEnv' && value !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
      p.add('signing.tokenEnv', 'must be an environment variable name');
    }
    token = sources[0] === 'tokenFile' ? { file: value } : { env: value };
  }
  return { token, publicBaseUrl: parseBaseUrl(obj.publicBaseUrl, 'signing.publicBaseUrl', p) };
}

import type { Problems } from '../base/problems.js';
import type { SigningConfig } from './config.js';

const loopbackHosts = ['127.0.0.1', '::1', 'localhost'];

/** A host only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export const isLoopbackHost = (host: string) => loopbackHosts.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * `signing`: the secure-link generator page and the signing API on the admin listener. Off when
 * absent. Whoever holds the access token can sign links for every route, so it comes from a file
 * or an environment variable, or (`randomToken`, loopback admin only) is made at each start and
 * printed once with the page's address.
 */
export function parseSigning(raw: unknown, adminHost: string, p: Problems): SigningConfig | undefined {
  if (raw === undefined) return undefined;
  const fields = p.fields(raw, 'signing');
  const source = fields.exactlyOne(
    ['tokenFile', 'tokenEnv', 'randomToken'],
    'needs exactly one of "tokenFile", "tokenEnv" or "randomToken": true',
  );
  let token: SigningConfig['token'] = 'random';
  if (source === 'tokenFile') token = { file: fields.string('tokenFile') };
  if (source === 'tokenEnv') token = { env: fields.envName('tokenEnv') };
  if (source === 'randomToken') {
    if (fields.value('randomToken') !== true)
      fields.add('randomToken', 'must be true (or leave it out and give tokenFile or tokenEnv)');
    if (!isLoopbackHost(adminHost)) {
      fields.add('randomToken', 'needs a loopback admin host (127.0.0.1, ::1): elsewhere give tokenFile or tokenEnv');
    }
  }
  const publicBaseUrl = fields.baseUrl('publicBaseUrl');
  fields.done();
  return { token, publicBaseUrl };
}

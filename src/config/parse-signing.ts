import type { Fields, Problems } from '../base/problems.js';
import { parseIpRange } from '../request/client-ip.js';
import type { SignerConfig, SignerCredential, SigningConfig, SigningListenerConfig, SsoConfig } from './config.js';
import { list, parseAdminFields } from './parse-admin.js';

const loopbackHosts = ['127.0.0.1', '::1', 'localhost'];

/** A host only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export const isLoopbackHost = (host: string) => loopbackHosts.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

const signerName = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const maxTtlLimit = 10 * 366 * 86_400;
/** A single sign-on user: an e-mail address or a user name as proxies write them (lowercase), or `*@domain`. */
const userPattern = /^(?:\*@[a-z0-9.-]{1,253}|[a-z0-9._%+@-]{1,256})$/;
const groupPattern = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;

/** The name of the one signer of a config that gives one access token. */
export const soleSignerName = 'admin';

/**
 * `signing`: the secure-link generator page and the signing API. Off when absent. Who signs is
 * `signers` (each named, with its credential, routes, longest lifetime and revoke right), or, as
 * in older configs, one access token (`tokenFile`, `tokenEnv`, or `randomToken` on a loopback
 * admin listener: made at each start and printed once) for one signer, "admin", who may do all.
 * `routeNames`: the config's routes, which signers' `routes` must name (undefined: not known).
 */
export function parseSigning(
  raw: unknown,
  adminHost: string,
  routeNames: readonly string[] | undefined,
  p: Problems,
): SigningConfig | undefined {
  if (raw === undefined) return undefined;
  const fields = p.fields(raw, 'signing');
  const written = fields.exactlyOne(
    ['signers', 'tokenFile', 'tokenEnv', 'randomToken'],
    'needs exactly one of "signers" (named signers), or one access token: "tokenFile", "tokenEnv" or "randomToken": true',
  );
  const listener = parseSigningListener(fields.value('listener'), p);
  const reachedHost = listener?.host ?? adminHost;
  let signers: SignerConfig[] = [];
  if (written === 'signers') {
    signers = fields
      .array('signers', 'must be a non-empty array of signers')
      .map((entry, i) => parseSigner(entry, `signing.signers[${i}]`, reachedHost, routeNames, p));
    const random = signers.flatMap((signer, i) => (signer.credential === 'random' ? [i] : []));
    for (const i of random.slice(1)) p.add(`signing.signers[${i}].randomToken`, 'one signer at most may have a random token');
    const names = new Set<string>();
    signers.forEach((signer, i) => {
      if (names.has(signer.name)) p.add(`signing.signers[${i}].name`, `"${signer.name}" names another signer too`);
      names.add(signer.name);
    });
  } else if (written !== undefined) {
    const credential = soleCredential(fields, written, reachedHost);
    signers = [{ name: soleSignerName, credential, routes: '*', maxTtlSec: undefined, revoke: true, users: [], groups: [] }];
  }
  const sso = parseSso(fields.value('sso'), p);
  if (sso === undefined && signers.some((signer) => signer.users.length > 0 || signer.groups.length > 0)) {
    fields.add('sso', 'is required when a signer names users or groups: the header they come in and the proxies believed');
  }
  const publicBaseUrl = fields.baseUrl('publicBaseUrl');
  fields.done();
  return { signers, written: written ?? 'signers', publicBaseUrl, sso, listener };
}

function soleCredential(fields: Fields, written: 'tokenFile' | 'tokenEnv' | 'randomToken', host: string): SignerCredential {
  if (written === 'tokenFile') return { file: fields.string('tokenFile') };
  if (written === 'tokenEnv') return { env: fields.envName('tokenEnv') };
  if (fields.value('randomToken') !== true)
    fields.add('randomToken', 'must be true (or leave it out and give tokenFile or tokenEnv)');
  if (!isLoopbackHost(host)) {
    fields.add(
      'randomToken',
      `needs a loopback ${fields.has('listener') ? 'signing listener' : 'admin'} host (127.0.0.1, ::1): elsewhere give tokenFile or tokenEnv`,
    );
  }
  return 'random';
}

function parseSigner(
  raw: unknown,
  path: string,
  host: string,
  routeNames: readonly string[] | undefined,
  p: Problems,
): SignerConfig {
  const fields = p.fields(raw, path);
  const name = fields.matching(
    'name',
    signerName,
    'must be 1 to 64 characters from [A-Za-z0-9._@-], starting with a letter or digit',
    '',
  );
  const source = fields.has('tokenFile')
    ? 'tokenFile'
    : fields.has('tokenEnv')
      ? 'tokenEnv'
      : fields.has('tokenSha256')
        ? 'tokenSha256'
        : fields.has('randomToken')
          ? 'randomToken'
          : undefined;
  const given = ['tokenFile', 'tokenEnv', 'tokenSha256', 'randomToken'].filter((field) => fields.has(field));
  if (given.length > 1) fields.add(given[1]!, `give one credential: ${given.join(' and ')} are both set`);
  let credential: SignerCredential | undefined;
  if (source === 'tokenFile') credential = { file: fields.string('tokenFile') };
  if (source === 'tokenEnv') credential = { env: fields.envName('tokenEnv') };
  if (source === 'tokenSha256') {
    const sha256 = fields.matching(
      'tokenSha256',
      /^[0-9a-f]{64}$/,
      'must be the SHA-256 of the access token, 64 lowercase hex digits (printf %s TOKEN | sha256sum)',
    );
    credential = sha256 === undefined ? undefined : { sha256 };
  }
  if (source === 'randomToken') credential = soleCredential(fields, 'randomToken', host);
  const users = stringList(fields, 'users', userPattern, 'must be a user as the proxy writes it (lowercase), or "*@domain"');
  const groups = stringList(fields, 'groups', groupPattern, 'must be a group name (printable, no spaces or commas)');
  if (source === undefined && users.length === 0 && groups.length === 0) {
    fields.add(
      'tokenFile',
      'a signer needs a credential: "tokenFile", "tokenEnv" or "tokenSha256", or single sign-on "users" or "groups"',
    );
  }
  let routes: SignerConfig['routes'] = [];
  const rawRoutes = fields.array('routes', 'must be a non-empty array of route names, or ["*"] for every route');
  if (rawRoutes.length === 1 && rawRoutes[0] === '*') routes = '*';
  else {
    routes = rawRoutes.flatMap((entry, i) => {
      if (typeof entry === 'string' && entry !== '*' && (routeNames === undefined || routeNames.includes(entry))) return [entry];
      fields.add(
        `routes[${i}]`,
        entry === '*' ? '"*" stands alone: every route' : `must name a route of this config (${routeNames?.join(', ')})`,
      );
      return [];
    });
  }
  const signer: SignerConfig = {
    name: name ?? '',
    credential,
    routes,
    maxTtlSec: fields.optionalInt('maxTtlSec', 1, maxTtlLimit),
    revoke: fields.bool('revoke', false),
    users,
    groups,
  };
  fields.done();
  return signer;
}

function stringList(fields: Fields, name: string, pattern: RegExp, why: string): string[] {
  return list(fields, name, (text) => (pattern.test(text) ? text : undefined), why);
}

/** `signing.sso`: the headers a single-sign-on proxy writes, and the proxies believed. */
function parseSso(raw: unknown, p: Problems): SsoConfig | undefined {
  if (raw === undefined) return undefined;
  const fields = p.fields(raw, 'signing.sso');
  const userHeader = fields.headerName('userHeader')?.toLowerCase() ?? '';
  if (!fields.has('userHeader'))
    fields.add('userHeader', 'is required: the header the proxy names the user in (X-Forwarded-Email)');
  const groupsHeader = fields.headerName('groupsHeader')?.toLowerCase();
  const trustedProxies = list(
    fields,
    'trustedProxies',
    (text) => (/\/0$/.test(text) ? undefined : parseIpRange(text)?.text),
    'must be an IP address or a CIDR range written canonically, without host bits, and not every address (/0)',
  );
  if (trustedProxies.length === 0)
    fields.add('trustedProxies', 'must name the proxies that write the user header: anyone else could write any user');
  fields.done();
  return { userHeader, groupsHeader, trustedProxies };
}

/** `signing.listener`: host and port, the admin listener's proxy and host settings, and TLS files. */
function parseSigningListener(raw: unknown, p: Problems): SigningListenerConfig | undefined {
  if (raw === undefined) return undefined;
  const fields = p.fields(raw, 'signing.listener');
  const listener = parseAdminFields(fields, 8443);
  const tls = fields.object('tls');
  const certFile = tls?.string('certFile');
  const keyFile = tls?.string('keyFile');
  tls?.done();
  fields.done();
  return { ...listener, tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile } };
}

/**
 * Who is signing: the named signer of a request to the signing page or API, and what it may do.
 * A caller proves itself with a signer's access token (Bearer), a page session opened with one, or,
 * behind a single-sign-on proxy, the user that proxy names in its header: believed only when the
 * connection comes from one of `signing.sso.trustedProxies`, and mapped to the first signer (in
 * config order) that names the user, the user's domain (`*@domain`) or one of the user's groups.
 */
import type { IncomingMessage } from 'node:http';
import type { SignerConfig, SigningConfig, SsoConfig } from '../config/config.js';
import { type IpRange, parseClientIp, parseIpRange } from '../request/client-ip.js';
import { trimOws } from '../request/http-whitespace.js';

/** A caller the page or API accepted: its signer, how it came in, and its single-sign-on user. */
export interface Caller {
  readonly signer: SignerConfig;
  readonly via: 'token' | 'session' | 'sso';
  readonly user: string | undefined;
}

export const signerNamed = (signing: SigningConfig, name: string) => signing.signers.find((signer) => signer.name === name);

/** Whether `signer` may sign for (and revoke on) the route named `route`. */
export const mayUseRoute = (signer: SignerConfig, route: string) => signer.routes === '*' || signer.routes.includes(route);

/** A user name or address as proxies write it: printable ASCII without spaces or commas, at most 256 characters. */
const userValue = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;

/** The trusted-proxy ranges of a config's `sso`, parsed once per config. */
const rangesOf = new WeakMap<SsoConfig, readonly IpRange[]>();

/**
 * The single-sign-on user (lowercase) and groups of a request, when `sso` is configured, the
 * connection comes from one of its proxies, and the user header is there once and well-formed;
 * undefined otherwise (the request is then anyone's, and needs a token or a session).
 */
export function ssoUser(req: IncomingMessage, sso: SsoConfig | undefined): { user: string; groups: string[] } | undefined {
  if (sso === undefined) return undefined;
  let ranges = rangesOf.get(sso);
  if (ranges === undefined) {
    ranges = sso.trustedProxies.map((text) => parseIpRange(text)!);
    rangesOf.set(sso, ranges);
  }
  const peer = req.socket.remoteAddress === undefined ? undefined : parseClientIp(req.socket.remoteAddress);
  if (peer === undefined || !ranges.some((range) => range.contains(peer))) return undefined;
  const lines = headerLines(req, sso.userHeader);
  if (lines.length !== 1) return undefined;
  const user = trimOws(lines[0]!).toLowerCase();
  if (!userValue.test(user)) return undefined;
  // The groups, like the user, in one line: a proxy that appended its line to a client's would
  // otherwise pass the client's groups on.
  const groupLines = sso.groupsHeader === undefined ? [] : headerLines(req, sso.groupsHeader);
  if (groupLines.length > 1) return undefined;
  const groups = (groupLines[0] ?? '')
    .split(',')
    .map((group) => trimOws(group))
    .filter((group) => group !== '');
  return { user, groups };
}

/** Every line of a header as sent (node joins some repeated headers; rawHeaders keeps them apart). */
function headerLines(req: IncomingMessage, name: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) lines.push(req.rawHeaders[i + 1]!);
  }
  return lines;
}

/**
 * The signer a single-sign-on user acts as: the one that names the user; else the one that names
 * the user's domain; else the first (in config order) that names one of the user's groups. The
 * most specific entry wins, so a domain or a group never grants a named user more than its own.
 */
export function signerOfUser(signing: SigningConfig, user: string, groups: readonly string[]): SignerConfig | undefined {
  const domain = user.includes('@') ? `*@${user.slice(user.lastIndexOf('@') + 1)}` : undefined;
  return (
    signing.signers.find((signer) => signer.users.includes(user)) ??
    (domain === undefined ? undefined : signing.signers.find((signer) => signer.users.includes(domain))) ??
    signing.signers.find((signer) => signer.groups.some((group) => groups.includes(group)))
  );
}

/**
 * What a signer may not do with a link it asks for, or undefined: the route must be one of its
 * routes, and the link must end within its `maxTtlSec` of now.
 */
export function signRefusal(
  signer: SignerConfig,
  route: string,
  expiresSec: number,
  nowSec: number,
): { field: string; message: string } | undefined {
  if (!mayUseRoute(signer, route)) return { field: 'path', message: `signer "${signer.name}" may not sign for route "${route}"` };
  if (signer.maxTtlSec !== undefined && expiresSec - nowSec > signer.maxTtlSec) {
    return {
      field: 'expiresSec',
      message: `signer "${signer.name}" may sign links that end at most ${signer.maxTtlSec} s from now (this one would end in ${expiresSec - nowSec} s)`,
    };
  }
  return undefined;
}

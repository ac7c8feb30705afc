import type { Scheme } from '../scheme-kit/scheme-definition.js';
import type { SignOption } from '../scheme-kit/sign-request.js';
import { schemes } from '../schemes/registry.js';

/** The ids of the registered formats `keep` picks, in registry order: the help derives every list of formats from these. */
function idsWhere(keep: (scheme: Scheme) => boolean): string {
  return schemes
    .filter(keep)
    .map((scheme) => scheme.id)
    .join(', ');
}

/** The formats that sign `option`: a new format appears in the help without editing it. */
function signersOf(option: SignOption): string {
  return idsWhere((scheme) => scheme.signOptions.includes(option)) || 'no registered format';
}

/** The --ip line: which formats bind every token to the client IP, and which may. */
function clientIpHelp(): string {
  const required = idsWhere((scheme) => scheme.clientIp === 'required');
  const optional = idsWhere((scheme) => scheme.clientIp === 'optional' && scheme.signOptions.includes('clientIp'));
  const uses = [
    ...(required === '' ? [] : [`required for ${required}`]),
    ...(optional === '' ? [] : [`optional for ${optional}`]),
  ];
  return `the client IP the link is bound to (an address, or a CIDR range where the format takes one): ${uses.join('; ')}`;
}

/** `text` wrapped at `width` columns: the first line starts with `first`, the others with `indent`. */
function wrap(text: string, width: number, first = '', indent = ''): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const start = lines.length === 0 ? first : indent;
    if (line.length > start.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line += line.length > start.length ? ` ${word}` : word;
  }
  return [...lines, line].join('\n');
}

/** One option of a help text: the flag, then its description wrapped under itself. */
const optionHelp = (flag: string, description: string) => wrap(description, 100, `  ${flag.padEnd(15)}`, ' '.repeat(17));

const signOptionsHelp = [
  optionHelp('--ttl', 'lifetime in seconds, counted from --start (or from now)'),
  optionHelp('--start', `the start of validity, unix seconds (${signersOf('notBeforeSec')})`),
  optionHelp('--ip', clientIpHelp()),
  optionHelp('--scope-depth', `${signersOf('scopeDepth')}: the token covers every path under the first N segments of PATH`),
  optionHelp('--session', `${signersOf('sessionId')}: an opaque session id signed into the token`),
  optionHelp('--cookies', `${signersOf('cookies')}: signed cookies (printed as a Cookie line) instead of a signed URL`),
  optionHelp('--base-url', "https://host[:port] the link starts with (default: the config's publicBaseUrl)"),
  optionHelp('--json', 'the link and its fields as JSON, as the signing API answers'),
].join('\n');

/** The help's example of a refused option: --ip, for the formats that cannot bind a link to the client IP. */
const unboundIp = idsWhere((scheme) => !scheme.signOptions.includes('clientIp'));
const refusedOptions = wrap(
  `Each option names the formats that sign it; an option the route's format cannot sign${unboundIp === '' ? '' : ` (--ip for ${unboundIp})`} is refused, never dropped.`,
  96,
);

/** Each command's options (parseArgs form) and its help text; an option of another command is a usage error. */
export const commands = {
  serve: {
    usage: `Usage: tokengate serve [--config FILE]

Runs the service until SIGTERM or SIGINT (SIGHUP reloads the config). Without --config (or
TOKENGATE_CONFIG) the embedded demo config is used: PUBLIC demo secrets, loopback listeners,
and the signing API with an access token printed at start.`,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  },
  sign: {
    usage: `Usage: tokengate sign --path PATH --ttl SECONDS [--start UNIX] [--route NAME|PREFIX]
                     [--ip IP|CIDR] [--scope-depth N] [--session ID] [--cookies]
                     [--base-url URL] [--json] [--now UNIX] [--config FILE]

Prints a link for PATH signed with the first key of the route that serves it (the one the
service matches; --route must name that route). The link is checked with the service's own
decision first: nothing is printed that the service would refuse.
${signOptionsHelp}
${refusedOptions}`,
    options: {
      config: { type: 'string' },
      path: { type: 'string' },
      ttl: { type: 'string' },
      start: { type: 'string' },
      route: { type: 'string' },
      ip: { type: 'string' },
      'scope-depth': { type: 'string' },
      session: { type: 'string' },
      cookies: { type: 'boolean' },
      'base-url': { type: 'string' },
      json: { type: 'boolean' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  },
  verify: {
    usage: `Usage: tokengate verify URL [--ip IP] [--cookie COOKIES] [--header "NAME: VALUE"] [--now UNIX]
                       [--config FILE]

Says what the auth listener would answer for URL now (or at --now), why, and what to check.
  --ip       the client IP the request comes from (routes that bind tokens to it)
  --cookie   the request's Cookie header value (routes whose token travels in a cookie)
  --header   a request header carrying the token (routes whose token travels in a header)
Exit codes: 0 valid, 1 denied, 2 expired, 3 undecidable.`,
    options: {
      config: { type: 'string' },
      ip: { type: 'string' },
      cookie: { type: 'string' },
      header: { type: 'string' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  },
  revoke: {
    usage: `Usage: tokengate revoke (--link URL [--ip IP] | --fp FP | --session ID | --key ID --route NAME
                        | --prefix PATH [--issued-before UNIX])
                       [--route NAME] [--until UNIX] [--note TEXT] [--json] [--now UNIX] [--config FILE]
       tokengate revoke --list [--json] [--config FILE]
       tokengate revoke --remove ID [--remove ID ...] [--config FILE]

Takes links back before they expire, on the routes that set "revocation". Writes to the store
the config names ("state": the file beside the config, or Redis); a running service applies the
change within a second. A revocation lasts until the latest end a link it matches can have.
${[
  optionHelp('--link', 'a whole signed URL: revokes that link (by its fingerprint), until it expires'),
  optionHelp('--fp', 'a fingerprint, as the decision log and `tokengate verify` print it'),
  optionHelp('--session', 'a session id: every link signed with it (hmac --session)'),
  optionHelp('--key', 'a key id of --route: every link that key signed (then retire the key)'),
  optionHelp('--prefix', 'a path prefix: every link under it issued before --issued-before (default: now)'),
  optionHelp('--route', 'only this route (default: every route with "revocation")'),
  optionHelp('--until', 'an earlier end for the revocation, unix seconds (never later than needed)'),
  optionHelp('--ip', '--link on a route that binds links to the client IP: the IP it was signed for'),
  optionHelp('--note', 'why, in at most 200 printable ASCII characters (listed and stored)'),
  optionHelp('--list', 'prints the revocations in force'),
  optionHelp('--remove', 'removes a revocation by its id (as --list prints it)'),
  optionHelp('--json', 'the revocation (or the list) as JSON, as the signing API answers'),
].join('\n')}
Exit codes: 0 done, 1 some --remove id was not found, 64 usage, 69 store unreachable, 78 bad config.`,
    options: {
      config: { type: 'string' },
      link: { type: 'string' },
      fp: { type: 'string' },
      session: { type: 'string' },
      key: { type: 'string' },
      prefix: { type: 'string' },
      route: { type: 'string' },
      'issued-before': { type: 'string' },
      until: { type: 'string' },
      ip: { type: 'string' },
      note: { type: 'string' },
      list: { type: 'boolean' },
      remove: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  },
  check: {
    usage: `Usage: tokengate check [--config FILE]

Like "nginx -t": loads and compiles everything "serve" would (keys, secrets, routes, listeners,
the engine, the state store's credentials and TLS files) without binding a port or connecting
anywhere. Prints every problem, or one line saying the config is ok; warnings either way.

Exit codes: 0 ok, 64 usage, 78 bad config (every problem listed).`,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  },
} as const;

export type CommandName = keyof typeof commands;

export const usage = `tokengate: validates signed URLs for reverse proxies (200 allow, 403 deny, 410 expired)

Usage:
  tokengate serve  [--config FILE]
  tokengate sign   --path PATH --ttl SECONDS [--start UNIX] [--route NAME|PREFIX] [--ip IP|CIDR]
                   [--scope-depth N] [--session ID] [--cookies] [--base-url URL] [--json] [--config FILE]
  tokengate verify URL [--ip IP] [--cookie COOKIES] [--header "NAME: VALUE"] [--now UNIX] [--config FILE]
  tokengate revoke (--link URL | --fp FP | --session ID | --key ID | --prefix PATH) [--route NAME]
                   [--issued-before UNIX] [--until UNIX] [--note TEXT] [--config FILE]
  tokengate revoke --list | --remove ID [--config FILE]
  tokengate check  [--config FILE]
  tokengate --version
  tokengate <command> --help

Without --config (or TOKENGATE_CONFIG) the embedded demo config is used: PUBLIC demo secrets.
Secrets come only from key files or environment variables named in the config.

Schemes:
${schemes.map((s) => `  ${s.id.padEnd(8)} ${s.summary}`).join('\n')}

Exit codes: 0 ok/valid, 1 denied, 2 expired, 3 undecidable, 64 usage, 69 engine unavailable,
            70 internal error, 71 cannot listen, 78 bad config.
`;

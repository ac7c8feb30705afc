import { schemes } from '../schemes/registry.js';

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
  --ttl          lifetime in seconds, counted from --start (or from now)
  --start        the start of validity, unix seconds (formats with a start time)
  --ip           the client IP the link is bound to (alta: required; hmac: an address or CIDR range)
  --scope-depth  hmac, cloudfront: the token covers every path under the first N segments of PATH
  --session      hmac: an opaque session id signed into the token
  --cookies      cloudfront: signed cookies (printed as a Cookie line) instead of a signed URL
  --base-url     https://host[:port] the link starts with (default: the config's publicBaseUrl)
  --json         the link and its fields as JSON, as the signing API answers
An option the route's format cannot sign (--ip for azion, --scope-depth for azion, --start
without a start time) is refused, never dropped.`,
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
} as const;

export type CommandName = keyof typeof commands;

export const usage = `tokengate: validates signed URLs for reverse proxies (200 allow, 403 deny, 410 expired)

Usage:
  tokengate serve  [--config FILE]
  tokengate sign   --path PATH --ttl SECONDS [--start UNIX] [--route NAME|PREFIX] [--ip IP|CIDR]
                   [--scope-depth N] [--session ID] [--cookies] [--base-url URL] [--json] [--config FILE]
  tokengate verify URL [--ip IP] [--cookie COOKIES] [--header "NAME: VALUE"] [--now UNIX] [--config FILE]
  tokengate --version
  tokengate <command> --help

Without --config (or TOKENGATE_CONFIG) the embedded demo config is used: PUBLIC demo secrets.
Secrets come only from key files or environment variables named in the config.

Schemes:
${schemes.map((s) => `  ${s.id.padEnd(8)} ${s.summary}`).join('\n')}

Exit codes: 0 ok/valid, 1 denied, 2 expired, 3 undecidable, 64 usage, 69 engine unavailable,
            70 internal error, 71 cannot listen, 78 bad config.
`;

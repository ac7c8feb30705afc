/**
 * The most expensive unsigned requests we know for each registered format, at about 8 KiB (the
 * URI cap, and as much again in a Cookie header), beside an ordinary forged request of the same
 * route: what test/unit/decision-cost.test.ts bounds and `npm run bench:micro` times. Every token is
 * well formed but signed with another key, so a request goes as far as a decision can go (the
 * signature check) before it is denied. Issue 26: "no format may spend more than a few ordinary
 * decisions on an unsigned request".
 */
import { generateKeyPairSync } from 'node:crypto';
import { findRoute, type Gate } from '../../src/decision/authorize.js';
import type { TokenHeaders } from '../../src/request/token-headers.js';
import type { SignRequest } from '../../src/scheme-kit/sign-request.js';
import type { SignedToken } from '../../src/scheme-kit/token-scheme.js';
import { gateFor } from './gates.js';

/** One request as the core receives it. */
export interface CostRequest {
  readonly uri: string;
  readonly clientIp: string | undefined;
  readonly headers: TokenHeaders;
  /** The values of `headers`, as received. */
  readonly headerValues: readonly string[];
  /** Characters the client sent: the URI and the header values. */
  readonly size: number;
}

/** A route of one format, an ordinary forged request to it, and the worst unsigned ones. */
export interface CostRoute {
  readonly scheme: string;
  /** What this route of the format is (a carrier, an option): one format may have several. */
  readonly variant: string;
  readonly gate: Gate;
  readonly ordinary: CostRequest;
  readonly worst: readonly { readonly name: string; readonly request: CostRequest }[];
}

export const costNowSec = 1_800_000_000;
const expiresSec = costNowSec + 600;
const ip = '198.51.100.7';
const path = '/c/dir/file-1.ts';
/** The URI cap of the service (request-target.ts maxUriBytes), less a little room. */
const targetBytes = 8180;
const hexKey = (byte: string) => byte.repeat(32);
const cdnKey = (fill: number) => Buffer.alloc(16, fill).toString('base64url');
const ecKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** The text as an engine hands it over: one flat string made from the bytes (a built-up string is slower to scan). */
const received = (text: string) => Buffer.from(text, 'latin1').toString('latin1');

function request(uri: string, headers: Record<string, string> = {}, clientIp: string | undefined = ip): CostRequest {
  const map = new Map(Object.entries(headers).map(([name, value]) => [name, received(value)]));
  const size = uri.length + Object.values(headers).reduce((sum, value) => sum + value.length, 0);
  return { uri: received(uri), clientIp, headers: { get: (name) => map.get(name) }, headerValues: [...map.values()], size };
}

/** `count` distinct short parameter names in no sorted order (7919 is prime to 10007). */
function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `a${((i * 7919) % 10007).toString(36)}`);
}

/** "name=1&..." filling `bytes` characters, ending with "&" (or empty). */
function manyParams(bytes: number, value = '1', spell = (name: string) => name): string {
  let out = '';
  for (const name of names(5000)) {
    const pair = `${spell(name)}=${value}&`;
    if (out.length + pair.length > bytes) break;
    out += pair;
  }
  return out;
}

/** "c1=1; c2=1; ..." of about `bytes` characters. */
function manyCookies(bytes: number): string {
  let out = '';
  for (const name of names(5000)) {
    const pair = `${name}=1; `;
    if (out.length + pair.length > bytes) break;
    out += pair;
  }
  return out;
}

/** What a format needs to sign and be read: its options, its key (and another that forges), sign extras. */
interface FormatSetup {
  readonly variant: string;
  readonly options?: object;
  readonly keys: readonly [string, string];
  readonly sign?: Omit<SignRequest, 'path' | 'expiresSec'>;
  /** For a route the signer cannot sign for: a well-formed token, by hand. */
  readonly forge?: (request: Omit<SignRequest, 'expiresSec'>) => { query: string; headers: Record<string, string> };
  /** Requests only this format reads (built from the forged token for `path` and the forging gate). */
  readonly extra?: (forged: Forged) => { name: string; request: CostRequest }[];
}

interface Forged {
  /** The token for `path` signed with the other key: a query, or headers. */
  readonly query: string;
  readonly headers: Record<string, string>;
  /** Signs another path (or other extras) with the other key. */
  sign(request: Omit<SignRequest, 'expiresSec'>): { query: string; headers: Record<string, string> };
}

function carried(token: SignedToken): { query: string; headers: Record<string, string> } {
  if (token.carrier === 'query') return { query: token.query, headers: {} };
  if (token.carrier === 'header') return { query: '', headers: { [token.name]: token.value } };
  const cookies = token.carrier === 'cookies' ? token.cookies : [token];
  return { query: '', headers: { cookie: cookies.map(({ name, value }) => `${name}=${value}`).join('; ') } };
}

/** path?query, or the path alone. */
const uriOf = (p: string, query: string) => (query === '' ? p : `${p}?${query}`);

/** The requests every format gets: the junk a client can add around a token of its format. */
function generic(forged: Forged): { name: string; request: CostRequest }[] {
  const { query, headers } = forged;
  const room = targetBytes - path.length - query.length - 2;
  const before = (junk: string) => request(uriOf(path, query === '' ? junk.replace(/&$/, '') : `${junk}${query}`), headers);
  const longPath = `/c/${'a'.repeat(room - 3)}`;
  const segments = `/c/${'a/'.repeat((room - 4) >> 1)}f`;
  const cookie = headers.cookie === undefined ? '' : `; ${headers.cookie}`;
  const signedFor = (p: string) => {
    const token = forged.sign({ path: p });
    return request(uriOf(p, token.query), token.headers);
  };
  return [
    { name: 'many short parameters before the token', request: before(manyParams(room)) },
    {
      name: 'many short parameters after the token',
      request: request(
        uriOf(path, query === '' ? manyParams(room).slice(0, -1) : `${query}&${manyParams(room).slice(0, -1)}`),
        headers,
      ),
    },
    { name: '"&" only, then the token', request: before('&'.repeat(room)) },
    { name: 'one long value', request: before(`x=${'a'.repeat(room - 3)}&`) },
    { name: 'a value of percent-escapes', request: before(`x=${'%41'.repeat((room - 3) / 3)}&`) },
    { name: 'many percent-encoded names', request: before(manyParams(room, '1', (name) => `%61${name.slice(1)}`)) },
    { name: 'a long path, signed (by the other key)', request: signedFor(longPath) },
    { name: 'many path segments, signed (by the other key)', request: signedFor(segments) },
    {
      name: 'many cookies before the token (8 KiB Cookie header)',
      request: request(uriOf(path, query), { ...headers, cookie: `${manyCookies(targetBytes)}x=1${cookie}` }),
    },
    {
      name: 'one long cookie (8 KiB Cookie header)',
      request: request(uriOf(path, query), { ...headers, cookie: `x=${'a'.repeat(targetBytes)}${cookie}` }),
    },
  ];
}

/** Each registered format's routes: every format must have one (test/unit/decision-cost.test.ts checks). */
const setups: Record<string, readonly FormatSetup[]> = {
  azion: [{ variant: 'query', keys: ['azion-cost-key', 'azion-other-key'] }],
  alta: [{ variant: 'query', keys: ['alta-cost-key', 'alta-other-key'], sign: { clientIp: ip, notBeforeSec: costNowSec - 60 } }],
  hmac: [
    { variant: 'query', keys: [hexKey('6b'), hexKey('7c')], sign: { clientIp: ip } },
    { variant: 'cookie', options: { carrier: 'cookie' }, keys: [hexKey('6b'), hexKey('7c')], sign: { clientIp: ip } },
  ],
  akamai: [
    {
      variant: 'acl token',
      keys: [hexKey('6b'), hexKey('7c')],
      sign: { clientIp: ip, scopeDepth: 1 },
      extra: () => {
        const field = (value: string) => `__token__=exp=${expiresSec}~data=${value}~hmac=${'0'.repeat(64)}`;
        const acls = Array.from({ length: 64 }, (_, i) => `/c/${'a'.repeat(50)}${i}/*`).join('!');
        return [
          { name: 'a 4 KiB token field', request: request(uriOf(path, field('a'.repeat(4000)))) },
          {
            name: '64 long acls',
            request: request(uriOf(path, `__token__=exp=${expiresSec}~acl=${acls}~hmac=${'0'.repeat(64)}`)),
          },
        ];
      },
    },
    {
      variant: 'url token, cookie, python escaping',
      options: { carrier: 'cookie', escapeEarly: 'python', ignoreQueryString: false },
      keys: [hexKey('6b'), hexKey('7c')],
      sign: { clientIp: ip },
    },
    {
      variant: 'url token, header, node escaping',
      options: { carrier: 'header', escapeEarly: 'node', ignoreQueryString: false },
      keys: [hexKey('6b'), hexKey('7c')],
      sign: { clientIp: ip },
    },
  ],
  'google-cdn': [
    {
      variant: 'signed URL and cookie',
      options: { baseUrl: 'https://cdn.example.com' },
      keys: [cdnKey(0x6b), cdnKey(0x7c)],
      extra: (forged) => {
        const prefix = Buffer.from(`https://cdn.example.com/c/${'a'.repeat(1500)}`).toString('base64url');
        const padded = prefix + '='.repeat((4 - (prefix.length % 4)) % 4);
        const tail = `Expires=${expiresSec}&KeyName=k&Signature=${'A'.repeat(27)}=`;
        return [
          { name: 'a 2 KiB URLPrefix', request: request(uriOf(path, `${manyParams(4000)}URLPrefix=${padded}&${tail}`)) },
          {
            name: 'a cookie with a 2 KiB URLPrefix, many parameters',
            request: request(uriOf(path, manyParams(targetBytes - 40).slice(0, -1)), {
              cookie: `${manyCookies(4000)}Cloud-CDN-Cookie=URLPrefix=${padded}:${tail.replaceAll('&', ':')}`,
            }),
          },
          {
            name: 'the scoped token, many parameters',
            request: request(uriOf(path, `${manyParams(6000)}${forged.sign({ path, scopeDepth: 1 }).query}`)),
          },
        ];
      },
    },
  ],
  bunny: [
    {
      variant: 'HS256 bound to an IPv4 address',
      keys: ['bunny-cost-key', 'bunny-other-key'],
      sign: { clientIp: ip },
      extra: (forged) => {
        const token = forged.query.replace(/&expires=\d+$/, '');
        return [
          {
            name: 'the path form with many parameters',
            request: request(`/bcdn_token=${token.slice('token='.length)}&${manyParams(7000)}expires=${expiresSec}${path}`),
          },
          {
            name: 'token_countries of 2,000 codes',
            request: request(uriOf(path, `token_countries=${'US,'.repeat(2000)}CA&${forged.query}`)),
          },
        ];
      },
    },
    {
      variant: 'advanced with ipValidation',
      options: { ipValidation: true },
      keys: ['bunny-cost-key', 'bunny-other-key'],
      sign: { clientIp: ip },
      extra: () => {
        const advanced = `token=${'A'.repeat(43)}&expires=${expiresSec}`;
        return [
          { name: 'an advanced token, many parameters', request: request(uriOf(path, `${manyParams(8000)}${advanced}`)) },
          { name: 'an advanced token, one long value', request: request(uriOf(path, `x=${'%41'.repeat(2600)}&${advanced}`)) },
        ];
      },
    },
  ],
  'nginx-secure-link': [
    {
      variant: 'the documented expression',
      options: { md5: '$secure_link_expires$uri$remote_addr $secret' },
      keys: ['secure-link-cost-key', 'secure-link-other-key'],
      sign: { clientIp: ip },
    },
    {
      variant: 'an expression with a cookie and arguments',
      options: { md5: '$secure_link_expires$uri$remote_addr|$cookie_session|$arg_user $secret' },
      keys: ['secure-link-cost-key', 'secure-link-other-key'],
      forge: () => ({ query: `user=1&md5=${'A'.repeat(22)}&expires=${expiresSec}`, headers: { cookie: 'session=1' } }),
      extra: () => {
        const token = `md5=${'A'.repeat(22)}&expires=${expiresSec}`;
        return [
          {
            name: 'many "," cookie starts',
            request: request(uriOf(path, token), { cookie: `${','.repeat(targetBytes)}session=1` }),
          },
          {
            name: 'many cookies and parameters',
            request: request(uriOf(path, `${manyParams(7000)}user=1&${token}`), { cookie: manyCookies(targetBytes) }),
          },
        ];
      },
    },
  ],
  wowza: [
    {
      variant: 'file path, client IP',
      options: { contentPath: 'file', includeClientIp: true },
      keys: ['wowza-cost-key', 'wowza-other-key'],
      sign: { clientIp: ip, notBeforeSec: costNowSec - 60 },
      extra: (forged) => [
        {
          name: '15 wowzatoken parameters of 256 characters',
          request: request(
            uriOf(path, `${Array.from({ length: 14 }, (_, i) => `wowzatokenx${i}=${'a'.repeat(256)}&`).join('')}${forged.query}`),
          ),
        },
        {
          name: 'many parameters with escaped names',
          request: request(uriOf(path, `${manyParams(7800, '1', (n) => `%77${n}`)}${forged.query}`)),
        },
      ],
    },
  ],
  jwt: [
    {
      variant: 'ES256 in the query (each verification runs once per burst; the sync part is timed)',
      options: { algorithms: ['ES256'] },
      keys: [ecKey(), ecKey()],
      // A prefix claim ("/c/"): a token that repeats an 8 KiB path is refused by its length alone.
      sign: { scopeDepth: 1 },
      extra: () => [
        {
          name: 'a 4 KiB payload of claims',
          request: request(uriOf(path, `token=${jwtWith(JSON.stringify({ sub: path, exp: expiresSec, x: 'a'.repeat(4000) }))}`)),
        },
        {
          name: 'a deeply nested payload',
          request: request(uriOf(path, `token=${jwtWith(`{"exp":${expiresSec},"n":${'['.repeat(2500)}${']'.repeat(2500)}}`)}`)),
        },
        {
          name: 'a payload of escapes',
          request: request(uriOf(path, `token=${jwtWith(`{"exp":${expiresSec},"sub":"${'\\u0041'.repeat(700)}"}`)}`)),
        },
        {
          name: 'a token of 4096 characters',
          request: request(uriOf(path, `token=${'a'.repeat(2000)}.${'b'.repeat(2000)}.${'c'.repeat(94)}`)),
        },
      ],
    },
  ],
  cloudfront: [
    {
      variant: 'signed URL and cookies (ECDSA P-256)',
      options: { baseUrl: 'https://cdn.example.com' },
      keys: [ecKey(), ecKey()],
      extra: (forged) => {
        const encode = (json: string) =>
          Buffer.from(json).toString('base64').replaceAll('+', '-').replaceAll('=', '_').replaceAll('/', '~');
        const signature = `Key-Pair-Id=k&Signature=${'A'.repeat(96)}`;
        const long = encode(
          JSON.stringify({
            Statement: [
              {
                Resource: `https://cdn.example.com/c/${'a'.repeat(2900)}*`,
                Condition: { DateLessThan: { 'AWS:EpochTime': expiresSec } },
              },
            ],
          }),
        );
        const nested = encode(`${'['.repeat(2000)}${']'.repeat(2000)}`);
        const strings = encode(`{"Statement":[{"Resource":"${'\\u0041'.repeat(600)}"}]}`);
        return [
          { name: 'a 3 KiB policy', request: request(uriOf(path, `${manyParams(1500)}Policy=${long}&${signature}`)) },
          { name: 'a deeply nested policy', request: request(uriOf(path, `${manyParams(2000)}Policy=${nested}&${signature}`)) },
          { name: 'a policy of escapes', request: request(uriOf(path, `${manyParams(2500)}Policy=${strings}&${signature}`)) },
          {
            name: 'signed cookies, many parameters',
            request: request(uriOf(path, manyParams(targetBytes - 20).slice(0, -1)), {
              cookie: `${manyCookies(4000)}${forged.sign({ path, cookies: true }).headers.cookie}`,
            }),
          },
        ];
      },
    },
  ],
};

/** A JWT with this payload, signed by no key (a 64-byte ES256 signature of zeros): it reaches the signature check. */
function jwtWith(payload: string): string {
  const part = (text: string) => Buffer.from(text).toString('base64url');
  return `${part('{"alg":"ES256","kid":"k"}')}.${part(payload)}.${Buffer.alloc(64).toString('base64url')}`;
}

/** Every format's cost routes, built once per call (keys, gates, signatures). */
export function costRoutes(): CostRoute[] {
  const out: CostRoute[] = [];
  for (const [scheme, variants] of Object.entries(setups)) {
    for (const setup of variants) {
      const route = (key: string) =>
        gateFor(
          [{ prefix: '/c/', scheme, keys: [{ id: 'k', env: 'K' }], ...(setup.options ? { options: setup.options } : {}) }],
          {
            K: key,
          },
        );
      const gate = route(setup.keys[0]);
      const forging = findRoute(route(setup.keys[1]), path)!.scheme;
      const sign = (extra: Omit<SignRequest, 'expiresSec'>) =>
        setup.forge?.(extra) ?? carried(forging.sign({ ...setup.sign, ...extra, expiresSec }));
      const ordinaryToken = sign({ path });
      const forged: Forged = { ...ordinaryToken, sign };
      out.push({
        scheme,
        variant: setup.variant,
        gate,
        ordinary: request(uriOf(path, ordinaryToken.query), ordinaryToken.headers),
        worst: [...generic(forged), ...(setup.extra?.(forged) ?? [])],
      });
    }
  }
  return out;
}

/** The formats with cost routes (test/unit/decision-cost.test.ts compares it with the registry). */
export const costSchemes: readonly string[] = Object.keys(setups);

/**
 * bunny.net token authentication, the three generations a pull zone accepts (docs/bunny.md),
 * told apart by the token's shape:
 *   HS256     token=HS256-[1-]<43 b64url>  HMAC-SHA256(key, path + expires + ip bytes + signed params)
 *   advanced  token=<43 b64url>            base64url(SHA256(key + path + expires [+ ip] + signed params))
 *   basic     token=<22 b64url>            base64url(MD5(key + path + expires [+ ip]))
 * with `expires` (unix seconds) beside it in the query. Signed params are the query's other
 * parameters, decoded, sorted by name, joined "k=v&k=v" (HS256 with token_ignore_params=true:
 * only that and token_path). token_path replaces the path in the hash and scopes the token to
 * the paths under it. HS256 binds an IP as bytes: IPv4 exactly or its /24 (signed as x.y.z.0),
 * IPv6 its /64. Follows BunnyWay/BunnyCDN.TokenAuthentication's code and published vectors.
 * Over 250 lines: three generations, their grammar and the rules a format without separators needs.
 */
import { createHash, createHmac } from 'node:crypto';
import { type Rejection, rejection, Verdict } from '../../base/verdict.js';
import { type ClientIp, canonicalIp, parseClientIp } from '../../request/client-ip.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import { hmacKey } from '../../scheme-kit/hmac-sha256.js';
import { outerScope, scopeFitsRoute } from '../../scheme-kit/nested-scope.js';
import {
  OptionProblems,
  type ParsedToken,
  type RouteKey,
  type SchemeDefinition,
  type TokenScheme,
} from '../../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../../scheme-kit/sign-request.js';
import { checkSignRequest } from '../../scheme-kit/signable-path.js';
import { textSecretProblem } from '../../scheme-kit/text-secret.js';
import { formatUnixTime, timeFieldParser } from '../../scheme-kit/unix-time.js';

export type BunnyKind = 'hs256' | 'advanced' | 'basic';

export interface BunnyOptions {
  /** The generations this route accepts. */
  readonly accept: readonly BunnyKind[];
  /**
   * The zone's "IP validation": advanced and basic tokens hash the client IP, and HS256 tokens
   * must be IP-bound ("1-"); without it, HS256 tokens say themselves whether they are.
   */
  readonly ipValidation: boolean;
  /** Lowercase name of a proxy-set header with the client's ISO country code, for token_countries. */
  readonly countryHeader: string | undefined;
}

interface BunnyToken extends ParsedToken {
  readonly kind: BunnyKind;
  /** Every message one of which the key must have signed (HS256 IPv4: exact, then /24). */
  readonly messages: readonly Buffer[];
  readonly digest: string;
}

const m = (detail: string) => rejection(Verdict.malformed, detail);
const noToken = rejection(Verdict.missing, 'no token parameter in the query');
const noExpires = m('the token has no expires parameter');
const badToken = m('token must be HS256-[1-]<43 base64url>, 43 base64url characters (advanced) or 22 (basic)');
const repeated = m('a query parameter appears more than once (which one was signed?)');
const refusedKind = Object.fromEntries(
  (['hs256', 'advanced', 'basic'] as const).map((kind) => [kind, m(`this route does not accept ${kind} tokens`)]),
) as Record<BunnyKind, Rejection>;
const badParam = m(
  'a query parameter name must start with a letter or "_" (letters, digits, "_.-[]"), and no value may hold "&", "=" or a control byte once decoded',
);
const unboundToken = m('this route binds every token to the client IP (ipValidation): an HS256 token without "1-" is refused');
const encodedName = m('a token parameter name (token, expires, token_path...) is percent-encoded');
const noTokenParam = m('the token parameter is missing (expires is there)');
const pathMarker = 'bcdn_token=';
const bunnyNames = [
  'token',
  'expires',
  'token_path',
  'token_countries',
  'token_countries_blocked',
  'token_ignore_params',
  'limit',
];
const badEscape = m('a query parameter is not well-formed percent-encoded UTF-8');
const badTokenPath = m('token_path must be a path starting with "/"');
const noClientIp = rejection(Verdict.badSource, 'the token is bound to a client IP but the request has no usable client IP');
const ipv6Resplit = m(
  "an advanced token's IPv6 address and the parameters after it could be split elsewhere (another address, other parameters): use HS256 tokens for IPv6 clients",
);
const outsidePath = rejection(Verdict.forged, 'the path is outside the token_path the token was signed for');
const noCountry = rejection(
  Verdict.forged,
  'the token restricts countries but the route has no countryHeader, or the request no country',
);
const wrongCountry = rejection(
  Verdict.forged,
  "the client's country is not allowed by the token (token_countries / token_countries_blocked)",
);
const parseExpires = timeFieldParser('expires');
const digestShape: Record<BunnyKind, RegExp> = {
  // Canonical base64url: the last character's unused low bits are zero.
  hs256: /^HS256-(1-)?([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/,
  advanced: /^()([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/,
  basic: /^()([A-Za-z0-9_-]{21}[AQgw])$/,
};

/** A query name or value: `+` is a space there. */
function decode(text: string): string | undefined {
  return decodePath(text.replaceAll('+', ' '));
}

/** A path: `+` is itself (a file named "a+b" is not "a b"). */
function decodePath(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The format joins path, expires, the IP and the parameters with no separator, so a parameter
 * could otherwise carry bytes that rebuild another token's message (an IP-bound token made into
 * an unbound one, or one IP's text continued into another's). Names start with a letter or "_"
 * and hold only letters, digits and "_.-[]"; values hold no control byte, "&" or "=".
 */
const paramName = /^[A-Za-z_][A-Za-z0-9_.\-[\]]{0,63}$/;
const paramValue = /^[^\u0000-\u001f\u007f&=]*$/;
/**
 * At most this many "&"-separated pairs (empty ones too), counted before anything is decoded: every
 * parameter is decoded, checked, sorted and hashed before the signature can be checked, so 1,150
 * of them cost ≈100 ordinary decisions (issue 26). bunny's own parameters are seven.
 */
const maxPairs = 32;
const tooManyPairs = m(`more than ${maxPairs} query parameters`);

/** The query's parameters, raw names and decoded values, or why they are refused. */
function queryParams(query: string): Map<string, string> | Rejection {
  const params = new Map<string, string>();
  if (query === '') return params;
  // split stops at the limit: a query of 8,000 pairs costs what one of 33 does.
  const pairs = query.split('&', maxPairs + 1);
  if (pairs.length > maxPairs) return tooManyPairs;
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decode(rawName);
    // Bunny's own parameters only by their plain names: an origin or log pipeline may not decode.
    if (name !== undefined && name !== rawName && bunnyNames.includes(name)) return encodedName;
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
    if (name === undefined || value === undefined) return badEscape;
    if (!paramName.test(name) || !paramValue.test(value)) return badParam;
    if (params.has(name)) return repeated;
    params.set(name, value);
  }
  return params;
}

/** Names sorted by UTF-16 code unit (the order of the Python, Go, Java and C# samples), "k=v" joined by "&". */
function signingData(params: ReadonlyMap<string, string>, skipEmpty: boolean): string {
  return [...params]
    .filter(([, value]) => !skipEmpty || value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/**
 * Advanced tokens with IP validation hash the IP's text and then the sorted parameters with
 * nothing between them, so "2001:db8::a" + "bc=1" is also "2001:db8::ab" + "c=1" (issue 26). An
 * IPv6 client's text and parameters are refused when they could be split elsewhere, either way:
 * the first name starts with a hex digit (it could continue the address), or the address ends in
 * hex letters that could start a name, a shorter address before them. Canonical IPv4 text holds
 * dots and ends with a digit, which no name starts with: it cannot move.
 */
function resplits(ipText: string, data: string): boolean {
  if (data === '') return false;
  if (/^[0-9A-Fa-f:]/.test(data)) return true;
  for (let cut = ipText.lastIndexOf(':') + 1; cut < ipText.length; cut++) {
    const code = ipText.charCodeAt(cut);
    const shorter = ipText.slice(0, cut);
    if (code >= 0x61 && code <= 0x66 && canonicalIp(shorter) === shorter) return true;
  }
  return false;
}

/** HS256's IP bytes: IPv4 as 4 bytes, IPv6 as 16 with the last 8 zeroed (its /64). */
function ipBytes(ip: ClientIp): Buffer {
  if (ip.v6 === undefined) return Buffer.from([ip.v4 >>> 24, (ip.v4 >>> 16) & 255, (ip.v4 >>> 8) & 255, ip.v4 & 255]);
  const bytes = Buffer.alloc(16);
  for (let group = 0; group < 4; group++) {
    bytes[2 * group] = ip.v6[group]! >>> 8;
    bytes[2 * group + 1] = ip.v6[group]! & 255;
  }
  return bytes;
}

function create(keys: readonly RouteKey[], options: BunnyOptions, routePrefix: string, nested = false): TokenScheme<BunnyToken> {
  const secrets = keys.map((key) => key.secret);
  const macs = secrets.map((secret) => hmacKey('sha256', secret));
  const texts = keys.map((key) => key.secret.toString('utf8'));
  const { accept, ipValidation, countryHeader } = options;

  const countryMismatch = (params: ReadonlyMap<string, string>, headers: { get(name: string): string | undefined | null }) => {
    const allowed = params.get('token_countries');
    const blocked = params.get('token_countries_blocked');
    if ((allowed ?? '') === '' && (blocked ?? '') === '') return undefined;
    const country = countryHeader === undefined ? undefined : headers.get(countryHeader);
    if (typeof country !== 'string' || !/^[A-Za-z]{2}$/.test(country)) return noCountry;
    const code = country.toUpperCase();
    const list = (text: string | undefined) => (text ?? '').split(',').map((entry) => entry.trim().toUpperCase());
    if ((allowed ?? '') !== '' && !list(allowed).includes(code)) return wrongCountry;
    if ((blocked ?? '') !== '' && list(blocked).includes(code)) return wrongCountry;
    return undefined;
  };

  return {
    parse({ path, query, clientIp, headers, pathToken }) {
      // The path form: /bcdn_token=<token>[&k=v…]&expires=<t>/dir/file, its parameters then the query's.
      const fromPath = pathToken === undefined ? '' : `token=${pathToken.slice(pathMarker.length)}`;
      const params = queryParams(fromPath === '' ? query : query === '' ? fromPath : `${fromPath}&${query}`);
      if (!(params instanceof Map)) return params;
      const token = params.get('token');
      const expiresText = params.get('expires');
      if (token === undefined || token === '') return expiresText === undefined ? noToken : noTokenParam;
      if (expiresText === undefined) return noExpires;
      const expiresSec = parseExpires(expiresText);
      if (typeof expiresSec !== 'number') return expiresSec;
      const kind = (['hs256', 'advanced', 'basic'] as const).find((k) => digestShape[k].test(token));
      if (kind === undefined) return badToken;
      if (!accept.includes(kind)) return refusedKind[kind];
      const [, ipMarker = '', digest = ''] = digestShape[kind].exec(token)!;
      const signedParams = new Map(params);
      signedParams.delete('token');
      signedParams.delete('expires');
      const tokenPath = signedParams.get('token_path');
      if (tokenPath !== undefined && !tokenPath.startsWith('/')) return badTokenPath;
      const decodedPath = decodePath(path);
      if (decodedPath === undefined) return badEscape;
      // With IP validation the zone refuses tokens that bind no IP (and an IP-bound HS256 token
      // cannot then be passed off as an unbound one: its "1-" is not signed).
      if (kind === 'hs256' && ipValidation && ipMarker === '') return unboundToken;
      let messages: Buffer[];
      if (kind === 'hs256') {
        const signed =
          signedParams.get('token_ignore_params') === 'true'
            ? new Map([
                ['token_ignore_params', 'true'],
                ...(tokenPath === undefined ? [] : [['token_path', tokenPath] as [string, string]]),
              ])
            : signedParams;
        const head = Buffer.from(`${tokenPath ?? path}${expiresText}`, 'utf8');
        const tail = Buffer.from(signingData(signed, false), 'utf8');
        if (ipMarker === '') messages = [Buffer.concat([head, tail])];
        else {
          if (clientIp === undefined) return noClientIp;
          const exact = ipBytes(clientIp);
          messages = [Buffer.concat([head, exact, tail])];
          // IPv4: a token signed for the network address x.y.z.0 covers the /24.
          if (clientIp.v6 === undefined)
            messages.push(Buffer.concat([head, Buffer.from([exact[0]!, exact[1]!, exact[2]!, 0]), tail]));
        }
      } else if (kind === 'advanced') {
        if (ipValidation && clientIp === undefined) return noClientIp;
        const ip = ipValidation ? clientIp!.text : '';
        const data = signingData(signedParams, true);
        if (ipValidation && clientIp!.v6 !== undefined && resplits(ip, data)) return ipv6Resplit;
        messages = [Buffer.from(`${tokenPath ?? decodedPath}${expiresText}${ip}${data}`, 'utf8')];
      } else {
        if (ipValidation && clientIp === undefined) return noClientIp;
        messages = [Buffer.from(`${path}${expiresText}${ipValidation ? clientIp!.text : ''}`, 'utf8')];
      }
      return {
        kind,
        messages,
        digest,
        expiresSec,
        notBeforeSec: 0,
        get bindingMismatch() {
          if (tokenPath !== undefined && !decodedPath.startsWith(tokenPath)) return outsidePath;
          if (tokenPath !== undefined && !scopeFitsRoute(tokenPath, routePrefix, nested)) return outerScope;
          return countryMismatch(signedParams, headers);
        },
      };
    },
    verify(token) {
      return this.identify(token).keyId !== undefined;
    },
    cacheKey(token) {
      return `${token.kind}\n${token.messages.map((message) => message.toString('base64')).join('\n')}\n${token.digest}`;
    },
    identify(token) {
      const digestOf = (i: number, message: Buffer) =>
        token.kind === 'hs256'
          ? macs[i]!(message)
          : createHash(token.kind === 'advanced' ? 'sha256' : 'md5')
              .update(Buffer.concat([Buffer.from(texts[i]!, 'utf8'), message]))
              .digest('binary');
      for (let i = 0; i < keys.length; i++) {
        for (const message of token.messages) {
          if (digestEquals(digestOf(i, message), token.digest, 'base64url'))
            return { keyId: keys[i]!.id, signature: token.digest };
        }
      }
      return { keyId: undefined, signature: token.digest };
    },
    sign(request) {
      checkSignRequest(request, signOptions, 'bunny');
      // HS256 with token_path at most: within maxPairs, and the IP signed as bytes (the IPv6
      // re-split refusal is for advanced tokens), so parse refuses nothing this makes.
      const { path, expiresSec, clientIp, scopeDepth } = request;
      const expires = formatUnixTime(expiresSec);
      let tokenPath: string | undefined;
      if (scopeDepth !== undefined) {
        const segments = path.split('/');
        if (scopeDepth < 1 || scopeDepth >= segments.length) {
          throw new SignRequestError('scopeDepth', 'the path has fewer segments than the scope depth');
        }
        tokenPath = `${segments.slice(0, scopeDepth + 1).join('/')}/`;
        if (!tokenPath.startsWith(routePrefix)) {
          throw new SignRequestError('scopeDepth', `the scope ${tokenPath} reaches outside the route ${routePrefix}`);
        }
        if (decodePath(tokenPath) !== tokenPath)
          throw new SignRequestError('scopeDepth', 'the scope must be plain ASCII without "%"');
      }
      let ip: Buffer = Buffer.alloc(0);
      if (clientIp !== undefined) {
        const canonical = canonicalIp(clientIp);
        if (canonical !== clientIp)
          throw new SignRequestError('clientIp', 'bunny tokens bind one IP address, written canonically (no range)');
        ip = ipBytes(parseClientIp(clientIp)!);
      }
      const params = new Map(tokenPath === undefined ? [] : [['token_path', tokenPath] as [string, string]]);
      const message = Buffer.concat([
        Buffer.from(`${tokenPath ?? path}${expires}`, 'utf8'),
        ip,
        Buffer.from(signingData(params, false), 'utf8'),
      ]);
      const digest = createHmac('sha256', secrets[0]!).update(message).digest('base64url');
      const token = `HS256-${clientIp === undefined ? '' : '1-'}${digest}`;
      const extra = tokenPath === undefined ? '' : `&token_path=${encodeURIComponent(tokenPath)}`;
      return { carrier: 'query', query: `token=${token}${extra}&expires=${expires}` };
    },
  };
}

const kinds: readonly BunnyKind[] = ['hs256', 'advanced', 'basic'];

function readOptions(raw: Readonly<Record<string, unknown>>, path: string): BunnyOptions | OptionProblems {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!['accept', 'ipValidation', 'countryHeader'].includes(key)) {
      problems.push(`${path}.${key}: unknown option (known: accept, ipValidation, countryHeader)`);
    }
  }
  const accept = raw.accept ?? kinds;
  if (
    !Array.isArray(accept) ||
    accept.length === 0 ||
    accept.some((kind) => !kinds.includes(kind)) ||
    new Set(accept).size !== accept.length
  ) {
    problems.push(`${path}.accept: must list some of "hs256", "advanced", "basic", each once`);
  }
  const ipValidation = raw.ipValidation ?? false;
  if (typeof ipValidation !== 'boolean') problems.push(`${path}.ipValidation: must be true or false`);
  const countryHeader = raw.countryHeader;
  if (countryHeader !== undefined && (typeof countryHeader !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(countryHeader))) {
    problems.push(`${path}.countryHeader: must be a header name of letters, digits and "-" (one your proxy sets)`);
  }
  if (problems.length > 0) return new OptionProblems(problems);
  return {
    accept: accept as BunnyKind[],
    ipValidation: ipValidation as boolean,
    countryHeader: (countryHeader as string | undefined)?.toLowerCase(),
  };
}

const signOptions: readonly SignOption[] = ['clientIp', 'scopeDepth'];

export const bunny: SchemeDefinition<BunnyOptions> = {
  id: 'bunny',
  signOptions,
  summary: 'bunny.net: ?token=HS256-[1-]<HMAC-SHA256>&expires= (also advanced SHA256 and basic MD5 tokens), token_path, IP lock',
  clientIp: 'optional',
  ipBinding: 'hashed',
  pathToken: pathMarker,
  keyEncodings: ['text'],
  tokenHeaders: (options) => (options.countryHeader === undefined ? [] : [options.countryHeader]),
  keyProblem: textSecretProblem,
  readOptions,
  create,
};

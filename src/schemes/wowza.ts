/**
 * Wowza Streaming Engine SecureToken version 2 (docs/formats/wowza.md). Wowza publishes the procedure,
 * not code, so every choice below is tokengate's reading of it, documented on the page:
 *   <content path>?<items sorted, joined by "&">  hashed with SHA-256, SHA-384 or SHA-512
 *   items: every "<prefix>name=value" query parameter but the hash, the shared secret, and the
 *          client IP when the route includes it (the last two as bare items)
 *   <prefix>hash = the digest in base64 with "+/" written "-_", padding kept
 * The content path is the request path without its leading "/" and, for streams (the
 * default), without its last segment: `/vod/_definst_/mp4:a.mp4/playlist.m3u8` signs
 * `vod/_definst_/mp4:a.mp4`, so one token covers the playlist, its chunklists and segments.
 * Values travel raw (never decoded); token parameter values are digits or unreserved
 * characters, so decoding could not change them anyway.
 */
import { hash } from 'node:crypto';
import type { Fields } from '../base/problems.js';
import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import type { ClientIp } from '../request/client-ip.js';
import { parseClientIp } from '../request/client-ip.js';
import { forEachQueryPair, safeDecode } from '../request/token-params.js';
import { digestEquals } from '../scheme-kit/digest-equals.js';
import {
  defineScheme,
  type ParsedToken,
  type SchemeRoute,
  type TokenInput,
  type TokenScheme,
} from '../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../scheme-kit/sign-request.js';
import { checkSignRequest } from '../scheme-kit/signable-path.js';
import { textSecretProblem } from '../scheme-kit/text-secret.js';
import { formatUnixTime, timeFieldParser } from '../scheme-kit/unix-time.js';

export type WowzaAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface WowzaOptions {
  /** The query parameter prefix (Wowza's "Hash query parameter prefix"). */
  readonly prefix: string;
  readonly algorithm: WowzaAlgorithm;
  /** Wowza's "Include client IP address in hash generation". */
  readonly includeClientIp: boolean;
  /** "stream": the path without its last segment (HLS, DASH); "file": the whole path. */
  readonly contentPath: 'stream' | 'file';
  /** Wowza accepts tokens without an end time; tokengate only when this is "optional". */
  readonly endTime: 'required' | 'optional';
}

interface WowzaToken extends ParsedToken {
  /** "<content path>?" */
  readonly head: string;
  /** The signed items but the secret (name=value pairs, the client IP). */
  readonly items: readonly string[];
  readonly digest: string;
}

const algorithms: readonly WowzaAlgorithm[] = ['sha256', 'sha384', 'sha512'];
/** The digest in padded base64 (Wowza's "-_" alphabet): length and canonical last characters per algorithm. */
const digestPatterns: Record<WowzaAlgorithm, RegExp> = {
  sha256: /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=$/,
  sha384: /^[A-Za-z0-9_-]{64}$/,
  sha512: /^[A-Za-z0-9_-]{85}[AQgw]==$/,
};
const maxItems = 16;
const valuePattern = /^[A-Za-z0-9._~-]{0,256}$/;
const suffixPattern = /^[A-Za-z0-9_.-]{1,64}$/;
const m = (detail: string) => rejection(Verdict.malformed, detail);
const noClientIp = rejection(
  Verdict.badSource,
  'the route includes the client IP in the hash but the request has no usable client IP',
);
const noStream = m('the path has no stream before its file name (a stream route signs /<application>/.../<stream>/<file>)');

/** The text Wowza's Java runtime gives a client address: IPv4 dotted, IPv6 as eight groups without "::". */
export function javaAddressText(ip: ClientIp): string {
  return ip.v6 === undefined ? ip.text : ip.v6.map((group) => group.toString(16)).join(':');
}

/** A route's parameter names, its refusals that name them, and its digest: built once by `create`. */
function routeState(options: WowzaOptions) {
  const { prefix, algorithm } = options;
  const hashName = `${prefix}hash`;
  const startName = `${prefix}starttime`;
  const endName = `${prefix}endtime`;
  return {
    ...options,
    hashName,
    startName,
    endName,
    ownNames: [hashName, startName, endName].map((name) => name.toLowerCase()),
    digestPattern: digestPatterns[algorithm],
    parseStart: timeFieldParser(startName),
    parseEnd: timeFieldParser(endName),
    noToken: rejection(Verdict.missing, `no ${hashName} parameter`),
    noHash: m(`${prefix} parameters without ${hashName}`),
    noEnd: m(`${endName} is missing (this route requires an end time)`),
    badDigest: m(`${hashName} must be the ${algorithm.toUpperCase()} digest in base64 with "-_" and its padding`),
    repeated: m(`a ${prefix} parameter appears more than once`),
    badName: m(`a ${prefix} parameter name must be ${prefix} then letters, digits, "_", "." or "-"`),
    badValue: m(`a ${prefix} parameter value must be at most 256 letters, digits or "._~-" (no escapes)`),
    otherCase: m(`${hashName}, ${startName} or ${endName} is given in another case or percent-encoded`),
    tooMany: m(`more than ${maxItems} ${prefix} parameters`),
    endBeforeStart: m(`${endName} is before ${startName}`),
    digestOf: (head: string, items: readonly string[], secret: string) =>
      hash(algorithm, head + [...items, secret].sort().join('&'), 'binary'),
  };
}

type WowzaRoute = ReturnType<typeof routeState>;

/**
 * The route's own parameters, before any check of their meaning, in one walk over the pairs,
 * capped like every query reader (token-params.ts): 8 KiB of "&" costs 256 visits.
 */
function readTokenParams(route: WowzaRoute, query: string) {
  const { prefix, hashName, startName, endName, ownNames } = route;
  const items: string[] = [];
  const names = new Set<string>();
  let digest: string | undefined;
  let startText: string | undefined;
  let endText: string | undefined;
  const refused =
    query === ''
      ? undefined
      : forEachQueryPair(query, (name, valueStart, pairEnd) => {
          if (!name.startsWith(prefix)) {
            // The hash and the times in another case or percent-encoded: which one would Wowza read?
            if (ownNames.includes((name.includes('%') ? safeDecode(name) : name).toLowerCase())) return route.otherCase;
            return undefined;
          }
          if (valueStart < 0 || !suffixPattern.test(name.slice(prefix.length))) return route.badName;
          if (names.has(name)) return route.repeated;
          names.add(name);
          const value = query.slice(valueStart, pairEnd);
          if (name === hashName) {
            digest = value;
            return undefined;
          }
          if (!valuePattern.test(value)) return route.badValue;
          if (names.size > maxItems) return route.tooMany;
          if (name === startName) startText = value;
          else if (name === endName) endText = value;
          items.push(`${name}=${value}`);
          return undefined;
        });
  return refused ?? { items, names, digest, startText, endText };
}

/** The path the route signs: the whole path or the stream's, without the leading "/". */
function contentPathOf(route: WowzaRoute, path: string): string | Rejection {
  if (route.contentPath === 'file') return path.slice(1);
  const slash = path.lastIndexOf('/');
  return slash <= 0 || slash === path.length - 1 ? noStream : path.slice(1, slash);
}

function parseToken(route: WowzaRoute, { path, query, clientIp }: TokenInput): WowzaToken | Rejection {
  const params = readTokenParams(route, query);
  if (isRejection(params)) return params;
  const { items, names, digest, startText, endText } = params;
  if (digest === undefined) return names.size === 0 ? route.noToken : route.noHash;
  if (!route.digestPattern.test(digest)) return route.badDigest;
  let expiresSec = Number.MAX_SAFE_INTEGER;
  if (endText !== undefined) {
    const parsed = route.parseEnd(endText);
    if (typeof parsed !== 'number') return parsed;
    expiresSec = parsed;
  } else if (route.endTime === 'required') return route.noEnd;
  let notBeforeSec = 0;
  if (startText !== undefined) {
    const parsed = route.parseStart(startText);
    if (typeof parsed !== 'number') return parsed;
    notBeforeSec = parsed;
    if (expiresSec < notBeforeSec) return route.endBeforeStart;
  }
  if (route.includeClientIp) {
    if (clientIp === undefined) return noClientIp;
    items.push(javaAddressText(clientIp));
  }
  const content = contentPathOf(route, path);
  if (typeof content !== 'string') return content;
  return { head: `${content}?`, items, digest, expiresSec, notBeforeSec };
}

function signer(route: WowzaRoute, secret: string): TokenScheme['sign'] {
  const { includeClientIp, startName, endName, hashName } = route;
  return (request) => {
    checkSignRequest(request, includeClientIp ? ['notBeforeSec', 'clientIp'] : ['notBeforeSec'], 'wowza');
    const content = contentPathOf(route, request.path);
    if (typeof content !== 'string') throw new SignRequestError('path', content.detail);
    const items = [`${endName}=${formatUnixTime(request.expiresSec)}`];
    if (request.notBeforeSec !== undefined) items.unshift(`${startName}=${formatUnixTime(request.notBeforeSec)}`);
    const query = [...items];
    if (includeClientIp) {
      const ip = request.clientIp === undefined ? undefined : parseClientIp(request.clientIp);
      if (ip === undefined || request.clientIp!.includes('/')) {
        throw new SignRequestError('clientIp', 'this route includes the client IP in the hash: give one IPv4 or IPv6 address');
      }
      items.push(javaAddressText(ip));
    }
    const digest = Buffer.from(route.digestOf(`${content}?`, items, secret), 'binary')
      .toString('base64')
      .replaceAll('+', '-')
      .replaceAll('/', '_');
    return { carrier: 'query', query: `${query.join('&')}&${hashName}=${digest}` };
  };
}

function create({ keys }: SchemeRoute, options: WowzaOptions): TokenScheme<WowzaToken> {
  const route = routeState(options);
  const secrets = keys.map((key) => key.secret.toString('utf8'));
  const matches = (token: WowzaToken) =>
    secrets.findIndex((secret) => digestEquals(route.digestOf(token.head, token.items, secret), token.digest, 'base64url'));
  return {
    parse: (input) => parseToken(route, input),
    verify: (token) => matches(token) >= 0,
    signature: (token) => token.digest,
    identify(token) {
      return { keyId: keys[matches(token)]?.id, signature: token.digest };
    },
    cacheKey(token) {
      return `${token.head}\n${token.items.join('&')}\n${token.digest}`;
    },
    sign: signer(route, secrets[0]!),
  };
}

function readOptions(fields: Fields): WowzaOptions {
  return {
    prefix:
      fields.matching(
        'prefix',
        /^[A-Za-z][A-Za-z0-9_]{0,31}$/,
        'must be 1 to 32 letters, digits and "_", starting with a letter (Wowza\'s default: wowzatoken)',
        'wowzatoken',
      ) ?? 'wowzatoken',
    algorithm: fields.oneOf('algorithm', algorithms, 'sha256'),
    includeClientIp: fields.bool('includeClientIp', false),
    contentPath: fields.oneOf('contentPath', ['stream', 'file'], 'stream'),
    endTime: fields.oneOf('endTime', ['required', 'optional'], 'required'),
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp'];

export const wowza = defineScheme<WowzaOptions>({
  id: 'wowza',
  signOptions,
  summary: 'Wowza SecureToken v2: ?wowzatokenstarttime=&wowzatokenendtime=&wowzatokenhash=<SHA-256/384/512 of the sorted items>',
  clientIp: 'optional',
  ipBinding: 'hashed',
  keyEncodings: ['text'],
  tokenHeaders: () => [],
  keyProblem: textSecretProblem,
  readOptions,
  create,
});

/**
 * Wowza Streaming Engine SecureToken version 2 (docs/wowza.md). Wowza publishes the procedure,
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
import { type Rejection, rejection, Verdict } from '../base/verdict.js';
import type { ClientIp } from '../request/client-ip.js';
import { parseClientIp } from '../request/client-ip.js';
import { forEachQueryPair, safeDecode } from '../request/token-params.js';
import { digestEquals } from '../scheme-kit/digest-equals.js';
import {
  OptionProblems,
  type ParsedToken,
  type RouteKey,
  type SchemeDefinition,
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

function create(keys: readonly RouteKey[], options: WowzaOptions): TokenScheme<WowzaToken> {
  const { prefix, algorithm, includeClientIp, contentPath, endTime } = options;
  const secrets = keys.map((key) => key.secret.toString('utf8'));
  const hashName = `${prefix}hash`;
  const startName = `${prefix}starttime`;
  const endName = `${prefix}endtime`;
  const ownNames = [hashName, startName, endName].map((name) => name.toLowerCase());
  const digestPattern = digestPatterns[algorithm];
  const parseStart = timeFieldParser(startName);
  const parseEnd = timeFieldParser(endName);
  const noToken = rejection(Verdict.missing, `no ${hashName} parameter`);
  const noHash = m(`${prefix} parameters without ${hashName}`);
  const noEnd = m(`${endName} is missing (this route requires an end time)`);
  const badDigest = m(`${hashName} must be the ${algorithm.toUpperCase()} digest in base64 with "-_" and its padding`);
  const repeated = m(`a ${prefix} parameter appears more than once`);
  const badName = m(`a ${prefix} parameter name must be ${prefix} then letters, digits, "_", "." or "-"`);
  const badValue = m(`a ${prefix} parameter value must be at most 256 letters, digits or "._~-" (no escapes)`);
  const otherCase = m(`${hashName}, ${startName} or ${endName} is given in another case or percent-encoded`);
  const tooMany = m(`more than ${maxItems} ${prefix} parameters`);
  const endBeforeStart = m(`${endName} is before ${startName}`);

  const contentPathOf = (path: string): string | Rejection => {
    if (contentPath === 'file') return path.slice(1);
    const slash = path.lastIndexOf('/');
    return slash <= 0 || slash === path.length - 1 ? noStream : path.slice(1, slash);
  };
  const digestOf = (head: string, items: readonly string[], secret: string) =>
    hash(algorithm, head + [...items, secret].sort().join('&'), 'binary');
  const matches = (token: WowzaToken) =>
    secrets.findIndex((secret) => digestEquals(digestOf(token.head, token.items, secret), token.digest, 'base64url'));

  return {
    parse({ path, query, clientIp }) {
      const items: string[] = [];
      const names = new Set<string>();
      let digest: string | undefined;
      let startText: string | undefined;
      let endText: string | undefined;
      // One walk over the pairs, capped like every query reader (token-params.ts): 8 KiB of "&" costs 256 visits.
      const refused =
        query === ''
          ? undefined
          : forEachQueryPair(query, (name, valueStart, pairEnd) => {
              if (!name.startsWith(prefix)) {
                // The hash and the times in another case or percent-encoded: which one would Wowza read?
                if (ownNames.includes((name.includes('%') ? safeDecode(name) : name).toLowerCase())) return otherCase;
                return undefined;
              }
              if (valueStart < 0 || !suffixPattern.test(name.slice(prefix.length))) return badName;
              if (names.has(name)) return repeated;
              names.add(name);
              const value = query.slice(valueStart, pairEnd);
              if (name === hashName) {
                digest = value;
                return undefined;
              }
              if (!valuePattern.test(value)) return badValue;
              if (names.size > maxItems) return tooMany;
              if (name === startName) startText = value;
              else if (name === endName) endText = value;
              items.push(`${name}=${value}`);
              return undefined;
            });
      if (refused !== undefined) return refused;
      if (digest === undefined) return names.size === 0 ? noToken : noHash;
      if (!digestPattern.test(digest)) return badDigest;
      let expiresSec = Number.MAX_SAFE_INTEGER;
      if (endText !== undefined) {
        const parsed = parseEnd(endText);
        if (typeof parsed !== 'number') return parsed;
        expiresSec = parsed;
      } else if (endTime === 'required') return noEnd;
      let notBeforeSec = 0;
      if (startText !== undefined) {
        const parsed = parseStart(startText);
        if (typeof parsed !== 'number') return parsed;
        notBeforeSec = parsed;
        if (expiresSec < notBeforeSec) return endBeforeStart;
      }
      if (includeClientIp) {
        if (clientIp === undefined) return noClientIp;
        items.push(javaAddressText(clientIp));
      }
      const content = contentPathOf(path);
      if (typeof content !== 'string') return content;
      return { head: `${content}?`, items, digest, expiresSec, notBeforeSec };
    },
    verify: (token) => matches(token) >= 0,
    identify(token) {
      return { keyId: keys[matches(token)]?.id, signature: token.digest };
    },
    cacheKey(token) {
      return `${token.head}\n${token.items.join('&')}\n${token.digest}`;
    },
    sign(request) {
      checkSignRequest(request, includeClientIp ? ['notBeforeSec', 'clientIp'] : ['notBeforeSec'], 'wowza');
      const content = contentPathOf(request.path);
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
      const digest = Buffer.from(digestOf(`${content}?`, items, secrets[0]!), 'binary')
        .toString('base64')
        .replaceAll('+', '-')
        .replaceAll('/', '_');
      return { carrier: 'query', query: `${query.join('&')}&${hashName}=${digest}` };
    },
  };
}

function readOptions(raw: Readonly<Record<string, unknown>>, path: string): WowzaOptions | OptionProblems {
  const problems: string[] = [];
  const known = ['prefix', 'algorithm', 'includeClientIp', 'contentPath', 'endTime'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) problems.push(`${path}.${key}: unknown option (known: ${known.join(', ')})`);
  }
  const prefix = raw.prefix ?? 'wowzatoken';
  if (typeof prefix !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(prefix)) {
    problems.push(
      `${path}.prefix: must be 1 to 32 letters, digits and "_", starting with a letter (Wowza's default: wowzatoken)`,
    );
  }
  const algorithm = raw.algorithm ?? 'sha256';
  if (!algorithms.includes(algorithm as WowzaAlgorithm))
    problems.push(`${path}.algorithm: must be "sha256", "sha384" or "sha512"`);
  const includeClientIp = raw.includeClientIp ?? false;
  if (typeof includeClientIp !== 'boolean') problems.push(`${path}.includeClientIp: must be true or false`);
  const contentPath = raw.contentPath ?? 'stream';
  if (contentPath !== 'stream' && contentPath !== 'file') problems.push(`${path}.contentPath: must be "stream" or "file"`);
  const endTime = raw.endTime ?? 'required';
  if (endTime !== 'required' && endTime !== 'optional') problems.push(`${path}.endTime: must be "required" or "optional"`);
  if (problems.length > 0) return new OptionProblems(problems);
  return {
    prefix: prefix as string,
    algorithm: algorithm as WowzaAlgorithm,
    includeClientIp: includeClientIp as boolean,
    contentPath: contentPath as 'stream' | 'file',
    endTime: endTime as 'required' | 'optional',
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp'];

export const wowza: SchemeDefinition<WowzaOptions> = {
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
};

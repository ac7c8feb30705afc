import { isRejection, rejection, Verdict } from '../../base/verdict.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import type { ParsedToken, RouteKey, TokenScheme } from '../../scheme-kit/scheme-definition.js';
import { timeFieldParser } from '../../scheme-kit/unix-time.js';
import { nginxAddressText } from './nginx-address-text.js';
import type { NginxSecureLinkOptions } from './nginx-secure-link-options.js';
import { secretText, secureLinkDigest, secureLinkParts } from './secure-link-digest.js';
import { describeSource, sameSource, sourceOf, type ValueSource } from './secure-link-expression.js';
import { requestValues } from './secure-link-values.js';

export interface SecureLinkToken extends ParsedToken {
  /** The expression's value cut at each `$secret`, as bytes (one character per byte). */
  readonly parts: readonly string[];
  /** Every part is ASCII: the string can be hashed as it is. */
  readonly ascii: boolean;
  /** The hash without padding (22 characters) and as the token carried it. */
  readonly md5: string;
  readonly signature: string;
}

const neverExpires = Number.MAX_SAFE_INTEGER;
const m = (detail: string) => rejection(Verdict.malformed, detail);
/** 16 bytes in base64url: 22 characters whose last carries 4 zero bits; "==" may follow. */
const md5Pattern = /^[A-Za-z0-9_-]{21}[AQgw](?:==)?$/;
const badMd5 = m('the hash must be 22 characters of base64url (an MD5 digest), optionally followed by "=="');
const noClientIp = rejection(Verdict.badSource, 'the expression signs $remote_addr but the request has no usable client IP');
const nonAscii = /[^\x00-\x7f]/;

/** Whether the expression signs the client's address. */
export function readsAddress(options: NginxSecureLinkOptions): boolean {
  return options.md5.some((item) => 'variable' in item && item.variable === 'remote_addr');
}

/** How a route reads and checks its tokens: everything of its TokenScheme but `sign`. */
export function nginxSecureLinkTokens(
  keys: readonly RouteKey[],
  options: NginxSecureLinkOptions,
): Omit<TokenScheme<SecureLinkToken>, 'sign'> {
  const { hash: hashSource, expires: expiresSource, md5: expression } = options;
  const secrets = keys.map(secretText);
  const values = requestValues([hashSource, expiresSource, ...expression.map(sourceOf)].filter((source) => source !== undefined));
  const indexOf = (source: ValueSource) => values.sources.findIndex((s) => sameSource(s, source));
  const hashIndex = indexOf(hashSource);
  const expiresIndex = expiresSource === undefined ? -1 : indexOf(expiresSource);
  const valueIndex = expression.map((item) => ('source' in item ? indexOf(item.source) : -1));
  const signsAddress = readsAddress(options);
  const noHash = rejection(Verdict.missing, `no ${describeSource(hashSource)}`);
  const hashMissing = m(`${describeSource(hashSource)} is missing or empty beside an end time`);
  const noExpires =
    expiresSource === undefined ? noHash : m(`${describeSource(expiresSource)} is missing or empty (nginx answers 403 too)`);
  const parseExpires = timeFieldParser(expiresSource === undefined ? 'expires' : describeSource(expiresSource));
  const matches = (token: SecureLinkToken) =>
    secrets.findIndex((secret) => digestEquals(secureLinkDigest(token.parts, token.ascii, secret), token.md5, 'base64url'));

  return {
    parse({ path, query, clientIp, headers }) {
      const read = values.read(query, headers);
      if (isRejection(read)) return read;
      const signature = read[hashIndex];
      if (signature === undefined || signature === '') return expiresIndex >= 0 && read[expiresIndex] ? hashMissing : noHash;
      if (!md5Pattern.test(signature)) return badMd5;
      let expiresText = '';
      let expiresSec = neverExpires;
      if (expiresIndex >= 0) {
        expiresText = read[expiresIndex] ?? '';
        if (expiresText === '') return noExpires;
        const parsed = parseExpires(expiresText);
        if (typeof parsed !== 'number') return parsed;
        expiresSec = parsed;
      }
      let address = '';
      if (signsAddress) {
        if (clientIp === undefined) return noClientIp;
        address = nginxAddressText(clientIp);
      }
      const parts = secureLinkParts(expression, valueIndex, path, expiresText, address, read);
      const ascii = parts.every((part) => !nonAscii.test(part));
      return { parts, ascii, md5: signature.slice(0, 22), signature, expiresSec, notBeforeSec: 0 };
    },
    verify: (token) => matches(token) >= 0,
    signature: (token) => token.signature,
    identify(token) {
      return { keyId: keys[matches(token)]?.id, signature: token.signature };
    },
    cacheKey(token) {
      return `${token.parts.map((part) => `${part.length}:${part}`).join('')}\n${token.md5}`;
    },
  };
}

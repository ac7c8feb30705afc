/**
 * Azion Secure Token: `st = base64url_nopad(md5(secret + uri + e))`, sent as `?st=<22>&e=<10>`.
 * `uri` is the request path exactly as sent, without the query. Expired once now > e.
 * Reference: Azion "Secure Token" guide; aziontech/secure_token README. Published example:
 * secret `mysecret`, `/my/uri`, e `1470055000` → `st=m6WCATfRgS_5lcyChCPgrw`.
 * `e` is fixed-width (ten digits) so `uri + e` cannot be re-split into another uri and time.
 */

import { hash } from 'node:crypto';
import { isRejection, rejection, Verdict } from '../base/verdict.js';
import { tokenParamReader } from '../request/token-params.js';
import { bytesEqualText } from '../scheme-kit/digest-equals.js';
import { md5Utf8 } from '../scheme-kit/js-hash.js';
import { defineScheme, type ParsedToken, type SchemeRoute, type TokenScheme } from '../scheme-kit/scheme-definition.js';
import { checkSignRequest } from '../scheme-kit/signable-path.js';
import { type NoOptions, textSecretFormat } from '../scheme-kit/text-secret.js';
import { formatUnixTime, timeFieldParser } from '../scheme-kit/unix-time.js';

interface AzionToken extends ParsedToken {
  readonly path: string;
  readonly expiresText: string;
  readonly st: string;
}

const readParams = tokenParamReader(['st', 'e']);
const parseExpires = timeFieldParser('e');
const badSt = rejection(Verdict.malformed, 'st must be 22 characters of unpadded base64url (an MD5 digest)');
const base64urlChar = /^[A-Za-z0-9_-]{21}[AQgw]$/;

function create({ keys }: SchemeRoute): TokenScheme<AzionToken> {
  // Verified with MD5 in JavaScript (js-hash.ts: cheaper than crypto.hash inside a serving process); signed with crypto.hash.
  const secrets = keys.map((key) => key.secret.toString('utf8'));
  return {
    parse({ path, query }) {
      const params = readParams(query);
      if (isRejection(params)) return params;
      const [st, e] = params as [string, string];
      // The last of 22 characters carries 2 bits; other low bits set would be a second spelling.
      if (!base64urlChar.test(st)) return badSt;
      const expiresSec = parseExpires(e);
      if (typeof expiresSec !== 'number') return expiresSec;
      return { path, expiresText: e, expiresSec, notBeforeSec: 0, st };
    },
    verify(token) {
      for (const secret of secrets) {
        if (bytesEqualText(md5Utf8(secret + token.path + token.expiresText), token.st, 'base64url')) return true;
      }
      return false;
    },
    signature: (token) => token.st,
    identify(token) {
      const i = secrets.findIndex((secret) =>
        bytesEqualText(md5Utf8(secret + token.path + token.expiresText), token.st, 'base64url'),
      );
      return { keyId: keys[i]?.id, signature: token.st };
    },
    cacheKey(token) {
      return `${token.path}\n${token.expiresText}\n${token.st}`;
    },
    sign(request) {
      checkSignRequest(request, [], 'azion');
      const { path, expiresSec } = request;
      const e = formatUnixTime(expiresSec);
      return { carrier: 'query', query: `st=${hash('md5', secrets[0] + path + e, 'base64url')}&e=${e}` };
    },
  };
}

export const azion = defineScheme<NoOptions>({
  id: 'azion',
  signOptions: [],
  summary: 'Azion Secure Token: ?st=base64url(md5(secret + path + e))&e=<unix seconds>',
  clientIp: 'unused',
  ...textSecretFormat,
  create,
});

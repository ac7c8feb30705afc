/**
 * Cesbo Alta securetoken (also Flussonic's): `hash = sha1_hex(path + ip + start + end + secret + salt)`,
 * sent as `?token=<hash>-<salt>-<end>-<start>`; valid for that client IP from start to end.
 * Reference: Cesbo Alta docs "Auth: Securetoken". Published example: path
 * `/tv/travel-channel/index.m3u8`, ip `192.168.88.98`, start `1669810000`, end `1669890000`,
 * secret `secret`, salt `a5cd6c00` → `e8bff06f373694dda657e8417fe76f6b54b69807-a5cd6c00-1669890000-1669810000`.
 * Fixed-width times keep `ip + start + end` unambiguous; the IP is the canonical form of
 * src/request/client-ip.ts, so signers must write IPv6 per RFC 5952.
 * Known limit of the format: `path + ip` has no delimiter (docs/security.md, "Weaknesses of the legacy formats").
 */

import { hash, randomBytes } from 'node:crypto';
import { isRejection, rejection, Verdict } from '../base/verdict.js';
import { clientIpProblem } from '../request/client-ip.js';
import { tokenParamReader } from '../request/token-params.js';
import { bytesEqualText } from '../scheme-kit/digest-equals.js';
import { sha1Utf8 } from '../scheme-kit/js-hash.js';
import { defineScheme, type ParsedToken, type SchemeRoute, type TokenScheme } from '../scheme-kit/scheme-definition.js';
import { type SignOption, SignRequestError } from '../scheme-kit/sign-request.js';
import { checkSignRequest } from '../scheme-kit/signable-path.js';
import { type NoOptions, textSecretFormat } from '../scheme-kit/text-secret.js';
import { formatUnixTime, timeFieldParser } from '../scheme-kit/unix-time.js';

interface AltaToken extends ParsedToken {
  readonly signedPrefix: string;
  readonly signedSalt: string;
  readonly hex: string;
}

const readParams = tokenParamReader(['token']);
const parseStart = timeFieldParser('start');
const parseEnd = timeFieldParser('end');
const badFieldCount = rejection(Verdict.malformed, 'token must have exactly four fields: hash-salt-end-start');
const badHash = rejection(Verdict.malformed, 'the hash must be 40 lowercase hex characters (SHA-1)');
const badSalt = rejection(Verdict.malformed, 'the salt must be 1 to 64 characters from [0-9A-Za-z]');
const endBeforeStart = rejection(Verdict.malformed, 'end is before start');
const hashPattern = /^[0-9a-f]{40}$/;
const saltPattern = /^[0-9A-Za-z]{1,64}$/;

function create({ keys }: SchemeRoute): TokenScheme<AltaToken> {
  const secrets = keys.map((key) => key.secret.toString('utf8'));
  return {
    parse({ path, query, clientIp }) {
      const params = readParams(query);
      if (isRejection(params)) return params;
      const fields = (params[0] as string).split('-');
      if (fields.length !== 4) return badFieldCount;
      const [hex, salt, endText, startText] = fields as [string, string, string, string];
      if (!hashPattern.test(hex)) return badHash;
      if (!saltPattern.test(salt)) return badSalt;
      const expiresSec = parseEnd(endText);
      if (typeof expiresSec !== 'number') return expiresSec;
      const notBeforeSec = parseStart(startText);
      if (typeof notBeforeSec !== 'number') return notBeforeSec;
      if (expiresSec < notBeforeSec) return endBeforeStart;
      return {
        // clientIp is "required": the core gives every request of this scheme a parsed one.
        signedPrefix: path + clientIp!.text + startText + endText,
        signedSalt: salt,
        expiresSec,
        notBeforeSec,
        hex,
      };
    },
    verify(token) {
      for (const secret of secrets) {
        if (bytesEqualText(sha1Utf8(token.signedPrefix + secret + token.signedSalt), token.hex, 'hex')) return true;
      }
      return false;
    },
    signature: (token) => token.hex,
    identify(token) {
      const i = secrets.findIndex((secret) =>
        bytesEqualText(sha1Utf8(token.signedPrefix + secret + token.signedSalt), token.hex, 'hex'),
      );
      return { keyId: keys[i]?.id, signature: token.hex };
    },
    cacheKey(token) {
      return `${token.signedPrefix}\n${token.signedSalt}\n${token.hex}`;
    },
    sign(request) {
      checkSignRequest(request, signOptions, 'alta');
      const { path, expiresSec, notBeforeSec, clientIp, nonce } = request;
      if (clientIp === undefined) throw new SignRequestError('clientIp', 'alta tokens are bound to a client IP: give one');
      const problem = clientIpProblem(clientIp);
      if (problem !== undefined) throw new SignRequestError('clientIp', problem);
      const salt = nonce ?? randomBytes(4).toString('hex');
      if (!saltPattern.test(salt)) throw new SignRequestError('nonce', 'the salt must be 1 to 64 characters from [0-9A-Za-z]');
      const start = formatUnixTime(notBeforeSec ?? Math.floor(Date.now() / 1000));
      const end = formatUnixTime(expiresSec);
      if (end < start) throw new SignRequestError('notBeforeSec', 'end is before start');
      const digest = hash('sha1', path + clientIp + start + end + secrets[0] + salt, 'hex');
      return { carrier: 'query', query: `token=${digest}-${salt}-${end}-${start}` };
    },
  };
}

const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'nonce'];

export const alta = defineScheme<NoOptions>({
  id: 'alta',
  signOptions,
  summary: 'Cesbo Alta / Flussonic securetoken: ?token=sha1(path+ip+start+end+secret+salt)-salt-end-start',
  clientIp: 'required',
  ...textSecretFormat,
  create,
});

/**
 * Akamai EdgeAuth token 2.0 ("Auth Token 2.0", docs/formats/akamai.md), as the official generators make it:
 *   [ip=<ip>~][st=<start>~]exp=<end>~[acl=<acl>[!<acl>...]~][id=<id>~][data=<data>~]hmac=<hex>
 * hmac = HMAC-<sha256|sha1|md5>(hex key, the token text before "~hmac=" exactly as received
 * [+ "~url=" + the URL, for URL tokens, which carry no acl] [+ "~salt=" + salt]), in lowercase
 * hex. The MAC covers the received text itself, never a re-serialisation: field order and
 * spelling are whatever the signer wrote. ACL tokens cover the paths their ACLs match (`*` any
 * run of characters, `/` included; `?` one character), checked only once the MAC is genuine.
 */

import { isRejection } from '../../base/verdict.js';
import { digestEquals } from '../../scheme-kit/digest-equals.js';
import { hmacKey } from '../../scheme-kit/hmac-sha256.js';
import { defineScheme, type SchemeRoute, type TokenScheme } from '../../scheme-kit/scheme-definition.js';
import { tokenHeadersOf, tokenReader } from '../../scheme-kit/token-place.js';
import { escaper } from './akamai-escape.js';
import { type AkamaiOptions, readAkamaiOptions } from './akamai-options.js';
import { akamaiSigner, akamaiSignOptions } from './akamai-sign.js';
import { type AkamaiRoute, type AkamaiToken, akamaiParser } from './akamai-token.js';

function create({ keys, prefix, nested, secrets: loaded }: SchemeRoute, options: AkamaiOptions): TokenScheme<AkamaiToken> {
  const salt = loaded.get('salt');
  // compileGate loads every secret option before create: a missing one is a bug, never "no salt".
  if (options.salt !== undefined && salt === undefined) throw new Error('akamai: the salt option was not loaded');
  const route: AkamaiRoute = {
    options,
    prefix,
    nested,
    saltSuffix: salt === undefined ? '' : `${options.fieldDelimiter}salt=${salt}`,
    escapeText: escaper(options.escapeEarly),
  };
  const read = tokenReader(options);
  const parse = akamaiParser(route);
  const secrets = keys.map((key) => key.secret);
  const macs = new Map(secrets.map((secret) => [secret, hmacKey(options.algorithm, secret)]));
  const mac = (key: Buffer, text: string) => macs.get(key)!(text);
  return {
    parse(input) {
      const text = read(input.query, input.headers);
      return isRejection(text) ? text : parse(text, input);
    },
    verify(token) {
      for (const secret of secrets) if (digestEquals(mac(secret, token.signed), token.mac, 'hex')) return true;
      return false;
    },
    cacheKey(token) {
      return `${token.signed}\n${token.mac}`;
    },
    signature: (token) => token.mac,
    identify(token) {
      const i = secrets.findIndex((secret) => digestEquals(mac(secret, token.signed), token.mac, 'hex'));
      return { keyId: keys[i]?.id, signature: token.mac };
    },
    sign: akamaiSigner(route, secrets[0]!),
  };
}

export const akamai = defineScheme<AkamaiOptions>({
  id: 'akamai',
  signOptions: akamaiSignOptions,
  summary: 'Akamai EdgeAuth 2.0: ?__token__=[ip=~][st=~]exp=~[acl=~][id=~][data=~]hmac=<hex HMAC of the fields [+ ~url=path]>',
  clientIp: 'optional',
  keyEncodings: ['hex'],
  tokenHeaders: tokenHeadersOf,
  keyProblem(secret) {
    return secret.length === 0 ? 'the key is empty' : undefined;
  },
  readOptions: readAkamaiOptions,
  secretOptions: (options) => (options.salt === undefined ? [] : [['salt', options.salt]]),
  create,
});

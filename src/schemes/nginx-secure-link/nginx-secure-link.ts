/**
 * nginx `secure_link` with `secure_link_md5` (docs/formats/nginx-secure-link.md): the route holds the
 * two directives' values, with `$secret` where the nginx config had its secret text:
 *   secureLink: "$arg_md5,$arg_expires"          (where the hash and the end time travel)
 *   md5:        "$secure_link_expires$uri$remote_addr $secret"
 * The token is base64url(md5(expression)) with or without "==", valid while now <= expires, as
 * ngx_http_secure_link_module computes it: `$uri` is nginx's normalised path (nginx-uri.ts; the
 * core hands this format that path and chooses its route on it), `$remote_addr` nginx's text of
 * the client address, `$arg_…` the raw value of the first parameter of that name in any case,
 * `$http_…` and `$cookie_…` the request's header and cookie. A secureLink with an end time whose
 * end time is missing is a denial, as in nginx; without an end time, tokens never expire.
 * Stricter than nginx, each a denial: a hash that is not the one canonical spelling, an end time
 * that is not ten digits (nginx's leading zeros let "$uri$secure_link_expires" be re-split), a
 * parameter, header or cookie the expression reads given twice.
 * Reference: nginx's ngx_http_secure_link_module documentation; tested against real nginx
 * running secure_link (test/formats/nginx-secure-link.test.ts).
 */

import { defineScheme } from '../../scheme-kit/scheme-definition.js';
import { textSecretProblem } from '../../scheme-kit/text-secret.js';
import {
  type NginxSecureLinkOptions,
  nginxSecureLinkHeaders,
  nginxSecureLinkWarnings,
  readNginxSecureLinkOptions,
} from './nginx-secure-link-options.js';
import { nginxSecureLinkSigner, nginxSecureLinkSignOptions } from './nginx-secure-link-sign.js';
import { nginxSecureLinkTokens } from './nginx-secure-link-token.js';

export const nginxSecureLink = defineScheme<NginxSecureLinkOptions>({
  id: 'nginx-secure-link',
  signOptions: nginxSecureLinkSignOptions,
  summary: 'nginx secure_link_md5: ?md5=base64url(md5(<expression>))&expires=<unix seconds>, the expression as configured',
  clientIp: 'optional',
  ipBinding: 'hashed',
  nginxUri: true,
  keyEncodings: ['text'],
  keyProblem: textSecretProblem,
  readOptions: readNginxSecureLinkOptions,
  tokenHeaders: nginxSecureLinkHeaders,
  warnings: nginxSecureLinkWarnings,
  create: ({ keys }, options) => ({
    ...nginxSecureLinkTokens(keys, options),
    sign: nginxSecureLinkSigner(keys[0]!, options),
  }),
});

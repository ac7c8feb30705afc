import type { Fields, SecretSource } from '../../base/problems.js';
import { type Carrier, readTokenPlace, type TokenPlace } from '../../scheme-kit/token-place.js';
import type { EscapeEarly } from './akamai-escape.js';

export type AkamaiAlgorithm = 'sha256' | 'sha1' | 'md5';

export interface AkamaiOptions extends TokenPlace {
  readonly algorithm: AkamaiAlgorithm;
  readonly escapeEarly: EscapeEarly;
  /** URL tokens sign the path alone (true) or the path and the query as received (false). */
  readonly ignoreQueryString: boolean;
  readonly fieldDelimiter: string;
  readonly aclDelimiter: string;
  /** Appended to what the MAC covers, never sent; a secret, loaded into the route's `secrets` as "salt". */
  readonly salt: SecretSource | undefined;
}

const defaultNames: Record<Carrier, string> = { query: '__token__', cookie: '__token__', header: 'akamai-token' };
/** Characters a delimiter may not be: they occur inside field values, ACLs or URLs. */
const refusedDelimiters = 'A-Za-z0-9=&/\\\\:%;,?#*';
const delimiterPattern = new RegExp(`^(?![${refusedDelimiters}])[\\x21-\\x7e]$`);
const delimiterRule = `must be one printable character other than letters, digits and ${refusedDelimiters}`;

/** A route's akamai options, each read through the kit; problems go to `fields`. */
export function readAkamaiOptions(fields: Fields): AkamaiOptions {
  const place = readTokenPlace(fields, defaultNames);
  const algorithm = fields.oneOf('algorithm', ['sha256', 'sha1', 'md5'], 'sha256');
  const escapeEarly = fields.oneOf('escapeEarly', ['off', 'node', 'python'], 'off', 'node: the Node SDK, python: the Python SDK');
  const ignoreQueryString = fields.bool('ignoreQueryString', place.carrier === 'query');
  if (!ignoreQueryString && place.carrier === 'query') {
    fields.add('ignoreQueryString', 'must be true when the token travels in the query (a URL cannot sign its own token)');
  }
  const fieldDelimiter = fields.matching('fieldDelimiter', delimiterPattern, delimiterRule, '~') ?? '~';
  const aclDelimiter = fields.matching('aclDelimiter', delimiterPattern, delimiterRule, '!') ?? '!';
  if (fieldDelimiter === aclDelimiter) fields.add('aclDelimiter', 'must differ from fieldDelimiter');
  const salt = fields.secret('salt');
  return { ...place, algorithm, escapeEarly, ignoreQueryString, fieldDelimiter, aclDelimiter, salt };
}

import { hash } from 'node:crypto';
import type { RouteKey } from '../../scheme-kit/scheme-definition.js';
import type { ExpressionItem } from './secure-link-expression.js';

/** A key's secret as a one-character-per-byte string, joined between the expression's parts. */
export interface SecretText {
  readonly text: string;
  readonly ascii: boolean;
}

export function secretText(key: RouteKey): SecretText {
  return { text: key.secret.toString('latin1'), ascii: key.secret.every((byte) => byte < 0x80) };
}

/**
 * The expression's value for a request, cut at each $secret. `read` holds the request values,
 * `valueIndex` says which one each item of the expression reads (-1: none).
 */
export function secureLinkParts(
  expression: readonly ExpressionItem[],
  valueIndex: readonly number[],
  uri: string,
  expires: string,
  address: string,
  read: readonly (string | undefined)[],
): string[] {
  const parts: string[] = [];
  let part = '';
  for (const [i, item] of expression.entries()) {
    if ('literal' in item) part += item.literal;
    else if (item.variable === 'secret') {
      parts.push(part);
      part = '';
    } else if (item.variable === 'uri') part += uri;
    else if (item.variable === 'secure_link_expires') part += expires;
    else if (item.variable === 'remote_addr') part += address;
    else part += read[valueIndex[i]!] ?? '';
  }
  parts.push(part);
  return parts;
}

/** The MD5 of the parts joined by the secret, as a one-character-per-byte string; `ascii`: every part is ASCII, hashed as it is. */
export function secureLinkDigest(parts: readonly string[], ascii: boolean, secret: SecretText): string {
  const message = parts.join(secret.text);
  return ascii && secret.ascii ? hash('md5', message, 'binary') : hash('md5', Buffer.from(message, 'latin1'), 'binary');
}

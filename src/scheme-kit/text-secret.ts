import type { Fields } from '../base/problems.js';
import type { SchemeDefinition } from './scheme-definition.js';

/**
 * The legacy formats concatenate the secret as text into the hashed string, so their secrets
 * must be text: valid UTF-8, no control characters (a stray newline from a key file would
 * otherwise be signed as part of the secret).
 */
export function textSecretProblem(secret: Buffer): string | undefined {
  if (secret.length === 0) return 'the secret is empty';
  const text = secret.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(secret)) return 'the secret is not valid UTF-8 text';
  if (/[\r\n]$/.test(text)) {
    return 'the secret ends with a trailing newline (one is stripped from the end of a key file, none from an environment variable): remove it';
  }
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'the secret contains a control character';
  return undefined;
}

/** The legacy formats have no options. */
export type NoOptions = Readonly<Record<string, never>>;

/** What the legacy text-secret formats share: no options (every field is unknown), no headers, text keys. */
export const textSecretFormat = {
  keyEncodings: ['text'],
  tokenHeaders: () => [],
  keyProblem: textSecretProblem,
  readOptions: (_fields: Fields): NoOptions => ({}),
} as const satisfies Partial<SchemeDefinition<NoOptions>>;

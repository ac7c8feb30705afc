import type { SchemeDefinition } from './scheme.js';

/**
 * The legacy formats concatenate the secret as text into the hashed string, so their secrets
 * must be text: valid UTF-8, no control characters (a stray newline from a key file would
 * otherwise be signed as part of the secret).
 */
export function textSecretProblem(secret: Buffer): string | undefined {
  if (secret.length === 0) return 'the secret is empty';
  const text = secret.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(secret)) return 'the secret is not valid UTF-8 text';
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'the secret contains a control character';
  return undefined;
}

/** What the legacy text-secret formats share: no options, no headers, text keys, no cache by default. */
export const textSecretFormat = {
  verdictCacheByDefault: false,
  keyEncodings: ['text'],
  headers: () => [],
  keyProblem: textSecretProblem,
  validateOptions: noOptionsProblems,
} as const satisfies Partial<SchemeDefinition>;

export function noOptionsProblems(options: Readonly<Record<string, unknown>>, path: string): string[] {
  return Object.keys(options).map((name) => `${path}.${name}: unknown option (this scheme has none)`);
}

/**
 * Akamai EdgeAuth "escape early": what the official generators do to `ip`, `id`, `data` and the
 * URL of URL tokens before signing, when their escapeEarly option is on. The SDKs disagree, so a
 * route names the one its signers use (docs/akamai.md):
 * - "node" (akamai-edgeauth on npm, EdgeAuth-Token-Node): encodeURIComponent, then ~ ' * as
 *   %7e %27 %2a, then every %XX in lowercase. Leaves ! ( ) unescaped.
 * - "python" (EdgeAuth-Token-Python): urllib.parse.quote_plus(text) with nothing safe but
 *   letters, digits and _ . - ~, a space as "+", then every %XX in lowercase.
 * Both read text as UTF-8.
 */
export type EscapeEarly = 'off' | 'node' | 'python';

const hex = (byte: number) => `%${byte.toString(16).padStart(2, '0')}`;

function escapeNode(text: string): string {
  return encodeURIComponent(text)
    .replace(/[~'*]/g, (c) => hex(c.charCodeAt(0)))
    .replace(/%[0-9A-F]{2}/g, (code) => code.toLowerCase());
}

function escapePython(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const unreserved =
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x5f ||
      byte === 0x2e ||
      byte === 0x2d ||
      byte === 0x7e;
    out += unreserved ? String.fromCharCode(byte) : byte === 0x20 ? '+' : hex(byte);
  }
  return out;
}

export function escaper(mode: EscapeEarly): (text: string) => string {
  if (mode === 'node') return escapeNode;
  if (mode === 'python') return escapePython;
  return (text) => text;
}

/** Strict percent-decoding of an escaped value (`+` is a space for "python"); undefined when malformed. */
export function unescapeValue(text: string, mode: EscapeEarly): string | undefined {
  if (mode === 'off') return text;
  try {
    return decodeURIComponent(mode === 'python' ? text.replaceAll('+', ' ') : text);
  } catch {
    return undefined;
  }
}

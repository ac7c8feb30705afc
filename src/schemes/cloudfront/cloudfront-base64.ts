/** CloudFront's base64: the standard alphabet with "+" "=" "/" written "-" "_" "~". */

const cloudFrontBase64 = /^[A-Za-z0-9~-]+_{0,2}$/;
/** Each character's 6-bit value in CloudFront's base64 alphabet (other code units: unused). */
const sextets = new Int8Array(128);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~'].entries())
  sextets[c.charCodeAt(0)] = i;

/**
 * True when `text` is the one canonical spelling of some bytes (at most `maxBytes`) in
 * CloudFront's base64 ("-" "_" "~" for "+" "=" "/"): its alphabet, a length that is a multiple
 * of 4, at most two "_" and only at the end, and the unused bits of the last character zero.
 * Checked without decoding: a cache hit never needs the bytes.
 */
export function isCloudFrontBase64(text: string, maxBytes: number): boolean {
  const length = text.length;
  if (length === 0 || length % 4 !== 0 || length > ((maxBytes + 2) / 3) * 4 + 4 || !cloudFrontBase64.test(text)) return false;
  const padding = text.charCodeAt(length - 1) === 0x5f ? (text.charCodeAt(length - 2) === 0x5f ? 2 : 1) : 0;
  const last = sextets[text.charCodeAt(length - 1 - padding)]!;
  return (last & (padding === 2 ? 0x0f : padding === 1 ? 0x03 : 0)) === 0;
}

/** The bytes of a canonical CloudFront base64 text, or undefined (see isCloudFrontBase64). */
export function decodeCloudFrontBase64(text: string, maxBytes: number): Buffer | undefined {
  if (!isCloudFrontBase64(text, maxBytes)) return undefined;
  // Node's base64 decoder reads "-" as "+" already; "~" is CloudFront's own "/"; padding is optional.
  return Buffer.from(text.replaceAll('~', '/').replaceAll('_', ''), 'base64');
}

export function encodeCloudFrontBase64(bytes: Buffer): string {
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('=', '_').replaceAll('/', '~');
}

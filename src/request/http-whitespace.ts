/**
 * Strips HTTP's optional whitespace (space and tab, RFC 9110 §5.6.3) from both ends, and nothing
 * else. String.prototype.trim also strips U+00A0, U+2028, U+FEFF and other Unicode spaces: a
 * cookie "\xa0tg=…" (bytes the node engine hands over as latin1) must not read as "tg=…".
 */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

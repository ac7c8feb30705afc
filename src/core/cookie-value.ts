import { trimOws } from './http-whitespace.js';

/**
 * The value of cookie `name` in a Cookie header: undefined when absent, null when it appears
 * more than once (which one would the origin read?). Pairs are trimmed of HTTP whitespace only
 * (space, tab), never with String.prototype.trim, which also strips U+00A0.
 */
export function cookieValue(header: string, name: string): string | undefined | null {
  let found: string | undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || trimOws(pair.slice(0, eq)) !== name) continue;
    if (found !== undefined) return null;
    found = trimOws(pair.slice(eq + 1));
  }
  return found;
}

import { trimOws } from './http-whitespace.js';

/**
 * The value of cookie `name` in a Cookie header: undefined when absent, null when it appears
 * more than once (which one would the origin read?). Pairs are trimmed of HTTP whitespace only
 * (space, tab), never with String.prototype.trim, which also strips U+00A0.
 */
export function cookieValue(header: string, name: string): string | undefined | null {
  return cookieValues(header, [name])[0]!;
}

/**
 * The values of several cookies, read in one pass over the header (a format whose token is
 * several cookies pays for a long Cookie header once, not once per name): each as cookieValue
 * gives it, in the order of `names`.
 */
export function cookieValues(header: string, names: readonly string[]): (string | undefined | null)[] {
  const found: (string | undefined | null)[] = names.map(() => undefined);
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const i = names.indexOf(trimOws(pair.slice(0, eq)));
    if (i < 0 || found[i] === null) continue;
    found[i] = found[i] === undefined ? trimOws(pair.slice(eq + 1)) : null;
  }
  return found;
}

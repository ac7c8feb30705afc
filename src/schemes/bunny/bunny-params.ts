import { type Rejection, rejection, Verdict } from '../../base/verdict.js';

const m = (detail: string) => rejection(Verdict.malformed, detail);
const repeated = m('a query parameter appears more than once (which one was signed?)');
const badParam = m(
  'a query parameter name must start with a letter or "_" (letters, digits, "_.-[]"), and no value may hold "&", "=" or a control byte once decoded',
);
const encodedName = m('a token parameter name (token, expires, token_path...) is percent-encoded');
export const badEscape = m('a query parameter is not well-formed percent-encoded UTF-8');
const bunnyNames = [
  'token',
  'expires',
  'token_path',
  'token_countries',
  'token_countries_blocked',
  'token_ignore_params',
  'limit',
];

/** A query name or value: `+` is a space there. */
function decode(text: string): string | undefined {
  return decodePath(text.replaceAll('+', ' '));
}

/** A path: `+` is itself (a file named "a+b" is not "a b"). */
export function decodePath(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The format joins path, expires, the IP and the parameters with no separator, so a parameter
 * could otherwise carry bytes that rebuild another token's message (an IP-bound token made into
 * an unbound one, or one IP's text continued into another's). Names start with a letter or "_"
 * and hold only letters, digits and "_.-[]"; values hold no control byte, "&" or "=".
 */
const paramName = /^[A-Za-z_][A-Za-z0-9_.\-[\]]{0,63}$/;
const paramValue = /^[^\u0000-\u001f\u007f&=]*$/;
/**
 * At most this many "&"-separated pairs (empty ones too), counted before anything is decoded: every
 * parameter is decoded, checked, sorted and hashed before the signature can be checked, so 1,150
 * of them cost ≈100 ordinary decisions (issue 26). bunny's own parameters are seven.
 */
const maxPairs = 32;
const tooManyPairs = m(`more than ${maxPairs} query parameters`);

/** The query's parameters, raw names and decoded values, or why they are refused. */
export function bunnyParams(query: string): Map<string, string> | Rejection {
  const params = new Map<string, string>();
  if (query === '') return params;
  // split stops at the limit: a query of 8,000 pairs costs what one of 33 does.
  const pairs = query.split('&', maxPairs + 1);
  if (pairs.length > maxPairs) return tooManyPairs;
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decode(rawName);
    // Bunny's own parameters only by their plain names: an origin or log pipeline may not decode.
    if (name !== undefined && name !== rawName && bunnyNames.includes(name)) return encodedName;
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
    if (name === undefined || value === undefined) return badEscape;
    if (!paramName.test(name) || !paramValue.test(value)) return badParam;
    if (params.has(name)) return repeated;
    params.set(name, value);
  }
  return params;
}

/** Names sorted by UTF-16 code unit (the order of the Python, Go, Java and C# samples), "k=v" joined by "&". */
export function signingData(params: ReadonlyMap<string, string>, skipEmpty: boolean): string {
  return [...params]
    .filter(([, value]) => !skipEmpty || value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

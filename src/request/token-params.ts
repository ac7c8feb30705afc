import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/**
 * Reads a scheme's token parameters out of a raw query string. Values stay raw (no
 * percent-decoding: `getQuery(key)`-style decoding is what lets `%2541` pass as `A` twice).
 * Each parameter must appear exactly once; a parameter name that only matches after
 * percent-decoding is refused, since an origin or a log pipeline may decode it.
 */
export type TokenParamReader = (query: string) => (string | undefined)[] | Rejection;

export const noToken = rejection(Verdict.missing, 'no token parameter in the query');

/**
 * More "&"-separated pairs than any signed link carries: refused before more are read, so an
 * unsigned query of 8 KiB of "&" or escaped names costs a bounded number of pair visits.
 */
export const maxQueryPairs = 256;
const tooManyPairs = rejection(Verdict.malformed, `the query has more than ${maxQueryPairs} parameters`);

export function tokenParamReader(names: readonly string[]): TokenParamReader {
  const repeated = names.map((name) => rejection(Verdict.malformed, `${name} appears more than once`));
  const noValue = names.map((name) => rejection(Verdict.malformed, `${name} has no "=" and no value`));
  const encodedName = rejection(Verdict.malformed, `a token parameter name (${names.join(', ')}) is percent-encoded`);
  const missing = names.map((name) => rejection(Verdict.malformed, `${name} is missing`));

  return (query) => {
    const values: (string | undefined)[] = new Array(names.length).fill(undefined);
    let found = 0;
    const refused = forEachQueryPair(query, (name, valueStart, end) => {
      const index = names.indexOf(name);
      if (index >= 0) {
        if (values[index] !== undefined) return repeated[index]!;
        if (valueStart < 0) return noValue[index]!;
        values[index] = query.slice(valueStart, end);
        found++;
      } else if (name.includes('%') && names.includes(safeDecode(name))) {
        return encodedName;
      }
      return undefined;
    });
    if (refused !== undefined) return refused;
    if (found === names.length) return values;
    if (found === 0) return noToken;
    return missing[values.indexOf(undefined)]!;
  };
}

/**
 * Calls `visit` with each "&"-separated pair of a raw query: its name, where its raw value
 * starts (-1 when the pair has no "=") and where the pair ends (the value is sliced only by the
 * callers that want it), empty pairs included; stops at the first rejection
 * `visit` returns and returns it. Linear in the query: each indexOf resumes past the previous
 * match, and a missing "=" is remembered as the query's end. (Searching "=" from every "&"
 * again was quadratic: "?" followed by 8,180 "&" cost ≈0.5 ms a decision.)
 */
export function forEachQueryPair(
  query: string,
  visit: (name: string, valueStart: number, end: number) => Rejection | undefined,
): Rejection | undefined {
  let start = 0;
  let eq = -1;
  let pairs = 0;
  while (start <= query.length) {
    if (++pairs > maxQueryPairs) return tooManyPairs;
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (eq < start) {
      eq = query.indexOf('=', start);
      if (eq < 0) eq = query.length;
    }
    const nameEnd = eq < end ? eq : end;
    const refused = visit(query.slice(start, nameEnd), nameEnd === end ? -1 : nameEnd + 1, end);
    if (refused !== undefined) return refused;
    start = end + 1;
  }
  return undefined;
}

/** decodeURIComponent, or the text itself when it does not decode (to compare names in every spelling). */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

import { describe, expect, it } from 'vitest';
import { isRejection } from '../../src/base/verdict.js';
import { forEachQueryPair, maxQueryPairs, noToken, tokenParamReader } from '../../src/request/token-params.js';
import { formatUnixTime, timeFieldParser } from '../../src/scheme-kit/unix-time.js';
import { scannedBy } from '../helpers/scanned.js';

describe('time fields: exactly ten ASCII digits, no leading zero (docs/security.md rule 3)', () => {
  const parse = timeFieldParser('e');
  it('reads canonical values', () => {
    expect(parse('1470055000')).toBe(1470055000);
    expect(parse('9999999999')).toBe(9999999999);
    expect(parse('1000000000')).toBe(1000000000);
  });
  it.each([
    ['0147005500', /leading zero/],
    ['01470055000', /ten digits/],
    ['147005500', /ten digits/],
    ['', /ten digits/],
    ['+470055000', /not a digit/],
    ['-470055000', /not a digit/],
    ['1470055e00', /not a digit/],
    [' 470055000', /not a digit/],
    ['147005500\u0660', /not a digit/],
    ['１４７００５５０００', /not a digit/],
    ['0x57a4e1b8', /not a digit/],
  ])('rejects %j', (text, reason) => {
    const result = parse(text);
    expect(isRejection(result) && result.detail).toMatch(reason);
  });
  it('formats only ten-digit values', () => {
    expect(formatUnixTime(1470055000)).toBe('1470055000');
    expect(() => formatUnixTime(999_999_999)).toThrow(RangeError);
    expect(() => formatUnixTime(1.5e9 + 0.5)).toThrow(RangeError);
  });
});

describe('token parameters: raw, each exactly once', () => {
  const read = tokenParamReader(['st', 'e']);
  it('reads raw values among other parameters', () => {
    expect(read('a=1&st=x%41&b&e=2')).toEqual(['x%41', '2']);
    expect(read('e=&st=')).toEqual(['', '']);
  });
  it.each([
    ['', noToken.detail],
    ['a=1&b=2', noToken.detail],
    ['st=1', 'e is missing'],
    ['e=1', 'st is missing'],
    ['st=1&e=2&st=1', 'st appears more than once'],
    ['st=1&e=2&e=2', 'e appears more than once'],
    ['st&e=1', 'st has no "=" and no value'],
    ['st=1&%65=2', /percent-encoded/],
    ['%73t=1&e=2', /percent-encoded/],
  ])('%j → %s', (query, detail) => {
    const result = read(query);
    expect(isRejection(result) && result.detail).toMatch(detail);
  });
  it('treats other case spellings as other parameters (as origins do)', () => {
    expect(read('ST=1&E=2')).toBe(noToken);
  });
});

describe('query parsing is linear in the query (issue: "?" + 8,180 "&" cost ≈0.5 ms a decision)', () => {
  const read = tokenParamReader(['st', 'e']);
  it.each([
    ['"&" only', (n: number) => '&'.repeat(n)],
    ['names without "="', (n: number) => 'a&'.repeat(n / 2)],
    ['"=" only', (n: number) => '=&'.repeat(n / 2)],
    ['one "=" at the end', (n: number) => `${'&'.repeat(n)}x=1`],
    ['a token after the junk', (n: number) => `${'x&'.repeat(n / 2)}st=abc&e=1470055000`],
  ])('%s: indexOf scans at most 3 characters per query character', (_name, make) => {
    for (const n of [1000, 8000]) {
      const query = make(n);
      const scanned = scannedBy(() => read(query));
      expect(scanned).toBeLessThanOrEqual(3 * query.length);
    }
  });
});

describe('query pairs are capped (issue 26: an unsigned 8 KiB query of "&" cost every reader a visit per pair)', () => {
  it(`every reader stops after ${maxQueryPairs} pairs, refusing the query as malformed`, () => {
    const visits = (query: string) => {
      let count = 0;
      const refused = forEachQueryPair(query, () => {
        count++;
        return undefined;
      });
      return [count, refused?.verdict];
    };
    expect(visits('&'.repeat(maxQueryPairs - 1))).toEqual([maxQueryPairs, undefined]);
    expect(visits('&'.repeat(8180))).toEqual([maxQueryPairs, 'malformed']);
    expect(visits(`${'a=1&'.repeat(maxQueryPairs)}tg=x`)).toEqual([maxQueryPairs, 'malformed']);
    expect(tokenParamReader(['tg'])(`${'&'.repeat(maxQueryPairs)}tg=x`)).toMatchObject({ verdict: 'malformed' });
  });
});

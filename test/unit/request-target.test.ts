import { describe, expect, it } from 'vitest';
import { isRejection } from '../../src/base/verdict.js';
import { maxUriBytes, parseRequestTarget, syntaxLookAlikes } from '../../src/request/request-target.js';

const rejected = (uri: string) => {
  const result = parseRequestTarget(uri);
  return isRejection(result) ? result.detail : undefined;
};

describe('request target rules (docs/security.md rule 2)', () => {
  it('keeps path and query raw, undecoded', () => {
    expect(parseRequestTarget('/a/%41b?x=%2F&y')).toEqual({ path: '/a/%41b', query: 'x=%2F&y' });
    expect(parseRequestTarget('/')).toEqual({ path: '/', query: '' });
    expect(parseRequestTarget('/dir/')).toEqual({ path: '/dir/', query: '' });
    expect(parseRequestTarget("/a-b_c.d~e!$&'()*+,;=:@/f")).toEqual({ path: "/a-b_c.d~e!$&'()*+,;=:@/f", query: '' });
    expect(parseRequestTarget('/.well-known/x..y/.a/a./..a')).toEqual({ path: '/.well-known/x..y/.a/a./..a', query: '' });
    expect(parseRequestTarget('/a;b=1/c;d/e.txt;x')).toEqual({ path: '/a;b=1/c;d/e.txt;x', query: '' });
  });

  it.each([
    '/films/%C3%A9t%C3%A9.mp4', // été
    '/films/%c3%a9t%c3%a9.mp4',
    '/books/%E6%9C%AC', // 本
    '/x/%F0%9F%8E%AC.ts', // 🎬
    '/x/%C2%A0%DF%BF%E0%A0%80%ED%9F%BF%EE%80%80%EF%BF%BF%F0%90%80%80%F4%8F%BF%BF', // range edges
    '/100%25.txt', // a file named 100%.txt
    '/100%25%20off.txt', // "100% off.txt": the decoded "%" is not followed by two hex digits
    '/a%25/b',
    '/a/%2e.x/%2e%2ex',
  ])('accepts well-formed escapes: %s', (uri) => {
    expect(rejected(uri)).toBeUndefined();
  });

  it.each([
    // Segments that are "." or ".." once a ";" parameter is cut off (Tomcat, Jetty, Spring).
    '/tv/free/..;/premium/index.m3u8',
    '/tv/free/%2e%2e;/premium/index.m3u8',
    '/tv/free/%2E%2e;/premium/index.m3u8',
    '/tv/free/..;x=1/premium/index.m3u8',
    '/tv/free/.;/..;/premium/index.m3u8',
    '/tv/free/.;/x',
    '/tv/free/..%3b/premium/x',
    '/tv/free/..%3B/premium/x',
    '/tv/free/..;',
    '/a/;/b',
    '/a/;x=1/b',
    // Dots and spaces only: Windows origins strip trailing dots and spaces from a segment.
    '/a/.../b',
    '/a/..%20/b',
    '/a/.%20/b',
    '/a/%2e%2e%2e',
  ])('rejects a dot-segment in any spelling: %s', (uri) => {
    expect(rejected(uri)).toMatch(/dot-segment|empty/);
  });

  it.each([
    // Origins that decode twice read "%2e" / "%2f" / "%5c" / "%00" once more.
    '/tv/free/%252e%252e/premium/x',
    '/tv/free/%252E%252E/premium/x',
    '/a%252fb',
    '/a%252Fb',
    '/a%255cb',
    '/a%2500',
    '/a%2541',
    '/a%25%32%65', // "%" + escaped "2" and "e": "%2e" after one decoding
    '/a%25%32e',
    '/a%252%65',
  ])('rejects double percent-encoding: %s', (uri) => {
    expect(rejected(uri)).toMatch(/double/);
  });

  it.each([
    '/tv/free/%EF%BC%8E%EF%BC%8E/premium/x', // fullwidth ".." (U+FF0E)
    '/tv/free/.%EF%BC%8E/premium/x',
    '/tv/free/%E2%80%A5/premium/x', // two dot leader, NFKC ".."
    '/tv/free/%E2%80%A4%E2%80%A4/x', // one dot leader
    '/tv/free/%E2%80%A6/x', // ellipsis
    '/tv/free/%EF%B9%92%EF%B9%92/x', // small full stop
    '/tv/free%EF%BC%8Fpremium/x', // fullwidth "/"
    '/tv/free%EF%BC%BCpremium/x', // fullwidth backslash
    '/tv/free%EF%B9%A8premium/x', // small reverse solidus
    '/tv/free/..%EF%BC%9Bx/premium', // fullwidth ";"
    '/tv/free/..%CD%BEx/premium', // Greek question mark: ";" even under NFC
    '/tv/free/%EF%BC%852e%EF%BC%852e/x', // fullwidth "%": "%2e%2e" once normalized
    '/tv/a%EF%BC%9Fb', // fullwidth "?"
    '/tv/a%EF%BC%83b', // fullwidth "#"
  ])('rejects escapes that Unicode normalization turns into URI syntax: %s', (uri) => {
    expect(rejected(uri)).toMatch(/normalization/);
  });

  it('the look-alike list is every code point whose NFC or NFKC form holds URI syntax (derived again here)', () => {
    const derived: number[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const text = String.fromCodePoint(cp);
      const forms = [text.normalize('NFC'), text.normalize('NFKC')].filter((form) => form !== text);
      if (forms.some((form) => /[/\\;%?#]/.test(form) || /^\.+$/.test(form))) derived.push(cp);
    }
    expect([...syntaxLookAlikes].sort((a, b) => a - b)).toEqual(derived);
    for (const cp of derived) expect(rejected(`/a/${encodeURIComponent(String.fromCodePoint(cp))}`)).toMatch(/normalization/);
  });

  it.each([
    '/a%C0%AE', // overlong "."
    '/a%C0%AF', // overlong "/"
    '/a%C1%9C', // overlong "\"
    '/a%E0%80%AE', // overlong, 3 bytes
    '/a%F0%80%80%AE', // overlong, 4 bytes
    '/a%E0%9F%BF', // overlong edge
    '/a%F0%8F%BF%BF', // overlong edge
    '/a%ED%A0%80', // surrogate U+D800
    '/a%ED%BF%BF', // surrogate U+DFFF
    '/a%F4%90%80%80', // beyond U+10FFFF
    '/a%F5%80%80%80',
    '/a%FF',
    '/a%FE',
    '/a%80', // stray continuation
    '/a%BF',
    '/a%C3', // truncated
    '/a%C3/',
    '/a%C3%A9%A9', // continuation after a complete sequence
    '/a%E6%9C', // truncated 3-byte
    '/a%E6%9Cx',
    '/a%C3a',
    '/a%C2%80', // C1 control U+0080
    '/a%C2%9F', // C1 control U+009F
    '/a%F0%9F%8E', // truncated 4-byte
  ])('rejects escapes that are not well-formed, shortest-form UTF-8 text: %s', (uri) => {
    expect(rejected(uri)).toMatch(/UTF-8/);
  });

  it.each([
    ['/a/../b', /dot/],
    ['/a/./b', /dot/],
    ['/a/..', /dot/],
    ['/..', /dot/],
    ['/.', /dot/],
    ['/a/%2e%2e/b', /dot/],
    ['/a/%2E./b', /dot/],
    ['/a/.%2e', /dot/],
    ['/a/%2e/b', /dot/],
    ['//a', /\/\//],
    ['/a//b', /\/\//],
    ['/a/b//', /\/\//],
    ['/a%2fb', /%2F/],
    ['/a%2Fb', /%2F/],
    ['/a%5cb', /%2F/],
    ['/a%5Cb', /%2F/],
    ['/a%00', /%2F/],
    ['/a%1f', /%2F/],
    ['/a%7F', /%2F/],
    ['/a%', /two hex/],
    ['/a%2', /two hex/],
    ['/a%zz', /two hex/],
    ['/a%%32%65', /two hex/],
    ['/a?x=%g1', /two hex/],
    ['/a\\b', /pchar/],
    ['/a b', /pchar/],
    ['/a\u00e9', /pchar/],
    ['/a\u0000', /pchar/],
    ['/a\r\nX: y', /pchar/],
    ['/a"b', /pchar/],
    ['/a<b>', /pchar/],
    ['/a[b]', /pchar/],
    ['/a{b}', /pchar/],
    ['/a|b', /pchar/],
    ['/a^b', /pchar/],
    ['/a#b', /#/],
    ['/a?b#c', /#/],
    ['/a?b c', /query/],
    ['/a?b\u00e9', /query/],
    ['/a?\t', /query/],
    ['a/b', /start/],
    ['http://h/a', /start/],
    ['*', /start/],
    ['', /start/],
  ])('rejects %j', (uri, reason) => {
    expect(rejected(uri)).toMatch(reason);
  });

  it(`caps the URI at ${maxUriBytes} bytes`, () => {
    const base = '/a?x=';
    expect(rejected(base + 'y'.repeat(maxUriBytes - base.length))).toBeUndefined();
    expect(rejected(base + 'y'.repeat(maxUriBytes - base.length + 1))).toMatch(/longer/);
  });

  it('allows escapes of ordinary characters in the query, and UTF-8 escapes there', () => {
    expect(rejected('/a?q=%E2%82%AC&r=%2F%00')).toBeUndefined();
  });
});

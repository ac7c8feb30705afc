import { describe, expect, it } from 'vitest';
import { maxUriBytes, parseRequestTarget } from '../src/core/request-target.js';
import { isRejection } from '../src/core/verdict.js';

const rejected = (uri: string) => {
  const result = parseRequestTarget(uri);
  return isRejection(result) ? result.detail : undefined;
};

describe('request target rules (DESIGN.md §3.2)', () => {
  it('keeps path and query raw, undecoded', () => {
    expect(parseRequestTarget('/a/%41b?x=%2F&y')).toEqual({ path: '/a/%41b', query: 'x=%2F&y' });
    expect(parseRequestTarget('/')).toEqual({ path: '/', query: '' });
    expect(parseRequestTarget('/dir/')).toEqual({ path: '/dir/', query: '' });
    expect(parseRequestTarget("/a-b_c.d~e!$&'()*+,;=:@/f")).toEqual({ path: "/a-b_c.d~e!$&'()*+,;=:@/f", query: '' });
    expect(parseRequestTarget('/.well-known/x..y/...')).toEqual({ path: '/.well-known/x..y/...', query: '' });
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
    ['/a%80', /%2F/],
    ['/a%ff', /%2F/],
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

/**
 * What the origin oracle's generator draws from: the spellings of dot-segments, slashes and
 * parameters that origins decode or cut, raw bytes, suffixes, request-target forms, query pairs,
 * methods and client headers. Each list holds the shapes past bypasses took, and their neighbours.
 */

/** `..` as origins decode or cut it: escaped in either case, half escaped, with parameters, double escaped, overlong, fullwidth. */
export const dotDots = [
  '..',
  '%2e%2e',
  '%2E%2E',
  '%2e.',
  '.%2E',
  '..;',
  '..;x=1',
  '%2e%2e;',
  '..%3B',
  '..%3b',
  '..%20',
  '..%00',
  '...',
  '%252e%252e',
  '%c0%ae%c0%ae',
  '%EF%BC%8E%EF%BC%8E',
  '%u002e%u002e',
  '..%5C',
];
/** `.` likewise. */
export const singleDots = ['.', '%2e', '%2E', '.;', '.;x', '%2e;', '.%3B', '%252e'];
/** What follows a dot-segment: mostly a plain slash. */
export const dotSeparators = ['/', '/', '/', '%2F', '%2f', '\\', '%5C', ';/'];
/** What replaces one slash of a path. */
export const slashes = ['//', '///', '%2F', '%2f', '\\', '%5C', '%5c', '/./', '/;/', '/%20/'];
/** What is inserted at the end of a segment: `;` parameters (Tomcat, Jetty cut them), their escapes, NUL, space. */
export const pathParameters = [';', ';x', ';x=1', ';jsessionid=0', '%3B', '%3bx', ';/..', '%00', '%20'];
/** Inserted anywhere in a path: raw high bytes (lone, UTF-8 of 本, é, ų), stray and short escapes, sub-delimiters. */
export const pathInserts = [
  '\xff',
  '\x80',
  '\xa0',
  '\xe6\x9c\xac',
  '\xc3\xa9',
  '\xc5\xb3',
  '\x85',
  '%',
  '%%',
  '%2',
  '~',
  '*',
  "'",
  '$',
  '@',
  ':',
];
/** Appended to a path: what Windows, servlet and file servers drop or resolve. */
export const pathSuffixes = [
  '/',
  '.',
  '%20',
  '%00',
  ';',
  '%3B',
  '?',
  '#',
  '%23',
  '/.',
  '/..',
  '~',
  '::$DATA',
  '%2e',
  '.%2e',
  '%2F',
  '/%2e%2e',
  '\\',
];
/** What comes before the path in the request target: absolute forms (`http://h?` made nginx serve `/`), `?`, `//`. */
export const targetForms = [
  'http://files.example',
  'http://h?',
  'http://files.example?',
  'HTTP://FILES.EXAMPLE',
  'http://files.example:80',
  'https://files.example',
  'http://u@files.example',
  'http://files.example#',
  '//files.example',
  '?',
  'http://127.0.0.1:1',
  'http:',
];
/** Query pairs inserted beside the token's: empty, look-alike and repeated token parameters of every format. */
export const queryPairs = [
  'x=1',
  '',
  'tg=',
  'tg=v1',
  'token=',
  'Token=x',
  '__token__=x',
  'st=AAAAAAAAAAAAAAAAAAAAAA',
  'e=9999999999',
  'Expires=9999999999',
  'Signature=x',
  'Policy=x',
  'expires=9999999999',
  'token_path=%2F',
  'md5=x',
  'wowzatokenendtime=9999999999',
  'a=%2F..%2F',
  'x',
];
/** The method, with a body and its framing. */
export const methods: readonly (readonly [string, string, readonly (readonly [string, string])[]])[] = [
  ['HEAD', '', []],
  ['POST', '', [['Content-Length', '0']]],
  ['POST', 'x=1', []],
  ['PUT', 'x', []],
  ['DELETE', '', []],
  ['OPTIONS', '', []],
  ['PATCH', 'x', []],
  ['PROPFIND', '', []],
  ['get', '', []],
  ['TRACE', '', []],
  ['GET', 'x', []],
  ['POST', '0\r\n\r\n', [['Transfer-Encoding', 'chunked']]],
];
/** Headers a client may send: ranges, the proxies' own source headers forged, overrides, framing. */
export const clientHeaders: readonly (readonly [string, string])[] = [
  ['Range', 'bytes=0-9'],
  ['Range', 'bytes=-20'],
  ['Range', 'bytes=0-1,5-6'],
  ['X-Real-IP', '198.51.100.7'],
  ['X-Forwarded-For', '198.51.100.7'],
  ['X-Forwarded-Uri', '/vod/premium/secret.mp4'],
  ['X-Original-URI', '/vod/premium/secret.mp4'],
  ['X-Original-URL', '/vod/premium/secret.mp4'],
  ['X-Rewrite-URL', '/vod/premium/secret.mp4'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Prefix', '/vod/premium'],
  ['Forwarded', 'for=198.51.100.7'],
  ['X-HTTP-Method-Override', 'GET'],
  ['Accept-Encoding', 'gzip'],
  ['If-None-Match', '*'],
  ['Expect', '100-continue'],
  ['Cookie', 'tg=junk'],
  ['X-Tokengate', 'junk'],
  ['Connection', 'close'],
];
/** The Host header: none, another host, a path in it. */
export const hostHeaders = [
  undefined,
  'tokengate',
  '127.0.0.1',
  'files.example:80',
  'evil.example',
  'files.example/vod/premium',
  '',
];
/** Headers that name a URI to servers that trust them: the genuine link goes there, the path names another file. */
export const uriHeaders = ['X-Original-URI', 'X-Forwarded-Uri', 'X-Original-URL'];

/** The signing page's sessions: the cookie is read as strictly as a token cookie. */
import { expect, it } from 'vitest';
import { Sessions } from '../../src/admin/sessions.js';

const login = { signer: 'alice', credential: 'token:abc' };

it('a session opens, ends, expires, and its cookie is read strictly (HTTP whitespace only, never twice)', () => {
  const sessions = new Sessions();
  const cookie = sessions.open('http', login, false, 0).split(';')[0]!;
  expect(cookie).toMatch(/^tokengate_session=[A-Za-z0-9_-]{43}$/);
  expect(sessions.valid(cookie, false, 1)).toEqual(login);
  expect(sessions.valid(`other=1; \t${cookie} `, false, 1)).toEqual(login);
  // U+00A0 is not HTTP whitespace: String.prototype.trim would strip it.
  expect(sessions.valid(`\u00a0${cookie}`, false, 1)).toBeUndefined();
  expect(sessions.valid(`${cookie}; ${cookie}`, false, 1)).toBeUndefined();
  expect(sessions.valid(`${cookie}x`, false, 1)).toBeUndefined();
  expect(sessions.valid(cookie, false, 12 * 3600 * 1000 + 1)).toBeUndefined();
  const other = sessions.open('http', login, false, 0).split(';')[0]!;
  expect(sessions.close(other, 'http')).toMatch(/Max-Age=0$/);
  expect(sessions.valid(other, false, 1)).toBeUndefined();
});

it('the cookie is Secure exactly when the page was reached over https, when opened and when cleared', () => {
  const sessions = new Sessions();
  expect(sessions.open('http', login, false, 0)).toMatch(
    /^tokengate_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/,
  );
  const secure = sessions.open('https', login, false, 0);
  expect(secure).toMatch(/^tokengate_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200; Secure$/);
  expect(sessions.close(secure.split(';')[0], 'https')).toBe(
    'tokengate_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure',
  );
  expect(sessions.valid(secure.split(';')[0], false, 1)).toBeUndefined();
});

it('on a listener that speaks TLS itself the cookie is __Host- prefixed, and only that name is read there', () => {
  const sessions = new Sessions();
  const set = sessions.open('https', login, true, 0);
  expect(set).toMatch(/^__Host-tokengate_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200; Secure$/);
  const hostCookie = set.split(';')[0]!;
  expect(sessions.valid(hostCookie, true, 1)).toEqual(login);
  // The same id under the plain name (a cookie a sibling subdomain could set) is not read there.
  const planted = hostCookie.replace('__Host-', '');
  expect(sessions.valid(planted, true, 1)).toBeUndefined();
  expect(sessions.valid(hostCookie, false, 1)).toBeUndefined();
  expect(sessions.close(hostCookie, 'http', true)).toBe(
    '__Host-tokengate_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure',
  );
  expect(sessions.valid(hostCookie, true, 1)).toBeUndefined();
});

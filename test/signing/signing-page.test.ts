/**
 * The secure-link generator page in a real browser: Debian's Chromium driven by playwright-core
 * (test/install-test-deps.sh installs it; nothing is downloaded). Log in, generate a link for each
 * route of the demo schemes and of an hmac route with a cookie carrier, and the link gets 200
 * from the auth listener from its client IP and 403 from another; the check panel explains a
 * forged, an expired and an out-of-scope link; no console errors; the strict CSP holds.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { altaStream, route, testConfig } from '../helpers/test-config.js';

const accessToken = 'page-token-0123456789abcdef';
const internToken = 'intern-token-0123456789abcdef';
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

let service: RunningService;
let browser: Browser;
let admin: number;
let auth: number;
const consoleErrors: string[] = [];

/**
 * The pictures of docs/signing.md, taken of the page as the tests leave it: written to the
 * directory SCREENSHOTS names (SCREENSHOTS=docs to renew the ones in the docs), else to a temp dir.
 */
const screenshots = ['signing-page.png', 'signing-errors.png', 'signing-check.png'];
async function shoot(page: Page, name: string) {
  expect(screenshots).toContain(name);
  await page.screenshot({ path: join(process.env.SCREENSHOTS ?? tempDir(), name), fullPage: true });
}

/** What the auth listener answers for `url` from `ip` (with the cookie line, for cookie routes). */
async function authStatus(url: string, ip: string, cookie?: string, extra: Record<string, string> = {}): Promise<number> {
  const target = new URL(url, 'http://origin.invalid');
  const response = await fetch(`http://127.0.0.1:${auth}/`, {
    headers: {
      'X-Original-URI': `${target.pathname}${target.search}`,
      'X-Real-IP': ip,
      ...(cookie ? { Cookie: cookie } : {}),
      ...extra,
    },
  });
  return response.status;
}

async function loggedIn(token = accessToken, refused = /status of 400 \(Bad Request\)$/): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (message) => {
    // The browser reports the answers to the deliberately refused forms as failed loads: expected.
    if (message.type() === 'error' && !refused.test(message.text())) consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await page.goto(`http://127.0.0.1:${admin}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`http://127.0.0.1:${admin}/`);
  await expect.poll(() => page.locator('#route option').count()).toBeGreaterThan(0);
  return page;
}

async function generate(page: Page, fields: { route: string; path: string; ip?: string; scope?: string }) {
  await page.getByLabel('Route', { exact: true }).selectOption(fields.route);
  await page.getByLabel('Path', { exact: true }).fill(fields.path);
  if (fields.ip !== undefined) await page.getByLabel('Client IP', { exact: true }).fill(fields.ip);
  // The scope is chosen among the path's folders (value: the depth), "" for the path only.
  if (await page.getByLabel('Scope', { exact: true }).isVisible()) {
    await page.getByLabel('Scope', { exact: true }).selectOption(fields.scope ?? '');
  }
  await page.getByRole('button', { name: '1 day' }).click();
  // Hide the previous result, so the wait below sees this answer, not the last one.
  await page.evaluate("document.getElementById('result').setAttribute('hidden', '')");
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('#result:not([hidden])').waitFor();
  return {
    link: await page.getByLabel('Link', { exact: true }).inputValue(),
    expiry: await page.locator('#expiry').textContent(),
  };
}

async function check(page: Page, url: string, ip?: string) {
  await page.getByLabel('Link to check').fill(url);
  if (ip !== undefined) await page.getByLabel('Client IP (where the route binds one)').fill(ip);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('#verdict-box:not([hidden])').waitFor();
  const text = await page.locator('#verdict').innerText();
  await page.evaluate("document.getElementById('verdict-box').setAttribute('hidden', '')");
  return text;
}

beforeAll(async () => {
  expect(chromiumPath, 'Chromium missing: run "sh test/install-test-deps.sh"').toBeDefined();
  const dir = tempDir();
  writeFileSync(join(dir, 'signing.token'), accessToken);
  writeFileSync(join(dir, 'hmac.key'), 'ef'.repeat(32));
  writeFileSync(join(dir, 'jwt-hs.key'), 'a-shared-secret-for-the-page-test-0123456789');
  writeFileSync(
    join(dir, 'mux.pem'),
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    join(dir, 'cloudfront.pem'),
    generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const file = writeConfig(
    dir,
    testConfig({
      signing: {
        signers: [
          { name: 'ops', tokenFile: 'signing.token', routes: ['*'], revoke: true },
          { name: 'intern', tokenEnv: 'INTERN_TOKEN', routes: ['demo-azion'], maxTtlSec: 3600 },
        ],
      },
      routes: [
        { name: 'demo-azion', prefix: '/my/', scheme: 'azion', keys: [{ id: 'published-example', env: 'AZION' }] },
        route('demo-alta', '/tv/', 'alta', [{ id: 'published-example', env: 'ALTA' }], altaStream),
        {
          name: 'vod',
          prefix: '/vod/',
          scheme: 'hmac',
          keys: [{ id: 'k1', file: 'hmac.key' }],
          revocation: { maxLifetimeSec: 7 * 86_400 },
        },
        { name: 'books', prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k1', file: 'hmac.key' }], options: { carrier: 'cookie' } },
        {
          name: 'cdn',
          prefix: '/cf/',
          scheme: 'cloudfront',
          keys: [{ id: 'KCF', file: 'cloudfront.pem' }],
          options: { baseUrl: 'https://cdn.example.com' },
        },
        { name: 'mux', prefix: '/mux/', scheme: 'jwt', keys: [{ id: 'MuxKey1', file: 'mux.pem' }], options: { preset: 'mux' } },
        {
          name: 'app-jwt',
          prefix: '/api-files/',
          scheme: 'jwt',
          keys: [{ id: 'app', file: 'jwt-hs.key' }],
          options: { algorithms: ['HS256'], carrier: 'bearer', clientIpClaim: 'ip' },
        },
      ],
    }),
  );
  service = await startService(['serve', '--config', file], { AZION: 'mysecret', ALTA: 'secret', INTERN_TOKEN: internToken });
  admin = service.ports.get('admin')!;
  auth = service.ports.get('auth')!;
  browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox'] });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

describe('signing page in Chromium', () => {
  it('a wrong token stays on the login page with the error next to the field; assets have a strict CSP', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${admin}/login`);
    await page.getByLabel('Access token').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/login\?error=wrong$/);
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('That access token is not valid.');
    const response = await fetch(`http://127.0.0.1:${admin}/login`);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect((await fetch(`http://127.0.0.1:${admin}/`, { redirect: 'manual' })).status).toBe(303);
    await page.close();
  });

  it('generates working links for every scheme and the cookie carrier, bound to their client IP', async () => {
    const page = await loggedIn();
    const azion = await generate(page, { route: 'demo-azion', path: '/my/films/été.mp4' });
    expect(azion.link).toMatch(/^\/my\/films\/%C3%A9t%C3%A9\.mp4\?st=/);
    // The "1 day" preset reads "in 1 day", not "in 23 hours" a second later.
    expect(azion.expiry).toMatch(/expires in 1 day\.$/);
    expect(await authStatus(azion.link, '192.0.2.1')).toBe(200);

    const alta = await generate(page, { route: 'demo-alta', path: '/tv/news/index.m3u8', ip: '192.0.2.7' });
    expect(await authStatus(alta.link, '192.0.2.7')).toBe(200);
    expect(await authStatus(alta.link, '192.0.2.8')).toBe(403);
    expect(await authStatus(alta.link.replace('index.m3u8', 'seg-1.ts'), '192.0.2.7')).toBe(200);

    const vod = await generate(page, { route: 'vod', path: '/vod/movie/index.m3u8', ip: '198.51.100.0/24', scope: '2' });
    expect(await authStatus(vod.link, '198.51.100.9')).toBe(200);
    expect(await authStatus(vod.link.replace('index.m3u8', 'seg-1.ts'), '198.51.100.9')).toBe(200);
    expect(await authStatus(vod.link, '203.0.113.9')).toBe(403);

    await generate(page, { route: 'books', path: '/ck/books/a.pdf', ip: '192.0.2.44' });
    const cookieLine = await page.getByLabel('Send with this request header').inputValue();
    expect(cookieLine).toMatch(/^Cookie: tg=v1~/);
    expect(await page.getByLabel('Try it').inputValue()).toContain(cookieLine);
    const link = await page.getByLabel('Link', { exact: true }).inputValue();
    expect(await authStatus(link, '192.0.2.44', cookieLine.slice('Cookie: '.length))).toBe(200);
    expect(await authStatus(link, '192.0.2.45', cookieLine.slice('Cookie: '.length))).toBe(403);

    // A problem shows next to its field, and focus moves there.
    await page.getByLabel('Route', { exact: true }).selectOption('demo-alta');
    await page.getByLabel('Path', { exact: true }).fill('/tv/news/index.m3u8');
    await page.getByLabel('Client IP', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('#clientIp-error').textContent()).toMatch(/binds tokens to the client IP/);
    expect(await page.evaluate('document.activeElement.id')).toBe('clientIp');
    expect(await page.getByLabel('Client IP', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Path', { exact: true }).fill('/tv/../my/x');
    await page.getByLabel('Client IP', { exact: true }).fill('192.0.2.7');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('#path-error').textContent()).toMatch(/the service would refuse this path/);
    expect(await page.evaluate('document.activeElement.id')).toBe('path');
    expect(await page.locator('#clientIp-error').textContent()).toBe('');
    // Every problem at once, each in words next to its field (never an API field path).
    await page.getByLabel('Route', { exact: true }).selectOption('vod');
    await page.getByLabel('Path', { exact: true }).fill('/vod/a.mp4');
    await page.getByLabel('Client IP', { exact: true }).fill('999.1.1.1');
    await page.getByLabel('Session id (optional)').fill('not a session');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect
      .poll(() => page.locator('#clientIp-error').textContent())
      .toBe('client IP "999.1.1.1" is not an IPv4 or IPv6 address');
    expect(await page.locator('#sessionId-error').textContent()).toBe(
      'the session id must be 1 to 64 characters from [A-Za-z0-9_-]',
    );
    expect(await page.locator('main').innerText()).not.toMatch(/body\.|\/clientIp|\/sessionId/);
    await shoot(page, 'signing-errors.png');
    await page.close();
  });

  it('signs JWT links: a Mux playback id, and a bearer token bound to a client IP', async () => {
    const page = await loggedIn();
    const mux = await generate(page, { route: 'mux', path: '/mux/Lzf3a5ZyB7XsQd1u01gM.m3u8' });
    expect(mux.link).toMatch(/^\/mux\/Lzf3a5ZyB7XsQd1u01gM\.m3u8\?token=ey/);
    expect(await authStatus(mux.link, '192.0.2.1')).toBe(200);
    expect(await authStatus(mux.link.replace('.m3u8?', '/720p/seg-1.ts?'), '192.0.2.1')).toBe(200);
    expect(await authStatus(mux.link.replace('Lzf3a5', 'Other1'), '192.0.2.1')).toBe(403);
    // Only the playlist's shape names an id: another path is refused next to its field.
    await page.getByLabel('Path', { exact: true }).fill('/mux/Lzf3a5ZyB7XsQd1u01gM/seg.ts');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('#path-error').textContent()).toMatch(/by an id/);

    const bearer = await generate(page, { route: 'app-jwt', path: '/api-files/report.pdf', ip: '192.0.2.60' });
    const line = await page.getByLabel('Send with this request header').inputValue();
    expect(line).toMatch(/^Authorization: Bearer ey/);
    expect(await page.locator('#covers').innerText()).toMatch(/From 192\.0\.2\.60 only\./);
    const authorization = { Authorization: line.slice('Authorization: '.length) };
    expect(await authStatus(bearer.link, '192.0.2.60', undefined, authorization)).toBe(200);
    expect(await authStatus(bearer.link, '192.0.2.61', undefined, authorization)).toBe(403);
    expect(await authStatus(bearer.link, '192.0.2.60')).toBe(403);
    // The check panel takes the header, and says why another client is refused.
    await page.getByLabel('Token header, as "Name: value" (header routes)').fill(line);
    expect(await check(page, bearer.link, '192.0.2.61')).toMatch(/wrong-ip/);
    await page.close();
  });

  it('fields fit the chosen route, the preview says what the link opens, the whole link shows with copy and open, and the session lists it', async () => {
    const page = await loggedIn();
    const route = page.getByLabel('Route', { exact: true });
    const scope = page.getByLabel('Scope', { exact: true });
    await route.selectOption('vod');
    await page.getByLabel('Path', { exact: true }).fill('/vod/movie/index.m3u8');
    // The scope is chosen among the path's folders inside the route, never a bare number.
    expect(await scope.locator('option').allTextContents()).toEqual(['This path only', 'Everything under /vod/movie/']);
    await scope.selectOption('2');
    await page.getByLabel('Client IP', { exact: true }).fill('198.51.100.0/24');
    await page.getByLabel('Session id (optional)').fill('viewer-7');
    // The session id's rules show before any error.
    expect(await page.locator('#sessionId-note').textContent()).toMatch(/^1 to 64 characters: letters, digits, "-" and "_"/);
    await page.getByRole('button', { name: '1 day' }).click();
    await expect
      .poll(() => page.locator('#preview-list').innerText())
      .toMatch(
        /^Opens every path under \/vod\/movie\/\.\nFrom addresses in 198\.51\.100\.0\/24 only\.\nValid from now until .* UTC \(in 1 day\)\.\nSigned with session viewer-7: revoking the session takes it back\.\nCan be revoked before it ends\.$/,
      );
    // Another route: what it does not sign is emptied and hidden, the path moves under its prefix.
    await route.selectOption('demo-azion');
    expect(await page.getByLabel('Path', { exact: true }).inputValue()).toBe('/my/');
    for (const label of ['Scope', 'Client IP', 'Session id (optional)'])
      expect(await page.getByLabel(label, { exact: true }).isVisible()).toBe(false);
    expect(await page.locator('#preview-list').innerText()).toMatch(
      /^Opens \/my\/ only\.\nFrom any address \(this format binds no client IP\)\./,
    );
    await route.selectOption('vod');
    expect(await scope.inputValue()).toBe('');
    expect(await page.getByLabel('Session id (optional)').inputValue()).toBe('');
    // A link without a base URL is a path: no Open button, a note says why. With one, it opens.
    const plain = await generate(page, { route: 'vod', path: '/vod/movie/index.m3u8', scope: '2' });
    expect(plain.link).toMatch(/^\/vod\/movie\/index\.m3u8\?tg=v1~/);
    expect(await page.locator('#open').isVisible()).toBe(false);
    expect(await page.locator('#open-note').isVisible()).toBe(true);
    await page.getByLabel('Links start with').fill('https://media.example.com');
    const full = await generate(page, { route: 'vod', path: '/vod/movie/index.m3u8', scope: '2' });
    expect(full.link).toMatch(/^https:\/\/media\.example\.com\/vod\/movie\/index\.m3u8\?tg=v1~/);
    expect(await page.getByRole('link', { name: 'Open' }).getAttribute('href')).toBe(full.link);
    // The whole link is visible: the box is as wide as it needs no scrolling.
    const box = page.getByLabel('Link', { exact: true });
    expect(await box.evaluate((node) => node.scrollWidth <= node.clientWidth && node.scrollHeight <= node.clientHeight)).toBe(
      true,
    );
    expect(await page.locator('#covers').innerText()).toMatch(/^Opens every path under \/vod\/movie\/\.\nFrom any address\.$/);
    // Copy puts exactly the link on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${admin}` });
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(full.link);
    // The links signed in this session, newest first.
    const rows = await page.locator('#history tbody tr').allInnerTexts();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/vod\s+every path under \/vod\/movie\/\s+in 1 day/);
    await page.setViewportSize({ width: 1280, height: 900 });
    await shoot(page, 'signing-page.png');
    await page.close();
  });

  it('the check panel asks only for what the routes carry, and colours its verdict', async () => {
    // A signer of one query route (intern: demo-azion) is asked for neither a cookie nor a header.
    const narrow = await loggedIn(internToken);
    expect(await narrow.getByLabel('Cookie header (cookie routes)').isVisible()).toBe(false);
    expect(await narrow.locator('#check-header').isVisible()).toBe(false);
    await narrow.close();
    // Among ops's routes, books carries a cookie and app-jwt an Authorization: Bearer header.
    const page = await loggedIn();
    expect(await page.getByLabel('Cookie header (cookie routes)').isVisible()).toBe(true);
    expect(await page.locator('#check-header').isVisible()).toBe(true);
    const vod = await generate(page, { route: 'vod', path: '/vod/colour.mp4' });
    const tone = async (url: string) => {
      await check(page, url);
      // Runs in the page: the browser's getComputedStyle (this file is typed without the DOM library).
      return page
        .locator('#verdict-box')
        .evaluate((node) => [
          node.className,
          (globalThis as unknown as { getComputedStyle(node: unknown): { borderLeftColor: string } }).getComputedStyle(node)
            .borderLeftColor,
        ]);
    };
    const [ok, okColour] = await tone(vod.link);
    const [deny, denyColour] = await tone(vod.link.replace('colour', 'other'));
    expect([ok, deny]).toEqual(['verdict ok', 'verdict deny']);
    expect(okColour).not.toBe(denyColour);
    await check(page, vod.link);
    await page.evaluate("document.getElementById('verdict-box').removeAttribute('hidden')");
    expect(await page.locator('#verdict-badge').textContent()).toBe('Allowed: 200 valid');
    await page.setViewportSize({ width: 1280, height: 900 });
    await shoot(page, 'signing-check.png');
    await page.close();
  });

  it('cloudfront: the "As signed cookies" box gives the Cookie line; the box shows only where a format signs cookies', async () => {
    const page = await loggedIn();
    await page.getByLabel('Route', { exact: true }).selectOption('vod');
    expect(await page.getByLabel(/As signed cookies/).isVisible()).toBe(false);
    await page.getByLabel('Route', { exact: true }).selectOption('cdn');
    await page.getByLabel(/As signed cookies/).check();
    const { link } = await generate(page, { route: 'cdn', path: '/cf/show/index.m3u8', scope: '2' });
    expect(link).toBe('https://cdn.example.com/cf/show/index.m3u8');
    const cookieLine = await page.getByLabel('Send with this request header').inputValue();
    expect(cookieLine).toMatch(/^Cookie: CloudFront-Key-Pair-Id=KCF; CloudFront-Signature=[^;]+; CloudFront-Policy=[^;]+$/);
    const cookie = cookieLine.slice('Cookie: '.length);
    expect(await authStatus('/cf/show/720p/seg-1.ts', '192.0.2.1', cookie)).toBe(200);
    expect(await authStatus('/cf/else/seg-1.ts', '192.0.2.1', cookie)).toBe(403);
    expect(await authStatus('/cf/show/720p/seg-1.ts', '192.0.2.1')).toBe(403);
    // Unchecked: a signed URL.
    await page.getByLabel(/As signed cookies/).uncheck();
    const url = await generate(page, { route: 'cdn', path: '/cf/a.mp4' });
    expect(url.link).toMatch(/^https:\/\/cdn\.example\.com\/cf\/a\.mp4\?Expires=\d{10}&Key-Pair-Id=KCF&Signature=/);
    expect(await authStatus(url.link, '192.0.2.1')).toBe(200);
    await page.close();
  });

  it('the check panel explains a valid, a forged, an expired and an out-of-scope link', async () => {
    const page = await loggedIn();
    const vod = await generate(page, { route: 'vod', path: '/vod/movie/index.m3u8', scope: '2' });
    expect(await check(page, vod.link)).toMatch(/Answer\s+200 \(valid\)/);
    expect(await check(page, vod.link.replace('/movie/', '/other/'))).toMatch(
      /Answer\s+403 \(forged\)[\s\S]*Hint\s+the token covers one directory \(p=2/,
    );
    expect(await check(page, '/my/uri?st=m6WCATfRgS_5lcyChCPgrA&e=1470055000')).toMatch(/Answer\s+403 \(forged\)/);
    const azion = await generate(page, { route: 'demo-azion', path: '/my/dir/' });
    expect(await check(page, azion.link.replace('/my/dir/', '/my/dir'))).toMatch(
      /Hint\s+the signature matches the path with a trailing slash/,
    );
    // Expired: an hmac link whose end has passed (signed through the API with an end in the past is refused, so forge the clock: sign for 1 s and wait).
    const response = await page.evaluate(async () => {
      const answer = await fetch('/api/v1/sign', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ path: '/vod/short.mp4', ttlSec: 1 }),
      });
      return (await answer.json()) as { url: string };
    });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await check(page, response.url)).toMatch(/Answer\s+410 \(expired\)[\s\S]*Expired\s+.* UTC \(\d+ seconds? ago\)/);
    await page.close();
  });

  it('revokes the link it made and a link it checked, on a route that checks revocations; other routes show no revoke button', async () => {
    const page = await loggedIn();
    const made = await generate(page, { route: 'vod', path: '/vod/leaked/index.m3u8', scope: '' });
    expect(await authStatus(made.link, '192.0.2.1')).toBe(200);
    await page.locator('#revoke-link').click();
    await expect
      .poll(() => page.locator('#revoke-link-result').textContent())
      .toMatch(/^Revoked \(fp-[A-Za-z0-9_-]{12}\): refused from now on, until .* UTC\.$/);
    expect(await page.locator('#revoke-link').isDisabled()).toBe(true);
    expect(await authStatus(made.link, '192.0.2.1')).toBe(403);
    expect(await check(page, made.link)).toMatch(
      /Answer\s+403 \(revoked\)[\s\S]*Why\s+the token is revoked \(by its fingerprint\)/,
    );
    // Revoked links show no revoke button in the check panel; an allowed one does.
    expect(await page.locator('#revoke-checked').isHidden()).toBe(true);
    const other = await generate(page, { route: 'vod', path: '/vod/other/index.m3u8', scope: '' });
    expect(await check(page, other.link)).toMatch(/Answer\s+200 \(valid\)/);
    await page.locator('#revoke-check').click();
    // The page checks the link again after revoking it: wait for that answer, then for its note.
    await expect.poll(() => page.locator('#verdict').innerText()).toMatch(/Answer\s+403 \(revoked\)/);
    await expect.poll(() => page.locator('#revoke-check-result').textContent()).toMatch(/^Revoked \(fp-/);
    expect(await authStatus(other.link, '192.0.2.1')).toBe(403);
    // A route without `revocation`: neither button.
    await generate(page, { route: 'demo-azion', path: '/my/dir/a.mp4' });
    expect(await page.locator('#revoke-made').isHidden()).toBe(true);
    await page.close();
  });

  it('a signer sees only its grant: its routes, presets within its longest lifetime, no revoke buttons', async () => {
    // Its one refusal is the 403 (not-permitted) asked for below.
    const page = await loggedIn(internToken, /status of 403 \(Forbidden\)$/);
    expect(await page.locator('#signer').textContent()).toBe('Signed in as intern');
    expect(await page.locator('#route option').allTextContents()).toEqual(['demo-azion · /my/ · azion']);
    const presets = page.locator('.presets button');
    expect(
      await presets.evaluateAll((buttons) =>
        buttons.map((b) => [b.textContent, (b as unknown as { disabled: boolean }).disabled]),
      ),
    ).toEqual([
      ['1 hour', false],
      ['1 day', true],
      ['1 week', true],
      ['30 days', true],
    ]);
    // A longer end typed by hand is refused by the service, next to the end field.
    await page.getByLabel('Path', { exact: true }).fill('/my/intern.mp4');
    await page.getByLabel('End (your local time)').fill(
      await page.evaluate(() => {
        const d = new Date(Date.now() + 7200_000);
        const p = (n: number) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      }),
    );
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect
      .poll(() => page.locator('#expiresSec-error').textContent())
      .toMatch(/^signer "intern" may sign links that end at most 3600 s from now/);
    await page.getByRole('button', { name: '1 hour' }).click();
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('#result:not([hidden])').waitFor();
    expect(await page.locator('#revoke-made').isHidden()).toBe(true);
    expect(await authStatus(await page.getByLabel('Link', { exact: true }).inputValue(), '192.0.2.1')).toBe(200);
    await page.close();
  });

  it('docs/signing.md shows exactly the pictures these tests take', () => {
    const doc = readFileSync(new URL('../../docs/signing.md', import.meta.url), 'utf8');
    const shown = [...doc.matchAll(/!\[[^\]]*\]\(([^)]+\.png)\)/g)].map((match) => match[1]).sort();
    expect(shown).toEqual([...screenshots].sort());
    const inDocs = readdirSync(new URL('../../docs/', import.meta.url)).filter((name) => name.endsWith('.png'));
    expect(inDocs.sort()).toEqual([...screenshots].sort());
  });

  it('signing out ends the session; no console errors anywhere', async () => {
    const page = await loggedIn();
    const session = (await page.context().cookies()).find((cookie) => cookie.name === 'tokengate_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // 12 hours, as docs/signing.md says.
    expect(Math.abs(session.expires - Date.now() / 1000 - 12 * 3600)).toBeLessThan(60);
    const withSession = () =>
      fetch(`http://127.0.0.1:${admin}/api/v1/routes`, { headers: { Cookie: `${session.name}=${session.value}` } });
    expect((await withSession()).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    // The session is gone on the server, not only from the browser.
    expect((await withSession()).status).toBe(401);
    await page.close();
    expect(consoleErrors).toEqual([]);
  });
});

/**
 * Wowza SecureToken v2. Wowza publishes the procedure, not code: the checks are its documented
 * example string, the PHP generator of docs/formats/wowza.md run by real php-cli (PHP's own sort, base64
 * and hash), and the semantics tokengate chose where the prose is silent (docs/formats/wowza.md).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize, findRoute } from '../../src/decision/authorize.js';
import { parseClientIp } from '../../src/request/client-ip.js';
import { javaAddressText } from '../../src/schemes/wowza.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { gateFor } from '../helpers/gates.js';
import { runCli, tempDir, writeConfig } from '../helpers/service-process.js';

const secret = 'wowza-shared-secret-for-tests';
const gateWith = (options: Record<string, unknown> = {}, key = secret) =>
  gateFor([{ name: 'live', prefix: '/', scheme: 'wowza', keys: [{ id: 'w', env: 'WOWZA' }], options }], { WOWZA: key });
const now = 1_900_000_000;
const wowzaBase64 = (digest: Buffer) => digest.toString('base64').replaceAll('+', '-').replaceAll('/', '_');

/** Runs the PHP generator of docs/formats/wowza.md with real php-cli. */
function phpUrl(args: (string | number | null)[]): string {
  const literal = (value: string | number | null) =>
    value === null ? 'null' : typeof value === 'number' ? String(value) : `'${value}'`;
  const code = `${docBlock('docs/formats/wowza.md', 'wowza-php')}\necho wowza_url(${args.map(literal).join(', ')});`;
  return execFileSync('php', ['-r', code], { encoding: 'utf8' });
}

describe('wowza: the documented procedure', () => {
  it("verifies the digest of Wowza's RTSP example string (content path, sorted items, secret bare)", () => {
    const hashed = 'vod/myInstance/sample.mp4?wowzatokenCustomParameter=abcdef&wowzatokenendtime=1500000000&xyzSharedSecret';
    const digest = wowzaBase64(createHash('sha256').update(hashed).digest());
    const gate = gateWith({ contentPath: 'file' }, 'xyzSharedSecret');
    const uri = `/vod/myInstance/sample.mp4?wowzatokenendtime=1500000000&wowzatokenCustomParameter=abcdef&wowzatokenhash=${digest}`;
    expect(authorize(gate, uri, undefined, 1_499_999_000).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri, undefined, 1_500_000_001).verdict).toBe(Verdict.expired);
    expect(authorize(gate, uri.replace('abcdef', 'abcdeg'), undefined, 1_499_999_000).verdict).toBe(Verdict.forged);
    // The hash the article prints does not come from its string (nor from the variants tried): not a vector.
    expect(digest).not.toBe('m20I4XSU1EmtzHmz8PbbRsX5OcVi7Km-qI1J3acEV-c=');
  });

  it.each([
    ['sha256', null],
    ['sha384', null],
    ['sha512', null],
    ['sha256', '192.0.2.44'],
    ['sha512', '2001:db8:0:0:0:0:0:1'],
  ] as const)('links of the PHP generator verify (%s, client IP %s)', (algorithm, clientIp) => {
    const gate = gateWith({ algorithm, includeClientIp: clientIp !== null });
    const url = phpUrl([
      'https://media.example',
      '/vod/_definst_/mp4:sample.mp4',
      'playlist.m3u8',
      secret,
      now - 60,
      now + 600,
      clientIp,
      'wowzatoken',
      algorithm,
    ]);
    const uri = url.slice('https://media.example'.length);
    const ip = clientIp ?? '198.51.100.1';
    expect(authorize(gate, uri, ip, now).verdict).toBe(Verdict.valid);
    // One token covers the stream's chunklists and segments, never another stream.
    expect(authorize(gate, uri.replace('playlist.m3u8', 'chunklist_w123.m3u8'), ip, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri.replace('playlist.m3u8', 'media_w123_4.ts'), ip, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, uri.replace('sample.mp4', 'other.mp4'), ip, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, uri.replace('/playlist.m3u8', '/x/playlist.m3u8'), ip, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, uri, ip, now + 601).verdict).toBe(Verdict.expired);
    if (clientIp !== null) expect(authorize(gate, uri, '192.0.2.45', now).verdict).toBe(Verdict.forged);
    // tokengate's signer writes the same digest for the same inputs.
    const signed = findRoute(gate, '/vod/')!.scheme.sign({
      path: '/vod/_definst_/mp4:sample.mp4/playlist.m3u8',
      expiresSec: now + 600,
      notBeforeSec: now - 60,
      ...(clientIp === null ? {} : { clientIp: clientIp === '2001:db8:0:0:0:0:0:1' ? '2001:db8::1' : clientIp }),
    });
    expect(signed).toEqual({ carrier: 'query', query: uri.slice(uri.indexOf('?') + 1) });
  });
});

describe('wowza: semantics', () => {
  const gate = gateWith();
  const php = (start: number | null, end: number, extra = '') => {
    const url = phpUrl(['', '/live/_definst_/cam1', 'playlist.m3u8', secret, start ?? now, end]);
    return start === null ? url.replace(/wowzatokenstarttime=\d+&/, '') : `${url}${extra}`;
  };
  const decide = (uri: string, at = now, g = gate) => authorize(g, uri, '198.51.100.1', at).verdict;
  it('other parameters are neither signed nor read; prefixed ones are signed', () => {
    const uri = php(now - 10, now + 60);
    expect(decide(`${uri}&wowzasessionid=12345&192.0.2.1`)).toBe(Verdict.valid);
    expect(decide(`${uri}&wowzatokenCustom=1`)).toBe(Verdict.forged);
  });
  it('refuses repeats, other spellings of the prefix and bad grammar', () => {
    const uri = php(now - 10, now + 60);
    const hash = /wowzatokenhash=([^&]+)/.exec(uri)![1]!;
    expect(decide(`${uri}&wowzatokenhash=${hash}`)).toBe(Verdict.malformed);
    expect(decide(`${uri}&WowzaTokenEndTime=1`)).toBe(Verdict.malformed);
    expect(decide(`${uri}&%77owzatokenendtime=1`)).toBe(Verdict.malformed);
    expect(decide(`${uri}&wowzatokenx`)).toBe(Verdict.malformed);
    expect(decide(`${uri}&wowzatokenx=a%20b`)).toBe(Verdict.malformed);
    expect(decide(uri.replace(/=$/, ''))).toBe(Verdict.malformed);
    expect(decide(uri.replace(/wowzatokenendtime=\d+/, 'wowzatokenendtime=0190000060'))).toBe(Verdict.malformed);
    expect(decide('/live/_definst_/cam1/playlist.m3u8')).toBe(Verdict.missing);
    expect(decide(`/live/_definst_/cam1/playlist.m3u8?wowzatokenendtime=${now}`)).toBe(Verdict.malformed);
    expect(decide(`/playlist.m3u8?${uri.slice(uri.indexOf('?') + 1)}`)).toBe(Verdict.malformed);
  });
  it('start time with clock skew, end before start, end time required unless optional', () => {
    expect(decide(php(now + 20, now + 60))).toBe(Verdict.valid);
    expect(decide(php(now + 100, now + 600))).toBe(Verdict.premature);
    expect(decide(php(now + 100, now + 50))).toBe(Verdict.malformed);
    const noEnd = php(now - 10, now + 60).replace(/wowzatokenendtime=\d+&/, '');
    expect(decide(noEnd)).toBe(Verdict.malformed);
    // Without the end item the digest differs; sign one without it to check "optional".
    const items = [`wowzatokenstarttime=${now - 10}`, secret].sort().join('&');
    const digest = wowzaBase64(createHash('sha256').update(`live/_definst_/cam1?${items}`).digest());
    const open = `/live/_definst_/cam1/playlist.m3u8?wowzatokenstarttime=${now - 10}&wowzatokenhash=${digest}`;
    expect(decide(open)).toBe(Verdict.malformed);
    expect(decide(open, 9_999_999_999, gateWith({ endTime: 'optional' }))).toBe(Verdict.valid);
  });
  it('a short custom prefix does not refuse unrelated parameters that start like it in another case', () => {
    const short = gateWith({ prefix: 'tok' });
    const url = phpUrl(['', '/live/_definst_/cam1', 'playlist.m3u8', secret, now - 10, now + 60, null, 'tok']);
    expect(decide(url, now, short)).toBe(Verdict.valid);
    expect(decide(`${url}&Tokyo=1&TOKEN=2`, now, short)).toBe(Verdict.valid);
    expect(decide(`${url}&TOKHASH=x`, now, short)).toBe(Verdict.malformed);
  });
  it('writes the client IP as Java does', () => {
    expect(javaAddressText(parseClientIp('2001:db8::1')!)).toBe('2001:db8:0:0:0:0:0:1');
    expect(javaAddressText(parseClientIp('::ffff:192.0.2.1')!)).toBe('192.0.2.1');
    expect(javaAddressText(parseClientIp('::')!)).toBe('0:0:0:0:0:0:0:0');
  });
  it('an IP-including route needs the client IP', () => {
    const bound = gateWith({ includeClientIp: true });
    const uri = phpUrl(['', '/live/_definst_/cam1', 'playlist.m3u8', secret, now - 10, now + 60, '198.51.100.1']);
    expect(authorize(bound, uri, '198.51.100.1', now).verdict).toBe(Verdict.valid);
    expect(authorize(bound, uri, undefined, now).verdict).toBe(Verdict.badSource);
  });
});

describe('docs/formats/wowza.md', () => {
  it('the route shown is valid, and its sign command makes a link the route allows', async () => {
    const shown = JSON.parse(docBlock('docs/formats/wowza.md', 'wowza-route')) as { keys: { file: string }[] };
    expect(parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [shown] })).toMatchObject({
      routes: [{ options: { value: { prefix: 'wowzatoken', algorithm: 'sha256', includeClientIp: false } } }],
    });
    const dir = tempDir();
    writeFileSync(join(dir, 'secret'), `${secret}\n`);
    shown.keys[0]!.file = join(dir, 'secret');
    const configFile = writeConfig(dir, { listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [shown] });
    const page = readFileSync(new URL('../../docs/formats/wowza.md', import.meta.url), 'utf8');
    const command = /`tokengate (sign --route live [^`]*)`/.exec(page)![1]!.split(/\s+/);
    const result = await runCli([...command, '--config', configFile]);
    expect(result.code, result.stderr).toBe(0);
    const link = result.stdout.trim();
    expect(link).toMatch(/^\/live\/_definst_\/stream1\/playlist\.m3u8\?/);
    const gate = gateFor([{ ...shown, keys: [{ id: 'w', env: 'WOWZA' }] }], { WOWZA: secret });
    expect(authorize(gate, link, undefined, Math.floor(Date.now() / 1000)).verdict).toBe(Verdict.valid);
  });
});

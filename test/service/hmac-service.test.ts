/**
 * The hmac scheme through the real service: every carrier (query, cookie, header), and the
 * TypeScript, Python and PHP signing snippets of docs/formats/hmac.md run as written against it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { authRequest, header, rawRequest } from '../helpers/raw-http.js';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const keyHex = `${'c0ffee'.repeat(10)}c0ff`;
let service: RunningService;
let port: number;

beforeAll(async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'vod.key'), `${keyHex}\n`);
  const keys = [{ id: '2026-11', file: 'vod.key' }];
  const file = writeConfig(
    dir,
    testConfig({
      routes: [
        { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys },
        { name: 'cookie', prefix: '/c/', scheme: 'hmac', keys, options: { carrier: 'cookie', name: 'tg' } },
        { name: 'header', prefix: '/h/', scheme: 'hmac', keys, options: { carrier: 'header' } },
      ],
    }),
  );
  service = await startService(['serve', '--config', file]);
  port = service.ports.get('auth')!;
});
afterAll(() => service?.stop());

const ask = async (uri: string, extra: [string, string][] = []) => {
  const response = await rawRequest(port, authRequest([['X-Original-URI', uri], ['X-Real-IP', '203.0.113.7'], ...extra]));
  return `${response.status} ${header(response, 'x-token-status')}`;
};

describe('hmac carriers through the service', () => {
  it('query: ?tg=', async () => {
    const url = hmacSigner({ keyId: '2026-11', key: keyHex }).sign({ path: '/vod/a.mp4', expiresSec: expiresIn(60) });
    expect(await ask(url)).toBe('200 valid');
    expect(await ask('/vod/a.mp4')).toBe('403 missing');
  });

  it('cookie: the token in a cookie among others; twice is malformed', async () => {
    const signed = hmacSigner({ keyId: '2026-11', key: keyHex, carrier: 'cookie' }).token({
      path: '/c/a.mp4',
      expiresSec: expiresIn(60),
    });
    if (signed.carrier !== 'cookie') throw new Error('expected a cookie');
    expect(signed.name).toBe('tg');
    expect(await ask('/c/a.mp4', [['Cookie', `theme=dark; tg=${signed.value}; lang=en`]])).toBe('200 valid');
    expect(
      await ask('/c/a.mp4', [
        ['Cookie', 'theme=dark'],
        ['Cookie', `tg=${signed.value}`],
      ]),
    ).toBe('200 valid');
    expect(await ask('/c/a.mp4', [['Cookie', `tg=${signed.value}; tg=${signed.value}`]])).toBe('403 malformed');
    expect(await ask('/c/b.mp4', [['Cookie', `tg=${signed.value}`]])).toBe('403 forged');
    expect(await ask('/c/a.mp4')).toBe('403 missing');
  });

  it('header: X-Tokengate; twice is malformed', async () => {
    const signed = hmacSigner({ keyId: '2026-11', key: keyHex, carrier: 'header' }).token({
      path: '/h/a.mp4',
      expiresSec: expiresIn(60),
    });
    if (signed.carrier !== 'header') throw new Error('expected a header');
    expect(await ask('/h/a.mp4', [['X-Tokengate', signed.value]])).toBe('200 valid');
    expect(
      await ask('/h/a.mp4', [
        ['X-Tokengate', signed.value],
        ['X-Tokengate', signed.value],
      ]),
    ).toBe('403 malformed');
    expect(await ask(`/h/a.mp4?tg=${signed.value}`)).toBe('403 missing');
  });
});

describe('docs/formats/hmac.md signing snippets, run as written', () => {
  const snippets = {
    typescript: docBlock('docs/formats/hmac.md', 'typescript'),
    python: docBlock('docs/formats/hmac.md', 'python'),
    php: docBlock('docs/formats/hmac.md', 'php'),
  };
  const snippet = (language: keyof typeof snippets) => snippets[language];
  const run = (command: string, args: string[], env: Record<string, string> = {}) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        command,
        args,
        { env: { ...process.env, TOKENGATE_KEY: keyHex, ...env }, timeout: 20_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${command}: ${error.message}\n${stderr}`)) : resolve(stdout.trim()),
      ),
    );
  const checkDirectoryToken = async (url: string) => {
    expect(url).toMatch(/^\/vod\/movie\/index\.m3u8\?tg=v1~k=2026-11~e=\d{10}~p=2~m=[\w-]{22}$/);
    expect(await ask(url)).toBe('200 valid');
    expect(await ask(url.replace('index.m3u8', '720p/seg-1.ts'))).toBe('200 valid');
    expect(await ask(url.replace('/movie/', '/other/'))).toBe('403 forged');
  };

  it('TypeScript (the package API)', async () => {
    const dist = pathToFileURL(join(process.cwd(), 'dist', 'library', 'index.js')).href;
    const code = snippet('typescript').replace("from 'tokengate'", `from '${dist}'`);
    await checkDirectoryToken(await run(process.execPath, ['--input-type=module', '-e', code]));
  });

  it('Python (standard library)', async () => {
    await checkDirectoryToken(await run('python3', ['-c', snippet('python')]));
  });

  it('PHP', async () => {
    await checkDirectoryToken(await run('php', ['-r', snippet('php')]));
  });

  it('Python, PHP and the library sign byte for byte alike, non-ASCII paths percent-encoded as UTF-8', async () => {
    // One frozen clock for all three (libfaketime), so the whole URLs can be compared.
    const nowSec = 1_900_000_000;
    const library = ['x86_64', 'aarch64']
      .map((arch) => `/usr/lib/${arch}-linux-gnu/faketime/libfaketime.so.1`)
      .find((path) => existsSync(path));
    expect(library, 'libfaketime missing: run "sh test/install-test-deps.sh"').toBeDefined();
    const frozen = {
      LD_PRELOAD: library!,
      FAKETIME: `@${new Date(nowSec * 1000).toISOString().slice(0, 19).replace('T', ' ')}`,
      TZ: 'UTC',
    };
    const definitions = (language: 'python' | 'php') =>
      snippet(language).split(language === 'python' ? '\nprint(' : '\necho ')[0]!;
    const paths = ['/vod/movie/index.m3u8', '/vod/été/ųecret.mp4', '/vod/本/第1話.ts', '/vod/%C3%A9t%C3%A9/a.mp4'];
    for (const path of paths) {
      for (const depth of [undefined, 2]) {
        const ours = hmacSigner({ keyId: '2026-11', key: keyHex, routePrefix: '/vod/' }).sign({
          path,
          expiresSec: nowSec + 3600,
          ...(depth === undefined ? {} : { scopeDepth: depth }),
        });
        const args = (none: string) => `${JSON.stringify(path)}, "2026-11", ${JSON.stringify(keyHex)}, 3600, ${depth ?? none}`;
        const python = await run('python3', ['-c', `${definitions('python')}\nprint(tokengate_url(${args('None')}))`], frozen);
        const php = await run('php', ['-r', `${definitions('php')}\necho tokengate_url(${args('null')}), "\\n";`], frozen);
        expect([path, depth, python]).toEqual([path, depth, ours]);
        expect([path, depth, php]).toEqual([path, depth, ours]);
        expect(await ask(ours)).toBe('200 valid');
      }
    }
    expect(hmacSigner({ keyId: '2026-11', key: keyHex }).sign({ path: '/vod/été.mp4', expiresSec: expiresIn(60) })).toMatch(
      /^\/vod\/%C3%A9t%C3%A9\.mp4\?tg=/,
    );
  });

  it('Python and PHP refuse a scope wider than the route, as the library does', async () => {
    const python = `${snippet('python').split('\nprint(')[0]}\nprint(tokengate_url("/vod/movie/x.ts", "k", ${JSON.stringify(keyHex)}, 60, 0))`;
    await expect(run('python3', ['-c', python])).rejects.toThrow(/outside the route/);
    const php = `${snippet('php').split('\necho ')[0]}\necho tokengate_url("/vod/movie/x.ts", "k", ${JSON.stringify(keyHex)}, 60, 0);`;
    await expect(run('php', ['-r', php])).rejects.toThrow(/outside the route/);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { covers, registeredFixtures } from '../helpers/formats/index.js';
import { runCli, tempDir, writeConfig } from '../helpers/service-process.js';
import { route, testConfig } from '../helpers/test-config.js';

const published = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const altaPublished =
  '/tv/travel-channel/index.m3u8?token=e8bff06f373694dda657e8417fe76f6b54b69807-a5cd6c00-1669890000-1669810000';

describe('tokengate CLI', () => {
  it('verify explains an expired published example (exit 2) and allows it at its own time (exit 0)', async () => {
    const expired = await runCli(['verify', `https://cdn.example.com${published}`]);
    expect(expired.code).toBe(2);
    expect(expired.stdout).toMatch(/^verdict: expired$/m);
    expect(expired.stdout).toMatch(/^route: +demo-azion \(\/my\/, azion\)$/m);
    const valid = await runCli(['verify', published, '--now', '1470055000']);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/^verdict: valid$/m);
  });

  it('verify names the exact rule a malformed token breaks (exit 1)', async () => {
    const result = await runCli(['verify', '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=0470055000']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^reason: +e has a leading zero$/m);
  });

  it('verify points at a trailing-slash mismatch', async () => {
    const signed = await runCli(['sign', '--path', '/my/dir/', '--ttl', '600']);
    expect(signed.code).toBe(0);
    const query = signed.stdout.trim().split('?')[1];
    const result = await runCli(['verify', `/my/dir?${query}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^verdict: forged$/m);
    expect(result.stdout).toMatch(/hint: +the signature matches the path with a trailing slash \(\/my\/dir\/\)/);
  });

  it('verify of an IP-bound token: needs --ip, then says allow or forged', async () => {
    const noIp = await runCli(['verify', altaPublished, '--now', '1669850000']);
    expect(noIp.code).toBe(3);
    expect(noIp.stdout).toMatch(/hint: +this route binds tokens to the client IP: give --ip/);
    // A missing input, not a deployment's missing header.
    expect(noIp.stdout).toMatch(/^reason: +the route binds tokens to the client IP and none was given \(--ip\)$/m);
    expect(noIp.stdout).not.toMatch(/configured/);
    const right = await runCli(['verify', altaPublished, '--now', '1669850000', '--ip', '192.168.88.98']);
    expect(right.code).toBe(0);
    const wrong = await runCli(['verify', altaPublished, '--now', '1669850000', '--ip', '192.168.88.99']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/another client IP than 192\.168\.88\.99/);
  });

  it('sign prints a URL that verify accepts, for both schemes', async () => {
    const azion = await runCli(['sign', '--path', '/my/video.mp4', '--ttl', '3600']);
    expect(azion.stdout).toMatch(/^\/my\/video\.mp4\?st=[A-Za-z0-9_-]{22}&e=\d{10}\n$/);
    expect((await runCli(['verify', azion.stdout.trim()])).code).toBe(0);
    const alta = await runCli([
      'sign',
      '--route',
      'demo-alta',
      '--path',
      '/tv/ch/index.m3u8',
      '--ttl',
      '3600',
      '--ip',
      '2001:db8::7',
    ]);
    expect(alta.stdout).toMatch(/^\/tv\/ch\/index\.m3u8\?token=[0-9a-f]{40}-[0-9a-f]{8}-\d{10}-\d{10}\n$/);
    expect((await runCli(['verify', alta.stdout.trim(), '--ip', '2001:db8::7'])).code).toBe(0);
  });

  it('sign uses the first key of the configured route and never prints it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'current.key'), 'current-secret-value\n');
    const file = writeConfig(dir, {
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      routes: [
        route('vod', '/v/', 'azion', [
          { id: 'current', file: 'current.key' },
          { id: 'old', env: 'OLD_KEY' },
        ]),
      ],
    });
    const env = { OLD_KEY: 'previous-secret-value' };
    const signed = await runCli(['sign', '--config', file, '--path', '/v/a.mp4', '--ttl', '60'], env);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout + signed.stderr).not.toMatch(/current-secret-value|previous-secret-value/);
    const verified = await runCli(['verify', '--config', file, signed.stdout.trim()], env);
    expect(verified.code).toBe(0);
    expect(verified.stdout + verified.stderr).not.toMatch(/current-secret-value|previous-secret-value/);
  });

  it('sign and verify hmac tokens: scope depth, CIDR, session, and cookie carriers', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vod.key'), `${'5a'.repeat(32)}\n`);
    const keys = [{ id: '2026-11', file: 'vod.key' }];
    const file = writeConfig(dir, {
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [
        { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys },
        { name: 'player', prefix: '/p/', scheme: 'hmac', keys, options: { carrier: 'cookie' } },
      ],
    });
    const signed = await runCli([
      'sign',
      '--config',
      file,
      '--path',
      '/vod/m/index.m3u8',
      '--ttl',
      '600',
      '--scope-depth',
      '2',
      '--ip',
      '198.51.100.0/24',
      '--session',
      'u42',
    ]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(
      /^\/vod\/m\/index\.m3u8\?tg=v1~k=2026-11~e=\d{10}~p=2~i=198\.51\.100\.0\/24~s=u42~m=[\w-]{22}\n$/,
    );
    const segment = signed.stdout.trim().replace('index.m3u8', '720p/seg.ts');
    expect((await runCli(['verify', '--config', file, segment, '--ip', '198.51.100.9'])).code).toBe(0);
    const outside = await runCli(['verify', '--config', file, segment, '--ip', '198.51.101.9']);
    expect([outside.code, /^verdict: wrong-ip$/m.test(outside.stdout)]).toEqual([1, true]);
    const cookie = await runCli(['sign', '--config', file, '--path', '/p/a.mp4', '--ttl', '60']);
    expect(cookie.stdout).toMatch(/^\/p\/a\.mp4\nCookie: tg=v1~k=2026-11~e=\d{10}~m=[\w-]{22}\n$/);
  });

  it.each([
    [['sign', '--path', '/tv/ch/index.m3u8', '--ttl', '60'], /binds tokens to the client IP: give the IP the link is for/],
    [
      ['sign', '--path', '/tv/ch/index.m3u8', '--ttl', '60', '--ip', '2001:DB8::7'],
      /not written canonically \(write 2001:db8::7\)/,
    ],
    [['sign', '--path', '/nowhere/x', '--ttl', '60'], /no route covers \/nowhere\/x/],
    [['sign', '--path', '/my/x', '--ttl', '-5'], /--ttl/],
    [['sign', '--path', '/my/x'], /sign needs --path and --ttl/],
    [['verify'], /exactly one URL/],
    [['frobnicate'], /unknown command/],
    [['serve', '--secret', 'x'], /Unknown option '--secret'/],
  ])('usage error %j exits 64', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(message);
  });

  it(`help lists every registered scheme ${registeredFixtures()
    .map((fixture) => covers(fixture.id))
    .join(' ')}`, async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const fixture of registeredFixtures()) {
      expect(result.stdout, fixture.id).toMatch(new RegExp(`^ {2}${fixture.id} `, 'm'));
    }
  });

  it('sign --help names, under each signing option, exactly the registered formats that sign it', async () => {
    const { schemes } = await import('../../src/schemes/registry.js');
    const result = await runCli(['sign', '--help']);
    expect(result.code).toBe(0);
    // Each option's paragraph: from its flag to the next flag (continuation lines joined).
    const paragraph = (flag: string) => {
      const match = new RegExp(`^ {2}${flag} +([\\s\\S]*?)(?=^ {2}--|^\\S)`, 'm').exec(result.stdout);
      expect(match, flag).not.toBeNull();
      return match![1]!.replace(/\s+/g, ' ');
    };
    const named = (text: string) =>
      schemes.map((scheme) => scheme.id).filter((id) => new RegExp(`(?<![\\w-])${id}(?![\\w-])`).test(text));
    const signing = (option: string) => schemes.filter((scheme) => scheme.signOptions.includes(option as never)).map((s) => s.id);
    expect(named(paragraph('--start'))).toEqual(signing('notBeforeSec'));
    expect(named(paragraph('--scope-depth'))).toEqual(signing('scopeDepth'));
    expect(named(paragraph('--session'))).toEqual(signing('sessionId'));
    expect(named(paragraph('--cookies'))).toEqual(signing('cookies'));
    expect(named(paragraph('--ip'))).toEqual(signing('clientIp'));
    const required = schemes.filter((scheme) => scheme.clientIp === 'required').map((s) => s.id);
    expect(paragraph('--ip')).toContain(`required for ${required.join(', ')};`);
  });
});

describe('CLI errors never print file content', () => {
  it('a key file given as --config: serve, verify and sign name the problem, not the bytes', async () => {
    const dir = tempDir();
    const key = 'cfbae06f6c5d2a1b9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d';
    writeFileSync(join(dir, 'key.hex'), `${key}\n`);
    for (const args of [
      ['serve', '--config', join(dir, 'key.hex')],
      ['verify', '--config', join(dir, 'key.hex'), '/my/uri?st=x&e=1'],
      ['sign', '--config', join(dir, 'key.hex'), '--path', '/my/x', '--ttl', '60'],
    ]) {
      const result = await runCli(args);
      expect(result.code, args[0]).toBe(78);
      expect(result.stderr, args[0]).toMatch(/not valid JSON/);
      expect(`${result.stdout}${result.stderr}`, args[0]).not.toMatch(/cfb|fba|bae/);
    }
  });
});

describe('sign refuses what the service refuses (docs/security.md rule 10)', () => {
  it.each([
    ['/my/a b.mp4', /pchar/],
    ['/my/a.mp4?x=1', /"\?"/],
    ['/my/a#frag', /#/],
    ['/my/../secret', /dot-segment/],
    ['/my/..;/secret', /dot-segment/],
    ['/my/%252e%252e/x', /double/],
    ['/my/%C0%AE', /UTF-8/],
    ['/my//x', /\/\//],
    ['my/x', /start with/],
  ])('sign --path %j exits 64 with the rule', async (path, reason) => {
    const result = await runCli(['sign', '--path', path, '--ttl', '60']);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(reason);
    expect(result.stdout).toBe('');
  });

  it('percent-encodes a raw non-ASCII path as UTF-8, says so, and the service accepts exactly that path', async () => {
    const signed = await runCli(['sign', '--path', '/my/ųecret.mp4', '--ttl', '600']);
    expect(signed.code).toBe(0);
    expect(signed.stderr).toMatch(/percent-encoded as UTF-8: \/my\/%C5%B3ecret\.mp4/);
    const url = signed.stdout.trim();
    expect(url).toMatch(/^\/my\/%C5%B3ecret\.mp4\?st=/);
    expect((await runCli(['verify', url])).code).toBe(0);
    expect((await runCli(['verify', url.replace('%C5%B3', 's')])).stdout).toMatch(/^verdict: forged$/m);
  });

  it('refuses options the scheme cannot honour, and a route that does not serve the path', async () => {
    const scope = await runCli(['sign', '--path', '/my/x', '--ttl', '60', '--scope-depth', '1']);
    expect(scope.code).toBe(64);
    expect(scope.stderr).toMatch(/azion tokens cannot sign scopeDepth/);
    const wrongRoute = await runCli(['sign', '--path', '/tv/x/index.m3u8', '--ttl', '60', '--route', 'demo-azion']);
    expect(wrongRoute.code).toBe(64);
    expect(wrongRoute.stderr).toMatch(/not under route prefix/);
  });

  it('names every problem of a sign request at once, each by its option', async () => {
    const result = await runCli(['sign', '--path', '/tv/x/index.m3u8', '--ttl', '60', '--scope-depth', '1', '--session', 's1']);
    expect(result.code).toBe(64);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('tokengate: '))).toEqual([
      expect.stringMatching(/^tokengate: --ip: route "demo-alta" \(alta\) binds tokens to the client IP/),
      expect.stringMatching(/^tokengate: --scope-depth: alta tokens cannot sign scopeDepth/),
      expect.stringMatching(/^tokengate: --session: alta tokens cannot sign sessionId/),
    ]);
  });
});

describe('CLI commands, help and signing options', () => {
  const hmacKey = 'cd'.repeat(32);
  const config = () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'k.hex'), hmacKey);
    return writeConfig(
      dir,
      testConfig({
        routes: [
          { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k1', file: 'k.hex' }] },
          { name: 'ck', prefix: '/ck/', scheme: 'hmac', keys: [{ id: 'k1', file: 'k.hex' }], options: { carrier: 'cookie' } },
          { name: 'hd', prefix: '/hd/', scheme: 'hmac', keys: [{ id: 'k1', file: 'k.hex' }], options: { carrier: 'header' } },
          { name: 'tv', prefix: '/tv/', scheme: 'alta', keys: [{ id: 'a', env: 'ALTA' }] },
        ],
      }),
    );
  };
  const env = { ALTA: 'alta-secret' };

  it('--version, per-command --help, and an option of another command is a usage error', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(
      `tokengate ${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version} (Node.js ${process.version})\n`,
    );
    for (const command of ['serve', 'sign', 'verify']) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: tokengate ${command}`));
      expect((await runCli(['help', command])).stdout).toBe(help.stdout);
    }
    const wrong = await runCli(['serve', '--ip', '1.2.3.4']);
    expect(wrong.code).toBe(64);
    expect(wrong.stderr).toMatch(/Unknown option '--ip'/);
  });

  it('--ttl counts from --start; --json answers like the signing API; --base-url starts the link', async () => {
    const start = Math.floor(Date.now() / 1000) + 86_400;
    const alta = await runCli(
      ['sign', '--config', config(), '--path', '/tv/ch/index.m3u8', '--ip', '192.0.2.1', '--start', String(start), '--ttl', '60'],
      env,
    );
    expect(alta.code, alta.stderr).toBe(0);
    expect(alta.stdout.trim()).toMatch(new RegExp(`-${start + 60}-${start}$`));
    const json = await runCli(
      ['sign', '--config', config(), '--path', '/vod/a.mp4', '--ttl', '60', '--json', '--base-url', 'https://cdn.example.com'],
      env,
    );
    const link = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(link).toMatchObject({ route: 'vod', scheme: 'hmac', keyId: 'k1', carrier: 'query', path: '/vod/a.mp4' });
    expect(link.url).toMatch(/^https:\/\/cdn\.example\.com\/vod\/a\.mp4\?tg=v1~k=k1~/);
    expect(link.end).toBe(new Date((link.expiresSec as number) * 1000).toISOString());
    const badBase = await runCli(
      ['sign', '--config', config(), '--path', '/vod/a', '--ttl', '60', '--base-url', 'cdn.example.com'],
      env,
    );
    expect(badBase.code).toBe(64);
    expect(badBase.stderr).toMatch(/--base-url: must be an http\(s\) origin/);
  });

  it('warns on stderr when a link is signed with a published demo secret', async () => {
    const demo = await runCli(['sign', '--path', '/my/a.mp4', '--ttl', '60']);
    expect(demo.code).toBe(0);
    expect(demo.stderr).toMatch(/warning: route "demo-azion" signs with a PUBLISHED demo secret/);
    expect((await runCli(['sign', '--config', config(), '--path', '/vod/a', '--ttl', '60'], env)).stderr).toBe('');
  });

  it('verify reads tokens from --cookie and --header, and says how long ago a token expired', async () => {
    const file = config();
    const cookie = (await runCli(['sign', '--config', file, '--path', '/ck/a.pdf', '--ttl', '60'], env)).stdout.split('\n');
    const cookieValue = cookie[1]!.replace(/^Cookie: /, '');
    expect((await runCli(['verify', '--config', file, cookie[0]!, '--cookie', `other=1; ${cookieValue}`], env)).code).toBe(0);
    expect((await runCli(['verify', '--config', file, cookie[0]!], env)).stdout).toMatch(/^verdict: missing$/m);
    // A link without a query (the token is in the cookie): the hints still see the whole path.
    const dir = (await runCli(['sign', '--config', file, '--path', '/ck/dir/', '--ttl', '60'], env)).stdout.split('\n');
    const slashless = await runCli(['verify', '--config', file, '/ck/dir', '--cookie', dir[1]!.replace(/^Cookie: /, '')], env);
    expect(slashless.stdout).toMatch(/hint: +the signature matches the path with a trailing slash \(\/ck\/dir\/\)/);
    const header = (await runCli(['sign', '--config', file, '--path', '/hd/a.pdf', '--ttl', '60'], env)).stdout.split('\n');
    expect((await runCli(['verify', '--config', file, header[0]!, '--header', header[1]!], env)).code).toBe(0);
    expect((await runCli(['verify', '--config', file, header[0]!, '--header', 'no colon'], env)).code).toBe(64);
    // The link's own end, not the test's clock: the signing CLI read its clock in another process.
    const signed = await runCli(['sign', '--config', file, '--path', '/vod/a.mp4', '--ttl', '60', '--json'], env);
    const { url, expiresSec } = JSON.parse(signed.stdout) as { url: string; expiresSec: number };
    const expired = await runCli(['verify', '--config', file, url, '--now', String(expiresSec + 100)], env);
    expect(expired.code).toBe(2);
    expect(expired.stdout).toMatch(/^expired: \S+ \(100 s ago\)$/m);
  });

  it("verify names a scope mismatch, and an unknown key id with the route's key ids", async () => {
    const file = config();
    const scoped = (
      await runCli(['sign', '--config', file, '--path', '/vod/movie/index.m3u8', '--ttl', '60', '--scope-depth', '2'], env)
    ).stdout.trim();
    expect((await runCli(['verify', '--config', file, scoped.replace('/movie/index', '/movie/seg-1')], env)).code).toBe(0);
    const other = await runCli(['verify', '--config', file, scoped.replace('/movie/', '/other/')], env);
    expect(other.stdout).toMatch(/^verdict: forged$/m);
    expect(other.stdout).toMatch(/hint: +the token covers one directory \(p=2: .*this path's are \/vod\/other\//);
    const unknown = await runCli(['verify', '--config', file, scoped.replace('k=k1', 'k=k9')], env);
    expect(unknown.stdout).toMatch(/^reason: +the token names a key id this route does not have/m);
    expect(unknown.stdout).toMatch(
      /^hint: +route "vod" has the key ids k1: the token was signed with another \(or removed\) key$/m,
    );
    expect(unknown.stdout).not.toMatch(/no key of route/);
  });
});

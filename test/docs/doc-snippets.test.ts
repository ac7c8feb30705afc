/**
 * Every fenced block of README.md and docs/ is run by a test, or is an illustration (a grammar,
 * a formula, a diagram) that is no command. Snippets are marked `<!-- snippet:ID -->` and read
 * through `docBlock(document, ID)`: each marker must be read by exactly that call in some test.
 * The snippets no other test runs are run here: config examples through the config parser,
 * CLI transcripts and usage through the built CLI, the test command against .ci/run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { schemes } from '../../src/schemes/registry.js';
import { docBlock, fencedBlocks, repoRoot } from '../helpers/doc-blocks.js';
import { runCli, tempDir } from '../helpers/service-process.js';

// docs/ and its folders (docs/formats/): every page of the docs is checked.
const documents = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const blocks = documents.flatMap(fencedBlocks);
const testSources = readdirSync(join(repoRoot, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => readFileSync(join(repoRoot, 'test', name), 'utf8'))
  .join('\n');

describe('every block of the docs', () => {
  it('is marked as a snippet or an illustration', () => {
    expect(blocks.length).toBeGreaterThan(25);
    expect(blocks.filter((block) => block.marker === undefined).map((block) => `${block.document}:${block.line}`)).toEqual([]);
  });

  it('an illustration is never a command, a config or code', () => {
    const commands = blocks.filter(
      (block) => block.marker === 'illustration' && (block.language !== '' || /^\$ /m.test(block.text)),
    );
    expect(commands.map((block) => `${block.document}:${block.line}`)).toEqual([]);
  });

  it('each snippet is read by a test through docBlock(document, id), and ids are unique per document', () => {
    const snippets = blocks.filter((block) => block.marker?.startsWith('snippet:'));
    const unread = snippets.filter(
      (block) => !testSources.includes(`docBlock('${block.document}', '${block.marker!.slice('snippet:'.length)}')`),
    );
    expect(unread.map((block) => `${block.document}:${block.line} ${block.marker}`)).toEqual([]);
    const keys = snippets.map((block) => `${block.document} ${block.marker}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('snippets run here', () => {
  it('README: the test command is the one .ci/run runs', () => {
    expect(docBlock('README.md', 'test-command').trim()).toBe('npm ci && npm test');
    expect(readFileSync(join(repoRoot, '.ci/run'), 'utf8')).toMatch(/^npm ci && npm test$/m);
  });

  it('configuration: the problems shown are what the CLI prints for such a config', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        listeners: [{ port: 8080, uriHeader: 'X-Original-URI' }],
        routes: [
          { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: '2026-11', file: 'keys/vod-2026-11' }] },
          { name: 'live', prefix: '/live/', scheme: 'alta', keys: [{ id: 'current', env: 'TOKENGATE_LIVE_KEY' }], ttl: 60 },
        ],
      }),
    );
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr.replaceAll(dir, '/etc/tokengate')).toBe(docBlock('docs/configuration.md', 'config-problems'));
  });

  it('configuration: the complete example is deploy/config.example.json, and valid', () => {
    const shown = JSON.parse(docBlock('docs/configuration.md', 'config-example'));
    expect(shown).toEqual(JSON.parse(readFileSync(join(repoRoot, 'deploy/config.example.json'), 'utf8')));
    expect(Array.isArray(parseConfig(shown))).toBe(false);
  });

  it('cli: the usage is what `tokengate --help` prints', async () => {
    const help = await runCli(['--help']);
    const shown = docBlock('docs/cli.md', 'cli-usage').trimEnd().split('\n');
    const printed = help.stdout.split('\n').map((line) => line.replace(/^ {2}/, ''));
    expect(printed.join('\n')).toContain(shown.join('\n'));
  });

  it("cli: each command's help is what `tokengate <command> --help` prints", async () => {
    const shown = {
      serve: docBlock('docs/cli.md', 'serve-help'),
      sign: docBlock('docs/cli.md', 'sign-help'),
      verify: docBlock('docs/cli.md', 'verify-help'),
      revoke: docBlock('docs/cli.md', 'revoke-help'),
      check: docBlock('docs/cli.md', 'check-help'),
    };
    for (const [command, text] of Object.entries(shown)) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout, command).toBe(text);
    }
  });

  it('cli: the verify transcripts are what the CLI prints', async () => {
    const malformed = docBlock('docs/cli.md', 'verify-malformed').split('\n');
    const command = /^\$ tokengate verify '([^']+)'$/.exec(malformed[0]!)![1]!;
    expect((await runCli(['verify', command])).stdout).toBe(`${malformed.slice(1).join('\n')}`);
    // The "..." stand for a token signed for /my/dir/ (the trailing slash).
    const slash = docBlock('docs/cli.md', 'verify-slash').split('\n');
    expect(slash[0]).toBe("$ tokengate verify '/my/dir?st=...&e=...'");
    const signed = (await runCli(['sign', '--path', '/my/dir/', '--ttl', '600'])).stdout.trim();
    const printed = (await runCli(['verify', `/my/dir?${signed.split('?')[1]}`])).stdout;
    expect(printed.replace(/^fp: {6}[\w-]{12}$/m, 'fp:      ...')).toBe(slash.slice(1).join('\n'));
  });

  it('engines: the uws listener shown is accepted by the uws engine', () => {
    const shown = JSON.parse(docBlock('docs/engines.md', 'uws-config'));
    const config = parseConfig({ ...shown, routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] }] });
    expect(config).toMatchObject({
      engine: 'uws',
      listeners: [{ name: 'auth', pathPrefix: '/tokengate', clientIpInPath: true }],
    });
  });

  it('formats: the hmac route shown is valid', () => {
    const route = JSON.parse(docBlock('docs/formats/hmac.md', 'hmac-route'));
    const config = parseConfig({
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [route],
    });
    expect(config).toMatchObject({
      routes: [{ name: 'vod', prefix: '/vod/', options: { value: { carrier: 'query', name: 'tg' } } }],
    });
  });

  it('revocation: the route shown is valid and checks revocations with its bound', () => {
    const route = JSON.parse(docBlock('docs/revocation.md', 'revocation-route'));
    const config = parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [route] });
    expect(config).toMatchObject({ routes: [{ name: 'vod', revocation: { maxLifetimeSec: 86_400 } }], state: { store: 'file' } });
  });

  it('nginx: the documented `nginx -t` accepts nginx.example.conf, run as written from the top level', () => {
    const command = docBlock('docs/nginx.md', 'nginx-t').trim();
    const out = execFileSync('sh', ['-c', `${command} 2>&1`], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH}` },
    });
    expect(out).toMatch(/nginx\.example\.conf test is successful/);
  });

  it('signing: the sign request table names exactly the formats that sign each option (from the registry)', () => {
    const text = readFileSync(new URL('../../docs/signing.md', import.meta.url), 'utf8');
    for (const option of ['notBeforeSec', 'scopeDepth', 'sessionId', 'cookies'] as const) {
      const row = new RegExp(`^\\| \`${option}\` \\| (.*) \\|$`, 'm').exec(text)?.[1] ?? '';
      const named = [...row.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((id) => schemes.some((s) => s.id === id));
      const signers = schemes.filter((scheme) => scheme.signOptions.includes(option)).map((scheme) => scheme.id);
      expect(named, option).toEqual(signers);
    }
  });

  it('limits: the route shown is valid and limits what it says', () => {
    const route = JSON.parse(docBlock('docs/limits.md', 'limits-route'));
    const config = parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [route] });
    expect(config).toMatchObject({
      routes: [
        {
          name: 'downloads',
          limits: { per: 'link', uses: 3, clientIps: { max: 2, windowSec: 3600 }, onStoreDown: 'deny' },
        },
      ],
      state: { store: 'file' },
    });
  });

  it('operations: the Redis state shown is valid', () => {
    const { state } = JSON.parse(docBlock('docs/operations.md', 'redis-state'));
    const route = { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], revocation: true };
    const config = parseConfig({ listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], routes: [route], state });
    expect(config).toMatchObject({
      state: {
        store: 'redis',
        resyncSec: 30,
        redis: {
          mode: 'standalone',
          nodes: [{ host: 'redis.internal', port: 6379 }],
          username: 'tokengate',
          tls: { caFile: '/etc/tokengate/redis-ca.pem' },
        },
      },
    });
  });

  it('formats: the azion and alta routes shown are valid', () => {
    const azion = JSON.parse(docBlock('docs/formats/azion.md', 'azion-route'));
    const alta = JSON.parse(docBlock('docs/formats/alta.md', 'alta-route'));
    const config = parseConfig({
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [azion, alta],
    });
    expect(config).toMatchObject({
      routes: [
        { name: 'files', prefix: '/files/', scheme: { id: 'azion' } },
        { name: 'live', prefix: '/tv/', scheme: { id: 'alta' }, stream: { playlist: 'index.m3u8', depth: 1 } },
      ],
    });
  });

  it('signing: the signing block shown is valid', () => {
    const shown = JSON.parse(docBlock('docs/signing.md', 'signing-config'));
    const config = parseConfig({
      ...shown,
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] }],
    });
    expect(config).toMatchObject({ signing: { publicBaseUrl: 'https://media.example.com' } });
  });

  it('signing: the named signers and single sign-on blocks shown are valid, with what they say', () => {
    const withRoutes = (shown: Record<string, unknown>) =>
      parseConfig({
        ...shown,
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        routes: [
          { name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] },
          { name: 'live', prefix: '/live/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] },
        ],
      });
    const signers = withRoutes(JSON.parse(docBlock('docs/signing.md', 'signers-config')));
    expect(signers).toMatchObject({
      signing: {
        signers: [
          {
            name: 'alice',
            credential: { file: '/etc/tokengate/signers/alice' },
            routes: ['vod'],
            maxTtlSec: 86_400,
            revoke: true,
          },
          { name: 'encoder', credential: { env: 'TOKENGATE_ENCODER_TOKEN' }, routes: ['live'], revoke: false },
          { name: 'ci', credential: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, routes: '*' },
        ],
      },
    });
    const listener = withRoutes(JSON.parse(docBlock('docs/signing.md', 'listener-config')));
    expect(listener).toMatchObject({
      signing: {
        listener: {
          host: '0.0.0.0',
          port: 8443,
          tls: { certFile: '/etc/tokengate/tls/tls.crt', keyFile: '/etc/tokengate/tls/tls.key' },
          allowedHosts: ['links.example.com'],
        },
      },
    });
    const sso = withRoutes(JSON.parse(docBlock('docs/signing.md', 'sso-config')));
    expect(sso).toMatchObject({
      signing: {
        signers: [
          { name: 'video-team', users: ['alice@example.com', '*@video.example.com'], groups: ['editors'] },
          { name: 'ci' },
        ],
        sso: { userHeader: 'x-forwarded-email', groupsHeader: 'x-forwarded-groups', trustedProxies: ['10.0.0.5'] },
      },
    });
  });
});

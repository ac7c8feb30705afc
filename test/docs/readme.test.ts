/** The README's quickstart is run as written (ports aside) against the real service. */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { authStatus } from '../helpers/raw-http.js';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let service: RunningService;

beforeAll(async () => {
  // The embedded default config, on free ports: 8080 and 9090 may be taken on this machine.
  const config = {
    ...defaultConfig,
    listeners: [{ ...defaultConfig.listeners[0], port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
  };
  service = await startService(['serve', '--config', writeConfig(tempDir(), config)]);
});
afterAll(() => service?.stop());

it('the quickstart curl calls give 200, 403, 410 and 200, as the README says', async () => {
  const script = docBlock('README.md', 'quickstart').replaceAll('127.0.0.1:8080', `127.0.0.1:${service.ports.get('auth')}`);
  const output = await new Promise<string>((resolve, reject) =>
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const statuses = [...output.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  expect(statuses).toEqual([200, 403, 410, 200]);
  // The answer README shows is the 410's, header for header.
  const shown = docBlock('README.md', 'quickstart-output').trim().split('\n');
  const answers = output.split(/\r?\n\r?\n/).map((head) => head.split(/\r?\n/));
  const expired = answers.find((lines) => lines[0] === shown[0])!;
  expect(expired).toBeDefined();
  for (const line of shown.slice(1)) expect(expired).toContain(line);
});

it('the docs document every registered scheme and exit code', async () => {
  const { schemes } = await import('../../src/schemes/registry.js');
  const { ExitCode } = await import('../../src/base/exit-codes.js');
  const index = readFileSync(new URL('../../docs/formats/README.md', import.meta.url), 'utf8');
  const cli = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  // Each format has its page in docs/formats/, titled with its id, and a row of the index.
  for (const scheme of schemes) {
    const page = readFileSync(new URL(`../../docs/formats/${scheme.id}.md`, import.meta.url), 'utf8');
    expect(page.split('\n')[0], scheme.id).toMatch(new RegExp(`^# .*\\(\`${scheme.id}\`\\)$`));
    expect(index).toMatch(new RegExp(`^\\| \`${scheme.id}\` \\| \\[[^\\]]+\\]\\(${scheme.id}\\.md\\) \\|`, 'm'));
  }
  for (const code of Object.values(ExitCode)) expect(cli).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
});

it('"One route of your own": the config starts and the sign command makes a link it allows', async () => {
  const json = docBlock('README.md', 'own-route-config');
  const command = docBlock('README.md', 'own-route-sign').trim();
  expect(command).toMatch(/^node dist\/cli\/main\.js sign --config config\.json /);
  const dir = tempDir();
  const keyFile = join(dir, 'vod-2026-11');
  execFileSync('sh', ['-c', `openssl rand -hex 32 > ${keyFile}`]);
  const config = JSON.parse(json.replace('/etc/tokengate/keys/vod-2026-11', keyFile)) as { listeners: object[] };
  config.listeners = config.listeners.map((listener) => ({ ...listener, port: 0 }));
  const file = writeConfig(dir, { ...config, admin: { port: 0 } }, 'config.json');
  const url = execFileSync('sh', ['-c', command.replace('--config config.json', `--config ${file}`)], { cwd: root })
    .toString()
    .trim();
  expect(url).toMatch(/^\/vod\/movie\/index\.m3u8\?tg=v1~k=2026-11~e=\d{10}~p=2~m=[\w-]{22}$/);
  const own = await startService(['serve', '--config', file]);
  try {
    expect(await authStatus(own.ports.get('auth')!, url.replace('index.m3u8', '720p/seg-1.ts'))).toBe(200);
    expect(await authStatus(own.ports.get('auth')!, url.replace('/movie/', '/other/'))).toBe(403);
  } finally {
    await own.stop();
  }
});

it('the default config prints the signing page address and a token made for the run, which signs in', async () => {
  const port = service.ports.get('admin')!;
  await expect.poll(() => service.stderr()).toMatch(/Access token \(made for this run, never logged\): /);
  expect(service.stderr()).toContain(`Signing page: http://127.0.0.1:${port}/ (API: /api/v1/)`);
  const token = /never logged\): (\S+)/.exec(service.stderr())![1]!;
  const login = await fetch(`http://127.0.0.1:${port}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${port}` },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toBe('/');
  const session = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { Cookie: session } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('Generate a link');
});

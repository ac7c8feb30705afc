/** The README's quickstart is run as written (ports aside) against the real service. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/default-config.js';
import { type RunningService, startService, tempDir, writeConfig } from './helpers/service-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
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
  const block = /<!-- quickstart:start -->\n```sh\n([\s\S]*?)```\n<!-- quickstart:end -->/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const script = block!.replaceAll('127.0.0.1:8080', `127.0.0.1:${service.ports.get('auth')}`);
  const output = await new Promise<string>((resolve, reject) =>
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const statuses = [...output.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  expect(statuses).toEqual([200, 403, 410, 200]);
  expect(output).toMatch(/X-Token-Status: expired/);
});

it('the README documents every registered scheme and exit code', async () => {
  const { schemes } = await import('../src/schemes/registry.js');
  const { ExitCode } = await import('../src/cli/exit-codes.js');
  for (const scheme of schemes) expect(readme).toContain(`### \`${scheme.id}\``);
  for (const code of Object.values(ExitCode)) expect(readme).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
});

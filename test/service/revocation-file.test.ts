/**
 * The embedded default store: revocations in a file beside the config, for one instance. What
 * `tokengate revoke` writes reaches a running service (every worker thread) within a second;
 * the list survives a restart; a file that stops being readable keeps the last list applying;
 * a route that gains `revocation` on reload opens the store then.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { formFor, header, listenerSources, rawRequest, sourcedRequest } from '../helpers/raw-http.js';
import { uwsLoads } from '../helpers/runtime.js';
import { cliPath, logLines, type RunningService, runCli, startService, tempDir, waitForLog } from '../helpers/service-process.js';
import { configIn, route, testConfig } from '../helpers/test-config.js';

const key = 'd4'.repeat(32);
const signer = hmacSigner({ keyId: 'k1', key });
const sign = (path: string, ttlSec = 600) => signer.sign({ path, expiresSec: Math.floor(Date.now() / 1000) + ttlSec }) as string;
const engine = uwsLoads ? 'uws' : 'node';
const started: RunningService[] = [];

function setup(revocation: unknown = { maxLifetimeSec: 3600 }) {
  return configIn(
    {},
    {
      engine,
      workers: engine === 'uws' ? 2 : 1,
      listeners: [{ port: 0, ...listenerSources(formFor(engine)) }],
      routes: [
        route('vod', '/vod/', 'hmac', [{ id: 'k1', env: 'K1' }], revocation === false ? {} : { revocation }),
        route('open', '/open/', 'hmac', [{ id: 'k1', env: 'K1' }]),
      ],
    },
  );
}

async function start(file: string) {
  const service = await startService(['serve', '--config', file], { K1: key });
  started.push(service);
  return service;
}

async function statuses(service: RunningService, url: string, count = 6): Promise<string> {
  const port = service.ports.get('auth')!;
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await rawRequest(port, sourcedRequest(formFor(engine), url, '192.0.2.1'));
      return `${response.status} ${header(response, 'x-token-status')}`;
    }),
  );
  return [...new Set(answers)].join();
}

const cli = (file: string, ...args: string[]) => runCli(['revoke', '--config', file, ...args], { K1: key });

afterAll(async () => {
  await Promise.all(started.map((service) => service.stop()));
});

describe(`the file store (${engine} engine, ${engine === 'uws' ? 2 : 1} worker(s))`, () => {
  it('says at start that it serves this instance only; `tokengate revoke` reaches every worker within a second; the list survives a restart', async () => {
    const { dir, file } = setup();
    let service = await start(file);
    await waitForLog(service, (line) => line.msg === 'revocations: store opened');
    expect(logLines(service.stderr()).find((line) => line.msg === 'revocations: store opened')).toMatchObject({
      store: 'file',
      where: join(dir, 'revocations.json'),
      scope: expect.stringMatching(/this instance only/),
    });
    const leaked = sign('/vod/a.mp4');
    const open = sign('/open/a.mp4');
    expect(await statuses(service, leaked)).toBe('200 valid');
    const made = await cli(file, '--link', leaked, '--note', 'leaked');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^revoked: fp-[A-Za-z0-9_-]{12} {2}fp {2}[A-Za-z0-9_-]{12} {2}route=vod {2}until=/);
    await expect.poll(() => statuses(service, leaked), { interval: 50, timeout: 1000 }).toBe('403 revoked');
    // The same fingerprint on a route without `revocation` means nothing there.
    expect(await statuses(service, open)).toBe('200 valid');
    // The file: private, versioned, the entry as the CLI printed it.
    expect(statSync(join(dir, 'revocations.json')).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(join(dir, 'revocations.json'), 'utf8'));
    expect(stored).toMatchObject({ tokengate: 'revocations', version: 1, revocations: [{ kind: 'fp', note: 'leaked' }] });
    // `verify` reads the same list.
    const verified = await runCli(['verify', '--config', file, leaked], { K1: key });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/^verdict: revoked\n/);
    await service.stop();
    service = await start(file);
    expect(await statuses(service, leaked)).toBe('403 revoked');
    // Removed by id: open again within a second.
    const listed = await cli(file, '--list', '--json');
    const [entry] = (JSON.parse(listed.stdout) as { revocations: { id: string }[] }).revocations;
    expect((await cli(file, '--remove', entry!.id)).stdout).toBe('removed 1 of 1\n');
    await expect.poll(() => statuses(service, leaked), { interval: 50, timeout: 1000 }).toBe('200 valid');
    expect((await cli(file, '--remove', entry!.id)).code).toBe(1);
  });

  it('the commands of docs/revocation.md run as written', async () => {
    const { file } = setup();
    const service = await start(file);
    const leaked = sign('/vod/film/a.mp4');
    const later = sign('/vod/other/a.mp4');
    const bin = join(tempDir(), 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tokengate'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`, { mode: 0o755 });
    const out = execFileSync('sh', ['-ec', docBlock('docs/revocation.md', 'revoke-cli')], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CONFIG: file, LINK: leaked, K1: key },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const [first, second, ...listed] = out.trimEnd().split('\n');
    expect(first).toMatch(/^revoked: fp-\S+ {2}fp .* note="posted on a forum"$/);
    expect(second).toMatch(/^revoked: prefix-\S+ {2}prefix {2}\/vod\/film\/ .* note="rights ended"$/);
    // --list: both, newest first (made in the same second: by id).
    expect(listed.map((line) => line.split(' ')[0]).sort()).toEqual([first!.split(' ')[1], second!.split(' ')[1]].sort());
    await expect.poll(() => statuses(service, leaked), { timeout: 2000 }).toBe('403 revoked');
    expect(await statuses(service, sign('/vod/film/b.mp4'))).toBe('403 revoked');
    expect(await statuses(service, later)).toBe('200 valid');
  });

  it('a file that cannot be read keeps the last list applying, and says so in a metric and the log', async () => {
    const { dir, file } = setup();
    const service = await start(file);
    const leaked = sign('/vod/b.mp4');
    expect((await cli(file, '--link', leaked)).code).toBe(0);
    await expect.poll(() => statuses(service, leaked), { timeout: 2000 }).toBe('403 revoked');
    writeFileSync(join(dir, 'revocations.json'), '{ not json');
    const metrics = () => fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`).then((r) => r.text());
    await expect.poll(metrics, { timeout: 5000 }).toMatch(/tokengate_state_store_up\{store="file"\} 0/);
    await waitForLog(
      service,
      (line) => line.msg.startsWith('revocations: store unreachable') && /not valid JSON/.test(String(line.reason)),
    );
    expect(await statuses(service, leaked)).toBe('403 revoked');
    // The CLI refuses to write over a file it cannot read.
    const refused = await cli(file, '--fp', 'AAAAAAAAAAAA');
    expect(refused.code).toBe(69);
    expect(refused.stderr).toMatch(/is not valid JSON/);
  });

  it('a route without `revocation` opens no store and writes no file; one that gains it on reload opens it then', async () => {
    const { dir, file } = setup(false);
    const service = await start(file);
    const url = sign('/vod/c.mp4');
    expect(await statuses(service, url)).toBe('200 valid');
    expect(
      logLines(service.stderr())
        .filter((line) => line.msg.startsWith('revocations'))
        .map((line) => line.msg),
    ).toEqual([]);
    const none = await cli(file, '--fp', 'AAAAAAAAAAAA');
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/no route of this config checks revocations/);
    const withRevocation = JSON.parse(readFileSync(file, 'utf8'));
    withRevocation.routes[0].revocation = { maxLifetimeSec: 3600 };
    writeFileSync(file, JSON.stringify(testConfig(withRevocation)));
    expect((await cli(file, '--link', url)).code).toBe(0);
    service.process.kill('SIGHUP');
    await waitForLog(service, (line) => line.msg === 'revocations: list loaded' && line.entries === 1);
    await expect.poll(() => statuses(service, url), { timeout: 5000 }).toBe('403 revoked');
    expect(statSync(join(dir, 'revocations.json')).isFile()).toBe(true);
  });
});

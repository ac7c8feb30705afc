/**
 * tokengate installed the ways the docs say, from a copy of this checkout (nothing here touches
 * the checkout the suite runs from, its node_modules or dist/):
 * - README's first command, `npm ci && npm start`, then docs/nginx.md "From zero to a protected
 *   directory" against it;
 * - the package: the npm lines of the systemd unit's install comment (`npm ci && npm pack`,
 *   `npm install -g --prefix /opt/tokengate ./tokengate-<version>.tgz`) into a temporary prefix,
 *   what the tarball holds, `tokengate --version`, `npx tokengate --help`, the unit accepted by
 *   `systemd-analyze verify` and its ExecStart serving;
 * - the TypeScript snippet of docs/formats/hmac.md compiled under `strict` against the installed
 *   package and run.
 * Path substitutions (a temporary prefix for /opt, /etc, /var/www; a free port for nginx's 80)
 * are the only changes to the documented commands; lines that change the machine itself
 * (`apt-get install`, `useradd`, `systemctl`) are not run and say so.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as h2Connect } from 'node:http2';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlock } from '../helpers/doc-blocks.js';
import { encodeCheckRequest, rawCheck } from '../helpers/envoy-wire.js';
import { freePort, nginxBinary, renderExampleConfig } from '../helpers/nginx.js';
import { authStatus } from '../helpers/raw-http.js';
import { startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const work = tempDir();
const checkout = join(work, 'checkout');
const sh = (script: string, cwd = checkout, env: Record<string, string> = {}) =>
  execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });

beforeAll(() => {
  // Tracked and new files, as a clean clone would have them (plus uncommitted edits).
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: repo,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(repo, file)));
  for (const file of files) cpSync(join(repo, file), join(checkout, file), { recursive: true });
});

// Each of these two stories is a user's steps in order (install, then use what was installed):
// `--sequence.shuffle` keeps their order (a shuffled run found them failing out of it).
describe('README quickstart and docs/nginx.md "From zero to a protected directory", in a fresh copy', { shuffle: false }, () => {
  let started: ChildProcess;
  let output = '';

  afterAll(() => {
    if (started?.pid !== undefined) process.kill(-started.pid, 'SIGTERM');
  });

  it('`npm ci && npm start` installs, builds and serves the embedded default config on 8080 and 9090', async () => {
    const command = docBlock('README.md', 'install-and-start').trim();
    expect(command).toBe('npm ci && npm start');
    // docs/nginx.md starts the same way, in the background.
    expect(docBlock('docs/nginx.md', 'from-zero').split('\n')[0]).toMatch(/^npm ci && npm start &\s+#/);
    started = spawn('bash', ['-c', command], { cwd: checkout, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout!.on('data', (chunk) => (output += chunk));
    started.stderr!.on('data', (chunk) => (output += chunk));
    await expect.poll(() => output, { timeout: 120_000, interval: 250 }).toMatch(/"listener":"admin".*"msg":"listening"/);
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/"port":8080.*"msg":"listening"/);
    expect((await fetch('http://127.0.0.1:9090/healthz')).status).toBe(200);
  }, 150_000);

  it('then nginx with nginx.example.conf serves a signed file and refuses the unsigned one', async () => {
    const script = docBlock('docs/nginx.md', 'from-zero').split('\n').slice(1).join('\n');
    const port = await freePort();
    const www = join(work, 'www');
    const prefix = join(work, 'nginx');
    mkdirSync(join(prefix, 'tmp'), { recursive: true });
    const conf = join(work, 'nginx.conf');
    // `sudo apt-get install -y nginx` is not run: test/install-test-deps.sh installed it.
    const adapted = script
      .replace(/^sudo apt-get install -y nginx\n/m, '')
      .replaceAll('sudo ', '')
      .replaceAll('/var/www/protected', www)
      .replace(
        'cp nginx.example.conf /etc/nginx/nginx.conf && nginx -t && nginx -s reload',
        `nginx -t -c ${conf} && nginx -c ${conf}`,
      )
      .replaceAll('http://localhost', `http://localhost:${port}`);
    expect(adapted).not.toMatch(/sudo|\/etc\/nginx|apt-get/);
    writeFileSync(
      conf,
      renderExampleConfig(
        { listenPort: port, tokengatePort: 8080, prefix, root: www },
        [],
        new URL(`file://${join(checkout, 'nginx.example.conf')}`),
      ),
    );
    execFileSync('chmod', ['755', work]);
    try {
      const out = sh(adapted.replaceAll('nginx -', `${nginxBinary()} -`), checkout);
      const answers = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      expect(answers).toEqual([200, 403]);
      expect(out).toMatch(/\r?\n\r?\nhello\n/);
    } finally {
      if (existsSync(join(prefix, 'nginx.pid'))) execFileSync(nginxBinary(), ['-c', conf, '-s', 'stop']);
    }
  }, 60_000);
});

describe('the package, installed as the systemd unit says', { shuffle: false }, () => {
  const unitPath = join(repo, 'deploy/systemd/tokengate.service');
  const unit = readFileSync(unitPath, 'utf8');
  const opt = join(work, 'opt', 'tokengate');
  const installComment = [...unit.matchAll(/^# {3}(.+)$/gm)].map((m) => m[1]!);
  let tarball = '';

  it('the install comment names this version; its npm lines pack and install the package', () => {
    expect(installComment.slice(0, 2)).toEqual([
      'npm ci && npm pack',
      `sudo npm install -g --prefix /opt/tokengate ./tokengate-${version}.tgz`,
    ]);
    // Not run: they change the machine (a system user, /etc/systemd, the running systemd).
    expect(installComment.slice(2).map((line) => line.split(' ')[1])).toEqual(['useradd', 'install', 'cp', 'systemctl']);
    sh(installComment[0]!);
    tarball = join(checkout, `tokengate-${version}.tgz`);
    expect(existsSync(tarball)).toBe(true);
    sh(installComment[1]!.replace('sudo ', '').replace('/opt/tokengate', opt), checkout, { npm_config_prefer_offline: 'true' });
    expect(existsSync(join(opt, 'bin', 'tokengate'))).toBe(true);
  }, 240_000);

  it('the tarball holds the built service, its docs and deploy kit, not the tests, the bench or the sources', () => {
    const files = sh(`tar -tzf ${tarball}`).split('\n').filter(Boolean);
    for (const needed of [
      'package/dist/cli/main.js',
      'package/dist/library/index.js',
      'package/dist/library/index.d.ts',
      'package/dist/proto/envoy/service/auth/v3/external_auth.proto',
      'package/dist/admin/assets/app.js',
      'package/README.md',
      'package/docs/configuration.md',
      'package/deploy/systemd/tokengate.service',
      'package/nginx.example.conf',
    ])
      expect(files).toContain(needed);
    expect(
      files.filter((file) => /^package\/(test|bench|src|node_modules|dist-bench)\//.test(file) || file.endsWith('.map')),
    ).toEqual([]);
  });

  it('`tokengate --version` and `npx tokengate --help` work from the installed package', () => {
    expect(execFileSync(join(opt, 'bin', 'tokengate'), ['--version'], { encoding: 'utf8' }).trim()).toBe(
      `tokengate ${version} (Node.js ${process.version})`,
    );
    const help = sh('npx --no-install tokengate --help', work, { npm_config_prefix: opt });
    expect(help).toMatch(/^Usage:\n {2}tokengate serve {2}\[--config FILE\]$/m);
  }, 30_000);

  it('systemd-analyze verify accepts the unit, its ExecStart serves, and its reload checks the config first', async () => {
    const etc = join(work, 'etc', 'tokengate');
    mkdirSync(join(etc, 'keys'), { recursive: true });
    const key = 'd4'.repeat(32);
    writeFileSync(join(etc, 'keys', 'vod'), key);
    writeConfig(
      etc,
      testConfig({
        listeners: [{ name: 'auth', port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
        routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: join(etc, 'keys', 'vod') }] }],
      }),
    );
    // The unit runs the host's Node as /usr/bin/node: here, the Node this run is for.
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node /m);
    const local = unit
      .replaceAll('/opt/tokengate', opt)
      .replaceAll('/etc/tokengate', etc)
      .replaceAll('=/usr/bin/node ', `=${process.execPath} `);
    const file = join(work, 'tokengate.service');
    writeFileSync(file, local);
    const check = spawn('systemd-analyze', ['verify', file]);
    let complaints = '';
    check.stderr.on('data', (chunk) => (complaints += chunk));
    expect(await new Promise((resolve) => check.once('exit', resolve))).toBe(0);
    expect(complaints).toBe('');
    const execStart = /^ExecStart=(\S+) (\S+) (.+)$/m.exec(local)!;
    expect(execStart[1]).toBe(process.execPath);
    const service = await startService(execStart[3]!.split(' '), {}, 2, execStart[2]!);
    try {
      // ExecReload: `check` (ok for this config, so the SIGHUP line runs next), then the signal.
      const reloads = [...local.matchAll(/^ExecReload=(.+)$/gm)].map((match) => match[1]!);
      expect(reloads).toHaveLength(2);
      expect(reloads[1]).toBe('/bin/kill -HUP $MAINPID');
      const [node, ...checkArgs] = reloads[0]!.split(' ');
      expect(checkArgs.slice(1, 2)).toEqual(['check']);
      expect(execFileSync(node!, checkArgs, { encoding: 'utf8' })).toMatch(/ is ok: 1 route\(s\)/);
      const { hmacSigner, expiresIn } = await import(join(opt, 'lib/node_modules/tokengate/dist/library/index.js'));
      const url = hmacSigner({ keyId: 'k', key }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(60) });
      expect(await authStatus(service.ports.get('auth')!, url, '192.0.2.1')).toBe(200);
    } finally {
      await service.stop();
    }
  }, 30_000);

  it('the TypeScript snippet of docs/formats/hmac.md compiles under strict against the package and signs a link', () => {
    const project = join(work, 'app');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    cpSync(join(opt, 'lib/node_modules/tokengate'), join(project, 'node_modules/tokengate'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(project, 'sign.ts'), docBlock('docs/formats/hmac.md', 'typescript'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          typeRoots: [join(repo, 'node_modules/@types')],
          types: ['node'],
          outDir: 'out',
        },
        files: ['sign.ts'],
      }),
    );
    sh(`${join(repo, 'node_modules/.bin/tsc')} -p tsconfig.json`, project);
    const url = sh(`node out/sign.js`, project, { TOKENGATE_KEY: 'e6'.repeat(32) }).trim();
    expect(url).toMatch(/^\/vod\/movie\/index\.m3u8\?tg=v1~k=2026-11~e=\d{10}~p=2~m=[\w-]{22}$/);
  }, 60_000);
});

describe('the container image, built step by step without a Docker engine', () => {
  it("the Dockerfile's build stage commands build, prune and leave a runnable service", async () => {
    const dockerfile = readFileSync(join(repo, 'deploy/docker/Dockerfile'), 'utf8');
    const [buildStage, finalStage] = dockerfile.split(/^FROM /m).slice(1) as [string, string];
    expect(buildStage).toMatch(/^node:24-bookworm-slim AS build$/m);
    // The image's Node: this run's when it is Node 24, else the Node 24 that `npm test` installs.
    const node = process.version.startsWith('v24.')
      ? process.execPath
      : (process.env.TOKENGATE_NODE24 ?? join(repo, '.node24/bin/node'));
    const path = `${dirname(node)}:${process.env.PATH}`;
    const image = join(work, 'image-build');
    mkdirSync(image);
    // COPY lines take files from the checkout; RUN lines run there, in order (the base image is
    // Debian 12, as this machine, with Node 24 first on PATH).
    for (const line of buildStage.split('\n')) {
      const copy = /^COPY (.+) (\S+)$/.exec(line);
      if (copy !== null) {
        // "COPY a b ./" puts each source in the work directory; "COPY src ./src" names the destination.
        const [sources, destination] = [copy[1]!.split(' '), copy[2]!];
        for (const source of sources) {
          const target = destination.endsWith('/') ? join(image, basename(source)) : join(image, destination);
          cpSync(join(checkout, source), target, { recursive: true });
        }
      }
      const run = /^RUN (.+)$/.exec(line);
      if (run !== null) sh(run[1]!, image, { npm_config_prefer_offline: 'true', PATH: path });
    }
    // The final stage copies package.json, node_modules and dist, and starts dist/cli/main.js.
    expect([...finalStage.matchAll(/^COPY --from=build \/src\/(\S+) /gm)].map((m) => m[1])).toEqual([
      'package.json',
      'node_modules',
      'dist',
    ]);
    expect(finalStage).toMatch(/^ENTRYPOINT \["node", "\/opt\/tokengate\/dist\/cli\/main\.js"\]$/m);
    const runtime = join(work, 'image-runtime');
    for (const part of ['package.json', 'node_modules', 'dist'])
      cpSync(join(image, part), join(runtime, part), { recursive: true });
    // Pruned: no dev dependency is left, and the service starts from the production tree alone.
    expect(existsSync(join(runtime, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(runtime, 'node_modules', 'vitest'))).toBe(false);
    // The Envoy gRPC listener is node:http2 and the service's own codec: no gRPC library ships.
    expect(existsSync(join(runtime, 'node_modules', '@grpc', 'grpc-js'))).toBe(false);
    expect(existsSync(join(runtime, 'node_modules', 'protobufjs'))).toBe(false);
    const config = writeConfig(
      work,
      testConfig({
        listeners: [
          { name: 'auth', port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' },
          { name: 'envoy', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address' },
        ],
        routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', publicDemoSecret: 'mysecret' }] }],
      }),
      'image-config.json',
    );
    const service = await startService(
      ['serve', '--config', config],
      { NODE_ENV: 'production' },
      3,
      join(runtime, 'dist/cli/main.js'),
      [],
      node,
    );
    try {
      expect(await authStatus(service.ports.get('auth')!, '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', '192.0.2.1')).toBe(
        410,
      );
      const session = h2Connect(`http://127.0.0.1:${service.ports.get('envoy')!}`);
      session.on('error', () => {});
      try {
        const check = encodeCheckRequest({
          method: 'GET',
          path: '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000',
          headers: { 'x-envoy-external-address': '192.0.2.1' },
        });
        expect(await rawCheck(session, check, 'whole', 5000)).toMatchObject({
          grpcStatus: '0',
          verdict: { code: 7, kind: 'denied', httpStatus: 410, headers: { 'x-token-status': 'expired' } },
        });
      } finally {
        session.close();
      }
    } finally {
      await service.stop();
    }
  }, 180_000);
});

/**
 * Readiness, graceful shutdown and reload under load, with one worker on the main thread and
 * with worker threads: nothing lost, nothing decided by a mix of configs, a removed key stops
 * verifying as soon as the reload is logged.
 *
 * Over 250 lines because each case needs a running service under load; they share its helpers.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { effectiveConfig } from '../../src/service/startup-log.js';
import { freePort } from '../helpers/nginx.js';
import {
  authStatus,
  formFor,
  header,
  listenerSources,
  RawConnection,
  rawRequest,
  type SourceForm,
  sourcedRequest,
} from '../helpers/raw-http.js';
import { uwsLoads, withEnginesHere } from '../helpers/runtime.js';
import {
  cliPath,
  logLines,
  type RunningService,
  runCli,
  startService,
  tempDir,
  writeConfig,
} from '../helpers/service-process.js';
import { configIn } from '../helpers/test-config.js';

const keys = { k1: '11'.repeat(32), k2: '22'.repeat(32) };
const sign = (id: 'k1' | 'k2', path: string) =>
  hmacSigner({ keyId: id, key: keys[id] }).sign({ path: path, expiresSec: expiresIn(600) });

/** A config with `workers` (more than one: the uws engine, the one that shares a port) and its request form. */
function setUp(workers: number, keyIds: readonly ('k1' | 'k2')[], extra: Record<string, unknown> = {}) {
  const dir = tempDir();
  for (const [id, key] of Object.entries(keys)) writeFileSync(join(dir, `${id}.hex`), key);
  const engine = (extra.engine as 'uws' | 'node' | undefined) ?? (workers > 1 ? 'uws' : 'node');
  const form = formFor(engine);
  const config = (ids: readonly string[]) => ({
    workers,
    engine,
    listeners: [{ port: 0, ...listenerSources(form) }],
    admin: { port: 0 },
    routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: ids.map((id) => ({ id, file: `${id}.hex` })) }],
    ...extra,
  });
  const file = writeConfig(dir, config(keyIds));
  return { dir, file, form, rewrite: (ids: readonly string[]) => writeConfig(dir, config(ids)) };
}

const readyz = async (service: RunningService) =>
  (await rawRequest(service.ports.get('admin')!, 'GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n')).status;

type Answer = { status: number; uri: string; atMs: number };

interface LoopResult {
  /** Requests written and their answers, in order, per connection. */
  readonly sent: number;
  readonly answers: Answer[];
  /** A request written on a connection the service had answered on, closed before its answer (a lost request). */
  readonly lost: number;
  /**
   * When a request written on a connection just opened found it closed before any answer: the
   * kernel had completed the handshake but the service had not accepted it when its listening
   * socket closed (the kernel resets what is still in that socket's accept queue). Never a
   * request the service accepted; at most once per client, whose next connect is refused.
   */
  readonly resetBeforeAcceptAtMs: number[];
}

/**
 * One client: keepalive requests one after another, a new connection whenever the service
 * closes one after an answer, until a connection is refused or `until()` says stop. `answers`
 * fills as they come (the caller may watch it).
 */
async function clientLoop(
  port: number,
  form: SourceForm,
  uris: readonly string[],
  until: () => boolean,
  answers: Answer[] = [],
): Promise<LoopResult> {
  const resetBeforeAcceptAtMs: number[] = [];
  let sent = 0;
  let lost = 0;
  let connection: RawConnection | undefined;
  for (let i = 0; !until(); i++) {
    let fresh = false;
    if (connection === undefined || connection.closed) {
      try {
        connection = await RawConnection.open(port);
        fresh = true;
      } catch {
        break; // refused: the service stopped accepting
      }
    }
    const uri = uris[i % uris.length]!;
    connection.write(sourcedRequest(form, uri, '192.0.2.1'));
    sent++;
    try {
      const response = await connection.read(10_000);
      answers.push({ status: response.status, uri, atMs: Date.now() });
      if (header(response, 'connection') === 'close') {
        // A client never reuses a connection announced as closing, however late the close arrives.
        connection.destroy();
        connection = undefined;
      }
    } catch {
      // Closed with our request unanswered: only an idle connection may be closed without one.
      if (fresh) resetBeforeAcceptAtMs.push(Date.now());
      else lost++;
      connection?.destroy();
      connection = undefined;
    }
  }
  connection?.destroy();
  return { sent, answers, lost, resetBeforeAcceptAtMs };
}

describe.each(
  withEnginesHere(
    [
      [1, 'uws'],
      [2, 'uws'],
      [1, 'node'],
    ] as const,
    ([, engine]) => engine,
  ),
)('lifecycle with %i worker(s), %s engine', (workers, engine) => {
  it('SIGTERM under load: /readyz fails first, every accepted request is answered, exit 0 within the bound', async () => {
    // 3 s: room for /readyz to turn 503 and for answers after it, all before the listeners close.
    const delayMs = 3000;
    const { file, form } = setUp(workers, ['k1'], { shutdownDelaySec: delayMs / 1000, engine });
    const service = await startService(['serve', '--config', file]);
    const port = service.ports.get('auth')!;
    expect(await readyz(service)).toBe(200);
    const uris = Array.from({ length: 20 }, (_, i) => sign('k1', `/vod/t-${i}.ts`));
    const watched = Array.from({ length: 8 }, (): Answer[] => []);
    const loops = watched.map((answers) => clientLoop(port, form, uris, () => false, answers));
    // Under load: every client has been answered before the signal.
    await expect.poll(() => watched.every((answers) => answers.length > 0)).toBe(true);
    const termAt = Date.now();
    service.process.kill('SIGTERM');
    // Within the delay: not ready, still answering (the poll ends 500 ms before the listeners close).
    await expect.poll(() => readyz(service), { timeout: delayMs - 500, interval: 20 }).toBe(503);
    const notReadyAt = Date.now();
    // 'close': the process has exited and its stderr is all read.
    const code = await new Promise<number | null>((resolve) => service.process.once('close', resolve));
    const exitAt = Date.now();
    const results = await Promise.all(loops);
    expect(code).toBe(0);
    expect(exitAt - termAt).toBeGreaterThanOrEqual(delayMs);
    // Exits by itself, well inside an orchestrator's grace period (Kubernetes: 30 s).
    expect(exitAt - termAt).toBeLessThan(delayMs + 10_000);
    const answers = results.flatMap((r) => r.answers);
    expect(results.reduce((sum, r) => sum + r.lost, 0)).toBe(0);
    // A connection reset before the service accepted it: only once its listeners close, after
    // the delay (with several workers each closes its own SO_REUSEPORT socket), once per client.
    for (const result of results) {
      expect(result.resetBeforeAcceptAtMs.length).toBeLessThanOrEqual(1);
      for (const atMs of result.resetBeforeAcceptAtMs) expect(atMs - termAt).toBeGreaterThanOrEqual(delayMs);
    }
    const resets = results.reduce((sum, r) => sum + r.resetBeforeAcceptAtMs.length, 0);
    expect(answers.length).toBe(results.reduce((sum, r) => sum + r.sent, 0) - resets);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    // Answers kept coming after /readyz turned 503 (the delay lets load balancers react).
    expect(answers.filter((a) => a.atMs > notReadyAt + 200).length).toBeGreaterThan(0);
    expect(service.stderr()).toMatch(/"msg":"draining: \/readyz answers 503"/);
    expect(service.stderr()).toMatch(/"msg":"stopped"/);
  });

  it('SIGHUP under load: k2 never fails, k1 stops at once after the reload and never comes back', async () => {
    const { file, form, rewrite } = setUp(workers, ['k1', 'k2'], { engine });
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      const uris = [sign('k1', '/vod/a.ts'), sign('k2', '/vod/b.ts')];
      let stop = false;
      const watched = Array.from({ length: 6 }, (): Answer[] => []);
      const loops = watched.map((answers) => clientLoop(port, form, uris, () => stop, answers));
      // Every client has had a k1 answer (its first request) under the old config.
      await expect.poll(() => watched.every((answers) => answers.length > 0)).toBe(true);
      rewrite(['k2']);
      service.process.kill('SIGHUP');
      await expect.poll(() => service.stderr(), { interval: 10 }).toMatch(/"msg":"config reloaded"/);
      const reloadedAt = Date.now();
      // Every client has had a k1 answer after the reload was logged.
      await expect
        .poll(() => watched.every((answers) => answers.some((a) => a.uri === uris[0] && a.atMs > reloadedAt)))
        .toBe(true);
      stop = true;
      const results = await Promise.all(loops);
      expect(results.reduce((sum, r) => sum + r.lost, 0)).toBe(0);
      // A reload closes no listener: no connection is reset before it is accepted.
      expect(results.flatMap((r) => r.resetBeforeAcceptAtMs)).toEqual([]);
      for (const { answers } of results) {
        const k1 = answers.filter((a) => a.uri === uris[0]);
        const k2 = answers.filter((a) => a.uri === uris[1]);
        expect(new Set(k2.map((a) => a.status))).toEqual(new Set([200]));
        // Old config then new config, never back: 200…200 403…403 on every connection.
        const firstDenied = k1.findIndex((a) => a.status === 403);
        expect(firstDenied).toBeGreaterThan(0);
        expect(k1.slice(0, firstDenied).every((a) => a.status === 200)).toBe(true);
        expect(k1.slice(firstDenied).every((a) => a.status === 403)).toBe(true);
        // Logged means done: every k1 answer after the log line is a denial.
        expect(k1.filter((a) => a.atMs > reloadedAt && a.status !== 403)).toEqual([]);
      }
      expect(service.stderr()).toMatch(new RegExp(`"workers":${workers}.*"msg":"config reloaded"`));
    } finally {
      await service.stop();
    }
  });
});

describe('reload and start refusals', () => {
  /** Two uws workers (a reload reaches every thread) where uWS loads, the node engine elsewhere. */
  const reloadWorkers = uwsLoads ? 2 : 1;
  it('a broken or deleted config on SIGHUP is rejected with its reason and the old one keeps serving', async () => {
    const { file, form } = setUp(reloadWorkers, ['k1']);
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      const ask = () => authStatus(port, sign('k1', '/vod/x.ts'), '192.0.2.1', form);
      writeFileSync(file, '{"listeners": [');
      service.process.kill('SIGHUP');
      await expect.poll(() => service.stderr()).toMatch(/not valid JSON.*config reload rejected/);
      expect(await ask()).toBe(200);
      // A key file where the config belongs: the reload log names the problem, never the bytes.
      writeFileSync(file, 'cfbae06f6c5d2a1b9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d\n');
      service.process.kill('SIGHUP');
      await expect.poll(() => service.stderr().match(/config reload rejected/g)?.length).toBe(2);
      expect(service.stderr()).not.toMatch(/cfbae|"cf|'c'/);
      expect(await readyz(service)).toBe(200);
      rmSync(file);
      service.process.kill('SIGHUP');
      await expect.poll(() => service.stderr()).toMatch(/cannot read config file \(ENOENT\).*config reload rejected/);
      expect(await ask()).toBe(200);
      expect(await readyz(service)).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('"reloadOnChange": an edited config file, then a key file it added, are reloaded without a signal', async () => {
    const { dir, file, form, rewrite } = setUp(reloadWorkers, ['k1'], { reloadOnChange: true });
    const service = await startService(['serve', '--config', file]);
    try {
      const port = service.ports.get('auth')!;
      const ask = (uri: string) => authStatus(port, uri, '192.0.2.1', form);
      expect(await ask(sign('k2', '/vod/a.ts'))).toBe(403);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // a different mtime second
      rewrite(['k2']);
      // The watch stats every 2 s.
      await expect.poll(() => service.stderr(), { interval: 50 }).toMatch(/"msg":"config reloaded"/);
      expect(service.stderr()).toMatch(/"msg":"config or key file changed; reloading"/);
      expect(await ask(sign('k2', '/vod/a.ts'))).toBe(200);
      expect(await ask(sign('k1', '/vod/a.ts'))).toBe(403);
      // k2.hex was not read at start: the reload that added it also watches it from then on.
      const tokenOfOldK2 = sign('k2', '/vod/b.ts');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      writeFileSync(join(dir, 'k2.hex'), '33'.repeat(32));
      await expect.poll(() => service.stderr().match(/"msg":"config reloaded"/g)?.length, { interval: 50 }).toBe(2);
      expect(await ask(tokenOfOldK2)).toBe(403);
    } finally {
      await service.stop();
    }
  });

  it('an invalid TOKENGATE_LOG_LEVEL is refused at start with the valid levels (exit 64)', async () => {
    const { file } = setUp(1, ['k1']);
    const result = await runCli(['serve', '--config', file], { TOKENGATE_LOG_LEVEL: 'verbose' });
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(
      /TOKENGATE_LOG_LEVEL must be one of debug, info, warn, error, fatal, silent \(its value is not shown/,
    );
    expect(result.stderr).not.toContain('verbose');
  });

  it('logs JSON lines with the effective config at start, and nothing below the configured level', async () => {
    const adminPort = await freePort();
    const { file } = setUp(1, ['k1'], { admin: { port: adminPort } });
    // With "warn" not even the "listening" lines are written: start, wait until /readyz answers 200 (set once the signal handlers are)
    // (bounded: a busy machine starts slowly, and a SIGTERM before the handlers would kill it), stop, look.
    const quiet = spawn(process.execPath, [cliPath, 'serve', '--config', file], {
      env: { ...process.env, TOKENGATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let quietLog = '';
    quiet.stderr!.on('data', (chunk: Buffer) => {
      quietLog += chunk.toString();
    });
    const healthy = () =>
      fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
    await expect.poll(healthy, { timeout: 20_000 }).toBe(true);
    quiet.kill('SIGTERM');
    // 'close': exited, and its stderr all read.
    expect(await new Promise((resolve) => quiet.once('close', resolve))).toBe(0);
    expect(quietLog).toBe('');
    const service = await startService(['serve', '--config', file]);
    await service.stop();
    const lines = logLines(service.stderr());
    const loaded = lines.find((line) => line.msg === 'config loaded')!;
    expect(loaded.level).toBe('info');
    expect(loaded.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(loaded.engine).toBe('node');
    expect(JSON.stringify(loaded.config)).toContain('"file":"k1.hex"');
    expect(service.stderr()).not.toContain(keys.k1);
  });

  it('the start line says the signing access token in the words of the config (docs/signing.md): randomToken, tokenFile', async () => {
    // The embedded default config (what `npm start` logs; not started here: its ports are fixed).
    const demo = JSON.parse(JSON.stringify(effectiveConfig(loadConfig(undefined)))) as { signing: unknown };
    expect(demo.signing).toEqual({ randomToken: true });
    const { file } = configIn(
      { 'signing.token': 'lifecycle-signing-token-0123456789\n', 'k.hex': 'c7'.repeat(32) },
      {
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        signing: { tokenFile: 'signing.token' },
        routes: [{ prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'k.hex' }] }],
      },
    );
    const own = await startService(['serve', '--config', file]);
    await own.stop();
    const ownLoaded = logLines(own.stderr()).find((line) => line.msg === 'config loaded')!;
    expect((ownLoaded.config as { signing: { tokenFile: string } }).signing.tokenFile).toBe('signing.token');
    expect(own.stderr()).not.toContain('lifecycle-signing-token-0123456789');
  });
});

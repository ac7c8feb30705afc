import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const cliPath = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** How long startService waits for every listener (below the 30 s hook timeout). */
const startLimitMs = 20_000;

export interface RunningService {
  readonly process: ChildProcess;
  /** Listener name → bound port (configs use port 0, the kernel picks). */
  readonly ports: ReadonlyMap<string, number>;
  /** Everything written to stderr so far (JSON log lines). */
  stderr(): string;
  /** Sends `signal` (SIGTERM) and resolves with the exit code once the process has exited and its output is all read. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tokengate-test-'));
}

export function writeConfig(dir: string, config: unknown, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Starts the built service (`dist/`) as a real process and waits until every listener listens. */
export function startService(
  args: string[],
  env: Record<string, string> = {},
  expectedListeners = 2,
  cli = cliPath,
  /** A command that execs the rest, e.g. ["taskset", "-c", "0"]. */
  prefix: readonly string[] = [],
  /** The Node binary (default: the one running the tests). */
  node: string = process.execPath,
): Promise<RunningService> {
  const command = [...prefix, node, cli, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const ports = new Map<string, number>();
  // 'close', not 'exit': Node may emit 'exit' before the stdio pipes are drained, so the last lines could be missing.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    // Measured 2 s for two uws workers on a busy 2-core machine; the limit only excludes "never starts".
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within ${startLimitMs / 1000} s:\n${stderr}`));
    }, startLimitMs);
    child.stderr!.setEncoding('utf8');
    let pending = '';
    let settled = false;
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg: string; listener?: string; port?: number };
        if (entry.msg === 'listening' && entry.listener !== undefined) ports.set(entry.listener, entry.port!);
      }
      if (settled) return;
      if (ports.size > expectedListeners) {
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(
          new Error(
            `the service opened ${ports.size} listeners, more than the ${expectedListeners} expected: pass expectedListeners`,
          ),
        );
        return;
      }
      if (ports.size === expectedListeners) {
        settled = true;
        clearTimeout(timer);
        resolve({
          process: child,
          ports,
          stderr: () => stderr,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening:\n${stderr}`));
    });
  });
}

/** Runs the CLI to completion. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cli = cliPath,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // 'close' comes after the output is drained ('exit' may come before).
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export type LogLine = { level: string; msg: string; [field: string]: unknown };

/** The complete JSON log lines in a service's stderr, parsed (a line still arriving is left out). */
export function logLines(stderr: string): LogLine[] {
  return stderr
    .slice(0, stderr.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * Waits (bounded) until the service has logged a line matching `predicate` and returns the first
 * one: lines are written after the answer and collected from another pipe, so they can come late.
 */
export async function waitForLog(
  service: Pick<RunningService, 'stderr'>,
  predicate: (line: LogLine) => boolean,
  timeoutMs = 10_000,
): Promise<LogLine> {
  await expect
    .poll(() => logLines(service.stderr()).some(predicate), { timeout: timeoutMs, message: 'a matching log line' })
    .toBe(true);
  return logLines(service.stderr()).find(predicate)!;
}

/**
 * The service as `npm start` runs it: the embedded default config, but on ports the kernel picks
 * (the documented 8080 and 9090 may be taken), with the access token it printed for this run.
 */
export async function startDefaultService(): Promise<{ service: RunningService; admin: number; auth: number; token: string }> {
  const { defaultConfig } = await import('../../src/config/default-config.js');
  const file = writeConfig(tempDir(), {
    ...defaultConfig,
    listeners: defaultConfig.listeners.map((listener) => ({ ...listener, port: 0 })),
    admin: { ...defaultConfig.admin, port: 0 },
  });
  const service = await startService(['serve', '--config', file]);
  const printed = /Access token \(made for this run, never logged\): (\S+)/;
  // Printed right after the listening lines (a loop, not expect.poll: this also runs in beforeAll).
  for (let waited = 0; !printed.test(service.stderr()); waited += 50) {
    if (waited > 10_000) throw new Error(`the service printed no access token:\n${service.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    service,
    admin: service.ports.get('admin')!,
    auth: service.ports.get('auth')!,
    token: printed.exec(service.stderr())![1]!,
  };
}

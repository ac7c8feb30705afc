import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface RunningService {
  readonly process: ChildProcess;
  /** Listener name → bound port (configs use port 0, the kernel picks). */
  readonly ports: ReadonlyMap<string, number>;
  /** Everything written to stderr so far (JSON log lines). */
  stderr(): string;
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within 5 s:\n${stderr}`));
    }, 5000);
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
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON log lines in a service's stderr, parsed. */
export function logLines(stderr: string): { level: string; msg: string; [field: string]: unknown }[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: string; msg: string; [field: string]: unknown });
}

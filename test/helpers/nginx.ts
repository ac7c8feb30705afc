import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { claimPort } from '../../src/service/claim-port.js';

/** The Debian nginx binary; the suite needs the real one (test/install-test-deps.sh installs it). */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(candidate)) return candidate;
  throw new Error('nginx is not installed: run "sh test/install-test-deps.sh" (apt-get install nginx)');
}

export const exampleConfigPath = new URL('../../nginx.example.conf', import.meta.url);

/** Replaces `from` with `to`, failing loudly when the template no longer has exactly one `from`. */
function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`expected exactly one ${JSON.stringify(from)} in the nginx template, found ${count}`);
  return text.replace(from, to);
}

export interface NginxPaths {
  readonly listenPort: number;
  readonly tokengatePort: number;
  /** Directory for pid, logs, temp files and caches (made world-traversable for the workers). */
  readonly prefix: string;
  /** The static origin's document root. */
  readonly root: string;
  /**
   * Keep the example's error_log level ("crit", which keeps tokens out of the log). By default
   * tests log at NGINX_LOG_LEVEL or "info", so they can read what nginx complains about.
   */
  readonly shippedErrorLogLevel?: boolean;
}

/**
 * nginx.example.conf with test ports and paths and nothing else changed, plus the optional
 * `#[name] ` lines of the named options switched on.
 */
export function renderExampleConfig(
  paths: NginxPaths,
  options: readonly string[] = [],
  template: string | URL = exampleConfigPath,
): string {
  let text = readFileSync(template, 'utf8');
  text = replaceOnce(text, 'listen 80;', `listen 127.0.0.1:${paths.listenPort};`);
  text = replaceOnce(text, 'server 127.0.0.1:8080;', `server 127.0.0.1:${paths.tokengatePort};`);
  text = replaceOnce(text, 'root /var/www/protected;', `root ${paths.root};`);
  text = replaceOnce(text, '/var/cache/nginx/tokengate', join(paths.prefix, 'cache'));
  text = replaceOnce(
    text,
    'access_log /var/log/nginx/access.log tokengate;',
    `access_log ${join(paths.prefix, 'tokengate-access.log')} tokengate;`,
  );
  const level = paths.shippedErrorLogLevel === true ? 'crit' : (process.env.NGINX_LOG_LEVEL ?? 'info');
  text = replaceOnce(text, 'error_log /var/log/nginx/error.log crit;', `error_log ${join(paths.prefix, 'error.log')} ${level};`);
  for (const option of options) {
    const marker = `#[${option}] `;
    if (!text.includes(marker)) throw new Error(`nginx template has no option ${option}`);
    text = text.replaceAll(marker, '');
  }
  return withTestPaths(text, paths.prefix);
}

/** Points pid, logs and temp files at the test prefix, so tests never touch /var. */
export function withTestPaths(text: string, prefix: string): string {
  const temp = (name: string) => `${name}_temp_path ${join(prefix, 'tmp', name)};`;
  const head = `pid ${join(prefix, 'nginx.pid')};\nerror_log ${join(prefix, 'error.log')} ${process.env.NGINX_LOG_LEVEL ?? 'info'};\n`;
  const http = [
    // The example has its own access_log (the tokengate format); other configs log here.
    ...(/^\s*access_log /m.test(text) ? [] : [`access_log ${join(prefix, 'access.log')};`]),
    temp('client_body'),
    temp('proxy'),
    temp('fastcgi'),
    temp('uwsgi'),
    temp('scgi'),
  ].join('\n    ');
  return head + replaceOnce(text, 'http {\n', `http {\n    ${http}\n`);
}

export interface RunningNginx {
  readonly port: number;
  readonly prefix: string;
  errorLog(): string;
  stop(): Promise<void>;
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** Writes the config into `prefix`, checks it with `nginx -t`, and runs nginx in the foreground. */
export async function startNginx(config: string, prefix: string, port: number): Promise<RunningNginx> {
  const binary = nginxBinary();
  // nginx creates the temp and cache directories itself, owned by its worker user.
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  chmodSync(prefix, 0o755);
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, config);
  try {
    execFileSync(binary, ['-t', '-q', '-p', prefix, '-c', file], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`nginx -t refused ${file}: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`);
  }
  const child: ChildProcess = spawn(binary, ['-p', prefix, '-c', file, '-g', 'daemon off;'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, 5000);
  return {
    port,
    prefix,
    errorLog: () => readFileSync(join(prefix, 'error.log'), 'utf8'),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A free loopback port (the kernel picks it; bound once without SO_REUSEPORT, then released). */
export function freePort(): Promise<number> {
  return claimPort('127.0.0.1', 0);
}

/** TCP sockets on this host with `port` at either end (any state but LISTEN), from /proc/net/tcp. */
export function socketsOnPort(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[3] !== '0A' && (f[1]!.endsWith(`:${hex}`) || f[2]!.endsWith(`:${hex}`))).length;
}

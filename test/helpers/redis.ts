/**
 * A real redis-server (Debian's) for the state tests: on a free loopback port, in a directory of
 * its own, with an append-only file fsynced on every write (what docs/operations.md asks of a
 * production Redis: a restart loses nothing acknowledged). Nothing is shared with other runs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './nginx.js';
import { tempDir } from './service-process.js';

export interface RunningRedis {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  /** SIGKILL (a crash), resolved once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (its append-only file reloads). */
  restart(): Promise<void>;
  /** Runs redis-cli against it; resolves with its output. */
  cli(...args: string[]): Promise<string>;
}

/** redis-server on `port` in `dir`, with an append-only file fsynced on every write; `extra` arguments win (given last). */
function launch(
  port: number,
  dir: string,
  aclFile: string | undefined,
  extra: readonly string[] = [],
  cliArgs: readonly string[] = [],
): Promise<ChildProcess> {
  return serve(
    port,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...(aclFile === undefined ? [] : ['--aclfile', aclFile]),
      ...extra,
    ],
    cliArgs,
  );
}

/** Starts redis-server with `args` and resolves once it answers PING on `port` (redis-cli with `cliArgs`). */
function serve(port: number, args: readonly string[], cliArgs: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start within 10 s:\n${output}`));
    }, 10_000);
    const ready = async () => {
      // Ready once it answers PING (the log's wording varies between versions).
      for (let i = 0; i < 200; i++) {
        if ((await run(port, [...cliArgs, 'PING']).catch(() => '')).trim() === 'PONG') {
          clearTimeout(timer);
          return resolve(child);
        }
        await new Promise((r) => setTimeout(r, 50));
        if (child.exitCode !== null) break;
      }
      clearTimeout(timer);
      reject(new Error(`redis-server exited or never answered:\n${output}`));
    };
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    void ready();
  });
}

function run(port: number, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`redis-cli ${args[0]} exited ${code}: ${out}`));
    });
  });
}

/** `users`: ACL file lines (`user NAME on >PASSWORD ~keys &channels +commands`) besides the default user's. */
export async function startRedis(users: readonly string[] = []): Promise<RunningRedis> {
  const dir = tempDir();
  const port = await freePort();
  let aclFile: string | undefined;
  if (users.length > 0) {
    aclFile = join(dir, 'users.acl');
    writeFileSync(aclFile, `${['user default on nopass ~* &* +@all', ...users].join('\n')}\n`);
  }
  let child = await launch(port, dir, aclFile);
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    restart: async () => {
      child = await launch(port, dir, aclFile);
    },
    cli: (...args) => run(port, args),
  };
}

/** A process to stop at the end of a test. */
export interface RedisProcess {
  readonly port: number;
  kill(): Promise<void>;
}

function handle(child: ChildProcess, port: number): RedisProcess {
  return {
    port,
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** One Sentinel (`redis-server --sentinel`) monitoring `master` as `name`, quorum 1. */
export async function startSentinel(master: RunningRedis, name: string): Promise<RedisProcess> {
  const dir = tempDir();
  const port = await freePort();
  const config = join(dir, 'sentinel.conf');
  writeFileSync(config, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${master.port} 1\n`);
  const child = await serve(port, [config, '--sentinel']);
  // Ready once it names the master.
  for (let i = 0; i < 100; i++) {
    if ((await run(port, ['SENTINEL', 'get-master-addr-by-name', name]).catch(() => '')).includes(String(master.port))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return handle(child, port);
}

/** A Redis Cluster of `size` masters (no replicas), ready once every slot is served. */
export async function startCluster(size = 3): Promise<RedisProcess[]> {
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < size; i++) {
    const port = await freePort();
    const child = await launch(port, tempDir(), undefined, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    nodes.push(handle(child, port));
  }
  // Joining waits for the nodes to gossip (about a second a round, longer on a busy machine).
  const create = ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'];
  await run(nodes[0]!.port, create, 60_000);
  for (let i = 0; i < 600; i++) {
    const states = await Promise.all(nodes.map((n) => run(n.port, ['CLUSTER', 'INFO']).catch(() => '')));
    if (states.every((state) => state.includes('cluster_state:ok'))) return nodes;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the cluster did not come up within 30 s');
}

/**
 * A Redis that speaks only TLS, with a certificate for 127.0.0.1 from a CA of its own (openssl);
 * `caFile` is that CA, for the client to trust.
 */
export async function startTlsRedis(): Promise<RedisProcess & { readonly caFile: string }> {
  const dir = tempDir();
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=tokengate test CA',
  );
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  const port = await freePort();
  // The plain port off (the later --port wins), the TLS port on.
  const tls = ['--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no'];
  const files = ['--tls-cert-file', at('server.pem'), '--tls-key-file', at('server.key'), '--tls-ca-cert-file', at('ca.pem')];
  const child = await launch(port, dir, undefined, [...tls, ...files], ['--tls', '--cacert', at('ca.pem')]);
  return { ...handle(child, port), caFile: at('ca.pem') };
}

/** redis-cli against any node of these tests (a Cluster's, a Sentinel's master). */
export function redisCli(port: number, ...args: string[]): Promise<string> {
  return run(port, args);
}

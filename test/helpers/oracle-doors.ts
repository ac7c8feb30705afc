/**
 * The origin oracle's doors: real nginx with nginx.example.conf (test ports and paths only, and
 * some of its optional "#[name]" lines) or real Caddy with deploy/caddy/Caddyfile, in front of
 * a tokengate started for the door, serving the oracle's origin.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/default-config.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load-config.js';
import { freePort, renderExampleConfig, startNginx } from './nginx.js';
import type { Origin } from './oracle-origin.js';
import { type EngineName, type GateName, type OracleRoute, oracleConfig, routesOf } from './oracle-routes.js';
import { startServletOrigin } from './oracle-servlet-origin.js';
import { listenerSources } from './raw-http.js';
import { startService, writeConfig } from './service-process.js';

export interface DoorSpec {
  readonly name: string;
  readonly proxy: 'nginx' | 'caddy';
  readonly engine: EngineName;
  readonly gate: GateName;
  /** Where tokengate reads the original request: nginx's headers, nginx's auth target, Caddy's forward_auth headers. */
  readonly listener: 'headers' | 'target' | 'caddy';
  /** "files": the proxy serves the origin's files itself; "servlet": nginx proxies to a servlet-style origin. */
  readonly origin: 'files' | 'servlet';
  /** nginx.example.conf's optional lines switched on. */
  readonly nginxOptions: readonly string[];
}

export interface RunningDoor {
  readonly spec: DoorSpec;
  readonly port: number;
  readonly routes: readonly OracleRoute[];
  /** The door's tokengate config, loaded as the signers load it. */
  readonly loaded: LoadedConfig;
  stop(): Promise<void>;
}

/** A shipped listener's sources (the headers it reads), on a port of the kernel's choosing. */
function shipped(listener: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { name: _name, host: _host, port: _port, ...sources } = listener;
  return { name: 'auth', port: 0, ...sources };
}

const caddyConfig = JSON.parse(readFileSync(new URL('../../deploy/caddy/tokengate.json', import.meta.url), 'utf8'));
/** What each door's tokengate reads: the embedded default config's listener (nginx.example.conf's headers), the target form, deploy/caddy's. */
const listeners = {
  headers: shipped(defaultConfig.listeners[0]!),
  target: { name: 'auth', port: 0, ...listenerSources('target'), methodHeader: 'X-Original-Method' },
  caddy: shipped(caddyConfig.listeners[0]),
};

/** Replaces every `from` with `to`, failing loudly unless the text has exactly `count` of them. */
function replaceCount(text: string, from: string, to: string, count: number, file: string): string {
  const found = text.split(from).length - 1;
  if (found !== count) throw new Error(`expected ${count} × ${JSON.stringify(from)} in ${file}, found ${found}`);
  return text.replaceAll(from, to);
}

function startCaddy(dir: string, listenPort: number, tokengatePort: number, root: string) {
  const file = 'deploy/caddy/Caddyfile';
  let text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  text = replaceCount(text, ':8000 {', `:${listenPort} {\n\tbind 127.0.0.1`, 1, file);
  text = replaceCount(text, '127.0.0.1:8080', `127.0.0.1:${tokengatePort}`, 1, file);
  text = replaceCount(text, '/var/www/protected', root, 1, file);
  const home = join(dir, 'caddy');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'Caddyfile'), text);
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home };
  const child: ChildProcess = spawn('caddy', ['run', '--config', join(home, 'Caddyfile'), '--adapter', 'caddyfile'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<() => Promise<void>>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = () =>
      fetch(`http://127.0.0.1:${listenPort}/`).then(
        () =>
          resolve(() => {
            child.kill('SIGTERM');
            return exited;
          }),
        () => (Date.now() > deadline ? reject(new Error(`caddy did not start:\n${log}`)) : setTimeout(poll, 50)),
      );
    child.once('exit', (code) => reject(new Error(`caddy exited with ${code}:\n${log}`)));
    poll();
  });
}

/** Starts tokengate, the proxy and (for "servlet") the origin server of one door. */
export async function startDoor(spec: DoorSpec, dir: string, origin: Origin, keys: Record<string, string>): Promise<RunningDoor> {
  const home = join(dir, spec.name.replace(/[^A-Za-z0-9]+/g, '-'));
  mkdirSync(home, { recursive: true });
  const file = writeConfig(home, oracleConfig(spec.engine, spec.gate, [listeners[spec.listener]], keys));
  const loaded = loadConfig(file, { ...process.env, ...keys });
  const service = await startService(['serve', '--config', file], keys);
  const tokengatePort = service.ports.get('auth')!;
  const stops: (() => Promise<unknown>)[] = [() => service.stop()];
  try {
    const port = await freePort();
    if (spec.proxy === 'caddy') {
      stops.push(await startCaddy(home, port, tokengatePort, origin.root));
    } else {
      const prefix = join(home, 'nginx');
      let config = renderExampleConfig(
        { listenPort: port, tokengatePort, prefix, root: origin.root, shippedErrorLogLevel: true },
        spec.nginxOptions,
      );
      if (spec.origin === 'servlet') {
        const servlet = await startServletOrigin(origin);
        stops.push(servlet.stop);
        // Each protected location proxies to the application server instead of serving the root.
        const auth = '            auth_request /.tokengate-auth;\n';
        config = replaceCount(
          config,
          auth,
          `${auth}            proxy_pass http://127.0.0.1:${servlet.port};\n`,
          3,
          'nginx.example.conf',
        );
      }
      execFileSync('chmod', ['-R', 'a+rX', dir]); // nginx's workers run unprivileged
      const nginx = await startNginx(config, prefix, port);
      stops.push(() => nginx.stop());
    }
    return {
      spec,
      port,
      routes: routesOf(spec.engine, spec.gate),
      loaded,
      stop: async () => {
        await Promise.all(stops.map((stop) => stop()));
      },
    };
  } catch (error) {
    await Promise.all(stops.map((stop) => stop()));
    throw error;
  }
}

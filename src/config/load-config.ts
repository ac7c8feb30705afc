import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Gate } from '../decision/authorize.js';
import { type CompiledRoute, compileGate, type ThreadState } from './compile-gate.js';
import type { Config, RouteConfig } from './config.js';
import { ConfigError } from './config-error.js';
import { defaultConfig } from './default-config.js';
import { jsonErrorPlace } from './json-error-place.js';
import { type KeyEnvironment, loadSecret } from './load-keys.js';
import { parseConfig } from './parse-config.js';
import { isLoopbackHost } from './parse-signing.js';

export interface LoadedConfig {
  readonly config: Config;
  readonly gate: Gate<CompiledRoute>;
  /** The compiled routes in config order. */
  readonly routes: readonly CompiledRoute[];
  readonly warnings: readonly string[];
  /** Some route uses a published demo secret: `serve` prints a banner. */
  readonly demoSecrets: boolean;
  /** The file it came from, or "embedded default". */
  readonly source: string;
  /** Where relative paths in it start: the config file's directory (the working directory for the embedded default). */
  readonly baseDir: string;
  /** SHA-256 (hex) of the config text; keys live in files or the environment, never in it. */
  readonly digest: string;
  /** The signing access token from `signing.tokenFile` or `tokenEnv`; undefined otherwise (random or off). */
  readonly signingToken: string | undefined;
}

/** Every file a load read (config and key files), as bytes: what worker threads compile from. */
export type ConfigFiles = ReadonlyMap<string, Uint8Array>;

/** A file reader that records what it read, for `snapshotReader` in the worker threads. */
export function recordingReader(): { read(path: string): Buffer; readonly files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    read(path) {
      const bytes = readFileSync(path);
      files.set(path, bytes);
      return bytes;
    },
  };
}

/** Reads only from a recorded snapshot: every thread compiles the very bytes the main thread read. */
export function snapshotReader(files: ConfigFiles): (path: string) => Buffer {
  return (path) => {
    const bytes = files.get(path);
    if (bytes === undefined) throw Object.assign(new Error(`${path} is not in the config snapshot`), { code: 'ENOENT' });
    return Buffer.from(bytes);
  };
}

/**
 * The signing access token: 16 to 256 printable ASCII characters (it is typed into a login form
 * and sent in an Authorization header). Never in a problem's text.
 */
function loadSigningToken(config: Config, where: KeyEnvironment): string | undefined | { problems: string[] } {
  const source = config.signing?.token;
  if (source === undefined || source === 'random') return undefined;
  const loaded = loadSecret({ id: 'signing', ...source }, where);
  if (typeof loaded === 'string') return { problems: [`signing: ${loaded}`] };
  const token = loaded.toString('latin1');
  if (!/^[\x21-\x7e]{16,256}$/.test(token)) {
    return { problems: ['signing: the access token must be 16 to 256 printable ASCII characters without spaces'] };
  }
  return token;
}

/**
 * Reads, validates and compiles a config (the embedded default when `file` is undefined).
 * Throws a ConfigError listing every problem; never returns a partial config.
 */
export function loadConfig(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  readFile: (path: string) => Buffer = readFileSync,
  only?: (route: RouteConfig) => boolean,
  thread?: ThreadState,
): LoadedConfig {
  let raw: unknown = defaultConfig;
  let text = JSON.stringify(defaultConfig);
  const source = file === undefined ? 'embedded default config' : resolve(file);
  if (file !== undefined) {
    try {
      text = readFile(source).toString('utf8');
    } catch (error) {
      throw new ConfigError(source, [`cannot read config file (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    if (text.trim() === '') throw new ConfigError(source, ['the config file is empty']);
    try {
      raw = JSON.parse(text);
    } catch {
      // Never JSON.parse's message: it quotes the text around the error.
      throw new ConfigError(source, [`not valid JSON${jsonErrorPlace(text)}`]);
    }
  }
  const config = parseConfig(raw);
  if (Array.isArray(config)) throw new ConfigError(source, config);
  const baseDir = file === undefined ? process.cwd() : dirname(source);
  const compiled = compileGate(config, { baseDir, env, readFile }, only, thread);
  // A signer for some routes (`only`) reads none of the other secrets, the API's token included.
  const signingToken = only === undefined ? loadSigningToken(config, { baseDir, env, readFile }) : undefined;
  const problems = [...compiled.problems, ...(typeof signingToken === 'object' ? signingToken.problems : [])];
  if (problems.length > 0) throw new ConfigError(source, problems);
  return {
    config,
    gate: compiled.gate,
    routes: compiled.routes,
    warnings: isLoopbackHost(config.admin.host)
      ? compiled.warnings
      : [
          ...compiled.warnings,
          `admin listener on ${config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host}:${config.admin.port}: /metrics, /healthz and /readyz answer anyone who reaches it, without authentication; keep that port on a private network (firewall, Kubernetes NetworkPolicy)`,
        ],
    demoSecrets: compiled.demoSecrets,
    source,
    baseDir,
    digest: hash('sha256', text, 'hex'),
    signingToken: typeof signingToken === 'string' ? signingToken : undefined,
  };
}

import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Gate } from '../decision/authorize.js';
import { type CompiledRoute, compileGate, type ThreadState } from './compile-gate.js';
import type { Config, RouteConfig } from './config.js';
import { ConfigError } from './config-error.js';
import { defaultConfig } from './default-config.js';
import { jsonErrorPlace } from './json-error-place.js';
import { type KeyEnvironment, loadSecret } from './load-keys.js';
import { parseConfig } from './parse-config.js';
import { isLoopbackHost } from './parse-signing.js';
import { readerWith } from './remote-documents.js';

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
  /**
   * The SHA-256 of each signer's access token, by signer name, from its file, variable or
   * `tokenSha256` (never the token itself); a signer with a random token or single sign-on only
   * has none. Empty without `signing`.
   */
  readonly signerDigests: ReadonlyMap<string, Buffer>;
  /** The signing listener's certificate and key (PEM), read with the config; undefined without TLS. */
  readonly signingTls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

/** Every file a load read (config and key files), as bytes: what worker threads compile from. */
export type ConfigFiles = ReadonlyMap<string, Uint8Array>;

/**
 * A file reader that records what it read, for `snapshotReader` in the worker threads; documents
 * fetched for the config (remote-documents.ts) are read by their URL and recorded alike.
 */
export function recordingReader(documents: ReadonlyMap<string, Buffer | Error> = new Map()): {
  read(path: string): Buffer;
  readonly files: Map<string, Uint8Array>;
} {
  const files = new Map<string, Uint8Array>();
  const readFile = readerWith(documents);
  return {
    files,
    read(path) {
      const bytes = readFile(path);
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
/** Each signer's token digest, or every problem (a file unread, a token out of grammar, two signers with one token). */
function loadSigners(config: Config, where: KeyEnvironment): { digests: Map<string, Buffer>; problems: string[] } {
  const digests = new Map<string, Buffer>();
  const problems: string[] = [];
  const owner = new Map<string, string>();
  const signers = config.signing?.signers ?? [];
  for (const [i, signer] of signers.entries()) {
    const { credential } = signer;
    const at = config.signing?.written === 'signers' ? `signing.signers[${i}]` : 'signing';
    if (credential === undefined || credential === 'random') continue;
    let digest: Buffer;
    if ('sha256' in credential) digest = Buffer.from(credential.sha256, 'hex');
    else {
      const loaded = loadSecret({ id: signer.name, ...credential }, where);
      if (typeof loaded === 'string') {
        problems.push(`${at}: ${loaded}`);
        continue;
      }
      const token = loaded.toString('latin1');
      if (!/^[\x21-\x7e]{16,256}$/.test(token)) {
        problems.push(`${at}: the access token must be 16 to 256 printable ASCII characters without spaces`);
        continue;
      }
      digest = hash('sha256', token, 'buffer');
    }
    const other = owner.get(digest.toString('hex'));
    if (other !== undefined) problems.push(`${at}: has the same access token as signer "${other}" (each signer needs its own)`);
    owner.set(digest.toString('hex'), signer.name);
    digests.set(signer.name, digest);
  }
  return { digests, problems };
}

/** The signing listener's certificate and key, checked to make a TLS context; or the problem. */
function loadSigningTls(config: Config, where: KeyEnvironment): LoadedConfig['signingTls'] | string {
  const tls = config.signing?.listener?.tls;
  if (tls === undefined) return undefined;
  let cert: Buffer;
  let key: Buffer;
  try {
    const read = where.readFile ?? readFileSync;
    cert = read(resolve(where.baseDir, tls.certFile));
    key = read(resolve(where.baseDir, tls.keyFile));
  } catch (error) {
    return `signing.listener.tls: cannot read ${(error as NodeJS.ErrnoException).path ?? 'a file'} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    return `signing.listener.tls: the certificate and key do not make a TLS context (${(error as Error).message})`;
  }
  return { cert, key };
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
  // A signer for some routes (`only`) reads none of the other secrets, the API's tokens included.
  const main = only === undefined;
  const signers = main ? loadSigners(config, { baseDir, env, readFile }) : { digests: new Map(), problems: [] };
  const signingTls = main ? loadSigningTls(config, { baseDir, env, readFile }) : undefined;
  const problems = [...compiled.problems, ...signers.problems, ...(typeof signingTls === 'string' ? [signingTls] : [])];
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
    signerDigests: signers.digests,
    signingTls: typeof signingTls === 'string' ? undefined : signingTls,
  };
}

/** Loading a route's secrets: key files and variables, strictly decoded, each problem with its path. */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { KeyEncoding } from '../scheme-kit/scheme-definition.js';
import { textSecretProblem } from '../scheme-kit/text-secret.js';
import type { RouteKey } from '../scheme-kit/token-scheme.js';
import type { KeySource, RouteConfig } from './config.js';

export interface KeyEnvironment {
  /** Where relative key file paths start (the config file's directory). */
  readonly baseDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a key file (default: from disk; worker threads read the main thread's snapshot). */
  readonly readFile?: (path: string) => Buffer;
}

/** One trailing newline is how editors end files; it is never part of the secret. */
function stripFinalNewline(bytes: Buffer): Buffer {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

/** Strict decoding: a key that is not exactly hex or base64 is a typo, not a shorter key. */
function decodeKey(bytes: Buffer, encoding: KeyEncoding): Buffer | string {
  if (encoding === 'text') return bytes;
  const text = bytes.toString('latin1').trim();
  if (encoding === 'hex') {
    return /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : 'the key is not valid hex (an even number of 0-9a-f)';
  }
  // 32 hex digits or more are also valid base64, decoding to other bytes: every token would be "forged".
  if (text.length >= 32 && /^[0-9a-fA-F]+$/.test(text)) {
    return 'the key is declared base64 but is all hex digits: set "encoding": "hex" (or give it in base64)';
  }
  const decoded = Buffer.from(text, 'base64');
  const canonical = (b64: string) => b64.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || canonical(decoded.toString('base64')) !== canonical(text)) {
    return 'the key is not valid base64';
  }
  return decoded;
}

/** A secret's bytes from its file, its variable or (published demo keys) the config; a string says why it cannot be read. */
export function loadSecret(source: KeySource, where: KeyEnvironment): Buffer | string {
  if (source.file !== undefined) {
    const path = isAbsolute(source.file) ? source.file : resolve(where.baseDir, source.file);
    try {
      return stripFinalNewline((where.readFile ?? readFileSync)(path));
    } catch (error) {
      return `cannot read key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
  }
  if (source.env !== undefined) {
    const value = where.env[source.env];
    return value === undefined || value === ''
      ? `environment variable ${source.env} is not set or empty`
      : Buffer.from(value, 'utf8');
  }
  return Buffer.from(source.publicDemoSecret ?? '', 'utf8');
}

/** Collects what compiling says: problems with their paths, and warnings for startup. */
export interface Notes {
  readonly problems: string[];
  readonly warnings: string[];
}

/** The route's keys, loaded and decoded; undefined when one cannot be (its problem is noted). */
export function loadKeys(route: RouteConfig, path: string, where: KeyEnvironment, notes: Notes): RouteKey[] | undefined {
  const keys: RouteKey[] = [];
  for (const [j, source] of route.keys.entries()) {
    const loaded = loadSecret(source, where);
    const secret = typeof loaded === 'string' ? loaded : decodeKey(loaded, source.encoding ?? route.scheme.keyEncodings[0]!);
    const problem = typeof secret === 'string' ? secret : route.scheme.keyProblem(secret);
    if (problem !== undefined || typeof secret === 'string') {
      notes.problems.push(`${path}.keys[${j}]: ${problem}`);
      continue;
    }
    if (source.publicDemoSecret !== undefined) {
      notes.warnings.push(
        `route "${route.name}" (${route.prefix}) uses the PUBLISHED DEMO secret of key "${source.id}": anyone can sign valid tokens for it. Never use it in production.`,
      );
    } else if (secret.length < 16) {
      notes.warnings.push(`route "${route.name}" key "${source.id}" is shorter than 16 bytes: easy to guess`);
    }
    keys.push({ id: source.id, secret });
  }
  return keys.length === route.keys.length ? keys : undefined;
}

/** Secret options (a salt...) load like keys: from a file or the environment, never inline. */
export function loadSecretOptions(
  route: RouteConfig,
  path: string,
  where: KeyEnvironment,
  notes: Notes,
): Map<string, string> | undefined {
  let loadedAll = true;
  const secrets = new Map<string, string>();
  for (const [name, source] of route.options.secretOptions) {
    const loaded = loadSecret({ id: name, ...source }, where);
    const problem = typeof loaded === 'string' ? loaded : textSecretProblem(loaded);
    if (typeof loaded === 'string' || problem !== undefined) {
      notes.problems.push(`${path}.options.${name}: ${problem}`);
      loadedAll = false;
    } else secrets.set(name, loaded.toString('utf8'));
  }
  for (const { option, url } of route.options.remoteDocuments) {
    try {
      // The service fetched it before loading (remote-documents.ts): the reader serves it by its URL.
      const body = (where.readFile ?? readFileSync)(url);
      const text = body.toString('utf8');
      if (Buffer.from(text, 'utf8').equals(body)) secrets.set(option, text);
      else {
        notes.problems.push(`${path}.options.${option}: ${url} answered a document that is not UTF-8 text`);
        loadedAll = false;
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      notes.problems.push(
        `${path}.options.${option}: cannot fetch ${url} (${code === 'ENOENT' ? 'not fetched' : (code ?? 'error')})`,
      );
      loadedAll = false;
    }
  }
  return loadedAll ? secrets : undefined;
}

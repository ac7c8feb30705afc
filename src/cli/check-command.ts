import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ExitCode, UsageError } from '../base/exit-codes.js';
import { ConfigError } from '../config/config-error.js';
import { type LoadedConfig, loadConfig } from '../config/load-config.js';
import { fetchingReader } from '../config/remote-documents.js';
import { EngineError } from '../http/native-uws.js';
import { selectEngine } from '../http/select-engine.js';
import { limitsNeeded } from '../service/limit-counting.js';
import { workersProblem } from '../service/main-thread.js';
import { openStore, revocationsNeeded } from '../state/open-store.js';
import type { CommandInput } from './command-input.js';

/** The engine that would serve, and why the config's workers could not be served by it; a problem when none can load. */
function engineProblems(loaded: LoadedConfig): { engine: string; problems: string[] } {
  try {
    const choice = selectEngine(loaded.config);
    const problem = workersProblem(loaded.config, choice);
    const engine =
      choice.fallbackReason === undefined ? choice.engine.name : `${choice.engine.name} (fallback: uws cannot load here)`;
    return { engine, problems: problem === undefined ? [] : [problem] };
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    return { engine: loaded.config.engine, problems: [`engine: ${error.message}`] };
  }
}

/**
 * The state store as the service would open it, without connecting: Redis's password and TLS
 * files read, the revocations file's directory writable.
 */
async function stateProblems(loaded: LoadedConfig): Promise<string[]> {
  if (!revocationsNeeded(loaded) && !limitsNeeded(loaded)) return [];
  const { state } = loaded.config;
  try {
    await openStore(state, { baseDir: loaded.baseDir, env: process.env }).close();
  } catch (error) {
    return [(error as Error).message];
  }
  if (state.store !== 'file') return [];
  const file = isAbsolute(state.file) ? state.file : resolve(loaded.baseDir, state.file);
  try {
    await access(dirname(file), constants.W_OK);
    return [];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return [`state.file: cannot write in the directory of ${file} (${code}): revocations could not be stored`];
  }
}

/**
 * `tokengate check`, like `nginx -t`: loads and compiles everything the service would (keys,
 * secrets, routes, listeners, the engine, the state store's credentials) without binding a port
 * or connecting anywhere but to the routes' JWKS URLs (fetched as a start would); prints the problems (exit 78) or "ok" (exit 0), warnings either way.
 */
export async function checkCommand({ rest, configFile }: CommandInput): Promise<number> {
  if (rest.length > 0) throw new UsageError('check takes no arguments');
  // A route's JWKS URL is fetched, as a start would: keys that do not load are a problem now.
  const loaded = loadConfig(configFile, process.env, await fetchingReader(configFile));
  const { engine, problems } = engineProblems(loaded);
  problems.push(...(await stateProblems(loaded)));
  for (const warning of loaded.warnings) process.stdout.write(`warning: ${warning}\n`);
  if (loaded.demoSecrets) process.stdout.write('warning: the config uses the PUBLISHED DEMO SECRETS: demo use only\n');
  if (problems.length > 0) throw new ConfigError(loaded.source, problems);
  const { config } = loaded;
  const listeners = config.listeners.length + config.grpcListeners.length;
  process.stdout.write(
    `tokengate: config ${loaded.source} is ok: ${config.routes.length} route(s), ${listeners} auth listener(s), engine ${engine}\n`,
  );
  return ExitCode.ok;
}

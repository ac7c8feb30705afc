import { isAbsolute, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load-config.js';
import type { StateConfig } from '../config/parse-state.js';
import { applyChange, type RevocationBook } from '../decision/revocations.js';
import { FileStore } from './file-store.js';
import { RedisStore, type StateEnvironment } from './redis-store.js';
import type { RevocationStore } from './revocation-store.js';

/** The store a config names (`state`): its file (relative to the config's directory), or Redis. Connects lazily. */
export function openStore(state: StateConfig, where: StateEnvironment): RevocationStore {
  if (state.store === 'redis') return new RedisStore(state.redis, where, state.resyncSec);
  return new FileStore(isAbsolute(state.file) ? state.file : resolve(where.baseDir, state.file));
}

/** Whether a config has any use for the store: some route checks revocations. */
export function revocationsNeeded(loaded: LoadedConfig): boolean {
  return loaded.config.routes.some((route) => route.revocation !== undefined);
}

/**
 * Reads the config's stored revocations into `book` once (`verify`, which explains what the
 * service would answer): the count read, or why none were (no route checks revocations, or the
 * store could not be read: the reason, never a credential).
 */
export async function readStoredRevocations(
  loaded: LoadedConfig,
  book: RevocationBook,
  env: StateEnvironment['env'],
  nowSec: number,
): Promise<{ readonly entries: number; readonly where: string } | { readonly unread: string } | undefined> {
  if (!revocationsNeeded(loaded)) return undefined;
  let store: RevocationStore | undefined;
  try {
    store = openStore(loaded.config.state, { baseDir: loaded.baseDir, env });
    const { entries } = await store.load(nowSec);
    applyChange(book, { full: entries });
    return { entries: entries.length, where: store.where };
  } catch (error) {
    return { unread: (error as Error).message };
  } finally {
    await store?.close();
  }
}

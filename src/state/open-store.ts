import { isAbsolute, resolve } from 'node:path';
import type { StateConfig } from '../config/parse-state.js';
import { FileStore } from './file-store.js';
import { RedisStore, type StateEnvironment } from './redis-store.js';
import type { RevocationStore } from './revocation-store.js';

/** The store a config names (`state`): its file (relative to the config's directory), or Redis. Connects lazily. */
export function openStore(state: StateConfig, where: StateEnvironment): RevocationStore {
  if (state.store === 'redis') return new RedisStore(state.redis, where, state.resyncSec);
  return new FileStore(isAbsolute(state.file) ? state.file : resolve(where.baseDir, state.file));
}

import type { Config, EngineName } from '../config/config.js';
import type { HttpEngine } from './engine.js';
import { EngineError, loadNativeUws, type Uws } from './native-uws.js';
import { nodeEngine } from './node-engine.js';
import { uwsEngine } from './uws-engine.js';

export interface EngineChoice {
  readonly engine: HttpEngine;
  readonly configured: EngineName;
  /** Set when the configured engine cannot load and `engineFallback` let the node engine serve: why. */
  readonly fallbackReason?: string;
}

/**
 * The engine the config names. When uWS cannot load (Node ABI, glibc, musl), the node engine
 * serves only if `engineFallback` is "node"; otherwise the EngineError propagates (exit 69).
 */
export function selectEngine(
  config: Pick<Config, 'engine' | 'engineFallback'>,
  loadUws: () => Uws = loadNativeUws,
): EngineChoice {
  if (config.engine === 'node') return { engine: nodeEngine, configured: 'node' };
  try {
    return { engine: uwsEngine(loadUws()), configured: 'uws' };
  } catch (error) {
    if (!(error instanceof EngineError) || config.engineFallback !== 'node') throw error;
    return { engine: nodeEngine, configured: 'uws', fallbackReason: error.message };
  }
}

import type * as UwsModule from 'uWebSockets.js';
import { createRequire } from 'node:module';

export type Uws = typeof UwsModule;

/** Thrown when the native engine cannot load; `code` is stable for callers and tests. */
export class EngineError extends Error {
  readonly code = 'E_ENGINE';
}

/**
 * Loads the native uWebSockets.js addon directly. The package's own entry point silently falls
 * back to a slow pure-JS server when the addon does not load (Node ABI, glibc or musl mismatch);
 * requiring the binary ourselves makes that failure loud instead (docs/engines.md).
 */
export function loadNativeUws(): Uws {
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  let uws: Uws;
  try {
    uws = createRequire(import.meta.url)(binary) as Uws;
  } catch (error) {
    throw new EngineError(
      `the native uWebSockets.js engine cannot load on this machine (${process.platform} ${process.arch}, ` +
        `Node ${process.version}, ABI ${process.versions.modules}): ${(error as Error).message.split('\n')[0]}. ` +
        "tokengate refuses to run on the package's pure-JS fallback; use Node 20 on glibc >= 2.36 (Debian 12), " +
        'or set "engine": "node" (or "engineFallback": "node") in the config to serve with the portable node:http engine.',
    );
  }
  if (typeof uws.App !== 'function' || typeof uws.us_listen_socket_close !== 'function') {
    throw new EngineError(`${binary} loaded but does not look like uWebSockets.js`);
  }
  return uws;
}

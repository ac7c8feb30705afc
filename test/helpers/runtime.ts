/**
 * What this Node runtime can run. The uWS build tokengate pins loads only on Node 20 (ABI 115):
 * under Node 24 (test/node24.sh) the uws engine's cases do not run, and say so in their names.
 */
import { EngineError, loadNativeUws } from '../../src/http/native-uws.js';

function tryLoad(): boolean {
  try {
    loadNativeUws();
    return true;
  } catch (error) {
    if (error instanceof EngineError) return false;
    throw error;
  }
}

/** True where the native uWebSockets.js engine loads (Node 20 on glibc 2.36+). */
export const uwsLoads = tryLoad();

/** The engines the service can serve with on this runtime. */
export const enginesHere: readonly ('uws' | 'node')[] = uwsLoads ? ['uws', 'node'] : ['node'];

/** `cases` without those of the uws engine where it cannot load (their reason: the uWS build needs Node 20). */
export function withEnginesHere<T>(cases: readonly T[], engineOf: (item: T) => string): T[] {
  return cases.filter((item) => uwsLoads || engineOf(item) !== 'uws');
}

/** Appended to the names of uws-only cases, which `it.skipIf(!uwsLoads)` skips where the uWS build cannot load. */
export const uwsOnly = uwsLoads
  ? '(uws engine)'
  : `(uws engine: skipped on Node ${process.version}, the uWS build loads only on Node 20)`;

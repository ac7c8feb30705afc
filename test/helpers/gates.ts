import { compileRoutes, defaultGateSettings } from '../../src/config/compile-gate.js';
import { parseRoutes } from '../../src/config/parse-config.js';
import type { Gate } from '../../src/decision/authorize.js';

/** Builds a gate the way the service does (parse, validate, load keys), from a routes array. */
export function gateFor(
  routes: unknown[],
  env: Record<string, string> = {},
  clockSkewSec = defaultGateSettings.clockSkewSec,
  verdictCache?: { maxEntries: number },
): Gate {
  const parsed = parseRoutes(routes);
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  const settings = {
    ...defaultGateSettings,
    clockSkewSec,
    verdictCacheEntries: verdictCache?.maxEntries ?? defaultGateSettings.verdictCacheEntries,
  };
  const compiled = compileRoutes(parsed, { baseDir: process.cwd(), env }, settings);
  if (compiled.problems.length > 0) throw new Error(compiled.problems.join('\n'));
  return compiled.gate;
}

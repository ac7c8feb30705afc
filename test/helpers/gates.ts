import { compileGate } from '../../src/config/compile-gate.js';
import { parseConfig } from '../../src/config/parse-config.js';
import type { Gate } from '../../src/decision/authorize.js';

/** Builds a gate the way the service does (parse, validate, load keys), from a routes array. */
export function gateFor(routes: unknown[], env: Record<string, string> = {}, clockSkewSec = 30, verdictCache?: object): Gate {
  const config = parseConfig({
    listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
    admin: { port: 0 },
    clockSkewSec,
    ...(verdictCache ? { verdictCache } : {}),
    routes,
  });
  if (Array.isArray(config)) throw new Error(config.join('\n'));
  const compiled = compileGate(config, { baseDir: process.cwd(), env });
  if (compiled.problems.length > 0) throw new Error(compiled.problems.join('\n'));
  return compiled.gate;
}

/**
 * Dependencies point one way (docs/development.md, "Layout"): each room of src/ imports only from
 * rooms below it. The layers, bottom first:
 *
 *   base        log, version, exit codes, verdicts, the validation kit
 *   request     reading a request: target, nginx's $uri, client IP, cookies, token parameters
 *   scheme-kit  what formats share: the scheme interfaces, digests, time fields, signable paths
 *   schemes     one file or folder per token format, and the registry
 *   decision    the pure decision: route, grammar, signature, window, verdict cache interface
 *   config      load, validate, compile the routes and the gate
 *   links       sign a link for a route, explain a verdict (CLI, library, admin pages)
 *   state       where revocations live (a file, Redis), and what a revoke request becomes
 *   metrics     counters and the exposition
 *   http        the engines and the edge
 *   admin       the admin listener
 *   service     the service's life: start, reload, drain, stop; the auth workers
 *   cli         argument parsing only
 *   library     the package's entry: index.ts, hmac-signer.ts, route-signer.ts
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const layers = [
  'base',
  'request',
  'scheme-kit',
  'schemes',
  'decision',
  'config',
  'links',
  'state',
  'metrics',
  'http',
  'admin',
  'service',
  'cli',
  'library',
] as const;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The layer of a file of src/, by its room. */
function layerOf(path: string): number {
  const [room, file] = relative(src, path).split('/');
  if (file === undefined) throw new Error(`src/${room} lies outside every room: move it into one`);
  const layer = layers.indexOf(room as (typeof layers)[number]);
  if (layer < 0) throw new Error(`src/${room}/ is a room the layers do not name: add it to the list above`);
  return layer;
}

it('no import runs back up the layers', () => {
  const upward: string[] = [];
  for (const file of files(src)) {
    const text = readFileSync(file, 'utf8');
    for (const [, target] of text.matchAll(/^(?:import|export)\s[^;]*?from '(\.[^']+)'/gms)) {
      const imported = join(file, '..', target!.replace(/\.js$/, '.ts'));
      if (layerOf(imported) > layerOf(file)) upward.push(`${relative(src, file)} → ${relative(src, imported)}`);
    }
  }
  expect(upward).toEqual([]);
});

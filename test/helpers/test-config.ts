/** Service configs for tests, with the parts most tests leave as they are. */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, writeConfig } from './service-process.js';

/** The listener most tests serve: nginx-style headers (X-Original-URI, X-Real-IP) on a free port. */
export const headerListener = { port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' } as const;

/**
 * A config with `parts` over the defaults: one header listener and the admin listener, both on
 * free ports. Give `listeners` or `admin` only where a test is about them.
 */
export function testConfig(parts: {
  readonly routes: readonly unknown[];
  readonly [key: string]: unknown;
}): Record<string, unknown> {
  return { listeners: [headerListener], admin: { port: 0 }, ...parts };
}

/** The HLS stream settings the alta routes in tests use: the playlist and one level of segments. */
export const altaStream = { stream: { playlist: 'index.m3u8', depth: 1 } } as const;

/** One route on one line: the formatter spreads the object form over several lines. */
export function route(
  name: string,
  prefix: string,
  scheme: string,
  keys: readonly unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name, prefix, scheme, keys, ...extra };
}

/** Two uws worker threads: the pool most multi-thread tests run. */
export const uwsPool = { workers: 2, engine: 'uws' } as const;

/**
 * A fresh temp dir holding `files` (name to content, e.g. key files) and config.json made from
 * `parts` by testConfig; returns the dir and the config's path.
 */
export function configIn(
  files: Readonly<Record<string, string>>,
  parts: Parameters<typeof testConfig>[0],
): { readonly dir: string; readonly file: string } {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { dir, file: writeConfig(dir, testConfig(parts)) };
}

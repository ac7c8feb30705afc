/**
 * Every registered format has a fixture (test/helpers/formats/), and every suite that says
 * "every format" covers each one (docs/development.md, "Adding a format"). The suites name what they cover in their test
 * names (`covers(id)`); this test collects those names with `vitest list`, so a suite that drops
 * a format, or a file that no longer loads, fails here instead of passing with fewer cases.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatRoutes, formatSchemes } from '../../bench/scenarios.js';
import { Verdict } from '../../src/base/verdict.js';
import { schemes } from '../../src/schemes/registry.js';
import { covers, fixtureEnv, fixtureRoute, formatFixtures, registeredFixtures } from '../helpers/formats/index.js';
import { gateFor, verdictOf } from '../helpers/gates.js';
import { tempDir } from '../helpers/service-process.js';

const ids = schemes.map((scheme) => scheme.id);

/** The suites that loop over the registry, each with what it must cover. */
const suites = [
  'test/formats/contract.test.ts',
  'test/formats/properties.test.ts',
  'test/formats/signers.test.ts',
  'test/formats/revocation.test.ts',
  'test/doors/doors.test.ts',
  'test/service/cli.test.ts',
] as const;

describe('every registered format has a fixture, and every suite covers it', () => {
  it('a fixture per registered format, and none for a format the registry does not know', () => {
    expect(ids.length).toBeGreaterThanOrEqual(9);
    expect(ids.filter((id) => formatFixtures[id] === undefined)).toEqual([]);
    expect(Object.keys(formatFixtures).filter((id) => !ids.includes(id))).toEqual([]);
    expect(registeredFixtures().map((fixture) => fixture.id)).toEqual(ids);
  });

  it.each(ids)('the fixture of %s makes a link its route allows, and only from its client', async (id) => {
    const fixture = formatFixtures[id]!;
    const gate = gateFor([fixtureRoute(fixture, { use: [0, 1] })], fixtureEnv([fixture]));
    const now = Math.floor(Date.now() / 1000);
    const url = fixture.link(`${fixture.prefix}dir/file.ts`, { nowSec: now, clientIp: '192.0.2.10' });
    expect(await verdictOf(gate, url, '192.0.2.10', now)).toBe(Verdict.valid);
    expect(
      await verdictOf(gate, fixture.link(`${fixture.prefix}dir/file.ts`, { nowSec: now, ttlSec: -10 }), '192.0.2.10', now),
    ).not.toBe(Verdict.valid);
    if (fixture.bindsClientIp) expect(await verdictOf(gate, url, '192.0.2.11', now)).not.toBe(Verdict.valid);
  });

  it('the contract, property, signer, door and CLI help suites name every registered format in their tests', () => {
    const out = join(tempDir(), 'tests.json');
    // Collects the suites' test names without running them (their files load: a file that fails to load lists nothing).
    execFileSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'list', `--json=${out}`, ...suites], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: 'ignore',
      timeout: 120_000,
    });
    const listed = JSON.parse(readFileSync(out, 'utf8')) as { name: string; file: string }[];
    const missing = suites.flatMap((suite) => {
      const names = listed.filter((test) => test.file.endsWith(suite)).map((test) => test.name);
      return ids.filter((id) => !names.some((name) => name.includes(covers(id)))).map((id) => `${suite}: ${id}`);
    });
    expect(missing).toEqual([]);
  }, 150_000);

  it('the bench scenarios serve every registered format', () => {
    expect([...formatSchemes].sort()).toEqual([...ids].sort());
    const served = [...formatRoutes('raw', () => ({ env: 'K' })), ...formatRoutes('nginx', () => ({ env: 'K' }))].map(
      (route) => (route as { scheme: string }).scheme,
    );
    expect(ids.filter((id) => !served.includes(id))).toEqual([]);
  });
});

/**
 * One link, one counter, for every registered format: each spelling of a genuine link that the
 * route still allows (a character's case flipped, a character percent-encoded, an unsigned
 * parameter added) is counted under the same subject as the link itself. A format that accepted
 * a second spelling of its signature and counted it apart would give a used-up download link a
 * fresh set of uses, and a revoked fingerprint a twin that is not revoked.
 */
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { covers, fixtureEnv, fixtureRoute, registeredFixtures, unixNow } from '../helpers/formats/index.js';
import { decide, gateFor } from '../helpers/gates.js';

const client = '192.0.2.10';

/** Every one-character respelling of `url` after its path's first character, and an added parameter. */
function respellings(url: string): string[] {
  const out = new Set<string>();
  for (let i = 1; i < url.length; i++) {
    const char = url[i]!;
    const before = url.slice(0, i);
    const after = url.slice(i + 1);
    const flipped = char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase();
    if (flipped !== char) out.add(`${before}${flipped}${after}`);
    const code = char.charCodeAt(0).toString(16).padStart(2, '0');
    out.add(`${before}%${code.toUpperCase()}${after}`);
    out.add(`${before}%${code.toLowerCase()}${after}`);
  }
  out.add(`${url}${url.includes('?') ? '&' : '?'}x=1`);
  out.add(url.includes('?') ? url.replace('?', '?x=1&') : `${url}?x=1`);
  out.delete(url);
  return [...out];
}

describe.each(registeredFixtures())('the limit subject of $id links', (fixture) => {
  it(`every allowed spelling of a link counts as that link ${covers(fixture.id)}`, async () => {
    const now = unixNow();
    const routeConfig = { ...fixtureRoute(fixture), limits: { uses: 1, per: 'link' } };
    const gate = gateFor([routeConfig], fixtureEnv([fixture]));
    const link = fixture.link(`${fixture.prefix}dir/a.ts`, { nowSec: now, clientIp: client });
    const original = await decide(gate, link, client, now);
    expect(original.verdict).toBe(Verdict.valid);
    const subject = original.limit?.subject;
    expect(subject).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const apart: string[] = [];
    for (const spelling of respellings(link)) {
      const decision = await decide(gate, spelling, client, now);
      if (decision.verdict === Verdict.valid && decision.limit?.subject !== subject) apart.push(spelling);
    }
    expect(apart).toEqual([]);
  });
});

/**
 * Revocation for every registered format: a genuine link revoked by its fingerprint (as `verify`
 * prints it) is refused while another link of the route opens; revoking the key that signed it
 * refuses it, revoking the route's other key does not. The fingerprint and key id come from each
 * format's own `signature` and `identify`, so a format that got either wrong fails here.
 */
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { type Revocation, RevocationBook, revocationId } from '../../src/decision/revocations.js';
import { explain } from '../../src/links/explain-link.js';
import { covers, fixtureEnv, fixtureRoute, registeredFixtures, unixNow } from '../helpers/formats/index.js';
import { gateFor, verdictOf } from '../helpers/gates.js';

const client = '192.0.2.10';

function entry(target: Pick<Revocation, 'kind' | 'value' | 'route'>, now: number): Revocation {
  return { ...target, id: revocationId(target), untilSec: now + 3600, createdSec: now };
}

describe.each(registeredFixtures())('revocation of $id links', (fixture) => {
  const now = unixNow();
  const book = new RevocationBook();
  const routeConfig = { ...fixtureRoute(fixture, { use: [0, 1] }), revocation: true };
  const gate = gateFor([routeConfig], fixtureEnv([fixture]), undefined, undefined, book);
  const decide = (url: string) => verdictOf(gate, url, client, now);
  const first = fixture.link(`${fixture.prefix}dir/a.ts`, { nowSec: now, clientIp: client });
  const second = fixture.link(`${fixture.prefix}dir/b.ts`, { nowSec: now, clientIp: client });

  it(`by fingerprint: that link only ${covers(fixture.id)}`, async () => {
    book.replace([]);
    expect(await decide(first)).toBe(Verdict.valid);
    const fp = (await explain(gate, first, client, now)).details.fingerprint;
    expect(fp).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect((await explain(gate, second, client, now)).details.fingerprint).not.toBe(fp);
    book.put(entry({ kind: 'fp', value: fp!, route: fixture.id }, now));
    expect(await decide(first)).toBe(Verdict.revoked);
    expect(await decide(second)).toBe(Verdict.valid);
  });

  it(`by key: the key that signed it, not the route's other key ${covers(fixture.id)}`, async () => {
    book.replace([entry({ kind: 'key', value: fixture.keys[1].id, route: fixture.id }, now)]);
    expect(await decide(first)).toBe(Verdict.valid);
    book.replace([entry({ kind: 'key', value: fixture.keys[0].id, route: fixture.id }, now)]);
    expect(await decide(first)).toBe(Verdict.revoked);
    expect(await decide(second)).toBe(Verdict.revoked);
  });

  it(`by prefix: links under it, not beside it ${covers(fixture.id)}`, async () => {
    const target = { kind: 'prefix', value: `${fixture.prefix}dir/`, issuedBeforeSec: now + 1 } as const;
    book.replace([{ ...target, id: revocationId(target), untilSec: now + 3600, createdSec: now }]);
    expect(await decide(first)).toBe(Verdict.revoked);
    expect(await decide(fixture.link(`${fixture.prefix}other/a.ts`, { nowSec: now, clientIp: client }))).toBe(Verdict.valid);
  });
});

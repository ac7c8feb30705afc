/**
 * One fixture per token format, keyed by scheme id: the contract, property, signer, door and
 * bench suites and the CLI help test loop over `registeredFixtures()`, and
 * test/formats/registry-coverage.test.ts fails when a registered format has none.
 */
import { schemes } from '../../../src/schemes/registry.js';
import { akamai } from './akamai.js';
import { alta } from './alta.js';
import { azion } from './azion.js';
import { bunny } from './bunny.js';
import { cloudfront } from './cloudfront.js';
import type { FormatFixture } from './fixture.js';
import { googleCdn } from './google-cdn.js';
import { hmac } from './hmac.js';
import { jwt } from './jwt.js';
import { nginxSecureLink } from './nginx-secure-link.js';
import { wowza } from './wowza.js';

export * from './fixture.js';

/** The fixtures, keyed by scheme id. */
export const formatFixtures: Readonly<Record<string, FormatFixture>> = Object.fromEntries(
  [azion, alta, hmac, akamai, googleCdn, bunny, nginxSecureLink, wowza, cloudfront, jwt].map((f) => [f.id, f]),
);

/** The fixture of every registered format, in registry order; throws for a format without one. */
export function registeredFixtures(): FormatFixture[] {
  return schemes.map((scheme) => {
    const fixture = formatFixtures[scheme.id];
    if (fixture === undefined) throw new Error(`format "${scheme.id}" has no fixture in test/helpers/formats/`);
    return fixture;
  });
}

/** The marker a suite puts in a test's name for each format it covers (read by registry-coverage.test.ts). */
export const covers = (id: string): string => `[format ${id}]`;

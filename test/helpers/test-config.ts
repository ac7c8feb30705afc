/** Service configs for tests, with the parts most tests leave as they are. */

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

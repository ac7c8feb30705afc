import { vi } from 'vitest';

/**
 * Characters String.prototype.indexOf looks at while `run` parses strings over 1000 characters
 * (a count, not a time): what the linearity tests of the query parsers bound.
 */
export function scannedBy(run: () => void): number {
  const original = String.prototype.indexOf;
  let scanned = 0;
  const spy = vi.spyOn(String.prototype, 'indexOf').mockImplementation(function (this: string, search, from) {
    const found = original.call(this, search, from);
    if (this.length > 1000) scanned += (found < 0 ? this.length : found) - Math.max(0, from ?? 0);
    return found;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return scanned;
}

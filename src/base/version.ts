import { readFileSync } from 'node:fs';

/** tokengate's version, from package.json (one level up from both src/ and dist/). */
export const version: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/**
 * The headers each engine puts on its answers are exactly those docs/engines.md lists ("Headers
 * of an answer"): nothing appears there unannounced (a server banner, a new framing header).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { withEnginesHere } from '../helpers/runtime.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const docs = readFileSync(new URL('../../docs/engines.md', import.meta.url), 'utf8');
const table = /<!-- answer-headers:start -->\n([\s\S]*?)<!-- answer-headers:end -->/.exec(docs)?.[1] ?? '';
const documented = (engine: string) =>
  (new RegExp(`^\\| \`${engine}\` \\| (.+) \\|$`, 'm').exec(table)?.[1] ?? '')
    .split(', ')
    .map((name) => name.replaceAll('`', '').toLowerCase());

describe.each(withEnginesHere(['node', 'uws'] as const, (engine) => engine))('answer headers, %s engine', (engine) => {
  let service: RunningService;
  let valid = '';
  const expired = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';

  beforeAll(async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      testConfig({
        engine,
        workers: 1,
        listeners: [{ name: 'auth', port: 0, pathPrefix: '/tokengate', clientIpInPath: true }],
        routes: [{ name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', publicDemoSecret: 'mysecret' }] }],
      }),
    );
    service = await startService(['serve', '--config', file]);
    const signed = await runCli(['sign', '--config', file, '--path', '/my/uri', '--ttl', '600']);
    expect(signed.code, signed.stderr).toBe(0);
    valid = signed.stdout.trim();
  });
  afterAll(() => service?.stop());

  it('200, 403 and 410 carry exactly the documented headers', async () => {
    expect(documented(engine).length).toBeGreaterThanOrEqual(4);
    const port = service.ports.get('auth')!;
    for (const [uri, status] of [
      [valid, 200],
      ['/my/uri?st=AAAAAAAAAAAAAAAAAAAAAA&e=4102444800', 403],
      [expired, 410],
    ] as const) {
      const response = await rawRequest(port, `GET /tokengate/203.0.113.9${uri} HTTP/1.1\r\nHost: t\r\n\r\n`);
      expect(response.status).toBe(status);
      expect([...response.headers.keys()].sort()).toEqual([...documented(engine)].sort());
      expect(response.body).toBe('');
    }
  });
});

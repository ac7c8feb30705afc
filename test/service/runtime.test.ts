/**
 * Which Node runs the suite, and what each engine does on it. `npm test` runs the suite twice:
 * on Node 20 (the machine's node) and, through test/node24.sh, on Node 24 LTS, which sets
 * TOKENGATE_TEST_NODE=24. The service the tests start is the same binary (process.execPath).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeSharesPorts } from '../../src/http/node-engine.js';
import { uwsLoads } from '../helpers/runtime.js';
import { runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const expectedMajor = process.env.TOKENGATE_TEST_NODE ?? '20';
const route = { name: 'my', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', file: 'azion.key' }] };

function config(extra: Record<string, unknown>): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'azion.key'), 'runtime-test-secret\n');
  return writeConfig(
    dir,
    testConfig({
      listeners: [{ port: 0, pathPrefix: '/tokengate', clientIpInPath: true }],
      routes: [route],
      ...extra,
    }),
  );
}

async function nodeVersionOfService(file: string): Promise<{ version: string | undefined; engine: string | undefined }> {
  const service = await startService(['serve', '--config', file]);
  try {
    const text = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
    return {
      version: /^nodejs_version_info\{version="([^"]+)"/m.exec(text)?.[1],
      engine: /^tokengate_engine_info\{[^}]*engine="([^"]+)"/m.exec(text)?.[1],
    };
  } finally {
    await service.stop();
  }
}

describe(`the runtime: Node ${expectedMajor}`, () => {
  it('the suite and the service it starts run on the Node this run is for', async () => {
    expect(process.version).toMatch(new RegExp(`^v${expectedMajor}\\.`));
    // The uWS build loads exactly on Node 20 (ABI 115).
    expect(uwsLoads).toBe(process.versions.modules === '115');
    const { version, engine } = await nodeVersionOfService(config({}));
    expect(version).toBe(process.version);
    expect(engine).toBe('node'); // the default engine, on every Node
  });

  it('engine "node" with workers: 2: two threads share the port from Node 22.12 (reusePort); on older Nodes exit 78 saying so', async () => {
    expect(nodeSharesPorts).toBe(expectedMajor === '24');
    const file = config({ engine: 'node', workers: 2 });
    if (!nodeSharesPorts) {
      const result = await runCli(['serve', '--config', file]);
      expect(result.code).toBe(78);
      expect(result.stderr).toContain('needs the node engine to share a port between threads');
      return;
    }
    const service = await startService(['serve', '--config', file]);
    try {
      const text = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
      expect(text).toMatch(/^tokengate_workers 2$/m);
      expect(text).toMatch(/^tokengate_engine_info\{engine="node"\} 1$/m);
    } finally {
      await service.stop();
    }
  });

  it('engine "uws": serves where its build loads; elsewhere one fatal line with the fix and exit 69, or the node engine with engineFallback', async () => {
    const file = config({ engine: 'uws' });
    if (uwsLoads) {
      expect((await nodeVersionOfService(file)).engine).toBe('uws');
      return;
    }
    const result = await runCli(['serve', '--config', file]);
    expect(result.code).toBe(69);
    const fatal = result.stderr.split('\n').filter((line) => line.includes('"level":"fatal"'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`Node ${process.version}, ABI ${process.versions.modules}`);
    expect(fatal[0]).toContain('set \\"engine\\": \\"node\\"');
    const fallback = config({ engine: 'uws', engineFallback: 'node' });
    const service = await startService(['serve', '--config', fallback]);
    try {
      const text = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
      expect(text).toMatch(/^tokengate_engine_fallback 1$/m);
    } finally {
      await service.stop();
    }
  });
});

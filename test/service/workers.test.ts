/** Several auth worker threads sharing one port: all answer, all reload, all stop cleanly. */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { listenerSources, RawConnection, sourcedRequest } from '../helpers/raw-http.js';
import { runCli, startService, tempDir, waitForLog, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

const keyA = 'a1'.repeat(32);
const keyB = 'b2'.repeat(32);

function config(dir: string, keyFile: string, port = 0) {
  return writeConfig(
    dir,
    testConfig({
      workers: 2,
      engine: 'uws',
      listeners: [{ port, ...listenerSources('target') }],
      routes: [{ name: 'vod', prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: keyFile }] }],
    }),
  );
}

/** One request on each of `count` fresh connections (SO_REUSEPORT spreads them over the workers). */
async function statuses(port: number, uri: string, count = 24): Promise<number[]> {
  const connections = await Promise.all(Array.from({ length: count }, () => RawConnection.open(port)));
  const results = await Promise.all(
    connections.map(async (connection) => {
      connection.write(sourcedRequest('target', uri, '192.0.2.1'));
      const response = await connection.read();
      connection.destroy();
      return response.status;
    }),
  );
  return results;
}

describe('worker threads', () => {
  it('answer on one shared port, reload together, and stop with exit code 0 despite open connections', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key.hex'), keyA);
    const file = config(dir, 'key.hex');
    const service = await startService(['serve', '--config', file]);
    const port = service.ports.get('auth')!;
    expect(service.stderr()).toMatch(/"listener":"auth".*"workers":2/);
    const url = hmacSigner({ keyId: 'k', key: keyA }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
    expect(new Set(await statuses(port, url))).toEqual(new Set([200]));

    writeFileSync(join(dir, 'key.hex'), keyB);
    service.process.kill('SIGHUP');
    // Logged on the main thread once both workers confirmed the swap.
    await waitForLog(service, (line) => line.msg === 'config reloaded');
    expect(new Set(await statuses(port, url))).toEqual(new Set([403]));
    const newUrl = hmacSigner({ keyId: 'k', key: keyB }).sign({ path: '/vod/a.ts', expiresSec: expiresIn(600) });
    expect(new Set(await statuses(port, newUrl))).toEqual(new Set([200]));

    const idle = await RawConnection.open(port);
    idle.write(sourcedRequest('target', newUrl, '192.0.2.1'));
    expect((await idle.read()).status).toBe(200);
    const started = Date.now();
    expect(await service.stop('SIGTERM')).toBe(0);
    // Workers that did not stop would be cut by the pool's cap (500 ms grace + 5 s), and a service
    // that waited for the idle connection by its 8-12 s idle cut: either takes at least 5.5 s.
    expect(Date.now() - started).toBeLessThan(5500);
    expect(await idle.waitClosed()).toBe(true);
  });

  it('a port held by another program exits 71, and the started workers close first (no abort)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key.hex'), keyA);
    // A plain listening socket (no SO_REUSEPORT): the workers cannot share it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runCli(['serve', '--config', config(dir, 'key.hex', (holder.address() as { port: number }).port)]);
      expect(result.code).toBe(71);
      expect(result.stderr).toMatch(/cannot listen/);
      expect(result.stderr).not.toMatch(/Assertion|uv loop/);
    } finally {
      holder.close();
    }
  });
});

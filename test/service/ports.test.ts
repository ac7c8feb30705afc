/**
 * A second instance never shares a port with a running one: whatever the engine, worker count
 * or listener kind, it refuses to start (exit 71) and names the port. (The uws engine listens
 * with SO_REUSEPORT, so without a claim first a second process would silently join the port and
 * take half the traffic.)
 */
import { describe, expect, it } from 'vitest';
import { claimPort } from '../../src/service/claim-port.js';
import { listenerSources } from '../helpers/raw-http.js';
import { withEnginesHere } from '../helpers/runtime.js';
import { runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const env = { AZION_SECRET: 'azion-secret-for-ports' };
const routes = [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'AZION_SECRET' }] }];

/** Fixed free ports (a second instance must name the same ones). */
const freePorts = (count: number) => Promise.all(Array.from({ length: count }, () => claimPort('127.0.0.1', 0)));

describe('a second instance on the same ports exits 71', () => {
  it.each(
    withEnginesHere(
      [
        ['uws, one thread, auth listener', 'uws', 1, 'auth'],
        ['uws, two workers, auth listener', 'uws', 2, 'auth'],
        ['node, auth listener', 'node', 1, 'auth'],
        ['envoy-grpc listener', 'node', 1, 'grpc'],
        ['admin listener', 'node', 1, 'admin'],
        ['uws, two workers, admin listener', 'uws', 2, 'admin'],
        ['uws, workers "auto", envoy-grpc listener', 'uws', 'auto', 'grpc'],
      ] as const,
      ([, engine]) => engine,
    ),
  )('%s', async (_name, engine, workers, shared) => {
    const [auth, grpc, admin, otherAuth, otherGrpc, otherAdmin] = await freePorts(6);
    const config = (authPort: number, grpcPort: number, adminPort: number) =>
      writeConfig(tempDir(), {
        engine,
        workers,
        listeners: [
          { port: authPort, ...listenerSources(engine === 'uws' ? 'target' : 'headers') },
          { protocol: 'envoy-grpc', port: grpcPort, clientIpHeader: 'x-forwarded-for', clientIpHop: 1 },
        ],
        admin: { port: adminPort },
        routes,
      });
    const first = await startService(['serve', '--config', config(auth!, grpc!, admin!)], env, 3);
    try {
      const second = await runCli(
        [
          'serve',
          '--config',
          config(
            shared === 'auth' ? auth! : otherAuth!,
            shared === 'grpc' ? grpc! : otherGrpc!,
            shared === 'admin' ? admin! : otherAdmin!,
          ),
        ],
        env,
      );
      const port = { auth, grpc, admin }[shared]!;
      expect(second.code, second.stderr).toBe(71);
      expect(second.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}\\b`));
      // The first instance still serves alone.
      expect(first.process.exitCode).toBeNull();
    } finally {
      await first.stop();
    }
  });
});

/**
 * The Redis store through Sentinel and through a Cluster, with real redis-server processes (Debian's:
 * `--sentinel`, three masters with `--cluster-enabled`, and one that speaks only TLS):
 * `tokengate revoke` writes through
 * each, and a running service refuses the revoked link within a second and lists it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { authStatus } from '../helpers/raw-http.js';
import {
  type RedisProcess,
  type RunningRedis,
  redisCli,
  startCluster,
  startRedis,
  startSentinel,
  startTlsRedis,
} from '../helpers/redis.js';
import { type RunningService, runCli, startService } from '../helpers/service-process.js';
import { configIn, route } from '../helpers/test-config.js';

const key = 'f6'.repeat(32);
const signer = hmacSigner({ keyId: 'k1', key });
const stops: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()));
});

/**
 * A service on this Redis: a revocation made by the CLI is refused within a second, and a route
 * limited to 3 uses allows exactly 3 of 12 parallel requests for each of 16 links.
 */
async function revokedThrough(
  redis: Record<string, unknown>,
  files: Record<string, string> = {},
  keyPrefix = '{tg}:',
): Promise<void> {
  const keys = [{ id: 'k1', env: 'K1' }];
  const { file } = configIn(files, {
    state: { store: 'redis', redis: { ...redis, keyPrefix } },
    routes: [
      route('vod', '/vod/', 'hmac', keys, { revocation: { maxLifetimeSec: 3600 } }),
      route('dl', '/dl/', 'hmac', keys, { limits: { uses: 3 } }),
    ],
  });
  const service: RunningService = await startService(['serve', '--config', file], { K1: key });
  stops.push(() => service.stop());
  const url = signer.sign({ path: '/vod/a.mp4', expiresSec: Math.floor(Date.now() / 1000) + 600 }) as string;
  const port = service.ports.get('auth')!;
  expect(await authStatus(port, url)).toBe(200);
  const made = await runCli(['revoke', '--config', file, '--link', url], { K1: key });
  expect(made.code, made.stderr).toBe(0);
  await expect.poll(() => authStatus(port, url), { interval: 50, timeout: 1000 }).toBe(403);
  const listed = await runCli(['revoke', '--config', file, '--list', '--json'], { K1: key });
  expect((JSON.parse(listed.stdout) as { revocations: unknown[] }).revocations).toHaveLength(1);
  const links = Array.from(
    { length: 16 },
    (_, i) => signer.sign({ path: `/dl/file-${i}.zip`, expiresSec: Math.floor(Date.now() / 1000) + 600 }) as string,
  );
  const answers = await Promise.all(links.flatMap((link) => Array.from({ length: 12 }, () => authStatus(port, link))));
  for (let i = 0; i < links.length; i++) {
    expect(answers.slice(i * 12, i * 12 + 12).filter((status) => status === 200)).toHaveLength(3);
  }
}

describe('the Redis store in each mode', () => {
  it('through Sentinel: the service asks the sentinel for the master', async () => {
    const master: RunningRedis = await startRedis();
    stops.push(() => master.kill());
    const sentinel: RedisProcess = await startSentinel(master, 'tokengate-master');
    stops.push(() => sentinel.kill());
    await revokedThrough({ sentinel: { name: 'tokengate-master', nodes: [`127.0.0.1:${sentinel.port}`] } });
  }, 60_000);

  it('over TLS: a CA of its own trusted through tls.caFile; without it the connection is refused and says why', async () => {
    const redis = await startTlsRedis();
    stops.push(() => redis.kill());
    const ca = readFileSync(redis.caFile, 'utf8');
    await revokedThrough({ url: `rediss://127.0.0.1:${redis.port}`, tls: { caFile: 'ca.pem' } }, { 'ca.pem': ca });
    // The system's CAs do not know this one: refused, with the reason.
    const { file } = configIn(
      {},
      {
        state: { store: 'redis', redis: { url: `rediss://127.0.0.1:${redis.port}` } },
        routes: [route('vod', '/vod/', 'hmac', [{ id: 'k1', env: 'K1' }], { revocation: true })],
      },
    );
    const refused = await runCli(['revoke', '--config', file, '--list'], { K1: key });
    expect(refused.code).toBe(69);
    expect(refused.stderr).toMatch(/\(TLS\)\) failed: self[- ]signed certificate/);
  }, 60_000);

  it('through a Cluster of three masters', async () => {
    const nodes = await startCluster(3);
    for (const node of nodes) stops.push(() => node.kill());
    // A prefix without a hash tag: each link's counters live on the shard its own tag picks.
    await revokedThrough({ cluster: { nodes: nodes.map((node) => `127.0.0.1:${node.port}`) } }, {}, 'tg:');
    const counted = await Promise.all(nodes.map(async (node) => (await redisCli(node.port, 'KEYS', 'tg:limit:*')).trim()));
    const perNode = counted.map((text) => (text === '' ? [] : text.split('\n')));
    expect(perNode.flat()).toHaveLength(16);
    expect(perNode.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
  }, 120_000);
});

/**
 * `tokengate check`, like `nginx -t`: a config the service would load is "ok" (exit 0), one it
 * would refuse lists every problem (exit 78): keys, secrets, the state store's credentials and
 * TLS files, a workers count this runtime cannot serve. It binds nothing (a config whose ports
 * are taken passes) and connects nowhere (a Redis that does not answer is not its business).
 */
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { nodeSharesPorts } from '../../src/http/node-engine.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { freePort } from '../helpers/nginx.js';
import { uwsLoads } from '../helpers/runtime.js';
import { runCli } from '../helpers/service-process.js';
import { configIn, route } from '../helpers/test-config.js';

const key = 'ab'.repeat(32);
const hmacRoute = route('vod', '/vod/', 'hmac', [{ id: 'k', file: 'vod.key' }]);

describe('tokengate check', () => {
  it('the embedded default config is ok, with the demo secrets named as a warning', async () => {
    const result = await runCli(['check']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^warning: the config uses the PUBLISHED DEMO SECRETS: demo use only$/m);
    expect(result.stdout).toMatch(
      /^tokengate: config embedded default config is ok: \d+ route\(s\), 1 auth listener\(s\), engine \w+/m,
    );
  });

  it('a good config is ok, as docs/cli.md shows it, even while its ports are taken: nothing is bound', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const { dir, file } = configIn(
        { 'vod.key': key },
        { engine: 'node', listeners: [{ port, uriHeader: 'X-Original-URI' }], routes: [hmacRoute] },
      );
      const result = await runCli(['check', '--config', file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.replaceAll(dir, '/etc/tokengate')).toBe(docBlock('docs/cli.md', 'check-ok'));
    } finally {
      holder.close();
    }
  });

  it('warns of a route prefix without a trailing slash, which also covers /vodka/…, and still says ok', async () => {
    const { file } = configIn(
      { 'vod.key': key },
      {
        engine: 'node',
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        routes: [route('vod', '/vod', 'hmac', [{ id: 'k', file: 'vod.key' }])],
      },
    );
    const result = await runCli(['check', '--config', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'warning: route "vod" (/vod): the prefix does not end with "/", so it also covers /vodka/… and every path that starts with it',
    );
    expect(result.stdout).toMatch(/is ok: 1 route\(s\)/);
  });

  it('lists every problem the service would refuse to start with, exit 78', async () => {
    /** Three node workers, a limited route whose key is `dlKey`, Redis with a password file that is not there. */
    const broken = (dlKey: string) =>
      configIn(
        { 'vod.key': key },
        {
          engine: 'node',
          workers: 3,
          listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
          routes: [hmacRoute, route('dl', '/dl/', 'hmac', [{ id: 'd', file: dlKey }], { limits: { uses: 2 } })],
          state: { store: 'redis', redis: { url: 'redis://127.0.0.1:1', password: { file: 'no-such-password' } } },
        },
      ).file;
    const result = await runCli(['check', '--config', broken('missing.key')]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/routes\[1\]\.keys\[0\]: .*missing\.key/);
    // Keys are checked first: the rest of the problems come once the keys load.
    const rest = await runCli(['check', '--config', broken('vod.key')]);
    expect(rest.code).toBe(78);
    expect(rest.stderr).toMatch(/state\.redis\.password: .*no-such-password/);
    // Three node-engine workers: a problem only on a runtime whose node:http cannot share a port (Node 20).
    const workers = /config\.workers: 3 needs the node engine to share a port/;
    if (nodeSharesPorts) expect(rest.stderr).not.toMatch(workers);
    else expect(rest.stderr).toMatch(workers);
    expect(rest.stdout).not.toMatch(/is ok/);
  });

  it('a revocations file in a directory that cannot be written (here: one that does not exist) is a problem', async () => {
    const { file } = configIn(
      { 'vod.key': key },
      {
        listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
        engine: 'node',
        routes: [{ ...hmacRoute, revocation: true }],
        state: { store: 'file', file: '/nonexistent-tokengate-dir/revocations.json' },
      },
    );
    const result = await runCli(['check', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(
      /state\.file: cannot write in the directory of \/nonexistent-tokengate-dir\/revocations\.json \(ENOENT\)/,
    );
  });

  it.runIf(uwsLoads)('names the engine that would serve', async () => {
    const { file } = configIn(
      { 'vod.key': key },
      { engine: 'uws', listeners: [{ port: 0, pathPrefix: '/tokengate', clientIpInPath: true }], routes: [hmacRoute] },
    );
    const result = await runCli(['check', '--config', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/engine uws\n$/);
  });
});

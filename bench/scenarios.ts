/** What the HTTP benchmarks send, the config they serve it with, and how they wait for a server (bench/http.ts, bench/profile.ts). */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { hmacSigner } from '../src/hmac-signer.js';
import { gateFor } from '../test/helpers/gates.js';
import { signedUrl } from '../test/helpers/signed-url.js';

export const clientIp = '203.0.113.7';
export const secrets = { azion: 'bench-azion-secret-0123456789', alta: 'bench-alta-secret-0123456789', hmac: 'ab'.repeat(32) };
export const schemes = ['azion', 'alta', 'hmac'] as const;

const now = Math.floor(Date.now() / 1000);

/** The token lists, one per scenario, for wrk's Lua script and for autocannon. */
export function tokenLists(): Record<string, string[]> {
  const gate = gateFor(
    [
      { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
      { prefix: '/myc/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tvc/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
    ],
    { A: secrets.azion, B: secrets.alta },
  );
  const hmac = hmacSigner({ keyId: 'k', key: secrets.hmac });
  const sign = {
    azion: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl }),
    alta: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl, notBeforeSec: now - 7200, clientIp }),
    hmac: (path: string, ttl: number) => hmac.sign({ path: path, expiresSec: now + ttl }),
  };
  const prefix = { azion: '/my', alta: '/tv', hmac: '/vod' };
  const lists: Record<string, string[]> = {};
  for (const scheme of schemes) {
    const distinct = Array.from({ length: 10_000 }, (_, i) => sign[scheme](`${prefix[scheme]}/title-${i}/seg-${i % 7}.ts`, 3600));
    lists[`${scheme} valid, distinct tokens`] = distinct;
    lists[`${scheme} valid, one token repeated, verdict cache on`] = [sign[scheme](`${prefix[scheme]}c/title/seg.ts`, 3600)];
    // One character inside the signed fields or the signature (never the grammar-checked last one).
    lists[`${scheme} forged`] = distinct
      .slice(0, 1000)
      .map((url) => `${url.slice(0, -5)}${url.at(-5) === '1' ? '2' : '1'}${url.slice(-4)}`);
    lists[`${scheme} expired`] = Array.from({ length: 1000 }, (_, i) => sign[scheme](`${prefix[scheme]}/old-${i}.ts`, -60));
  }
  // One file, distinct tokens (each a different expiry): the same URLs for both nginx setups,
  // since nginx's secure_link_md5 "secret$uri$secure_link_expires" is the Azion construction.
  lists['nginx file'] = Array.from({ length: 10_000 }, (_, i) =>
    signedUrl(gate, { path: '/my/video.ts', expiresSec: now + 3600 + i }),
  );
  return lists;
}

/** Where the auth listener reads the original request: headers, or the auth request's own target. */
export type SourceForm = 'headers' | 'target';

export interface BenchServiceOptions {
  readonly metrics: boolean;
  readonly workers: number;
  /** Default uws: the fast engine, which takes the target form only. */
  readonly engine?: 'uws' | 'node';
  /** Default: target for uws (its only form), headers for node (the embedded default config's). */
  readonly form?: SourceForm;
  readonly extraListeners?: readonly object[];
}

/** The form a service built from `options` reads. */
export const formOf = (options: Pick<BenchServiceOptions, 'engine' | 'form'>): SourceForm =>
  options.form ?? ((options.engine ?? 'uws') === 'uws' ? 'target' : 'headers');

/** The prefix of target-form listeners: what nginx.example.conf sends (`/tokengate/$remote_addr$request_uri`). */
export const targetPrefix = '/tokengate';

function listenerSources(form: SourceForm) {
  return form === 'target'
    ? { pathPrefix: targetPrefix, clientIpInPath: true }
    : { uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' };
}

export function tokengateConfig(work: string, port: number, adminPort: number, options: BenchServiceOptions): string {
  writeFileSync(join(work, 'azion.key'), secrets.azion);
  writeFileSync(join(work, 'alta.key'), secrets.alta);
  writeFileSync(join(work, 'hmac.key'), secrets.hmac);
  const route = (name: string, prefix: string, scheme: string, file: string, verdictCache: boolean) => ({
    name,
    prefix,
    scheme,
    keys: [{ id: 'k', file }],
    verdictCache,
  });
  const file = join(work, `config-${port}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      workers: options.workers,
      metrics: options.metrics,
      engine: options.engine ?? 'uws',
      listeners: [{ port, ...listenerSources(formOf(options)) }, ...(options.extraListeners ?? [])],
      admin: { port: adminPort },
      routes: [
        route('azion', '/my/', 'azion', 'azion.key', false),
        route('alta', '/tv/', 'alta', 'alta.key', false),
        route('hmac', '/vod/', 'hmac', 'hmac.key', false),
        route('azion-cached', '/myc/', 'azion', 'azion.key', true),
        route('alta-cached', '/tvc/', 'alta', 'alta.key', true),
        route('hmac-cached', '/vodc/', 'hmac', 'hmac.key', true),
      ],
    }),
  );
  return file;
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (10 s at most). */
export function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  return new Promise((ok, fail) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        ok();
      });
      socket.once('error', () =>
        Date.now() > deadline ? fail(new Error(`port ${port} never opened`)) : setTimeout(attempt, 50),
      );
    };
    attempt();
  });
}

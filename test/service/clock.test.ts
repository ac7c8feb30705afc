/**
 * The wall clock stepping forward and back under a running service (libfaketime, Debian
 * package faketime, preloaded into the real process and its worker threads): verdicts follow
 * the clock, and nothing in the verdict cache outlives a token's end.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateFor } from '../helpers/gates.js';
import { header, listenerSources, rawRequest, sourcedRequest } from '../helpers/raw-http.js';
import { startService } from '../helpers/service-process.js';
import { signedUrl } from '../helpers/signed-url.js';
import { configIn, route, uwsPool } from '../helpers/test-config.js';

const library = ['x86_64', 'aarch64']
  .map((arch) => `/usr/lib/${arch}-linux-gnu/faketime/libfaketimeMT.so.1`)
  .find((path) => existsSync(path));

describe('wall clock steps (libfaketime)', () => {
  it('verdicts follow the clock forward and back, for fresh and cached signatures, with worker threads', async () => {
    expect(library, 'libfaketime missing: run "sh test/install-test-deps.sh"').toBeDefined();
    const secret = 'clock-step-secret-0123456789';
    const { dir, file } = configIn(
      { faketime: '+0\n', 'alta.key': secret },
      {
        ...uwsPool,
        clockSkewSec: 30,
        listeners: [{ port: 0, ...listenerSources('target') }],
        routes: [route('tv', '/tv/', 'alta', [{ id: 'k', file: 'alta.key' }], { verdictCache: true })],
      },
    );
    const offset = join(dir, 'faketime');
    const now = Math.floor(Date.now() / 1000);
    const gate = gateFor([{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'S' }] }], { S: secret });
    const url = signedUrl(gate, { path: '/tv/ch/index.m3u8', notBeforeSec: now, expiresSec: now + 600, clientIp: '192.0.2.9' });
    const service = await startService(['serve', '--config', file], {
      LD_PRELOAD: library!,
      FAKETIME_TIMESTAMP_FILE: offset,
      FAKETIME_NO_CACHE: '1',
      // Only the wall clock steps: timers run on the real monotonic clock, as a stepped NTP
      // clock leaves them. (Faked, the +601 s step fired the 5 s shutdown timeout at once and
      // the process could exit before its workers closed their sockets: a flaky abort.)
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    const port = service.ports.get('auth')!;
    const verdict = async () => {
      const response = await rawRequest(port, sourcedRequest('target', url, '192.0.2.9'));
      return `${response.status} ${header(response, 'x-token-status')}`;
    };
    const at = async (step: string) => {
      writeFileSync(offset, `${step}\n`);
      // Several requests on fresh connections reach both workers (and their caches).
      return new Set(await Promise.all(Array.from({ length: 8 }, verdict)));
    };
    try {
      expect(await at('+0')).toEqual(new Set(['200 valid']));
      expect(await at('+0')).toEqual(new Set(['200 valid'])); // cached by now
      expect(await at('+700')).toEqual(new Set(['410 expired']));
      expect(await at('-700')).toEqual(new Set(['403 not-yet-valid']));
      expect(await at('-20')).toEqual(new Set(['200 valid'])); // within the 30 s skew
      expect(await at('+0')).toEqual(new Set(['200 valid']));
      expect(await at('+601')).toEqual(new Set(['410 expired']));
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});

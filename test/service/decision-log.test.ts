/**
 * The optional decision log: one line per decision with verdict, reason, route, key id, client
 * IP and a token fingerprint, never the token, query or path; denials or all, sampled, capped per
 * second; switched by a reload; the same fingerprint as `tokengate verify`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/parse-config.js';
import type { Gate } from '../../src/decision/authorize.js';
import { decisionLogger } from '../../src/http/decision-log.js';
import { listenerEdge } from '../../src/http/listener-edge.js';
import type { SourceFields } from '../../src/http/request-sources.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { gateFor, settled } from '../helpers/gates.js';
import { authStatus, formFor, listenerSources } from '../helpers/raw-http.js';
import { withEnginesHere } from '../helpers/runtime.js';
import { logLines, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const published = '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000';
const forged = '/my/uri?st=AAAAAAAAAAAAAAAAAAAAAA&e=4102444800';

function capture(): { logger: Logger; lines: { level: string; msg: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = {
    log: (level, msg, fields = {}) => lines.push({ level, msg, fields }),
    limited: (_key, level, msg, fields = {}) => lines.push({ level, msg, fields }),
  };
  return { logger, lines };
}

describe('decisionLogger', () => {
  const base = gateFor([{ name: 'files', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k1', env: 'A' }] }], { A: 'mysecret' });
  const edge = listenerEdge({
    name: 'auth',
    host: '127.0.0.1',
    port: 0,
    uriHeader: 'x-original-uri',
    clientIpHeader: 'x-real-ip',
  } as never);
  const fields = (uri: string): SourceFields => ({
    uri,
    uriCount: 1,
    clientIp: '203.0.113.7',
    clientIpCount: 1,
    method: 'GET',
    methodCount: 1,
    headers: { get: () => undefined },
  });
  const decide = (gate: Gate, uri: string, nowSec: number) => settled(edge.answer(fields(uri), gate, nowSec));
  const withLog = (decisionLog: Gate['decisionLog']): Gate => ({ ...base, decisionLog });

  it('logs nothing when off (the default)', () => {
    const { logger, lines } = capture();
    const log = decisionLogger('auth', logger);
    log(decide(base, forged, 1_700_000_000), fields(forged), base);
    expect(lines).toEqual([]);
  });

  it('"denials" logs every answer but an allow; "all" logs allows too', () => {
    for (const verdicts of ['denials', 'all'] as const) {
      const { logger, lines } = capture();
      const gate = withLog({ verdicts, sample: 1, maxPerSec: 1000 });
      const log = decisionLogger('auth', logger);
      for (const [uri, now] of [
        [published, 1_470_000_000],
        [published, 1_470_055_001],
        [forged, 1_700_000_000],
        ['/elsewhere/x', 1_700_000_000],
        ['/my/uri', 1_700_000_000],
      ] as const)
        log(decide(gate, uri, now), fields(uri), gate);
      const verdictsLogged = lines.map((line) => line.fields.verdict);
      expect(verdictsLogged).toEqual(
        verdicts === 'all' ? ['valid', 'expired', 'forged', 'no-route', 'missing'] : ['expired', 'forged', 'no-route', 'missing'],
      );
      const expired = lines.find((line) => line.fields.verdict === 'expired')!;
      expect(expired).toEqual({
        level: 'info',
        msg: 'decision',
        fields: {
          listener: 'auth',
          verdict: 'expired',
          reason: 'the signature is genuine but the token has expired',
          route: 'files',
          scheme: 'azion',
          keyId: 'k1',
          clientIp: '203.0.113.7',
          fp: expect.stringMatching(/^[\w-]{12}$/),
        },
      });
      // A forged token names no key; a missing one has no fingerprint; nothing of the request but the IP.
      expect(lines.find((line) => line.fields.verdict === 'forged')!.fields.keyId).toBeUndefined();
      expect(lines.find((line) => line.fields.verdict === 'missing')!.fields.fp).toBeUndefined();
      const text = JSON.stringify(lines);
      for (const secret of ['m6WCATfRgS', 'AAAAAAAAAAAA', '1470055000', '4102444800', '/my/uri', '/elsewhere', 'st='])
        expect(text).not.toContain(secret);
    }
  });

  it('samples with the configured share', () => {
    const { logger, lines } = capture();
    const gate = withLog({ verdicts: 'denials', sample: 0.25, maxPerSec: 100_000 });
    let i = 0;
    const log = decisionLogger('auth', logger, () => (i++ % 100) / 100);
    for (let n = 0; n < 400; n++) log(decide(gate, forged, 1_700_000_000), fields(forged), gate);
    expect(lines).toHaveLength(100);
  });

  it('caps the lines a second and reports what it dropped', () => {
    const { logger, lines } = capture();
    const gate = withLog({ verdicts: 'denials', sample: 1, maxPerSec: 5 });
    const log = decisionLogger('auth', logger);
    const start = Date.now();
    for (let n = 0; n < 50; n++) log(decide(gate, forged, 1_700_000_000), fields(forged), gate);
    expect(lines.filter((line) => line.msg === 'decision')).toHaveLength(5);
    // The next second's first line reports the drop.
    const realNow = Date.now;
    Date.now = () => start + 1500;
    try {
      log(decide(gate, forged, 1_700_000_000), fields(forged), gate);
    } finally {
      Date.now = realNow;
    }
    expect(lines.at(-2)).toEqual({
      level: 'warn',
      msg: 'decision log lines dropped',
      fields: { listener: 'auth', dropped: 45, maxPerSec: 5 },
    });
    expect(lines.at(-1)!.msg).toBe('decision');
  });

  it('the config refuses what it cannot honour', () => {
    const routes = [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] }];
    const listeners = [{ port: 0, uriHeader: 'X-Original-URI' }];
    expect(parseConfig({ listeners, routes, decisionLog: { verdicts: 'some', sample: 0, maxPerSec: 0, extra: 1 } })).toEqual([
      'decisionLog.verdicts: must be "denials" or "all"',
      'decisionLog.sample: must be a number above 0, at most 1',
      'decisionLog.maxPerSec: must be an integer from 1 to 1000000',
      'decisionLog.extra: unknown field (known: verdicts, sample, maxPerSec)',
    ]);
    expect(
      parseConfig({ listeners, routes, ...JSON.parse(docBlock('docs/operations.md', 'decision-log-config')) }),
    ).toMatchObject({
      decisionLog: { verdicts: 'denials', sample: 1, maxPerSec: 1000 },
    });
  });
});

describe.each(withEnginesHere(['node', 'uws'] as const, (engine) => engine))(
  'decision log in the running service (%s engine)',
  (engine) => {
    it('is switched on by a reload, writes the documented line, and its fp is the one `tokengate verify` prints', async () => {
      const dir = tempDir();
      const config = (extra: object) => ({
        engine,
        workers: 1,
        admin: { port: 0 },
        listeners: [{ name: 'auth', port: 0, ...listenerSources(formFor(engine)) }],
        routes: [{ name: 'demo-azion', prefix: '/my/', scheme: 'azion', keys: [{ id: 'published-example', env: 'AZ' }] }],
        ...extra,
      });
      const file = writeConfig(dir, config({}));
      const env = { AZ: 'mysecret' };
      const service = await startService(['serve', '--config', file], env);
      try {
        const port = service.ports.get('auth')!;
        const form = formFor(engine);
        expect(await authStatus(port, forged, '203.0.113.7', form)).toBe(403);
        writeFileSync(file, JSON.stringify(config({ decisionLog: { verdicts: 'denials' } })));
        service.process.kill('SIGHUP');
        await expect.poll(() => logLines(service.stderr()).some((line) => line.msg === 'config reloaded')).toBe(true);
        expect(await authStatus(port, forged, '203.0.113.7', form)).toBe(403);
        expect(await authStatus(port, published, '203.0.113.7', form)).toBe(410);
        await expect.poll(() => logLines(service.stderr()).filter((line) => line.msg === 'decision').length).toBe(2);
        const [forgedLine, expiredLine] = logLines(service.stderr()).filter((line) => line.msg === 'decision');
        // Exactly the documented line's fields, in its order.
        const shown = JSON.parse(docBlock('docs/operations.md', 'decision-line')) as Record<string, unknown>;
        expect(Object.keys(forgedLine!)).toEqual(Object.keys(shown));
        expect({ ...forgedLine, time: shown.time, fp: shown.fp }).toEqual(shown);
        expect(expiredLine).toMatchObject({ verdict: 'expired', keyId: 'published-example', route: 'demo-azion' });
        const verify = await runCli(['verify', published, '--config', file], env);
        expect(verify.stdout).toContain(`fp:      ${expiredLine!.fp}`);
        expect(service.stderr()).not.toMatch(/m6WCATfRgS|AAAAAAAAAAAA|st=|\/my\/uri/);
      } finally {
        await service.stop();
      }
    });
  },
);

/**
 * The edge every listener shares (src/http/listener-edge.ts): source fields to a verdict and an answer,
 * without a server in between. Here: the client IP taken from an X-Forwarded-For list.
 */
import { describe, expect, it } from 'vitest';
import type { AuthListenerConfig } from '../src/config/config.js';
import { listenerEdge } from '../src/http/listener-edge.js';
import { RequestSources } from '../src/http/request-sources.js';
import { gateFor } from './helpers/gates.js';
import { signedUrl } from './helpers/signed-url.js';

const gate = gateFor([{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'a', env: 'A' }] }], { A: 'edge-test-secret' });
const now = 1_800_000_000;
const client = '198.51.100.7';
const url = signedUrl(gate, { path: '/tv/a.ts', expiresSec: now + 600, notBeforeSec: now - 60, clientIp: client });

/** The edge of a listener reading x-forwarded-uri and x-forwarded-for, answering `url` from `forwardedFor` at `at`. */
function answerAt(forwardedFor: string, at: number, extra: Partial<AuthListenerConfig> = {}) {
  const listener: AuthListenerConfig = {
    name: 'lb',
    host: '127.0.0.1',
    port: 0,
    uriHeader: 'x-forwarded-uri',
    pathPrefix: undefined,
    clientIpInPath: false,
    clientIpHeader: 'x-forwarded-for',
    clientIpHop: undefined,
    expiredStatus: 410,
    cacheMaxAgeSec: 60,
    ...extra,
  };
  const sources = new RequestSources(listener.uriHeader, listener.clientIpHeader, gate.tokenHeaders);
  sources.add('x-forwarded-uri', url);
  sources.add('x-forwarded-for', forwardedFor);
  return listenerEdge(listener).answer(sources, gate, at);
}
const decision = (hop: number | undefined, forwardedFor: string) => answerAt(forwardedFor, now, { clientIpHop: hop }).decision;
const decide = (hop: number | undefined, forwardedFor: string): string => decision(hop, forwardedFor).verdict;

describe('client IP from an X-Forwarded-For list (clientIpHop)', () => {
  it.each([
    [undefined, client, 'allow'],
    [undefined, `203.0.113.1, ${client}`, 'bad-source'],
    [1, client, 'allow'],
    [1, `203.0.113.1, ${client}`, 'allow'],
    [1, `${client}, 203.0.113.1`, 'forged'],
    [2, `${client}, 203.0.113.1`, 'allow'],
    [2, `10.0.0.1,${client},203.0.113.1`, 'allow'],
    [2, `  ${client} ,203.0.113.1`, 'allow'],
    [2, client, 'bad-source'],
    [2, `, 203.0.113.1`, 'bad-source'],
    [1, `${client},`, 'bad-source'],
    [3, `${client}, 203.0.113.1`, 'bad-source'],
    [3, ',203.0.113.1', 'bad-source'],
    [2, `${client}, ,203.0.113.1`, 'bad-source'],
    // Only space and tab are whitespace in HTTP: no-break space, line separator, BOM stay part of the entry.
    [1, `203.0.113.1,\u00a0${client}`, 'bad-source'],
    [1, `203.0.113.1, ${client}\u00a0`, 'bad-source'],
    [1, `203.0.113.1,\u2028${client}`, 'bad-source'],
    [1, `203.0.113.1,\ufeff${client}`, 'bad-source'],
    [1, `203.0.113.1,\t${client}\t`, 'allow'],
  ] as const)('hop %s of "%s": %s', (hop, header, verdict) => {
    expect(decide(hop, header)).toBe(verdict);
  });

  it('says why: too few addresses, or an empty one where the client should be', () => {
    expect(decision(3, ',203.0.113.1').detail).toBe('the x-forwarded-for header has fewer than 3 addresses');
    expect(decision(2, `${client}, ,203.0.113.1`).detail).toBe('address 2 from the right of the x-forwarded-for header is empty');
    expect(decision(1, `${client},`).detail).toBe('address 1 from the right of the x-forwarded-for header is empty');
  });
});

describe('Cache-Control of an allow', () => {
  const maxAgeFor = (secondsLeft: number, cacheMaxAgeSec = 3600) => {
    const { answer, decision } = answerAt(client, now + 600 - secondsLeft, { cacheMaxAgeSec });
    expect(decision.verdict).toBe('allow');
    return answer.headers.find(([name]) => name === 'Cache-Control')![1];
  };
  it('is one second less than the token has left (caches keep an answer through its last whole second), capped', () => {
    expect(maxAgeFor(600)).toBe('max-age=599');
    expect(maxAgeFor(2)).toBe('max-age=1');
    expect(maxAgeFor(1)).toBe('max-age=0');
    expect(maxAgeFor(0)).toBe('max-age=0');
    expect(maxAgeFor(600, 60)).toBe('max-age=60');
  });
});

/**
 * The edge every listener shares (src/http/listener-edge.ts): source fields to a verdict and an answer,
 * without a server in between. Here: the client IP taken from an X-Forwarded-For list.
 */
import { describe, expect, it } from 'vitest';
import type { AuthListenerConfig } from '../../src/config/config.js';
import { listenerEdge } from '../../src/http/listener-edge.js';
import { RequestSources } from '../../src/http/request-sources.js';
import { gateFor, settled } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

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
    methodHeader: undefined,
    expiredStatus: 410,
    cacheMaxAgeSec: 60,
    ...extra,
  };
  const sources = new RequestSources(listener.uriHeader, listener.clientIpHeader, gate.tokenHeaders);
  sources.setMethod('GET');
  sources.add('x-forwarded-uri', url);
  sources.add('x-forwarded-for', forwardedFor);
  return settled(listenerEdge(listener).answer(sources, gate, at));
}
const decision = (hop: number | undefined, forwardedFor: string) => answerAt(forwardedFor, now, { clientIpHop: hop }).decision;
const decide = (hop: number | undefined, forwardedFor: string): string => decision(hop, forwardedFor).verdict;

describe('client IP from an X-Forwarded-For list (clientIpHop)', () => {
  it.each([
    [undefined, client, 'valid'],
    [undefined, `203.0.113.1, ${client}`, 'bad-source'],
    [1, client, 'valid'],
    [1, `203.0.113.1, ${client}`, 'valid'],
    [1, `${client}, 203.0.113.1`, 'forged'],
    [2, `${client}, 203.0.113.1`, 'valid'],
    [2, `10.0.0.1,${client},203.0.113.1`, 'valid'],
    [2, `  ${client} ,203.0.113.1`, 'valid'],
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
    [1, `203.0.113.1,\t${client}\t`, 'valid'],
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
    expect(decision.verdict).toBe('valid');
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

/** A listener of the target form (`<prefix>/<client ip><original uri>`, nginx.example.conf's proxy_pass). */
const targetListener: AuthListenerConfig = {
  name: 'target',
  host: '127.0.0.1',
  port: 0,
  uriHeader: undefined,
  pathPrefix: '/tokengate',
  clientIpInPath: true,
  clientIpHeader: undefined,
  clientIpHop: undefined,
  methodHeader: undefined,
  expiredStatus: 410,
  cacheMaxAgeSec: 60,
};
/** Two routes: /tv/ binds tokens to the client IP (alta), /vod/ does not (hmac without an IP). */
const twoRoutes = gateFor(
  [
    { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'a', env: 'A' }] },
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] },
    { prefix: '/dl/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], methods: ['GET', 'HEAD', 'OPTIONS'] },
  ],
  { A: 'edge-test-secret', K: '6d'.repeat(32) },
);
const vodUrl = signedUrl(twoRoutes, { path: '/vod/a.mp4', expiresSec: now + 600 });
const dlUrl = signedUrl(twoRoutes, { path: '/dl/a.zip', expiresSec: now + 600 });

/** The edge's answer to an auth request whose raw target is `target`, plus header lines. */
function answerTarget(target: string, headers: [string, string][] = [], extra: Partial<AuthListenerConfig> = {}) {
  const listener = { ...targetListener, ...extra };
  const sources = new RequestSources(listener.uriHeader, listener.clientIpHeader, twoRoutes.tokenHeaders, listener.methodHeader);
  for (const [name, value] of headers) sources.add(name, value);
  if (listener.methodHeader === undefined) sources.setMethod('GET');
  sources.target(target, listener.pathPrefix!, listener.clientIpInPath);
  const { answer, decision } = settled(listenerEdge(listener).answer(sources, twoRoutes, now));
  return { status: answer.status, verdict: decision.verdict };
}

describe('the target form: where the IP segment ends (issue 32, point 1)', () => {
  it('a genuine token of a route without IP binding is allowed after the IP segment', () => {
    expect(answerTarget(`/tokengate/${client}${vodUrl}`)).toEqual({ status: 200, verdict: 'valid' });
  });

  it.each([
    // nginx's $request_uri of "GET http://h?/vod/a.mp4?tg=… HTTP/1.1": the IP segment took "<ip>?" and opened "/".
    ['a "?" right after the IP: the URI is "?…", which no route covers', `/tokengate/${client}?${vodUrl}`],
    ['a query with no path', `/tokengate/${client}?x`],
    ['an IPv6 client and a query with no path', '/tokengate/2001:db8::7?x'],
  ])('%s: 403 bad-uri, never an allow, never a 5xx', (_name, target) => {
    expect(answerTarget(target)).toEqual({ status: 403, verdict: 'bad-uri' });
  });

  it.each([
    ['not an address', `/tokengate/not-an-ip${vodUrl}`],
    ['an address and a port', `/tokengate/${client}:80${vodUrl}`],
    ['an address with a trailing byte', `/tokengate/${client}x${vodUrl}`],
    ['an IPv4 octet with a leading zero', `/tokengate/198.051.100.7${vodUrl}`],
  ])('an IP segment that is %s is a deployment error for every route (503 bad-source), IP-bound or not', (_name, target) => {
    expect(answerTarget(target)).toEqual({ status: 503, verdict: 'bad-source' });
  });

  it('Envoy HTTP mode (no IP segment): a "?" right after the prefix starts the URI, which is 403 bad-uri, not a 5xx', () => {
    const envoy = { clientIpInPath: false };
    expect(answerTarget(`/tokengate${vodUrl}`, [], envoy)).toEqual({ status: 200, verdict: 'valid' });
    expect(answerTarget(`/tokengate?${vodUrl}`, [], envoy)).toEqual({ status: 403, verdict: 'bad-uri' });
    expect(answerTarget('/tokengate?x', [], envoy)).toEqual({ status: 403, verdict: 'bad-uri' });
    // Outside the prefix, or the prefix alone: the proxy is misconfigured.
    expect(answerTarget(`/tokengatex${vodUrl}`, [], envoy)).toEqual({ status: 503, verdict: 'bad-source' });
    expect(answerTarget('/tokengate', [], envoy)).toEqual({ status: 503, verdict: 'bad-source' });
  });
});

describe('the request method (issue 32, point 4a)', () => {
  const withHeader: Partial<AuthListenerConfig> = { methodHeader: 'x-original-method' };
  const ask = (method: string, url = vodUrl) =>
    answerTarget(`/tokengate/${client}${url}`, [['x-original-method', method]], withHeader);

  it('GET and HEAD by default; any other method is 403 bad-method, whatever the token', () => {
    expect(ask('GET')).toEqual({ status: 200, verdict: 'valid' });
    expect(ask('HEAD')).toEqual({ status: 200, verdict: 'valid' });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get', 'FOO_BAR']) {
      expect([method, ask(method)]).toEqual([method, { status: 403, verdict: 'bad-method' }]);
    }
    expect(ask('DELETE', '/vod/a.mp4')).toEqual({ status: 403, verdict: 'bad-method' });
  });

  it('a route names more methods with "methods"', () => {
    expect(ask('OPTIONS', dlUrl)).toEqual({ status: 200, verdict: 'valid' });
    expect(ask('POST', dlUrl)).toEqual({ status: 403, verdict: 'bad-method' });
  });

  it('a configured method header that is missing, empty or repeated is a deployment error (503 bad-source)', () => {
    const target = `/tokengate/${client}${vodUrl}`;
    expect(answerTarget(target, [], withHeader)).toEqual({ status: 503, verdict: 'bad-source' });
    expect(answerTarget(target, [['x-original-method', '']], withHeader)).toEqual({ status: 503, verdict: 'bad-source' });
    expect(
      answerTarget(
        target,
        [
          ['x-original-method', 'GET'],
          ['x-original-method', 'GET'],
        ],
        withHeader,
      ),
    ).toEqual({ status: 503, verdict: 'bad-source' });
  });

  it('without a method header, the auth request’s own method counts', () => {
    const sources = new RequestSources(undefined, undefined, twoRoutes.tokenHeaders);
    sources.setMethod('DELETE');
    sources.target(`/tokengate/${client}${vodUrl}`, '/tokengate', true);
    expect(settled(listenerEdge(targetListener).answer(sources, twoRoutes, now)).decision.verdict).toBe('bad-method');
  });

  it('bad-method has its own X-Token-Status and no-store', () => {
    const sources = new RequestSources(undefined, undefined, twoRoutes.tokenHeaders);
    sources.setMethod('PUT');
    sources.target(`/tokengate/${client}${vodUrl}`, '/tokengate', true);
    const { answer } = settled(listenerEdge(targetListener).answer(sources, twoRoutes, now));
    expect([answer.status, answer.headers]).toEqual([
      403,
      [
        ['X-Token-Status', 'bad-method'],
        ['Cache-Control', 'no-store'],
      ],
    ]);
  });
});

/**
 * The request method in the decision (issue 32, point 4a): the route option `methods`, the
 * listener option `methodHeader`, and authorize's `method` argument. Through the doors:
 * test/doors/doors.test.ts, test/doors/nginx.test.ts, test/doors/nginx-options.test.ts; at the edge: test/unit/edge.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize } from '../../src/decision/authorize.js';
import { gateFor } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

const key = { id: 'k', env: 'K' };
const route = { prefix: '/vod/', scheme: 'hmac', keys: [key] };
const problemsOf = (config: Record<string, unknown>): string[] => {
  const parsed = parseConfig({ admin: { port: 0 }, listeners: [{ port: 0, uriHeader: 'X-Original-URI' }], ...config });
  return Array.isArray(parsed) ? parsed : [];
};

describe('routes[].methods', () => {
  it('defaults to GET and HEAD, and takes other names as given', () => {
    const parsed = parseConfig({
      admin: { port: 0 },
      listeners: [{ port: 0, uriHeader: 'X-Original-URI' }],
      routes: [route, { ...route, prefix: '/dl/', methods: ['GET', 'HEAD', 'OPTIONS', 'M-SEARCH'] }],
    });
    if (Array.isArray(parsed)) throw new Error(parsed.join('\n'));
    expect(parsed.routes.map((r) => r.methods)).toEqual([
      ['GET', 'HEAD'],
      ['GET', 'HEAD', 'OPTIONS', 'M-SEARCH'],
    ]);
  });

  it.each([
    [[], 'routes[0].methods: must be a non-empty array of method names, e.g. ["GET", "HEAD", "OPTIONS"]'],
    ['GET', 'routes[0].methods: must be a non-empty array of method names, e.g. ["GET", "HEAD", "OPTIONS"]'],
    [['get'], 'routes[0].methods[0]: must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)'],
    [['GET', 7], 'routes[0].methods[1]: must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)'],
    [['GET HEAD'], 'routes[0].methods[0]: must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)'],
    [['*'], 'routes[0].methods[0]: must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)'],
    [['GET', 'HEAD', 'GET'], 'routes[0].methods[2]: duplicate method "GET"'],
  ])('%j is refused', (methods, problem) => {
    expect(problemsOf({ routes: [{ ...route, methods }] })).toEqual([problem]);
  });
});

describe('listeners[].methodHeader', () => {
  it('is a header name of its own, on HTTP listeners only', () => {
    expect(
      problemsOf({ listeners: [{ port: 0, uriHeader: 'X-Original-URI', methodHeader: 'X_Method' }], routes: [route] }),
    ).toEqual(['listeners[0].methodHeader: must be a header name of letters, digits and "-"']);
    expect(
      problemsOf({ listeners: [{ port: 0, uriHeader: 'X-Original-URI', methodHeader: 'x-original-uri' }], routes: [route] }),
    ).toEqual(['listeners[0].methodHeader: must be a header of its own, not the URI or client IP source']);
    expect(
      problemsOf({
        listeners: [{ port: 0, protocol: 'envoy-grpc', methodHeader: 'X-Original-Method' }],
        routes: [route],
      }),
    ).toEqual(['listeners[0].methodHeader: does not apply to "envoy-grpc" (the method is attributes.request.http.method)']);
    const parsed = parseConfig({
      admin: { port: 0 },
      listeners: [{ port: 0, pathPrefix: '/tokengate', clientIpInPath: true, methodHeader: 'X-Original-Method' }],
      routes: [route],
    });
    if (Array.isArray(parsed)) throw new Error(parsed.join('\n'));
    expect(parsed.listeners[0]!.methodHeader).toBe('x-original-method');
  });
});

describe('authorize(…, method)', () => {
  const gate = gateFor([route, { ...route, prefix: '/dl/', methods: ['GET', 'HEAD', 'OPTIONS'] }], { K: '3c'.repeat(32) });
  const now = 1_800_000_000;
  const vod = signedUrl(gate, { path: '/vod/a.mp4', expiresSec: now + 600 });
  const dl = signedUrl(gate, { path: '/dl/a.zip', expiresSec: now + 600 });
  const decide = (uri: string, method?: string) => authorize(gate, uri, undefined, now, undefined, method).verdict;

  it('judges the method before the token, on the route the path reaches', () => {
    expect(decide(vod, 'GET')).toBe(Verdict.valid);
    expect(decide(vod, 'HEAD')).toBe(Verdict.valid);
    expect(decide(vod, 'OPTIONS')).toBe(Verdict.badMethod);
    expect(decide(dl, 'OPTIONS')).toBe(Verdict.valid);
    // Before the token: no token, a forged one, the same verdict.
    expect(decide('/vod/a.mp4', 'DELETE')).toBe(Verdict.badMethod);
    expect(decide(vod.replace('~m=', '~m=A'), 'DELETE')).toBe(Verdict.badMethod);
    // Before any route, the URI rules and no-route come first.
    expect(decide('/other/a.mp4', 'DELETE')).toBe(Verdict.noRoute);
  });

  it('without a method (tokengate verify, the signers) the method is not judged', () => {
    expect(decide(vod)).toBe(Verdict.valid);
  });

  it('bad-method is a verdict of every route in the metrics', () => {
    for (const r of gate.routes) expect(r.verdicts.has(Verdict.badMethod)).toBe(true);
  });
});

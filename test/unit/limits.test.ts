/**
 * Route limits without a server: the memory counters (each limit, exact at its bound, a refused
 * request counting nothing, windows sliding on an injected clock, counters forgotten when they
 * stop mattering), the config's grammar, the decision's subject (per link, per session; nothing of
 * the token in it) and the edge's answers (over-limit 403, an allow the proxy must not cache, a
 * store that cannot be reached: 503 store-down or an uncounted allow, as the route says).
 */
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import type { AuthListenerConfig } from '../../src/config/config.js';
import { parseRoutes } from '../../src/config/parse-config.js';
import { authorize } from '../../src/decision/authorize.js';
import { type LimitCheck, type Limiter, type LimitSpec, MemoryLimiter } from '../../src/decision/limits.js';
import { listenerEdge } from '../../src/http/listener-edge.js';
import { RequestSources } from '../../src/http/request-sources.js';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { gateFor } from '../helpers/gates.js';

const off: LimitSpec = {
  per: 'link',
  uses: undefined,
  perSecond: undefined,
  clientIps: undefined,
  viewers: undefined,
  onStoreDown: 'deny',
};
const nowSec = 1_800_000_000;

function checkOf(spec: Partial<LimitSpec>, clientIp = '192.0.2.1', subject = 'subject-0001'): LimitCheck {
  return { route: 'r', subject, clientIp, expiresSec: nowSec + 3600, spec: { ...off, ...spec } };
}

describe('memory counters', () => {
  it('uses: exactly the limit, then every request refused; another link counts apart', () => {
    const limiter = new MemoryLimiter(() => nowSec * 1000);
    const outcomes = Array.from({ length: 250 }, () => limiter.check(checkOf({ uses: 100 })).over);
    expect(outcomes.filter((over) => over === undefined)).toHaveLength(100);
    expect(outcomes.slice(100).every((over) => over === 'uses')).toBe(true);
    expect(limiter.check(checkOf({ uses: 100 }, '192.0.2.1', 'subject-0002')).over).toBeUndefined();
  });

  it('perSecond: the limit within each whole second, again in the next', () => {
    let ms = nowSec * 1000 + 100;
    const limiter = new MemoryLimiter(() => ms);
    const run = () => Array.from({ length: 5 }, () => limiter.check(checkOf({ perSecond: 3 })).over);
    expect(run()).toEqual([undefined, undefined, undefined, 'perSecond', 'perSecond']);
    ms += 1000;
    expect(run()).toEqual([undefined, undefined, undefined, 'perSecond', 'perSecond']);
  });

  it('clientIps: a known IP stays allowed, a new one is refused until the window has passed', () => {
    let ms = nowSec * 1000;
    const limiter = new MemoryLimiter(() => ms);
    const spec = { clientIps: { max: 2, windowSec: 60 } };
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBeUndefined();
    expect(limiter.check(checkOf(spec, '192.0.2.2')).over).toBeUndefined();
    expect(limiter.check(checkOf(spec, '192.0.2.3')).over).toBe('clientIps');
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBeUndefined();
    ms += 30_000;
    expect(limiter.check(checkOf(spec, '192.0.2.2')).over).toBeUndefined();
    // 192.0.2.1 was last seen 60 s ago now: out of the window; 192.0.2.2 30 s ago: still in.
    ms += 30_000;
    expect(limiter.check(checkOf(spec, '192.0.2.3')).over).toBeUndefined();
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBe('clientIps');
  });

  it('viewers: distinct IPs seen within the last seconds; a viewer who stops frees a place', () => {
    let ms = nowSec * 1000;
    const limiter = new MemoryLimiter(() => ms);
    const spec = { viewers: { max: 1, windowSec: 10 } };
    expect(limiter.check(checkOf(spec, '2001:db8::1')).over).toBeUndefined();
    ms += 5000;
    expect(limiter.check(checkOf(spec, '2001:db8::2')).over).toBe('viewers');
    expect(limiter.check(checkOf(spec, '2001:db8::1')).over).toBeUndefined();
    ms += 10_001;
    expect(limiter.check(checkOf(spec, '2001:db8::2')).over).toBeUndefined();
  });

  it('a request refused by one limit counts under none', () => {
    const limiter = new MemoryLimiter(() => nowSec * 1000);
    const spec = { uses: 3, clientIps: { max: 1, windowSec: 60 } };
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(limiter.check(checkOf(spec, '192.0.2.9')).over).toBe('clientIps');
    // The five refusals used none of the three uses.
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBeUndefined();
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBeUndefined();
    expect(limiter.check(checkOf(spec, '192.0.2.1')).over).toBe('uses');
  });

  it('counters are forgotten once the link has ended and every window has passed, not before', () => {
    let ms = nowSec * 1000;
    const limiter = new MemoryLimiter(() => ms);
    const check = { ...checkOf({ uses: 1 }), expiresSec: nowSec + 10 };
    expect(limiter.check(check).over).toBeUndefined();
    ms += 5000;
    expect(limiter.check({ ...checkOf({ uses: 1 }, '192.0.2.1', 'other-000001') }).over).toBeUndefined();
    expect(limiter.check(check).over).toBe('uses');
    expect(limiter.size).toBe(2);
    ms += 20_000;
    limiter.check(checkOf({ perSecond: 1 }, '192.0.2.1', 'third-000001'));
    expect(limiter.size).toBe(2);
  });
});

describe('route limits in the config', () => {
  const routeWith = (limits: unknown, scheme = 'hmac') => [{ prefix: '/d/', scheme, keys: [{ id: 'k', env: 'K' }], limits }];
  const problems = (limits: unknown, scheme?: string) => {
    const parsed = parseRoutes(routeWith(limits, scheme));
    return 'problems' in parsed ? parsed.problems : [];
  };

  it('reads every limit, with the documented defaults', () => {
    const parsed = parseRoutes(routeWith({ uses: 3, perSecond: 5, clientIps: { max: 2 }, viewers: { max: 1 } }));
    expect('problems' in parsed).toBe(false);
    if ('problems' in parsed) return;
    expect(parsed[0]!.limits).toEqual({
      per: 'link',
      uses: 3,
      perSecond: 5,
      clientIps: { max: 2, windowSec: 86400 },
      viewers: { max: 1, windowSec: 30 },
      onStoreDown: 'deny',
    });
  });

  it('refuses what it cannot count, each with its path', () => {
    expect(problems({})).toEqual(['routes[0].limits: must set at least one of "uses", "perSecond", "clientIps", "viewers"']);
    expect(problems({ uses: 0 })).toEqual(['routes[0].limits.uses: must be an integer from 1 to 1000000000']);
    expect(problems({ uses: 1, onStoreDown: 'open' })).toEqual([
      'routes[0].limits.onStoreDown: must be "deny" or "allow" (when the counters cannot be reached)',
    ]);
    expect(problems({ clientIps: { windowSec: 60 } })).toEqual([
      'routes[0].limits.clientIps.max: is required (how many distinct client IPs)',
    ]);
    expect(problems({ uses: 1, per: 'session' }, 'azion')).toEqual([
      'routes[0].limits.per: "session" needs a format whose links carry a session id (hmac); azion links have none',
    ]);
    expect(problems({ uses: 1, burst: 2 })[0]).toMatch(/^routes\[0\]\.limits\.burst: /);
  });
});

describe('the decision and the edge on a limited route', () => {
  const key = 'ab'.repeat(32);
  const signer = hmacSigner({ keyId: 'k', key });
  const link = (path: string, sessionId?: string) =>
    signer.sign({ path, expiresSec: nowSec + 600, ...(sessionId === undefined ? {} : { sessionId }) }) as string;
  const gateWith = (limits: unknown, limiter?: Limiter) =>
    gateFor(
      [{ prefix: '/d/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }], limits }],
      { K: key },
      30,
      undefined,
      undefined,
      limiter,
    );

  it('an allow carries the check: the subject names the link (per link) or the session (per session), never the token', () => {
    const perLink = gateWith({ uses: 1 });
    const a = authorize(perLink, link('/d/a', 's1'), '192.0.2.1', nowSec);
    const b = authorize(perLink, link('/d/b', 's1'), '192.0.2.1', nowSec);
    expect(a.verdict).toBe(Verdict.valid);
    expect(a.limit?.subject).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(a.limit?.subject).not.toBe(b.limit?.subject);
    expect(a.limit?.clientIp).toBeUndefined();
    const perSession = gateWith({ uses: 1, per: 'session', clientIps: { max: 1 } });
    const c = authorize(perSession, link('/d/a', 's1'), '::ffff:192.0.2.1', nowSec);
    const d = authorize(perSession, link('/d/b', 's1'), '192.0.2.1', nowSec);
    expect(c.limit?.subject).toBe(d.limit?.subject);
    // One address, one spelling: the IPv4-mapped form counts as the IPv4 client.
    expect(c.limit?.clientIp).toBe('192.0.2.1');
    expect(authorize(perSession, link('/d/a', 's2'), '192.0.2.1', nowSec).limit?.subject).not.toBe(c.limit?.subject);
    // A forged or expired token never reaches the counters.
    expect(authorize(perLink, `${link('/d/a')}x`, '192.0.2.1', nowSec).limit).toBeUndefined();
    expect(authorize(perLink, link('/d/a'), '192.0.2.1', nowSec + 601).limit).toBeUndefined();
  });

  it('a route counting client IPs refuses a request without one (bad-source), or with an unreadable one', () => {
    const gate = gateWith({ viewers: { max: 2 } });
    expect(authorize(gate, link('/d/a'), undefined, nowSec).verdict).toBe(Verdict.badSource);
    expect(authorize(gate, link('/d/a'), '999.1.1.1', nowSec).verdict).toBe(Verdict.badSource);
  });

  const listener: AuthListenerConfig = {
    name: 'auth',
    host: '127.0.0.1',
    port: 0,
    uriHeader: 'x-original-uri',
    pathPrefix: undefined,
    clientIpInPath: false,
    clientIpHeader: 'x-real-ip',
    clientIpHop: undefined,
    methodHeader: undefined,
    expiredStatus: 410,
    cacheMaxAgeSec: 60,
  };
  const answer = async (gate: ReturnType<typeof gateWith>, url: string) => {
    const sources = new RequestSources('x-original-uri', 'x-real-ip', gate.tokenHeaders);
    sources.setMethod('GET');
    sources.add('x-original-uri', url);
    sources.add('x-real-ip', '192.0.2.1');
    const result = await listenerEdge(listener).answer(sources, gate, nowSec);
    const headers = Object.fromEntries(result.answer.headers);
    return { status: result.answer.status, status_: headers['X-Token-Status'], cache: headers['Cache-Control'] };
  };

  it('counted allows are not cacheable; the request past the limit is 403 over-limit', async () => {
    const gate = gateWith({ uses: 2 }, new MemoryLimiter(() => nowSec * 1000));
    const url = link('/d/file.zip');
    const allowed = { status: 200, status_: 'valid', cache: 'no-store' };
    expect(await answer(gate, url)).toEqual(allowed);
    expect(await answer(gate, url)).toEqual(allowed);
    expect(await answer(gate, url)).toEqual({ status: 403, status_: 'over-limit', cache: 'no-store' });
  });

  const unreachable: Limiter = { check: () => Promise.reject(new Error('down')) };
  const throwing: Limiter = {
    check: () => {
      throw new Error('down');
    },
  };

  it('counters out of reach: 503 store-down by default, an uncounted allow with onStoreDown "allow"', async () => {
    for (const limiter of [unreachable, throwing]) {
      expect(await answer(gateWith({ uses: 2 }, limiter), link('/d/a'))).toEqual({
        status: 503,
        status_: 'store-down',
        cache: 'no-store',
      });
      expect(await answer(gateWith({ uses: 2, onStoreDown: 'allow' }, limiter), link('/d/a'))).toEqual({
        status: 200,
        status_: 'valid',
        cache: 'no-store',
      });
    }
  });

  it('a route without limits never reaches a limiter and answers synchronously', () => {
    const gate = gateFor(
      [{ prefix: '/d/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] }],
      { K: key },
      30,
      undefined,
      undefined,
      throwing,
    );
    const sources = new RequestSources('x-original-uri', 'x-real-ip', gate.tokenHeaders);
    sources.setMethod('GET');
    sources.add('x-original-uri', link('/d/a'));
    sources.add('x-real-ip', '192.0.2.1');
    const result = listenerEdge(listener).answer(sources, gate, nowSec);
    expect(result instanceof Promise).toBe(false);
    expect((result as { decision: { verdict: string } }).decision.verdict).toBe(Verdict.valid);
  });
});

/**
 * A worker's limit checks through the main thread (src/service/limit-relay.ts): one message per
 * turn of the event loop, answers matched by id, and a check unanswered for longer than the
 * counters' own timeout plus a second fails (the route's onStoreDown then decides), never sooner.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LimitCheck, MemoryLimiter } from '../../src/decision/limits.js';
import { answerBatch, type LimitBatch, RelayedLimiter } from '../../src/service/limit-relay.js';

const spec = {
  per: 'link',
  uses: 1,
  perSecond: undefined,
  clientIps: undefined,
  viewers: undefined,
  onStoreDown: 'deny',
} as const;
const check = (subject: string): LimitCheck => ({ route: 'r', subject, clientIp: undefined, expiresSec: 2_000_000_000, spec });
const turn = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('relayed limit checks', () => {
  it('the checks of one turn go out as one message; the answers come back to each', async () => {
    const posted: LimitBatch[] = [];
    const relay = new RelayedLimiter((batch) => posted.push(batch));
    const outcomes = [relay.check(check('a-0000000000')), relay.check(check('a-0000000000')), relay.check(check('b-0000000000'))];
    await turn();
    expect(posted).toHaveLength(1);
    expect(posted[0]!.checks).toHaveLength(3);
    relay.answered(await answerBatch(new MemoryLimiter(), posted[0]!));
    expect((await Promise.all(outcomes)).map((outcome) => outcome.over)).toEqual([undefined, 'uses', undefined]);
  });

  it('waits the counters’ timeout plus a second, then fails the check', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const posted: LimitBatch[] = [];
    const relay = new RelayedLimiter((batch) => posted.push(batch));
    relay.storeTimeoutMs = 5000;
    const slow = relay.check(check('c-0000000000'));
    const late = relay.check(check('d-0000000000'));
    const lateFailed = expect(late).rejects.toThrow(/did not answer the limit check in time/);
    await turn();
    // Redis may take its whole timeout: 5.9 s later the check still waits, and its answer counts.
    vi.advanceTimersByTime(5900);
    relay.answered({ type: 'limited', answers: [{ id: posted[0]!.checks[0]!.id, over: null }] });
    expect((await slow).over).toBeUndefined();
    vi.advanceTimersByTime(200);
    await lateFailed;
  });
});

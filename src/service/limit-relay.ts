/**
 * Limit checks between an auth worker and the main thread, which holds the counters
 * (limit-counting.ts): a worker collects the checks of one turn of its event loop and posts them
 * as one message; the main thread answers them as one message once every check has its outcome.
 * A check the main thread does not answer within the counters' timeout and a second more fails
 * (the route's `onStoreDown` decides), so a request never waits without bound.
 */
import type { LimitCheck, Limiter, LimitName, LimitOutcome } from '../decision/limits.js';
import { limitNames, withinLimits } from '../decision/limits.js';

/** A worker's checks of one turn, numbered. */
export interface LimitBatch {
  readonly type: 'limits';
  readonly checks: readonly { readonly id: number; readonly check: LimitCheck }[];
}

/** The outcomes: the limit exceeded, null within every limit, "failed" when the counters could not be reached. */
export interface LimitAnswers {
  readonly type: 'limited';
  readonly answers: readonly { readonly id: number; readonly over: LimitName | null | 'failed' }[];
}

/** How long a worker waits for the main thread beyond the counters' own timeout (a busy main thread). */
const relayMarginMs = 1000;

const outcomeOf: ReadonlyMap<LimitName | null, LimitOutcome> = new Map<LimitName | null, LimitOutcome>([
  [null, withinLimits],
  ...limitNames.map((over) => [over, Object.freeze({ over })] as [LimitName, LimitOutcome]),
]);

/** The worker's limiter: every check goes to the main thread. */
export class RelayedLimiter implements Limiter {
  private nextId = 1;
  private batch: { id: number; check: LimitCheck }[] = [];
  private readonly waiting = new Map<number, { resolve(outcome: LimitOutcome): void; reject(error: Error): void }>();
  private flushing = false;
  /** The counters' own timeout (state.limitTimeoutMs; 0 for memory), set by each config load. */
  storeTimeoutMs = 0;

  constructor(private readonly post: (batch: LimitBatch) => void) {}

  check(check: LimitCheck): Promise<LimitOutcome> {
    const id = this.nextId++;
    return new Promise<LimitOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiting.delete(id)) reject(new Error('the main thread did not answer the limit check in time'));
      }, this.storeTimeoutMs + relayMarginMs);
      this.waiting.set(id, {
        resolve: (outcome) => {
          clearTimeout(timer);
          resolve(outcome);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.batch.push({ id, check });
      if (!this.flushing) {
        this.flushing = true;
        // Every request this turn of the loop reads joins the same message.
        setImmediate(() => this.flush());
      }
    });
  }

  /** The main thread's answers to earlier batches. */
  answered(message: LimitAnswers): void {
    for (const { id, over } of message.answers) {
      const waiter = this.waiting.get(id);
      if (waiter === undefined) continue;
      this.waiting.delete(id);
      if (over === 'failed') waiter.reject(new Error('the counters could not be reached'));
      else waiter.resolve(outcomeOf.get(over)!);
    }
  }

  private flush(): void {
    this.flushing = false;
    const checks = this.batch;
    this.batch = [];
    if (checks.length > 0) this.post({ type: 'limits', checks });
  }
}

/** The main thread's side: every check of a batch through `limiter`, answered together. */
export async function answerBatch(limiter: Limiter, batch: LimitBatch): Promise<LimitAnswers> {
  const answers = await Promise.all(
    batch.checks.map(async ({ id, check }) => {
      try {
        const outcome = await limiter.check(check);
        return { id, over: outcome.over ?? null };
      } catch {
        return { id, over: 'failed' as const };
      }
    }),
  );
  return { type: 'limited', answers };
}

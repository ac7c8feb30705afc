/**
 * The main thread's side of route `limits`: it holds the counters (in memory for the file store,
 * one instance; in Redis, shared) and answers every check, its own listeners' directly and the
 * auth workers' in batches (limit-relay.ts), so one instance counts each link once whatever
 * thread served the request. Opened once some route has `limits`; a route without them never
 * reaches it. Counts what it answered for the exposition, and logs (rate-limited) when the
 * counters cannot be reached.
 */
import type { Logger } from '../base/log.js';
import type { LoadedConfig } from '../config/load-config.js';
import { type LimitCheck, type Limiter, type LimitOutcome, MemoryLimiter } from '../decision/limits.js';
import type { LimitStatus } from '../metrics/limit-families.js';
import { RedisLimiter } from '../state/redis-limits.js';

const stillDownLogMs = 30_000;

/** Whether a config has any use for counters: some route has `limits`. */
export function limitsNeeded(loaded: LoadedConfig): boolean {
  return loaded.config.routes.some((route) => route.limits !== undefined);
}

export class LimitCounting implements Limiter {
  private backend: MemoryLimiter | RedisLimiter | undefined;
  private readonly exceeded = new Map<string, number>();
  private failures = 0;
  private failureLoggedMs = 0;

  constructor(private readonly logger: Logger) {}

  /** Opens the counters the config's `state` names, once (a `state` change needs a restart). */
  async open(loaded: LoadedConfig): Promise<void> {
    if (this.backend !== undefined || !limitsNeeded(loaded)) return;
    const { state } = loaded.config;
    if (state.store === 'file') {
      this.backend = new MemoryLimiter();
      this.logger.log('info', 'limits: counters in memory', {
        scope: 'this instance only, lost on restart (use "state": { "store": "redis" } for several)',
      });
      return;
    }
    const redis = new RedisLimiter(state.redis, { baseDir: loaded.baseDir, env: process.env }, state.limitTimeoutMs);
    this.backend = redis;
    this.logger.log('info', 'limits: counters in redis', { where: redis.where, timeoutMs: state.limitTimeoutMs });
    // Not awaited to the end: until Redis answers, each route's onStoreDown decides.
    await redis.connect().catch((error: Error) => this.failed(redis.lastError ?? error.message));
  }

  check(request: LimitCheck): LimitOutcome | Promise<LimitOutcome> {
    const backend = this.backend;
    if (backend === undefined) return Promise.reject(new Error('no route has limits in the config this thread opened'));
    if (backend instanceof MemoryLimiter) return this.counted(request, backend.check(request));
    return backend.check(request).then(
      (outcome) => this.counted(request, outcome),
      (error: Error) => {
        this.failed(backend.lastError ?? error.message);
        throw error;
      },
    );
  }

  status(): LimitStatus {
    const backend = this.backend;
    return {
      store: backend === undefined ? undefined : backend instanceof MemoryLimiter ? 'memory' : 'redis',
      exceeded: this.exceeded,
      failures: this.failures,
      up: backend instanceof RedisLimiter ? backend.up : true,
    };
  }

  close(): void {
    if (this.backend instanceof RedisLimiter) this.backend.close();
  }

  private counted(request: LimitCheck, outcome: LimitOutcome): LimitOutcome {
    if (outcome.over !== undefined) {
      const key = `${request.route}\n${outcome.over}`;
      this.exceeded.set(key, (this.exceeded.get(key) ?? 0) + 1);
    }
    return outcome;
  }

  private failed(reason: string): void {
    this.failures++;
    const nowMs = Date.now();
    if (nowMs - this.failureLoggedMs < stillDownLogMs) return;
    this.failureLoggedMs = nowMs;
    this.logger.log('error', "limits: counters unreachable; each route's onStoreDown decides", {
      reason,
      failures: this.failures,
    });
  }
}

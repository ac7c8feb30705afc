/**
 * The real auth worker, plus one uncaught error: the first worker to create the file named by
 * TEST_CRASH_LOCK throws from a timer TEST_CRASH_AFTER_MS after it starts (the others, and the
 * replacement, run unchanged). For the worker pool's supervision test only.
 */
import { openSync } from 'node:fs';

const lock = process.env.TEST_CRASH_LOCK;
if (lock !== undefined) {
  try {
    openSync(lock, 'wx');
    setTimeout(
      () => {
        throw new Error('injected worker failure');
      },
      Number(process.env.TEST_CRASH_AFTER_MS ?? '500'),
    );
  } catch {
    // Another worker took the lock: this one serves normally.
  }
}
await import('../../dist/service/auth-worker.js');

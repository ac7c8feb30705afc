/**
 * The real auth worker, plus one uncaught error: the first worker to create the file named by
 * TEST_CRASH_LOCK throws once the file named by TEST_CRASH_GO exists (the test creates it when it
 * wants the failure, so a slow start on a busy machine never moves it); the others, and the
 * replacement, run unchanged. For the worker pool's supervision test only.
 */
import { existsSync, openSync } from 'node:fs';

const lock = process.env.TEST_CRASH_LOCK;
const go = process.env.TEST_CRASH_GO;
if (lock !== undefined && go !== undefined) {
  try {
    openSync(lock, 'wx');
    const poll = setInterval(() => {
      if (!existsSync(go)) return;
      clearInterval(poll);
      throw new Error('injected worker failure');
    }, 20);
  } catch {
    // Another worker took the lock: this one serves normally.
  }
}
await import('../../dist/service/auth-worker.js');

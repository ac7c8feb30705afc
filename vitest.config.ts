import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real processes; on a shared 2-core machine give them room.
    // Two files at once: most of a file's time is spent waiting on the processes it started
    // (vitest's default here would be one, the CPUs less one).
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // What a process writes after answering (log lines, metrics) is waited for, bounded; 1 s (the
    // default) is too short on a busy 2-core machine.
    expect: { poll: { timeout: 10_000 } },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});

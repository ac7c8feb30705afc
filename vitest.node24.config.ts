import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The Node 24 run (test/node24.sh): every test file but these. Files that mix engines run their
 * node cases here and their uws cases on Node 20 only (test/helpers/runtime.ts).
 */
const notOnNode24: Record<string, string> = {
  // The uws engine is their subject: its build loads only on Node 20.
  'test/service/conformance.test.ts': 'the same raw bytes to a uws and a node service',
  'test/service/engine.test.ts': 'loading uWS, its fallback, its config rules',
  'test/service/workers.test.ts': 'worker threads sharing a port (uws)',
  'test/service/worker-pool.test.ts': 'the uws worker pool',
  'test/service/clock.test.ts': 'the clock in uws worker threads',
  'test/service/cpu-budget.test.ts': 'workers "auto" under a CPU quota (uws)',
  'test/doors/envoy-grpc.test.ts': 'gRPC beside uws worker threads (the gRPC door on node runs in test/doors/doors.test.ts)',
  'test/deploy/deploy.test.ts': 'the dashboard read from a uws service with two workers; the image and unit checks are static',
  // Nothing in them runs on the Node under test.
  'test/deploy/kubernetes.test.ts': 'renders the manifests with kubectl',
  'test/deploy/bench-args.test.ts': 'the bench scripts refuse bad arguments (bench/ runs on Node 20)',
};

export default defineConfig({
  test: {
    ...base.test,
    exclude: [...Object.keys(notOnNode24), 'node_modules/**'],
  },
});

#!/bin/sh
# The second test run: the suite that does not need uWS (its build loads only on Node 20), under
# Node.js 24 LTS (test/install-node24.sh). Node 24 comes first on PATH, so vitest, the services the
# tests start (process.execPath) and every `node` a documented command runs are Node 24;
# test/service/runtime.test.ts checks that it is. Which files run: vitest.node24.config.ts.
set -eu
cd "$(dirname "$0")/.."
sh test/install-node24.sh
if [ -n "${TOKENGATE_NODE24:-}" ]; then bin=$(dirname "$TOKENGATE_NODE24"); else bin="$PWD/.node24/bin"; fi
PATH="$bin:$PATH" TOKENGATE_TEST_NODE=24 node node_modules/vitest/vitest.mjs run --config vitest.node24.config.ts "$@"

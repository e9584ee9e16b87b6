#!/usr/bin/env bash
# `npm test` after the type-check: the real-engine tests (test/engine/) and all the others run side
# by side, each mocha with its own PostgreSQL (test/support/global-postgres.ts). The engine tests
# spend most of their time waiting on `pulumi` and its plugins, so on two cores the whole suite
# takes about as long as its larger half. The engine's report is printed after the others'.
# Arguments are passed to both mochas (e.g. -g '<describe text>').
set -uo pipefail
cd "$(dirname "$0")/.."
engine_log=$(mktemp)
trap 'rm -f "$engine_log"' EXIT
mocha 'test/engine/**/*.test.ts' "$@" >"$engine_log" 2>&1 &
engine_pid=$!
mocha --ignore 'test/engine/**' 'test/**/*.test.ts' "$@"
others=$?
wait "$engine_pid"
engine=$?
echo
echo "Real-engine tests (test/engine/), run alongside:"
cat "$engine_log"
echo "npm test: other tests exit $others, real-engine tests exit $engine"
[ "$others" -eq 0 ] && [ "$engine" -eq 0 ]

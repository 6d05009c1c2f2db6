#!/usr/bin/env bash
# Runs the test suites on the native Redis + Kafka (tools/redis.sh, tools/kafka.sh).
# Usage: tools/test.sh all|integration
#   all:         install, build, jest (every project) -> .run/jest-results.json, typecheck, lint.
#   integration: build, jest --selectProjects integration.
# The build (npm run build: dist/, which a fresh clone lacks) comes first, for the suites that run
# the compiled gateway (startGateway({ compiled: true }) would build it too, later and per worker).
# Each step runs even when an earlier one failed; .run/test-status records each step's exit code
# (read by .ci/run), and the exit code is non-zero when any step failed.
set -euo pipefail
COMPONENT=test
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

mode="${1:-all}"
STATUS_FILE="$RUN_DIR/test-status"
RESULTS="$RUN_DIR/jest-results.json"

[[ "$mode" == all ]] && tools/install.sh
tools/redis.sh start
tools/kafka.sh start

export REDIS_URL="redis://127.0.0.1:${REDIS_PORT:-16379}"
export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-19092}"
export REDIS_EXPECT_AOF=1
info "REDIS_URL=$REDIS_URL KAFKA_BROKERS=$KAFKA_BROKERS"

run_step() {
  local name="$1" code=0
  shift
  info "== $name: $*"
  "$@" || code=$?
  echo "$name=$code" >>"$STATUS_FILE"
  return 0
}

rm -f "$STATUS_FILE" "$RESULTS"
run_step build npm_build
if [[ "$mode" == integration ]]; then
  run_step jest npx jest --selectProjects integration --passWithNoTests --forceExit --json --outputFile="$RESULTS"
else
  run_step jest npx jest --passWithNoTests --forceExit --json --outputFile="$RESULTS"
  run_step typecheck npm run -s typecheck
  run_step lint npm run -s lint
fi

echo
info "summary:"
failed=0
while IFS='=' read -r step code; do
  if [[ "$code" == 0 ]]; then
    printf '  %-10s ok\n' "$step"
  else
    printf '  %-10s FAILED (exit %s)\n' "$step" "$code"
    failed=1
  fi
done <"$STATUS_FILE"
if [[ -f "$RESULTS" ]]; then
  node -e 'const r = require(process.argv[1]);
    console.log(`  jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numTotalTestSuites} suites (results: ${process.argv[1]})`);' "$RESULTS"
fi
info "Redis and Kafka keep running for the next run; stop them with make down"
exit "$failed"

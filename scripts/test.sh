#!/usr/bin/env bash
# `npm test`: the whole suite. Unit tests run anywhere; test/netns/ and test/interop/ need root
# (namespaces, TUN) and are reported as ignored otherwise. Ends with exactly one line
#   tests: N passed, M failed[, K skipped]
# computed from the JUnit report, and exits non-zero on any failure or when no test ran.
#
# Environment: RHT_TEST_TIMEOUT (default 40m) bounds the whole `deno test` run;
# extra arguments are passed to `deno test` (e.g. a path: `npm test -- test/ike/`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh || {
  echo "setup failed"
  echo "tests: 0 passed, 0 failed"
  exit 1
}

DENO=node_modules/.bin/deno
ARTIFACTS=test/artifacts
JUNIT=$ARTIFACTS/junit.xml
OUTPUT=$ARTIFACTS/test-output.txt
TIMEOUT=${RHT_TEST_TIMEOUT:-40m}

mkdir -p "$ARTIFACTS"
rm -f "$JUNIT" "$OUTPUT" "$ARTIFACTS"/rht*-charon.log

# Namespaces of a previous crashed run go first; ours go on any exit (the harness also removes
# them itself, this covers a killed runner).
bash scripts/remove_stale_namespaces.sh
trap 'bash scripts/remove_stale_namespaces.sh' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

paths=("$@")
[ "${#paths[@]}" -eq 0 ] && paths=(test/)

# `timeout --foreground` keeps deno in our process group so that Ctrl-C reaches it (the harness
# then removes its namespaces); everything the harness spawns has its own session anyway, and
# per-test limits live in the harness helpers (command timeouts, withLab timeouts).
timeout --foreground --kill-after=30s "$TIMEOUT" \
  "$DENO" test --allow-all --reporter=pretty --junit-path="$JUNIT" "${paths[@]}" </dev/null 2>&1 |
  tee "$OUTPUT"
rc=${PIPESTATUS[0]}

read -r passed failed skipped source < <("$DENO" run --allow-read scripts/test_summary.ts "$JUNIT" "$OUTPUT")
passed=${passed:-0}
failed=${failed:-0}
skipped=${skipped:-0}

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  if [ "$rc" -eq 124 ]; then
    printf "\ntest.sh: deno test timed out after %s" "$TIMEOUT"
  else
    printf "\ntest.sh: deno test was killed"
  fi
  echo "; the test that was running counts as failed"
  failed=$((failed + 1))
elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "test.sh: deno test exited with code $rc outside any test (type check, module load or an uncaught error)"
fi
[ "$source" = junit ] || echo "test.sh: no JUnit report; counts come from the test output"

status=0
if [ "$rc" -ne 0 ] || [ "$failed" -gt 0 ]; then
  status=1
elif [ $((passed + failed)) -eq 0 ]; then
  echo "test.sh: no test ran"
  status=1
fi

line="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
exit "$status"

#!/usr/bin/env bash
# Removes what crashed test runs left behind: network namespaces named rht* (after killing the
# processes inside them) and charon directories /tmp/rht*-swan-*.
#
# Namespaces made by test/netns/harness.ts are named <run prefix><lab>-<name>, the run prefix
# being rht + 5 base36 characters; the run is alive while the pid in /tmp/rht-runs/<run prefix>
# is, and a live run's namespaces are left alone (a concurrent `npm test` is not disturbed).
# Other rht* namespaces are removed only when older than STALE_MINUTES (longer than any test
# run may last). `--all` removes every rht* namespace at once.
set -uo pipefail

RUN_DIR=/tmp/rht-runs
PREFIX_LENGTH=8 # "rht" + 5 base36 characters (RUN_PREFIX in test/netns/harness.ts)
HARNESS_NAME='^rht[0-9a-z]{5}[0-9]+-'
STALE_MINUTES=60

all=0
[ "${1:-}" = "--all" ] && all=1

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
  exit 0 # namespaces need root; without it there is nothing of ours to remove
fi

run_alive() {
  local file="$RUN_DIR/$1" pid
  [ "$all" -eq 0 ] && [ -f "$file" ] || return 1
  pid=$(cat "$file" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^rht' || true); do
  if [ "$all" -eq 0 ]; then
    if [[ "$ns" =~ $HARNESS_NAME ]]; then
      run_alive "${ns:0:$PREFIX_LENGTH}" && continue
    elif [ -z "$(find "/run/netns/$ns" -maxdepth 0 -mmin +"$STALE_MINUTES" 2>/dev/null)" ]; then
      continue # not ours to judge: maybe in use by a test that does not use the harness
    fi
  fi
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086 # word splitting of the pid list is intended
  [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
  if ip netns del "$ns" 2>/dev/null; then
    echo "remove_stale_namespaces: removed $ns"
  fi
done

for dir in /tmp/rht*-swan-*; do
  [ -d "$dir" ] || continue
  name=$(basename "$dir")
  run_alive "${name:0:$PREFIX_LENGTH}" || rm -rf "$dir"
done

if [ -d "$RUN_DIR" ]; then
  for file in "$RUN_DIR"/rht*; do
    [ -f "$file" ] || continue
    run_alive "$(basename "$file")" || rm -f "$file"
  done
fi
exit 0

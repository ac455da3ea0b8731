#!/usr/bin/env bash
# `deno task bench`: the throughput benchmark (test/bench/throughput.ts). Needs root: every
# tunnel end and iperf3 run in network namespaces that the harness creates and removes.
#
#   bash scripts/bench.sh [--rounds R] [--seconds S] [--warmup S] [--only name,name]
#                         [--[no-]pin] [--[no-]load-checks] [--[no-]memory]
#
# Prints a table and writes test/artifacts/throughput.json. Defaults: each tunnel end's
# processes pinned to its half of the CPUs, the same for every path (iperf3 left free; the two
# ends model two machines, see test/bench/_pinning.ts), a 5-second warm-up run per path (not
# counted), then 3 rounds of 10 s per measurement, all paths (veth, ours-aes128gcm,
# ours-aes256gcm, ours-aes256-sha256, strongswan-libipsec-aes128gcm, wireguard-go, openvpn),
# then the load checks (a new IKE SA and liveness checks under load) and memory figures (RSS
# idle, under load, with 1,000 child SAs); with --only those two run only when asked for. A
# full run takes about 10 minutes.
# The ESP micro-benchmarks are separate: `deno task bench:micro`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh || {
  echo "bench: setup failed" >&2
  exit 1
}

# Namespaces of a crashed run go first; a killed benchmark's go on exit (live runs are spared).
bash scripts/remove_stale_namespaces.sh
trap 'bash scripts/remove_stale_namespaces.sh' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node_modules/.bin/deno run --allow-all test/bench/throughput.ts "$@" </dev/null

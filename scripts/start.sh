#!/usr/bin/env bash
# `npm start`: starts the appliance on the shipped default configuration. Extra arguments are
# passed to main.ts. Needs root (TUN device, UDP 500/4500, routes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --start
source scripts/permissions.sh
# Run directly rather than through `deno task`: the task runner resolves the bare name `deno`
# to node_modules/.bin/deno and tries to run that binary as JavaScript.
exec node_modules/.bin/deno run "${RHP_PERMISSIONS[@]}" main.ts -f conf/rockhopper.xml -a conf/auth.xml "$@"

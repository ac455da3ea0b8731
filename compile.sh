#!/usr/bin/env bash
# Builds the appliance as one executable, dist/rockhopper, with `deno compile`, using the
# same permissions as `npm start` (scripts/permissions.sh). The one file is both processes:
# started normally it is the main process, which starts itself again as `rockhopper secure ...`
# for the secure process (and, with -u, `rockhopper secure --keeper ...`); those roles revoke
# the built-in permissions they must not have as soon as they start.
#
#   bash compile.sh                      # for this machine
#   TARGET=aarch64-unknown-linux-gnu bash compile.sh   # for an ARM router
#
# `deno compile` downloads the `denort` runtime for the target on first use. Without network
# access, point DENORT_BIN at a denort binary, or put the release zip at
# $DENO_DIR/dl/release/v<deno version>/denort-<target>.zip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
DENO=${DENO:-node_modules/.bin/deno}
[ -x "$DENO" ] || npm ci --no-audit --no-fund
source scripts/permissions.sh
mkdir -p dist
# --include web: the GUI's static files are served from inside the executable.
# --include lib/dispatch/worker_entry.ts: the data-plane workers' module (deno compile embeds a
# worker's code only when told to).
args=(compile "${RHP_PERMISSIONS[@]}" --include web --include lib/dispatch/worker_entry.ts
  --output dist/rockhopper)
[ -n "${TARGET:-}" ] && args+=(--target "$TARGET")
"$DENO" "${args[@]}" main.ts
echo "built dist/rockhopper; run: dist/rockhopper -f conf/rockhopper.xml -a conf/auth.xml"

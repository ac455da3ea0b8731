#!/usr/bin/env bash
# Idempotent machine set-up for Rockhopper-TS on Debian/Ubuntu with Node + npm.
#
#   bash scripts/setup.sh          everything the test suite needs
#   bash scripts/setup.sh --start  only what `npm start` needs
#
# Installs missing Debian packages (apt-get update only when something is missing), makes sure
# /dev/net/tun exists, and runs `npm ci` when the pinned Deno is not in node_modules. Fast when
# everything is present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=test
[ "${1:-}" = "--start" ] && mode=start

if [ "$mode" = start ]; then
  packages=(iproute2)
else
  packages=(
    iproute2 iputils-ping
    strongswan-swanctl strongswan-charon libcharon-extra-plugins
    libstrongswan-extra-plugins libstrongswan-standard-plugins
    iperf3 nftables tshark tcpdump openssl
    # the benchmark's other user-space VPNs (test/bench/throughput.ts)
    wireguard-go wireguard-tools openvpn
    # the GUI's browser tests: playwright-core drives Debian's Chromium (test/web/browser_test.ts),
    # puppeteer-core drives Debian's Firefox ESR over WebDriver BiDi (browser_firefox_test.ts)
    chromium firefox-esr fonts-dejavu-core
  )
fi

is_root() { [ "$(id -u)" -eq 0 ]; }

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if is_root; then
      echo "setup: installing ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q </dev/null
      apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    else
      echo "setup: missing packages ${missing[*]} (run as root to install them;" \
        "tests that need them are reported as ignored)" >&2
    fi
  fi
else
  echo "setup: dpkg-query not found; install ${packages[*]} yourself" >&2
fi

# TUN is the appliance's only kernel interface (and kernel-libipsec's); containers may lack the node.
if [ ! -c /dev/net/tun ] && is_root; then
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun || echo "setup: cannot create /dev/net/tun" >&2
fi

# The pinned Deno comes from npm (package.json devDependencies); @types/node types node: imports.
if ! node_modules/.bin/deno --version >/dev/null 2>&1 || [ ! -f node_modules/@types/node/package.json ]; then
  echo "setup: installing node_modules (npm ci)"
  npm ci --no-audit --no-fund </dev/null
fi

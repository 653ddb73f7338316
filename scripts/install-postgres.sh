#!/usr/bin/env bash
# Makes sure a PostgreSQL server binary exists for the test harness, which runs its
# own throwaway cluster (test/harness/postgres.ts). Never starts or changes the
# machine's own cluster.
set -euo pipefail

newest_postgres() { printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1; }

if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  echo "    PostgreSQL present: $(newest_postgres)"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "install-postgres: no PostgreSQL server under /usr/lib/postgresql; run as root or: sudo apt-get install postgresql" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "    installed $(newest_postgres)"

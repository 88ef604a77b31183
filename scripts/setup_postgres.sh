#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the test suite and print its URL on stdout.
#
# Idempotent and fast when the cluster already runs. Installs PostgreSQL from Debian's packages
# when no server binaries are found. The cluster lives in .pg/ (git-ignored), listens on
# 127.0.0.1 only, trusts local connections, and runs as the `postgres` user when we are root
# (the server refuses to run as root). Everything but the URL goes to stderr, so:
#     export STREAMWISE_TEST_POSTGRES_URL="$(bash scripts/setup_postgres.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pgdir="$root/.pg"
data="$pgdir/data"
db=streamwise_test
user=streamwise

log() { echo "setup_postgres: $*" >&2; }

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
    return
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return
    fi
  done
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and we are not root: apt-get install postgresql first"
    exit 1
  fi
  log "installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q postgresql >&2
  bindir=$(find_bindir || true)
  if [ -z "$bindir" ]; then
    log "apt-get installed postgresql but no pg_ctl was found under /usr/lib/postgresql"
    exit 1
  fi
fi

# Run a command as the cluster's owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$pgdir"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$pgdir"
  if ! runuser -u postgres -- test -w "$pgdir"; then
    # The checkout is not reachable by the postgres user (say, under a 0700 home): keep the
    # cluster in a directory of its own under /tmp instead, one per checkout.
    pgdir="${TMPDIR:-/tmp}/streamwise-pg-$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
    data="$pgdir/data"
    mkdir -p "$pgdir"
    chown postgres: "$pgdir"
    log "using $pgdir ($root is not reachable by the postgres user)"
  fi
fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "initdb in $data"
  as_owner "$bindir/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 --no-sync >"$pgdir/initdb.log" 2>&1 \
    || { cat "$pgdir/initdb.log" >&2; exit 1; }
fi

port_file="$pgdir/port"
if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 && [ -f "$port_file" ]; then
  port=$(cat "$port_file")
else
  port=""
  for p in 54329 54330 54331 54332 54333 5432 54334 54335; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      port=$p
      break
    fi
  done
  if [ -z "$port" ]; then
    log "no free port for PostgreSQL on 127.0.0.1"
    exit 1
  fi
  echo "$port" >"$port_file"
  log "starting PostgreSQL on 127.0.0.1:$port"
  as_owner "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 || { tail -n 30 "$pgdir/server.log" >&2; exit 1; }
fi

psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
  "${psql[@]}" -c "create database $db" >&2
fi
echo "postgresql://$user@127.0.0.1:$port/$db"

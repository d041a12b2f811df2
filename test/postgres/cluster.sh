#!/usr/bin/env bash
# A throw-away Postgres cluster for the test suite, on loopback, in a temp dir, as a non-root user.
#   eval "$(test/postgres/cluster.sh start)"   # prints the exports the suite reads
#   test/postgres/cluster.sh stop              # stops it and removes its directory
#   test/postgres/cluster.sh stop-keep         # stops it, keeping its data (an outage) ...
#   test/postgres/cluster.sh start-existing    # ... and starts that data again on the same port
# Settings trade durability for speed (fsync off): the cluster holds nothing but test data.
set -euo pipefail
STATE="${PORTCULLIS_PG_STATE:-${TMPDIR:-/tmp}/portcullis-pg-test}"
PORT="${PORTCULLIS_PG_PORT:-54329}"
SERVER_OPTS="-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$STATE -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "cluster.sh: no Postgres server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "$d"
}

# Postgres refuses to run as root: run its tools as the 'postgres' user in that case.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    BIN="$(bindir)"
    if [ -f "$STATE/data/postmaster.pid" ]; then "$0" stop >/dev/null 2>&1 || true; fi
    rm -rf "$STATE" && mkdir -p "$STATE"
    [ "$(id -u)" = 0 ] && chown postgres "$STATE"
    as_owner "$BIN/initdb" -D "$STATE/data" -U portcullis --auth=trust --encoding=UTF8 --no-locale >"$STATE/initdb.log" 2>&1 \
      || { cat "$STATE/initdb.log" >&2; exit 1; }
    as_owner "$BIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 \
      -o "$SERVER_OPTS" start >/dev/null || { cat "$STATE/server.log" >&2; exit 1; }
    echo "export PORTCULLIS_TEST_PG_URL=postgres://portcullis@127.0.0.1:$PORT/postgres"
    echo "export PORTCULLIS_PG_STATE=$STATE"
    ;;
  restart)
    as_owner "$(bindir)/pg_ctl" -D "$STATE/data" -m fast -w restart >/dev/null
    ;;
  stop-keep)
    as_owner "$(bindir)/pg_ctl" -D "$STATE/data" -m fast -w stop >/dev/null
    ;;
  start-existing)
    as_owner "$(bindir)/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 -o "$SERVER_OPTS" start >/dev/null \
      || { cat "$STATE/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -d "$STATE/data" ]; then as_owner "$(bindir)/pg_ctl" -D "$STATE/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$STATE"
    ;;
  *)
    echo "usage: $0 start|restart|stop|stop-keep|start-existing" >&2
    exit 2
    ;;
esac

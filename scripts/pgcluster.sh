#!/usr/bin/env bash
# The project-local PostGIS cluster: `start` (create on first use), `stop`, `status`, `url`.
#
# PostgreSQL refuses to run as root, so when invoked as root the cluster belongs to the
# unprivileged system user `pianqu`. Its data directory lives under .pianqu/ when that user can
# reach it, otherwise (a checkout under /root, say) under /var/tmp, keyed by the checkout's path.
# The server listens only on 127.0.0.1, on a port chosen free at creation, with a password that
# is stored with the cluster (mode 600); the resulting DATABASE_URL is written to .pianqu/env.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.pianqu"
cmd=${1:-start}
dbname=${PIANQU_DB:-pianqu}
owner=pianqu

pgbin=""
for bin in /usr/lib/postgresql/*/bin; do
  v=$(basename "$(dirname "$bin")")
  [ -f "/usr/share/postgresql/$v/extension/postgis.control" ] && pgbin=$bin
done
[ -n "$pgbin" ] || { echo "pianqu: no PostgreSQL with PostGIS found; run scripts/sysdeps.sh" >&2; exit 1; }

mkdir -p "$state"
if [ "$(id -u)" = 0 ]; then
  id -u "$owner" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin "$owner"
  as_owner() { runuser -u "$owner" -- "$@"; }
  home="$state/cluster"
  if ! runuser -u "$owner" -- test -x "$state" 2>/dev/null; then
    home="/var/tmp/pianqu-$(printf %s "$root" | md5sum | cut -c1-12)"
  fi
  mkdir -p "$home"; chown "$owner:$owner" "$home"; chmod 700 "$home"
else
  as_owner() { "$@"; }
  home="$state/cluster"
  mkdir -p "$home"; chmod 700 "$home"
fi
pgdata="$home/pgdata"

url_of() { echo "postgresql+psycopg://$owner:$(cat "$home/password")@127.0.0.1:$(cat "$home/port")/$1"; }

create() {
  local port pw pwfile
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' )
  pwfile="$home/password"
  umask 077
  printf %s "$pw" > "$pwfile"; printf %s "$port" > "$home/port"
  [ "$(id -u)" = 0 ] && chown "$owner:$owner" "$pwfile" "$home/port"
  as_owner "$pgbin/initdb" -D "$pgdata" -U "$owner" --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 --locale=C >/dev/null
  # Collation C: ids and codes sort bytewise, which is what btree builds and joins want.
  # A planning workstation, not a production server: favour bulk loads, keep crash safety.
  as_owner tee -a "$pgdata/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 1GB
max_wal_size = 4GB
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
max_parallel_maintenance_workers = 2
timezone = 'UTC'
CONF
}

running() { as_owner "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }

case "$cmd" in
  start)
    [ -f "$pgdata/PG_VERSION" ] || create
    if ! running; then
      as_owner "$pgbin/pg_ctl" -D "$pgdata" -l "$home/server.log" -w -t 120 start >/dev/null \
        || { tail -n 20 "$home/server.log" >&2; exit 1; }
    fi
    export PGPASSWORD; PGPASSWORD=$(cat "$home/password")
    port=$(cat "$home/port")
    exists=$(psql -h 127.0.0.1 -p "$port" -U "$owner" -d postgres -Atqc \
      "select 1 from pg_database where datname = '$dbname'")
    [ "$exists" = 1 ] || psql -h 127.0.0.1 -p "$port" -U "$owner" -d postgres -qc "create database $dbname" >/dev/null
    umask 077
    echo "DATABASE_URL=$(url_of "$dbname")" > "$state/env"
    ;;
  stop)
    if [ -f "$pgdata/PG_VERSION" ] && running; then as_owner "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null; fi
    ;;
  status)
    if [ -f "$pgdata/PG_VERSION" ] && running; then echo "running: $pgdata"; else echo "stopped"; exit 3; fi
    ;;
  url)
    url_of "$dbname"
    ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac

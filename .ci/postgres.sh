#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (the machine's Debian binaries) for tests and benches:
#   bash .ci/postgres.sh PORT [DATABASE]   → prints postgres://validibot@127.0.0.1:PORT/DATABASE
# Data lives in $PG_DIR (default: a new temp dir, named on stderr); fsync is off, so it
# measures the product, not the disk. Stop it with: pg_ctl -D "$PG_DIR/data" stop
# (as the postgres user when run as root).
set -euo pipefail
port=${1:?usage: postgres.sh PORT [DATABASE]}
database=${2:-postgres}
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
[ -n "$pg_bin" ] || { echo "PostgreSQL binaries not found (apt-get install postgresql)" >&2; exit 1; }
dir=${PG_DIR:-$(mktemp -d /tmp/validibot-pg.XXXXXX)}
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$dir/data" -U validibot -A trust -E UTF8 --no-sync >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=400" start >/dev/null
if [ "$database" != postgres ]; then
  "${as_pg[@]}" "$pg_bin/psql" -q -h "$dir" -p "$port" -U validibot -d postgres -c "CREATE DATABASE $database" >/dev/null
fi
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $port, data in $dir" >&2
echo "postgres://validibot@127.0.0.1:$port/$database"

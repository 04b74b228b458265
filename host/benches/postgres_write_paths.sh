#!/usr/bin/env bash
# PostgreSQL's own ceiling for a launch, per way of sending its statements (issue 20:
# "batch them, pipeline them, or use one function per transition — measure each").
#
# pgbench (C, 16 clients, prepared statements) replays exactly what one synchronous
# launch sends today — caller lookup, workflow lookup, the launch transaction, the result
# transaction, the read-back — against the product's schema, seeded by `validibot bench`,
# in four ways:
#   statements   one round trip per statement (today)
#   pipelined    each transaction's statements sent in one pipeline
#   function     each transaction one call of a PL/pgSQL function (plans cached)
#   batch of 8   each transaction written for 8 runs at once (multi-row statements in
#                one function), reads still per run
# Then the product's own launch bench on the same database, with the CPU the server
# process and everything else (PostgreSQL, the kernel) spend per launch.
#   bash host/benches/postgres_write_paths.sh [./target/release/validibot] [rounds] [seconds] [launches]
set -euo pipefail
BIN=${1:-./target/release/validibot}; ROUNDS=${2:-3}; SECS=${3:-10}; LAUNCHES=${4:-4000}; PORT=${PORT:-55440}
pg_bin=""; for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pgbench" ] && pg_bin=$d; done
[ -n "$pg_bin" ] || { echo "pgbench not found (apt-get install postgresql)" >&2; exit 1; }
work=$(mktemp -d); export PG_DIR=$work
as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
trap '"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" stop -m immediate >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
url=$(bash "$(dirname "$0")/../../.ci/postgres.sh" $PORT vb_paths 2>/dev/null)
VALIDIBOT_LOG=error "$BIN" bench --requests 20 --database-url "$url" > "$work/seed.out" 2>&1 \
  || { cat "$work/seed.out" >&2; exit 1; }
sql() { "${as_pg[@]}" "$pg_bin/psql" -q -At -h "$work" -p $PORT -U validibot -d vb_paths "$@"; }
WS=$(sql -c "SELECT id FROM workspaces WHERE slug = 'default'")
read -r U KEY <<<"$(sql -F ' ' -c "SELECT u.id, k.public_id FROM users u JOIN api_keys k ON k.user_id = u.id WHERE u.username LIKE 'bench-%' LIMIT 1")"
read -r WF SLUG <<<"$(sql -F ' ' -c "SELECT id, slug FROM workflows WHERE slug LIKE 'bench-%' LIMIT 1")"
SHA=a2def1a53c67a51b986178f1ecb234f7ea495cbfe22f28516440da8da76face0
DIGEST=a37193a40b36e7b2af3693cf4e7f956390a5a54efda7f8b47901bab28377980c

# The statements, as pg_stat_statements shows the product sending them; $n names the run.
caller="SELECT w.id, w.slug, w.name, w.is_default, w.require_mfa, m.role, k.secret_hash, k.expires_at, k.revoked_at, k.last_used_at, u.id, u.username, u.is_active FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN memberships m ON m.user_id = u.id AND m.workspace_id = (SELECT id FROM workspaces WHERE slug = 'default') LEFT JOIN workspaces w ON w.id = m.workspace_id WHERE k.public_id = '$KEY';"
workflow="SELECT id, workspace_id, slug, version, name, description, timeout_seconds, content_types, digest, constants, retention_days, archived_at, store_submission, created_at, updated_at, validator_memory_mib FROM workflows WHERE workspace_id = '$WS' AND slug = '$SLUG' ORDER BY version DESC LIMIT 1;"
readback() { echo "SELECT r.id, ws.slug, w.slug, w.version, w.digest, r.status, r.error_category, r.error_detail, s.id, s.filename, s.content_type, s.size, s.sha256, s.metadata, u.username, r.created_at, r.started_at, r.finished_at, r.created_by, r.workflow_id, sr.position, sr.status, sr.started_at, sr.finished_at, sr.outputs, sr.error, f.severity, f.code, f.message, f.path, f.meta, sr.validator_digest FROM runs r JOIN workspaces ws ON ws.id = r.workspace_id JOIN workflows w ON w.id = r.workflow_id JOIN submissions s ON s.id = r.submission_id LEFT JOIN users u ON u.id = r.created_by LEFT JOIN step_runs sr ON sr.run_id = r.id LEFT JOIN findings f ON f.run_id = r.id AND f.step_position = sr.position WHERE r.id = 'r' || $1 AND r.workspace_id = '$WS' ORDER BY sr.position, f.position;
SELECT step_position, name, mime_type, size, sha256 FROM step_artifacts WHERE run_id = 'r' || $1 ORDER BY step_position, name;"; }
launch_tx() { echo "INSERT INTO submissions (id, workspace_id, sha256, size, filename, content_type, metadata, created_by, created_at, stored) VALUES ('s' || $1, '$WS', '$SHA', 2022, '', 'application/json', '{}', '$U', :t, 1);
SELECT id FROM workflows WHERE id = '$WF' FOR SHARE;
INSERT INTO runs (id, workspace_id, workflow_id, submission_id, status, created_by, created_at, started_at) VALUES ('r' || $1, '$WS', '$WF', 's' || $1, 'RUNNING', '$U', :t, :t);
INSERT INTO jobs (id, run_id, state, attempts, max_attempts, available_at, lease_owner, lease_token, lease_expires_at, created_at) VALUES ('j' || $1, 'r' || $1, 'leased', 1, 3, :t, 'bench', 1, :t, :t);"; }
result_tx() { echo "DELETE FROM jobs WHERE id = 'j' || $1 AND lease_token = 1 AND state = 'leased';
INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest) VALUES ('p' || $1, 'r' || $1, 0, 'schema', 'json-schema', '0.1.0', 'PASSED', :t, :t, '[{\"name\":\"error_count\",\"value\":0}]', NULL, '$DIGEST');
UPDATE runs SET status = 'SUCCEEDED', error_category = NULL, error_detail = NULL, finished_at = :t, started_at = COALESCE(started_at, :t) WHERE id = 'r' || $1;
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, data, state, attempts, next_attempt_at, created_at) SELECT e.id, 'x', s.event_type, '{}', 'pending', 0, :t, :t FROM webhook_endpoints e JOIN webhook_subscriptions s ON s.endpoint_id = e.id WHERE e.workspace_id = (SELECT workspace_id FROM runs WHERE id = 'r' || $1) AND e.enabled = 1 AND s.event_type IN ('run.completed');"; }
head='\set n random(1, 9000000000000000)
\set t random(1, 9000000000000000)'

# The same two transitions as PL/pgSQL functions: for one run, and for 8 runs at once.
sql <<SQL
CREATE SCHEMA pathbench;
CREATE FUNCTION pathbench.launch(n text, t bigint) RETURNS int8 LANGUAGE plpgsql AS \$\$ BEGIN
$(launch_tx n | sed 's/:t/t/g; s/^SELECT id FROM/PERFORM id FROM/')
RETURN 1; END \$\$;
CREATE FUNCTION pathbench.finish(n text, t bigint) RETURNS int8 LANGUAGE plpgsql AS \$\$ BEGIN
$(result_tx n | sed 's/:t/t/g')
RETURN 1; END \$\$;
CREATE FUNCTION pathbench.launch8(n text, t bigint) RETURNS int8 LANGUAGE plpgsql AS \$\$ BEGIN
INSERT INTO submissions (id, workspace_id, sha256, size, filename, content_type, metadata, created_by, created_at, stored) SELECT 's' || n || i, '$WS', '$SHA', 2022, '', 'application/json', '{}', '$U', t, 1 FROM generate_series(1, 8) i;
PERFORM id FROM workflows WHERE id = '$WF' FOR SHARE;
INSERT INTO runs (id, workspace_id, workflow_id, submission_id, status, created_by, created_at, started_at) SELECT 'r' || n || i, '$WS', '$WF', 's' || n || i, 'RUNNING', '$U', t, t FROM generate_series(1, 8) i;
INSERT INTO jobs (id, run_id, state, attempts, max_attempts, available_at, lease_owner, lease_token, lease_expires_at, created_at) SELECT 'j' || n || i, 'r' || n || i, 'leased', 1, 3, t, 'bench', 1, t, t FROM generate_series(1, 8) i;
RETURN 1; END \$\$;
CREATE FUNCTION pathbench.finish8(n text, t bigint) RETURNS int8 LANGUAGE plpgsql AS \$\$ BEGIN
DELETE FROM jobs WHERE id IN (SELECT 'j' || n || i FROM generate_series(1, 8) i) AND lease_token = 1 AND state = 'leased';
INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest) SELECT 'p' || n || i, 'r' || n || i, 0, 'schema', 'json-schema', '0.1.0', 'PASSED', t, t, '[{"name":"error_count","value":0}]', NULL, '$DIGEST' FROM generate_series(1, 8) i;
UPDATE runs SET status = 'SUCCEEDED', error_category = NULL, error_detail = NULL, finished_at = t, started_at = COALESCE(started_at, t) WHERE id IN (SELECT 'r' || n || i FROM generate_series(1, 8) i);
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, data, state, attempts, next_attempt_at, created_at) SELECT e.id, 'x', s.event_type, '{}', 'pending', 0, t, t FROM webhook_endpoints e JOIN webhook_subscriptions s ON s.endpoint_id = e.id WHERE e.workspace_id IN (SELECT workspace_id FROM runs WHERE id IN (SELECT 'r' || n || i FROM generate_series(1, 8) i)) AND e.enabled = 1 AND s.event_type IN ('run.completed');
RETURN 1; END \$\$;
SQL

run_id="'a' || :n"
printf '%s\n' "$head" "$caller" "$workflow" BEGIN\; "$(launch_tx "$run_id")" COMMIT\; BEGIN\; "$(result_tx "$run_id")" COMMIT\; "$(readback "$run_id")" > "$work/statements.pgb"
printf '%s\n' "$head" "$caller" "$workflow" '\startpipeline' BEGIN\; "$(launch_tx "$run_id")" COMMIT\; '\endpipeline' \
  '\startpipeline' BEGIN\; "$(result_tx "$run_id")" COMMIT\; '\endpipeline' "$(readback "$run_id")" > "$work/pipelined.pgb"
printf '%s\n' "$head" "$caller" "$workflow" "SELECT pathbench.launch('b' || :n, :t);" "SELECT pathbench.finish('b' || :n, :t);" \
  "$(readback "'b' || :n")" > "$work/function.pgb"
{ echo "$head"; for _ in 1 2 3 4 5 6 7 8; do echo "$caller"; echo "$workflow"; done
  echo "SELECT pathbench.launch8('c' || :n || '-', :t);"; echo "SELECT pathbench.finish8('c' || :n || '-', :t);"
  for i in 1 2 3 4 5 6 7 8; do readback "'c' || :n || '-$i'"; done; } > "$work/batch8.pgb"

declare -A runs_per_txn=([statements]=1 [pipelined]=1 [function]=1 [batch8]=8) results
for round in $(seq "$ROUNDS"); do
  for v in statements pipelined function batch8; do
    "$pg_bin/pgbench" -n -M prepared -c 16 -j 2 -T "$SECS" -h 127.0.0.1 -p $PORT -U validibot -f "$work/$v.pgb" vb_paths \
      > "$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out" >&2; exit 1; }
    tps=$(awk '/^tps/{print $3}' "$work/pgbench.out")
    r=$(echo "$tps * ${runs_per_txn[$v]}" | bc -l); results[$v]+="$(printf '%.0f' "$r") "
    echo "round $round: $v ${r%.*} runs/s" >&2
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
base=$(echo "${results[statements]}" | median)
echo "| how a launch's statements travel | runs/s (each round) | median | vs statements |"
echo "|---|---|---:|---:|"
for v in statements pipelined function batch8; do
  m=$(echo "${results[$v]}" | median)
  printf '| %s | %s | %s | %.2f |\n' "$v" "$(echo ${results[$v]} | sed 's/ / \/ /g')" "$m" "$(echo "$m / $base" | bc -l)"
done
sql -c "SET client_min_messages = warning; DROP SCHEMA pathbench CASCADE"

# The product on the same database: CPU per launch of the server process vs the rest.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
mine() { awk '{print $14+$15}' "/proc/$1/stat"; }
out=$work/bench.out
alive() { kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; exit 1; }; }
VALIDIBOT_LOG=error "$BIN" bench --requests "$LAUNCHES" --database-url "$url" > "$out" 2>&1 & pid=$!
until grep -q "launch (sync), 1 client:" "$out"; do alive; sleep 0.02; done; b0=$(busy); m0=$(mine $pid)
until grep -q "launch (sync), 16 clients:" "$out"; do alive; sleep 0.02; done; b1=$(busy); m1=$(mine $pid)
wait $pid || { cat "$out" >&2; exit 1; }
ops=$(awk '/^launch \(sync\), 16 clients:/{print $5}' "$out")
grep "| launch (sync), 16 clients" "$out"
echo "CPU per launch, 16 clients: server process (with the load generator) $(echo "scale=2; ($m1-$m0)*10/$ops" | bc) ms, everything else (PostgreSQL, kernel) $(echo "scale=2; (($b1-$b0)-($m1-$m0))*10/$ops" | bc) ms"

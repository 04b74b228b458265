#!/usr/bin/env bash
# Brings the compose stack up from locally built images (no registry), then: create a
# user and key, create a workflow, submit a valid and an invalid document (PASS, FAIL),
# check /readyz and /metrics; always tears the stack down. Needs docker-compose.
# With SMOKE_PRO_DIR (extensions/ with the signed library, license.lic) and
# SMOKE_EXTENSION_TRUSTED_KEYS, the stack runs Pro from those files and both services
# must report the license valid. With SMOKE_STORAGE=s3, the stack keeps its blobs in its
# own SeaweedFS (`--profile s3`, image built from the `weed` on PATH) and none may land in
# the data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v docker-compose >/dev/null || { echo "docker-compose is needed (apt-get install docker-compose)" >&2; exit 1; }
image=$(deploy/build-image.sh)
base=$(deploy/validators/base.sh)
docker image inspect validibot/postgres:15 >/dev/null 2>&1 \
  || docker build -q --network host --build-arg BASE_IMAGE="$base" -t validibot/postgres:15 deploy/postgres >/dev/null
work=$(mktemp -d /tmp/validibot-smoke.XXXXXX)
install -d -o 10001 -g 10001 -m 0750 "$work/data"
port=${SMOKE_PORT:-18080}
cat > "$work/.env" <<ENV
VALIDIBOT_IMAGE=$image
VALIDIBOT_PUBLISH=127.0.0.1:$port
VALIDIBOT_SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
VALIDIBOT_DATA_DIR=$work/data
POSTGRES_IMAGE=validibot/postgres:15
POSTGRES_PASSWORD=smoke-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
DOCKER_SOCKET=/var/run/docker.sock
DOCKER_SOCKET_GID=$(stat -c %g /var/run/docker.sock)
ENV
if [ -n "${SMOKE_PRO_DIR:-}" ]; then
  cat >> "$work/.env" <<ENV
VALIDIBOT_PRO_DIR=$SMOKE_PRO_DIR
VALIDIBOT_EXTENSIONS_DIR=/etc/validibot/pro/extensions
VALIDIBOT_EXTENSION_TRUSTED_KEYS=$SMOKE_EXTENSION_TRUSTED_KEYS
VALIDIBOT_LICENSE_FILE=/etc/validibot/pro/license.lic
ENV
fi
profile=()
if [ "${SMOKE_STORAGE:-dir}" = s3 ]; then
  cat >> "$work/.env" <<ENV
SEAWEEDFS_IMAGE=$(deploy/seaweedfs/build.sh)
VALIDIBOT_STORAGE_URL=s3://validibot-smoke
VALIDIBOT_S3_ENDPOINT=http://seaweedfs:8333
VALIDIBOT_S3_REGION=us-east-1
VALIDIBOT_S3_ACCESS_KEY_ID=smoke
VALIDIBOT_S3_SECRET_ACCESS_KEY=smoke-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
ENV
  profile=(--profile s3)
fi
compose=(docker-compose -p "${SMOKE_PROJECT:-validibot-smoke}" "${profile[@]}" -f deploy/docker-compose.yml --env-file "$work/.env")
cleanup() {
  status=$?
  [ $status -eq 0 ] || "${compose[@]}" logs --no-color --tail 40 >&2 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
"${compose[@]}" up -d
base_url="http://127.0.0.1:$port"
for _ in $(seq 90); do curl -fs "$base_url/readyz" >/dev/null && break; sleep 1; done
curl -fsS "$base_url/readyz"; echo
"${compose[@]}" exec -T web validibot admin create-user --username smoke --role owner >/dev/null
key=$("${compose[@]}" exec -T web validibot admin create-api-key --username smoke | tr -d '\r\n')
api() { curl -fsS -H "Authorization: Bearer $key" "$@"; }
api -H 'content-type: application/json' --data-binary @examples/invoice-workflow.json \
  "$base_url/api/v1/workspaces/default/workflows" >/dev/null
result_of() {
  local run url
  run=$(api -H 'content-type: application/json' --data-binary "@examples/$1" \
    "$base_url/api/v1/workspaces/default/workflows/invoice/runs?wait=30")
  url=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$run")
  for _ in $(seq 60); do
    run=$(api "$base_url$url")
    python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["state"] != "COMPLETED")' <<<"$run" && break
    sleep 1
  done
  python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])' <<<"$run"
}
pass=$(result_of invoice-valid.json)
fail=$(result_of invoice-invalid.json)
echo "valid: $pass, invalid: $fail"
[ "$pass" = PASS ] && [ "$fail" = FAIL ] || { echo "smoke test: expected PASS and FAIL" >&2; exit 1; }
metrics=$(curl -fsS "$base_url/metrics")
grep -q '^validibot_runs{status="SUCCEEDED"} 1$' <<<"$metrics" || { echo "metrics do not count the run:" >&2; grep '^validibot_runs' <<<"$metrics" >&2; exit 1; }
worker_ready=$("${compose[@]}" exec -T worker validibot --version)
echo "worker: $worker_ready"
if [ -n "${SMOKE_PRO_DIR:-}" ]; then
  state_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
  web_state=$(api "$base_url/api/v1/license" | state_of)
  worker_state=$("${compose[@]}" exec -T worker validibot license show | state_of)
  echo "pro: web $web_state, worker $worker_state"
  [ "$web_state" = valid ] && [ "$worker_state" = valid ] || { echo "smoke test: Pro did not come up" >&2; exit 1; }
fi
if [ "${SMOKE_STORAGE:-dir}" = s3 ]; then
  in_dir=$(find "$work/data" -path '*/blobs/*' -type f | wc -l)
  echo "storage: s3, blobs in the data dir: $in_dir"
  [ "$in_dir" = 0 ] || { echo "smoke test: blobs were written to the data dir, not the bucket" >&2; exit 1; }
fi
echo "compose smoke test passed"

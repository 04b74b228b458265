#!/usr/bin/env bash
# Webhook delivery throughput: one `serve` (SQLite, embedded worker), one endpoint on a
# loopback receiver (Python's threaded http.server), N runs launched by 8 parallel curl
# clients; prints when the last delivery arrived. Compare binaries side by side:
#   bash host/benches/webhook_deliveries.sh ./target/release/validibot 1000
set -euo pipefail
BIN=${1:-./target/release/validibot}; N=${2:-1000}; PORT=18098; HOOK=18099
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/recv.py" <<PY
import http.server, threading, time
count = 0; lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get('content-length', 0)))
        with lock: count += 1
        self.send_response(200); self.send_header('content-length', '0'); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', $HOOK), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
while True:
    time.sleep(0.1)
    with lock: open('$work/count', 'w').write(str(count))
PY
python3 "$work/recv.py" & 
export VALIDIBOT_DATA_DIR=$work/data VALIDIBOT_LOG=error
"$BIN" admin create-user --username b --role owner >/dev/null 2>&1
KEY=$("$BIN" admin create-api-key --username b 2>/dev/null)
VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32 "$BIN" serve --bind 127.0.0.1:$PORT >/dev/null 2>&1 &
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz && break; sleep 0.2; done
api() { curl -sf -o /dev/null -H "authorization: Bearer $KEY" -H 'content-type: application/json' "$@"; }
api -d '{"slug":"w","steps":[{"key":"s","validator":"json-schema","config":{"schema":{"type":"object"}}}]}' http://127.0.0.1:$PORT/api/v1/workspaces/default/workflows
api -d "{\"url\":\"http://127.0.0.1:$HOOK/h\",\"events\":[\"run.completed\"]}" http://127.0.0.1:$PORT/api/v1/workspaces/default/webhooks
start=$(date +%s.%N)
seq "$N" | xargs -P 8 -I{} curl -s -o /dev/null -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -H 'Prefer: respond-async' -d '{"n":{}}' "http://127.0.0.1:$PORT/api/v1/workspaces/default/workflows/w/runs?wait=0"
launched=$(date +%s.%N)
for _ in $(seq 3000); do c=$(cat "$work/count" 2>/dev/null || true); [ "${c:-0}" -ge "$N" ] && break; sleep 0.1; done
done_at=$(date +%s.%N)
echo "$N runs launched in $(echo "$launched - $start" | bc) s; $(cat "$work/count") delivered $(echo "$done_at - $start" | bc) s after the first launch ($(echo "$done_at - $launched" | bc) s after the last)"

#!/usr/bin/env bash
# Runs README.md's command 1 and its five-minute quick start *as written there*: the
# commands are read out of README.md, not copied, so the README cannot drift from what
# works. Starts the service with command 1, waits for /readyz, runs the quick start in a
# second shell, compares what its last command prints with the README's expected
# output, then stops the service.
#
# Run from the repository root after the build (.ci/test does): command 1 must then
# start without compiling anything.
set -euo pipefail
cd "$(dirname "$0")/.."

readme=README.md
work=$(mktemp -d /tmp/validibot-quickstart.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work" validibot-data
}
trap cleanup EXIT

# The fenced block after a heading, as text (python: no awk dialect surprises).
block_after() { # heading regex, nth ```sh block under it (1-based)
  python3 - "$readme" "$1" "${2:-1}" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'^#+ ' + sys.argv[2] + r'.*$', text, re.M)
if not m:
    sys.exit(f"README has no heading matching {sys.argv[2]!r}")
blocks = re.findall(r'^```[a-z]*\n(.*?)^```', text[m.end():], re.M | re.S)
print(blocks[int(sys.argv[3]) - 1], end='')
EOF
}

two=$(block_after 'Two commands')
command1=$(printf '%s\n' "$two" | grep -m1 '^cargo run')
[ -n "$command1" ] || { echo "README: no 'cargo run' line under 'Two commands'" >&2; exit 1; }
quickstart=$(block_after 'Five-minute quick start' 1)
expected=$(block_after 'Five-minute quick start' 2)

rm -rf validibot-data
echo "README command 1: $command1"
started=$(date +%s)
bash -c "exec $command1" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  if curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "command 1 exited:" >&2; tail -30 "$work/server.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS http://127.0.0.1:8080/readyz >/dev/null || { echo "command 1 never became ready" >&2; tail -30 "$work/server.log" >&2; exit 1; }
echo "ready after $(( $(date +%s) - started )) s"
# Command 1 must reuse the test build: a compile here means the README binary is not
# the tested one (issue 26).
if grep -q '^ *Compiling ' "$work/server.log"; then
  echo "README command 1 compiled again; the tests did not run this binary:" >&2
  grep '^ *Compiling ' "$work/server.log" | head -20 >&2
  exit 1
fi

# The quick start, verbatim, in a shell where its alias works. A marker before its last
# command (the last blank-line-separated paragraph) separates that command's output.
python3 - "$quickstart" >"$work/quickstart.sh" <<'PY'
import sys
paragraphs = sys.argv[1].strip().split("\n\n")
print("shopt -s expand_aliases\nset -euo pipefail")
print("\n\n".join(paragraphs[:-1]))
print("printf '\\n@@LAST@@\\n'")
print(paragraphs[-1])
PY
actual=$(bash "$work/quickstart.sh" 2>"$work/quickstart.err") || {
  echo "the quick start failed:" >&2; cat "$work/quickstart.err" >&2; exit 1; }
last=$(printf '%s\n' "$actual" | sed '1,/^@@LAST@@$/d')
if [ "$last" != "$expected" ]; then
  echo "the quick start's last command printed:" >&2
  printf '%s\n' "$last" >&2
  echo "README says:" >&2
  printf '%s\n' "$expected" >&2
  exit 1
fi
echo "README quick start: output matches ($(printf '%s\n' "$expected" | wc -l) lines)"

#!/bin/sh
# A validator that misbehaves on request ($1), for the runner's conformance tests.
in="${VALIDIBOT_INPUT_URI#file://}"
out="${VALIDIBOT_OUTPUT_URI#file://}"
dir=$(dirname "$in")

write_output() { # status, messages JSON
  printf '{"schema_version":"validibot.output.v1","status":"%s","messages":%s,"metrics":[{"name":"files","value":1}],"artifacts":[]}' "$1" "$2" > "$out"
}

verify_inputs() { # each listed file's sha256 must match the envelope
  want=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$in" | head -1)
  name=$(sed -n 's/.*"name": "\([^"]*\)".*/\1/p' "$in" | head -1)
  got=$(sha256sum "$dir/$name" | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "input $name: sha256 $got, expected $want" >&2; exit 4; }
}

# The mode comes from the command line, else from the step config {"mode": "…"}.
mode="${1:-$(sed -n 's/.*"mode": "\([a-z-]*\)".*/\1/p' "$in" | head -1)}"
case "$mode" in
  ok) verify_inputs; echo "checked $(wc -c < "$dir/input.json") bytes of envelope"; write_output success '[]' ;;
  fail-validation) verify_inputs; write_output failed_validation '[{"severity":"ERROR","code":"conformance.bad","text":"the document is bad","location":"/a"}]' ;;
  artifacts) verify_inputs; o=$(dirname "$out"); echo "a report" > "$o/report.txt"; ln -s /etc/passwd "$o/leak"
    printf '{"schema_version":"validibot.output.v1","status":"success","messages":[],"metrics":[],"artifacts":[{"name":"report.txt","path":"report.txt","mime_type":"text/plain"},{"name":"leak","path":"leak"}]}' > "$out" ;;
  exit) echo "exiting with $2" >&2; exit "$2" ;;
  sleep) echo "sleeping"; sleep 600 ;;
  sleep-hour) echo "sleeping for an hour, as a long simulation would"; sleep 3600 ;;
  flood) yes "validibot flood line" | head -c 20000000; write_output success '[]' ;;
  memory) x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done ;;
  write-rootfs) echo hack > /etc/hacked || exit 5; write_output success '[]' ;;
  # (busybox wget's own -T segfaults in Debian's static build, so `timeout` bounds it)
  network) timeout 5 wget -q -O - "${2:-http://1.1.1.1/}" || { echo "network refused" >&2; exit 6; }; echo; [ -n "$out" ] && write_output success '[]'; exit 0 ;;
  symlink-output) ln -s /etc/passwd "$out" ;;
  fifo-output) mkfifo "$out" ;;
  huge-output) head -c 20000000 /dev/zero | tr '\0' ' ' > "$out" ;;
  *) echo "unknown mode $mode" >&2; exit 64 ;;
esac

#!/usr/bin/env bash
# Builds validibot/validator-fmi:1.0 locally: the validibot-fmi binary of this
# crate (cargo, release) on the Debian bookworm base from ../base.sh. Needs root
# (debootstrap, first time only), a Docker engine and cargo. Prints the image ID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=validibot/validator-fmi:1.0
bash "$here/../base.sh" >/dev/null
root=$(cd "$here/../../.." && pwd)
# Its own target dir, so this also works while another cargo (a test run) holds target/.
target=${VALIDIBOT_IMAGE_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/validator-images}
(cd "$root" && cargo build --quiet --release --locked -p validibot-validator-fmi --target-dir "$target")
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$target/release/validibot-fmi" "$here/Dockerfile" "$ctx/"
docker build -q -t "$image" "$ctx" >/dev/null
docker image inspect --format '{{.Id}}' "$image"

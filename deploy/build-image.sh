#!/usr/bin/env bash
# Builds validibot/validibot:${TAG:-dev} from the release binary cargo built here
# (cargo build --release -p validibot), with no registry: the base is the local
# debootstrap image from deploy/validators/base.sh. Prints the tag.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=validibot/validibot:${TAG:-dev}
bin=${VALIDIBOT_BINARY:-${CARGO_TARGET_DIR:-target}/release/validibot}
[ -x "$bin" ] || { echo "$bin not found: cargo build --release -p validibot first" >&2; exit 1; }
base=$(deploy/validators/base.sh)
cp "$bin" deploy/prebuilt/validibot
strip deploy/prebuilt/validibot
trap 'rm -f deploy/prebuilt/validibot' EXIT
docker build -q --target prebuilt --build-arg BASE_IMAGE="$base" -f deploy/Dockerfile -t "$tag" . >/dev/null
# The binary must start in the image (its libraries are all there, it runs as 10001).
docker run --rm --network none "$tag" --version >/dev/null
echo "$tag"

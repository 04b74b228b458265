#!/usr/bin/env bash
# Builds the JavaScript example into a wasm32-wasip2 component:
#   bash build.sh [OUT.wasm]      (default: target/line_length_js.wasm)
# Installs the pinned componentize-js (npm, package-lock.json) on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/target/line_length_js.wasm}
cd "$here"
[ -d node_modules/@bytecodealliance/componentize-js ] || npm ci --silent --no-audit --no-fund
node build.mjs app.js ../../../wit/1.0.0 "$out"

#!/usr/bin/env bash
# build-static.sh [BUILD_DIR]: one static, stripped devops-info, as the image
# ships it, built on this machine (for benchmarks and for copying to hosts
# without the libraries). fmt is used header-only; nghttp2 from its static
# archive.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/static}

cmake -S . -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVOPS_INFO_TESTS=OFF -DDEVOPS_INFO_STATIC=ON >/dev/null
cmake --build "$OUT" -j2 >/dev/null
strip "$OUT/src/cli/devops-info"
echo "$OUT/src/cli/devops-info"

#!/usr/bin/env bash
# build-static.sh [BUILD_DIR]: one static, stripped devops-info, as the image
# ships it, built on this machine (for benchmarks and for copying to hosts
# without the libraries).
#
# Debian ships cpp-httplib only as a shared library; its source package holds
# the header-only httplib.h. This fetches that source with a private apt
# configuration (deb-src of the machine's own Debian sources), so the
# system's apt set-up is left as it is. fmt is used header-only.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/static}
CACHE=${DEVOPS_INFO_CACHE:-build/.httplib-src}

if [ ! -f "$CACHE/include/httplib.h" ]; then
  command -v dpkg-source >/dev/null || {
    echo "build-static.sh: dpkg-source is missing (apt-get install dpkg-dev)" >&2; exit 1; }
  rm -rf "$CACHE" && mkdir -p "$CACHE/apt/lists/partial" "$CACHE/src" "$CACHE/include"
  # deb-src entries for every deb entry the machine uses (deb822 and one-line formats)
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$CACHE/apt/$(basename "$f")"
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$CACHE/apt/sources.list"
  else
    : > "$CACHE/apt/sources.list"
  fi
  apt_opts=(-q -o "Dir::Etc::SourceList=$PWD/$CACHE/apt/sources.list" -o "Dir::Etc::SourceParts=$PWD/$CACHE/apt"
    -o "Dir::State::Lists=$PWD/$CACHE/apt/lists" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update >/dev/null
  (cd "$CACHE/src" && apt-get "${apt_opts[@]}" source cpp-httplib >/dev/null 2>&1 ||
    apt-get "${apt_opts[@]}" source --download-only cpp-httplib >/dev/null)
  header=$(find "$CACHE/src" -maxdepth 2 -name httplib.h | head -1)
  if [ -z "$header" ]; then  # no dpkg-source run: take the upstream tarball's header
    tar -xJf "$CACHE"/src/cpp-httplib_*.orig.tar.* -C "$CACHE/src"
    header=$(find "$CACHE/src" -maxdepth 2 -name httplib.h | head -1)
  fi
  cp "$header" "$CACHE/include/httplib.h"
fi

cmake -S . -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVOPS_INFO_TESTS=OFF \
  -DDEVOPS_INFO_STATIC=ON -DDEVOPS_INFO_HTTPLIB_INCLUDE_DIR="$PWD/$CACHE/include" >/dev/null
cmake --build "$OUT" -j2 >/dev/null
strip "$OUT/src/cli/devops-info"
echo "$OUT/src/cli/devops-info"

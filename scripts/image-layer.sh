#!/usr/bin/env bash
# image-layer.sh LAYER TARGET [OUT]: one layer of the image's build stage.
# Configures /src up to LAYER (deps, core, serve or cli; see DEVOPS_INFO_LAYER
# in CMakeLists.txt) in /build, then builds TARGET there. With OUT (the last
# layer), the program is stripped to OUT, refused unless static, its machine
# and sha256 printed, and its --version run where the build stage can run it. Each layer finds the
# objects of the layers before it in /build, so a change in src/cli compiles
# src/cli only. Release, fully static, fixed paths, no time stamps: two builds
# of the same sources give the same bytes.
#
# From the Dockerfile's ARGs, as environment: TARGETARCH (empty: the build
# stage's own architecture), VERSION and REVISION (the last layer only).
set -euo pipefail
layer=$1 target=$2 out=${3:-}

native=$(dpkg --print-architecture)
arch=${TARGETARCH:-$native}
cross=() prefix=""
if [ "$arch" != "$native" ]; then
  gnu=$(dpkg-architecture -qDEB_HOST_GNU_TYPE -a"$arch")
  prefix="$gnu-"
  cross=(-DCMAKE_SYSTEM_NAME=Linux
    -DCMAKE_SYSTEM_PROCESSOR="$(dpkg-architecture -qDEB_HOST_GNU_CPU -a"$arch")"
    -DCMAKE_CXX_COMPILER="$gnu-g++"
    # The target's static OpenSSL and zlib by path: CMake's FindOpenSSL asks
    # pkg-config first, which answers with the build machine's.
    -DOPENSSL_SSL_LIBRARY="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH -a"$arch")/libssl.a"
    -DOPENSSL_CRYPTO_LIBRARY="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH -a"$arch")/libcrypto.a"
    -DZLIB_LIBRARY="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH -a"$arch")/libz.a"
    -DCMAKE_PREFIX_PATH="/usr/lib/$(dpkg-architecture -qDEB_BUILD_MULTIARCH)/cmake")
fi

cmake -S /src -B /build -G Ninja "${cross[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DDEVOPS_INFO_LAYER="$layer" \
  -DDEVOPS_INFO_TESTS=OFF \
  -DDEVOPS_INFO_STATIC=ON \
  -Dfmt_DIR=/opt/fmt/lib/cmake/fmt \
  -DDEVOPS_INFO_VERSION="${VERSION:-0.0.0-dev}" \
  -DDEVOPS_INFO_COMMIT="${REVISION:-unknown}" >/dev/null

# Statically linked glibc warns that getaddrinfo needs its shared NSS modules
# at run time. That is known and documented (numeric addresses need none), so
# the two lines of that one warning are dropped; any other stays.
cmake --build /build --parallel "$(nproc)" --target "$target" 2>&1 | awk '
  /: in function .*:$/ { held = $0; next }
  held != "" { if ($0 !~ /warning: Using .getaddrinfo. in statically linked/) print held; held = "" }
  /warning: Using .getaddrinfo. in statically linked/ { next }
  { print }
  END { if (held != "") print held }'

[ -n "$out" ] || exit 0
"${prefix}strip" --strip-all -o "$out" /build/src/cli/devops-info
if readelf -l "$out" | grep -q INTERP; then
  echo "$out is not static" >&2
  exit 1
fi
readelf -h "$out" | grep -E 'Machine:'
sha256sum "$out"
if [ "$arch" = "$native" ]; then "$out" --version; fi

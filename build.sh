#!/usr/bin/env bash
# build.sh: the one entry point for building devops-info from a fresh clone.
#
#   ./build.sh info [ARGS]  install missing packages, build the binary (release), run `devops-info info ARGS`
#   ./build.sh test         install missing packages, build (dev preset), run every test
#   ./build.sh asan         the tests again under AddressSanitizer and UBSan
#   ./build.sh tsan         the unit and serve tests under ThreadSanitizer
#   ./build.sh deps [PKG]   only install the packages (and PKG...: CI's one install step)
#
# Packages come from apt (Debian 12 or 13; tested there). Without apt, the
# list below is printed: install the equivalents and run again. Everything
# the build prints goes to stderr: stdout is the program's own output
# (`./build.sh info --compact | jq`).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat >&2 <<'USAGE'
usage: ./build.sh info [ARGS...]   build the binary (release) and run `devops-info info ARGS...`
       ./build.sh test             build (dev preset) and run every test
       ./build.sh asan             the tests under AddressSanitizer and UBSan
       ./build.sh tsan             the unit and serve tests under ThreadSanitizer
       ./build.sh deps [PKG...]    only install the packages the build needs (and PKG...)
Each installs the Debian packages it is missing first (apt-get, as root or with sudo).
USAGE
}

PACKAGES=(g++ cmake ninja-build pkg-config git
  libcli11-dev libfmt-dev nlohmann-json3-dev libboost-dev libnghttp2-dev libssl-dev catch2
  python3 python3-jsonschema wrk
  curl nghttp2-client python3-h2 python3-grpcio openssl testssl.sh dnsmasq-base util-linux iproute2
  scdoc mandoc groff-base bash-completion zsh fish dpkg-dev file)

missing_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

install_packages() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "build.sh: apt is not available on this machine." >&2
    echo "Install these packages (or your system's equivalents), then run again:" >&2
    echo "  $*" >&2
    echo "(C++20 compiler, CMake >= 3.22, Ninja, pkg-config, CLI11, fmt, nlohmann-json, Boost headers, nghttp2, OpenSSL 3, Catch2, Python 3;" >&2
    echo " for the HTTP/2 and gRPC tests curl, nghttp2's client tools, Python's h2 and grpcio;" >&2
    echo " for the documentation tests scdoc, mandoc, groff, bash-completion, zsh, fish; for the .deb dpkg-dev, file)" >&2
    exit 1
  fi
  local missing
  missing=$(missing_packages "$@")
  [ -z "$missing" ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  # apt's own progress goes to stderr: a first install takes minutes, and
  # stdout stays for the program's output (`./build.sh info | jq`).
  echo "build.sh: installing $missing" >&2
  echo "build.sh: apt-get update" >&2
  "${sudo[@]}" apt-get update -q >&2
  echo "build.sh: apt-get install (downloads, then unpacks and sets up each package)" >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends $missing >&2
  echo "build.sh: packages installed" >&2
}

# build PRESET [TARGET...]: configure and build, all output on stderr.
build() {
  local preset=$1
  shift
  cmake --preset "$preset" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" --target "$@" >&2
  else
    cmake --build --preset "$preset" >&2
  fi
}

case "${1:-}" in
  info)
    install_packages "${PACKAGES[@]}"
    build release devops-info
    shift
    ./build/release/src/cli/devops-info info "$@"
    ;;
  test)
    install_packages "${PACKAGES[@]}"
    build dev
    ctest --preset dev -j2
    ;;
  asan)
    install_packages "${PACKAGES[@]}"
    build asan
    ctest --preset asan -j2
    ;;
  tsan)
    install_packages "${PACKAGES[@]}"
    build tsan
    ctest --preset tsan -j2
    ;;
  deps)
    shift
    install_packages "${PACKAGES[@]}" "$@"  # and any named after it, in the same apt-get run
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage
    exit 2
    ;;
esac

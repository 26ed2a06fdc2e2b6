#!/usr/bin/env bash
# build.sh: the one entry point for building devops-info from a fresh clone.
#
#   ./build.sh info      install missing packages, build (release), run `devops-info info`
#   ./build.sh test      install missing packages, build (dev preset), run every test
#   ./build.sh asan      the tests again under AddressSanitizer and UBSan
#   ./build.sh deps      only install the packages
#
# Packages come from apt (Debian 12 or 13; tested there). Without
# apt, the list below is printed: install the equivalents and run again.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(g++ cmake ninja-build pkg-config git
  libcli11-dev libfmt-dev nlohmann-json3-dev libcpp-httplib-dev libboost-dev catch2
  python3 python3-jsonschema
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
    echo "(C++20 compiler, CMake >= 3.22, Ninja, pkg-config, CLI11, fmt, nlohmann-json, cpp-httplib, Boost headers, Catch2, Python 3;" >&2
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

build() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1"
}

case "${1:-}" in
  info)
    install_packages "${PACKAGES[@]}"
    build release
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
  deps)
    install_packages "${PACKAGES[@]}"
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

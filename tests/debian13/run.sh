#!/usr/bin/env bash
# tests/debian13/run.sh: the README's two commands on Debian 13 (trixie:
# CLI11 2.4, fmt 10, nghttp2 1.64, Catch2 3), as a new user runs
# them: as root, in a fresh debian:13-slim container, in a clone under /root
# (mode 700, so a test that runs the binary as another user must not rely on
# reaching it there). `./build.sh info` must print the report as JSON on
# stdout and nothing else; `./build.sh test` must pass. The host is Debian
# 12, so this proves the code builds (warnings as errors) and passes on both.
#
# Engine: docker where a daemon answers, podman otherwise (set up as for the
# image test). DEBIAN13_IMAGE overrides the base image. DEBIAN13_CACHE, a
# directory on the host, keeps the container's downloaded packages and its
# ccache between runs (CI sets it); without it every run starts cold.
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${DEBIAN13_IMAGE:-debian:13-slim}

if command -v docker >/dev/null && docker info >/dev/null 2>&1 && ! docker --version | grep -qi podman; then
  engine=(docker)
else
  engine=(podman)
  run_args=(--pull=never)  # no registry here: the base is made locally
  sandbox=../shared/tools/container-sandbox
  if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$sandbox" ]; then
    eval "$(bash "$sandbox" env)"
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/origin"
mounts=(-v "$work/origin:/origin:ro")
if [ -n "${DEBIAN13_CACHE:-}" ]; then
  mkdir -p "$DEBIAN13_CACHE/apt" "$DEBIAN13_CACHE/ccache"
  mounts+=(-v "$DEBIAN13_CACHE/apt:/var/cache/apt/archives" -v "$DEBIAN13_CACHE/ccache:/ccache")
fi

echo "== the README's commands as root in /root/devops-info on $image ($("${engine[@]}" --version | head -n1))"
"${engine[@]}" run --rm "${run_args[@]}" "${mounts[@]}" "$image" bash -c '
  set -euo pipefail
  export DEBIAN_FRONTEND=noninteractive
  if [ -d /ccache ]; then
    rm -f /etc/apt/apt.conf.d/docker-clean  # keep the downloaded packages in the mounted cache
    ccache=ccache
    export CCACHE_DIR=/ccache CCACHE_BASEDIR=/root/devops-info CCACHE_NOHASHDIR=1 CMAKE_CXX_COMPILER_LAUNCHER=ccache
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends git ca-certificates ${ccache:-} >/dev/null
  git clone -q /origin /root/devops-info
  cd /root/devops-info
  . /etc/os-release && echo "$PRETTY_NAME, in $PWD ($(stat -c %a /root))"
  ./build.sh info --compact > /tmp/info.json
  python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(\"./build.sh info: JSON on stdout only,\", d[\"system\"][\"os\"][\"pretty_name\"])" /tmp/info.json
  ./build.sh test
'
echo "debian13: ok"

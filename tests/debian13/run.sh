#!/usr/bin/env bash
# tests/debian13/run.sh: the README's test command on Debian 13 (trixie:
# CLI11 2.4, fmt 10, cpp-httplib 0.18 shared, Catch2 3), in a debian:13-slim
# container, from a clean clone of the current commit. The host is Debian 12,
# so this proves the code builds (warnings as errors) and passes on both.
#
# Engine: docker where a daemon answers, podman otherwise (set up as for the
# image test). DEBIAN13_IMAGE overrides the base image.
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
git clone -q . "$work/src"

echo "== ./build.sh test on $image ($("${engine[@]}" --version | head -n1))"
"${engine[@]}" run --rm "${run_args[@]}" -v "$work/src:/src" -w /src "$image" bash -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends git ca-certificates >/dev/null
  git config --global --add safe.directory /src
  . /etc/os-release && echo "$PRETTY_NAME"
  ./build.sh test
  ./build/dev/src/cli/devops-info info --field system.os.pretty_name
'
echo "debian13: ok"

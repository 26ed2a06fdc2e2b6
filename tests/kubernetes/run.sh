#!/usr/bin/env bash
# The Kubernetes and Prometheus tests, offline: every kustomization rendered
# by `kubectl kustomize` and validated strictly against the pinned schemas
# (npm ci here installs them from package-lock.json), the manifests against
# the binary and the image, the binary run with the manifest's args through a
# SIGTERM under load, promtool's checks and unit tests, and a real Prometheus
# scraping a real serve on 127.0.0.1.
#
#   tests/kubernetes/run.sh [BINARY]     # default build/dev/src/cli/devops-info
#
# Needs kubectl (with kustomize v5: kubectl 1.27 or later), node and npm,
# promtool and prometheus (Debian: prometheus), python3-yaml.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/build/dev/src/cli/devops-info}")

missing=()
command -v "${KUBECTL:-kubectl}" >/dev/null || missing+=("kubectl (1.27 or later; not in Debian 12's archive: the Kubernetes apt repository has it)")
command -v node >/dev/null || missing+=("node (Debian: nodejs)")
command -v npm >/dev/null || missing+=("npm")
command -v promtool >/dev/null || missing+=("promtool (Debian: prometheus)")
command -v prometheus >/dev/null || missing+=("prometheus (Debian: prometheus)")
/usr/bin/python3 -c 'import yaml' 2>/dev/null || missing+=("python3-yaml")
[ -x "$bin" ] || missing+=("the binary $bin (./build.sh test builds it)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'tests/kubernetes: missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
"${KUBECTL:-kubectl}" version --client 2>/dev/null | grep -i kustomize || true

# The validator: exact versions from package-lock.json.
if ! (cd "$here" && npm ls --depth=0 >/dev/null 2>&1); then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$here"
DEVOPS_INFO_BIN="$bin" /usr/bin/python3 -m unittest -v test_manifests test_prometheus

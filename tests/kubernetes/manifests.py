"""What the Kubernetes tests share: rendering the kustomize tree and reading
the rendered objects, the Dockerfile and the measured figures of docs/performance.md.

Environment:
  DEVOPS_INFO_BIN        the built binary (default: build/dev/src/cli/devops-info)
  KUBECTL                kubectl (default: the pinned one tests/kubernetes/tools.sh unpacks)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
HERE = Path(__file__).resolve().parent
BIN = os.environ.get("DEVOPS_INFO_BIN", str(ROOT / "build" / "dev" / "src" / "cli" / "devops-info"))
KUBECTL = os.environ.get("KUBECTL", str(HERE / ".tools" / "bin" / "kubectl"))
CONTAINER = "devops-info"


def kustomizations() -> dict[str, Path]:
    """Every directory with a kustomization, by its path under deploy/kubernetes."""
    return {str(p.parent.relative_to(KUSTOMIZE_ROOT)): p.parent
            for p in sorted(KUSTOMIZE_ROOT.rglob("kustomization.yaml"))}


def is_component(directory: Path) -> bool:
    return (yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}).get("kind") == "Component"


def kubectl_available() -> bool:
    return shutil.which(KUBECTL) is not None


def render(directory: Path) -> str:
    """`kubectl kustomize DIR`; raises with kubectl's message on failure."""
    r = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {r.stderr.strip()}")
    return r.stdout


def render_with_components(components: list[Path]) -> str:
    """The base with the given components, as an overlay would use them."""
    with tempfile.TemporaryDirectory(prefix="devops-info-kustomize-") as tmp:
        # Kustomize loads directories from anywhere (files only below the
        # root), by relative path.
        rel = lambda p: os.path.relpath(p, tmp)  # noqa: E731
        Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [rel(KUSTOMIZE_ROOT / "base")],
            "components": [rel(c) for c in components],
        }))
        return render(Path(tmp))


def objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def one(objs: list[dict], kind: str) -> dict:
    found = [o for o in objs if o.get("kind") == kind]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]


def container(deployment: dict) -> dict:
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        if c["name"] == CONTAINER:
            return c
    raise AssertionError(f"no container named {CONTAINER}")


def parse_duration(text: str) -> float:
    """`500ms`, `5s`, `1m` (the binary's duration syntax) in seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    if not m:
        raise AssertionError(f"not a duration: {text!r}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def flag(args: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in args (the last one wins, as in CLI11)."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def plain_env(c: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def listen_port(c: dict) -> int:
    """The port serve listens on with this container's args and env: flag, then PORT, then 5000."""
    return int(flag(c.get("args", []), "--port") or plain_env(c).get("PORT") or 5000)


def dockerfile_user() -> tuple[int, int]:
    """USER of the Dockerfile's last stage (the image), as uid, gid."""
    users = re.findall(r"^USER\s+(\d+):(\d+)\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    if not users:
        raise AssertionError("the Dockerfile has no numeric USER uid:gid")
    return int(users[-1][0]), int(users[-1][1])


def measured_mib(row: str) -> float:
    """A figure of the devops-info column of the Performance table (docs/performance.md), in MiB."""
    text = (ROOT / "docs" / "performance.md").read_text()
    m = re.search(r"^\| " + re.escape(row) + r" \| ([\d.]+) MiB \|", text, re.M)
    if not m:
        raise AssertionError(f"docs/performance.md's table has no row {row!r} in MiB")
    return float(m.group(1))


def quantity_bytes(q: str | int) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?", str(q))
    if not m:
        raise AssertionError(f"not a memory quantity: {q!r}")
    mult = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
    return float(m.group(1)) * mult


def quantity_cpu(q: str | int | float) -> float:
    s = str(q)
    return int(s[:-1]) / 1000 if s.endswith("m") else float(s)

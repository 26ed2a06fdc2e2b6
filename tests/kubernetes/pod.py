#!/usr/bin/env python3
"""The pod as the kubelet would run it, without a cluster: the real image
under docker or podman with the production Deployment's args, env (the
downward API's values filled in), user, read-only root, dropped
capabilities, no privilege escalation and CPU and memory limits. Its probes
must answer within the startup probe's budget, `GET /` must report the pod,
and a SIGTERM under steady load (the client stops new requests once /ready
answers 503, as endpoint removal does) must lose no request and exit 0
within terminationGracePeriodSeconds.

tests/image/test_image.py calls check_pod() on the image it has just built;
to run it alone on an image that exists:

    tests/kubernetes/pod.py IMAGE

Needs kubectl to render the manifests. Prints PASS/FAIL lines.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import manifests as m  # noqa: E402
import rollout  # noqa: E402

PROFILE = "overlays/prod"
# What the API server and the kubelet would fill in.
DOWNWARD = {"metadata.name": "devops-info-5f7b9c8d4-podtest", "metadata.namespace": None,
            "spec.nodeName": "podtest-node"}
KUBELET_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy


def pod_env(d: dict, c: dict) -> dict[str, str]:
    env = dict(KUBELET_ENV)
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        path = e["valueFrom"]["fieldRef"]["fieldPath"]
        value = DOWNWARD[path] if path in DOWNWARD else None
        env[e["name"]] = value if value is not None else d["metadata"].get("namespace", "default")
    return env


def memory_flag(q: str) -> str:
    return str(int(m.quantity_bytes(q)))


def check_pod(engine, image: str, check: Callable[..., bool], note: Callable[[str], None]) -> None:
    if not check(m.kubectl_available(), "kubectl renders the manifests for the pod test"):
        return
    d = m.one(m.objects(m.render(m.KUSTOMIZE_ROOT / PROFILE)), "Deployment")
    spec = d["spec"]["template"]["spec"]
    c = m.container(d)
    sc, csc = spec["securityContext"], c["securityContext"]
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
    grace = spec["terminationGracePeriodSeconds"]
    delay = m.parse_duration(m.flag(c["args"], "--shutdown-delay") or "0s")
    env = pod_env(d, c)
    name = f"devops-info-podtest-{os.getpid()}"

    args = ["run", "-d", "--name", name, "-p", f"127.0.0.1::{port}",
            "--user", f"{sc['runAsUser']}:{sc['runAsGroup']}",
            "--memory", memory_flag(c["resources"]["limits"]["memory"]),
            "--cpus", str(m.quantity_cpu(c["resources"]["limits"]["cpu"]))]
    if csc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in csc["capabilities"].get("drop", []):
        args += ["--cap-drop", cap]
    if csc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    args.append("--no-healthcheck")  # the kubelet ignores the image's HEALTHCHECK
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    # The Deployment's args replace the image's CMD; its ENTRYPOINT stays, as in a pod.
    args += [image, *c["args"]]
    try:
        r = engine.run(*args, timeout=60)
        if not check(r.returncode == 0, "pod: the image starts with the Deployment's args, env, user and limits",
                     (r.stdout + r.stderr).strip()[-500:]):
            return
        host_port = None
        deadline = time.monotonic() + 10
        while host_port is None and time.monotonic() < deadline:
            out = engine.run("port", name, f"{port}/tcp", timeout=30).stdout
            found = re.findall(r"127\.0\.0\.1:(\d+)", out)
            host_port = int(found[0]) if found else None
            if host_port is None:
                time.sleep(0.2)
        startup = c["startupProbe"]
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        started = rollout.wait_for(host_port, startup["httpGet"]["path"], 200, budget) if host_port else False
        logs = engine.run("logs", name, timeout=30)
        if not check(started, f"pod: the startup probe's {startup['httpGet']['path']} answers within {budget} s",
                     (logs.stdout + logs.stderr).strip()[-600:]):
            return
        for probe in ("livenessProbe", "readinessProbe"):
            path = c[probe]["httpGet"]["path"]
            status = rollout.get(host_port, path, timeout=c[probe]["timeoutSeconds"])
            check(status == 200, f"pod: the {probe} GET {path} answers 200 ({status})")

        with OPENER.open(f"http://127.0.0.1:{host_port}/", timeout=3) as resp:
            doc = json.load(resp)
        cont = doc.get("container") or {}
        check(cont.get("runtime") == "kubernetes", f"pod: GET / says runtime kubernetes ({cont.get('runtime')!r})")
        want = {"pod_name": env["POD_NAME"], "namespace": env["POD_NAMESPACE"], "node_name": env["NODE_NAME"]}
        check(cont.get("kubernetes") == want, f"pod: GET / reports the pod from the downward API ({cont.get('kubernetes')})")
        limit = int(m.quantity_bytes(c["resources"]["limits"]["memory"]))
        check(cont.get("memory_limit_bytes") == limit,
              f"pod: the memory limit is seen ({cont.get('memory_limit_bytes')} == {limit})")
        user = (doc.get("runtime") or {}).get("user") or {}
        check((user.get("uid"), user.get("gid")) == (sc["runAsUser"], sc["runAsGroup"]),
              f"pod: runs as {sc['runAsUser']}:{sc['runAsGroup']} ({user})")

        def wait_exit(timeout: float) -> int | None:
            r = engine.run("wait", name, timeout=timeout)
            out = r.stdout.strip().splitlines()
            return int(out[-1]) if r.returncode == 0 and out and out[-1].lstrip("-").isdigit() else None

        out = rollout.sigterm_under_load(host_port, lambda: engine.run("kill", "--signal", "TERM", name, timeout=30),
                                         wait_exit, delay, grace)
        note(f"pod: {out.sent} requests, /ready 503 after "
             f"{out.ready_503_after if out.ready_503_after is None else round(out.ready_503_after, 3)} s, "
             f"exit {out.exit_code} after {out.exit_after:.2f} s")
        check(out.sent > 50 and not out.failed,
              f"pod: SIGTERM under load: zero failed requests ({len(out.failed)} of {out.sent})",
              "; ".join(out.failed[:5]))
        check(out.ready_503_after is not None and out.ready_503_after < 1.0, "pod: /ready turns 503 at once on SIGTERM")
        check(out.answered_late, f"pod: still answering {delay * 0.6:.1f} s into the {delay:g} s shutdown delay")
        check(out.exit_code == 0 and out.exit_after is not None and delay * 0.9 <= out.exit_after < grace,
              f"pod: exits 0 after the delay, within the {grace} s grace period "
              f"(exit {out.exit_code} after {out.exit_after:.2f} s)")
    finally:
        engine.run("rm", "-f", name, timeout=60)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(m.ROOT / "tests" / "image"))
    import test_image  # noqa: PLC0415  the image test's engine choice and its PASS/FAIL lines

    engine = test_image.Engine()
    print(f"pod test: engine {engine.name}, image {sys.argv[1]}", flush=True)
    check_pod(engine, sys.argv[1], test_image.check, test_image.note)
    print(f"{test_image.results['passed']} passed, {test_image.results['failed']} failed")
    return 1 if test_image.results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

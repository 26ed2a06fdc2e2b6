"""deploy/kubernetes: every kustomization renders, every object validates
strictly against the Kubernetes and prometheus-operator schemas, and the
manifests agree with the binary, the image and the measured figures.

    tests/kubernetes/run.sh             # installs the pinned validator, runs this and the rest
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import unittest

import yaml

import manifests as m
import rollout

PROFILES = ["base", "overlays/dev", "overlays/prod"]
IMAGE_TAG = re.compile(r"^(\d+\.\d+\.\d+|sha-[0-9a-f]{12})$")


def validate(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(m.HERE / "validate.mjs")], input=text, capture_output=True, text=True,
                          timeout=120, cwd=m.HERE)


def rendered(name: str) -> list[dict]:
    return m.objects(m.render(m.KUSTOMIZE_ROOT / name))


def all_rendered() -> dict[str, list[dict]]:
    """Every profile, and the base with each component and with all of them."""
    out = {p: rendered(p) for p in PROFILES}
    comps = [d for d in m.kustomizations().values() if m.is_component(d)]
    for c in comps:
        out[f"base + {c.name}"] = m.objects(m.render_with_components([c]))
    out["base + all components"] = m.objects(m.render_with_components(comps))
    return out


class RenderTest(unittest.TestCase):
    def test_kubectl_is_there(self):
        self.assertTrue(m.kubectl_available(),
                        f"{m.KUBECTL} is not there (tests/kubernetes/tools.sh installs it): nothing can be rendered")

    def test_every_kustomization_renders(self):
        dirs = m.kustomizations()
        self.assertGreaterEqual(set(dirs), {"base", "overlays/dev", "overlays/prod", "components/monitoring"})
        for name, d in dirs.items():
            with self.subTest(name):
                if m.is_component(d):
                    self.assertTrue(m.objects(m.render_with_components([d])))
                else:
                    self.assertTrue(m.objects(m.render(d)))

    def test_a_broken_kustomization_fails_to_render(self):
        with self.assertRaises(AssertionError):
            m.render(m.KUSTOMIZE_ROOT / "no-such-profile")


class SchemaTest(unittest.TestCase):
    def test_every_rendered_object_validates_strictly(self):
        for name, objs in all_rendered().items():
            with self.subTest(name):
                r = validate(yaml.safe_dump_all(objs))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertEqual(r.stdout.count("ok: "), len(objs), r.stdout)

    def test_the_validator_rejects_unknown_fields_and_bad_values(self):
        prod = m.render(m.KUSTOMIZE_ROOT / "overlays/prod")
        for wrong, where in [
            (prod.replace("livenessProbe:", "livenesProbe:"), "/containers/0/livenesProbe"),
            (prod.replace("maxUnavailable: 0", "maxUnavailabel: 0"), "/rollingUpdate/maxUnavailabel"),
            (prod.replace("jobLabel:", "joblabel:"), "/spec/joblabel"),
            (prod.replace("- alert: DevopsInfoTargetDown", "- alrt: DevopsInfoTargetDown"), "/alrt"),
            (prod.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: yes-please"),
             "readOnlyRootFilesystem"),
            (prod.replace("averageUtilization: 70", "averageUtilization: seventy"), "averageUtilization"),
            (prod + "---\napiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: x}\n", "Deploymnt"),
        ]:
            with self.subTest(where):
                self.assertNotEqual(wrong, prod)
                r = validate(wrong)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(where, r.stdout)


class AgreementTest(unittest.TestCase):
    """The manifests against the binary, the image and the measured figures."""

    @classmethod
    def setUpClass(cls):
        cls.profiles = {p: rendered(p) for p in PROFILES}
        r = subprocess.run([m.BIN, "info", "--field", "endpoints"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"{m.BIN} info --field endpoints: {r.stderr}")
        cls.routes = {e["path"] for e in json.loads(r.stdout) if e["method"] == "GET"}

    def each(self, kind: str):
        for p, objs in self.profiles.items():
            with self.subTest(p):
                yield p, m.one(objs, kind)

    def test_probe_paths_and_ports_are_what_the_binary_serves(self):
        self.assertLessEqual({"/health", "/ready", "/metrics"}, self.routes)
        for _, d in self.each("Deployment"):
            c = m.container(d)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            self.assertEqual(ports.get("http"), m.listen_port(c), "containerPort is where serve listens")
            for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"),
                                ("readinessProbe", "/ready")):
                get = c[probe]["httpGet"]
                self.assertEqual(get["path"], path, probe)
                self.assertIn(get["path"], self.routes, probe)
                self.assertIn(get["port"], ("http", ports.get("http")), probe)

    def test_probe_timings_fit_the_start_up_and_the_shutdown_delay(self):
        for _, d in self.each("Deployment"):
            c = m.container(d)
            start = c["startupProbe"]
            # Start-up takes about 1.3 ms: poll every second, give up after 5 to 30 s.
            self.assertLessEqual(start["periodSeconds"], 2)
            self.assertTrue(5 <= start["periodSeconds"] * start["failureThreshold"] <= 30)
            # Liveness restarts only after several misses, never faster than readiness reacts.
            live, ready = c["livenessProbe"], c["readinessProbe"]
            self.assertGreaterEqual(live["failureThreshold"], 3)
            self.assertGreater(live["periodSeconds"] * live["failureThreshold"],
                               ready["periodSeconds"] * ready["failureThreshold"])
            # The kubelet sees /ready fail within the shutdown delay.
            delay = m.parse_duration(m.flag(c["args"], "--shutdown-delay") or "0s")
            self.assertLessEqual(ready["periodSeconds"] * ready["failureThreshold"], delay)

    def test_grace_period_covers_delay_drain_and_a_margin(self):
        for _, d in self.each("Deployment"):
            c = m.container(d)
            self.assertEqual(c["args"][0], "serve")
            delay = m.parse_duration(m.flag(c["args"], "--shutdown-delay") or "0s")
            drain = m.parse_duration(m.flag(c["args"], "--shutdown-timeout") or "10s")
            self.assertGreater(delay, 0, "--shutdown-delay is set: endpoints take time to drop the pod")
            self.assertGreaterEqual(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
                                    delay + drain + 2)

    def test_run_as_the_images_user(self):
        uid, gid = m.dockerfile_user()
        for _, d in self.each("Deployment"):
            sc = d["spec"]["template"]["spec"]["securityContext"]
            self.assertEqual((sc["runAsUser"], sc["runAsGroup"]), (uid, gid))
            self.assertIs(sc["runAsNonRoot"], True)
            self.assertEqual(sc["seccompProfile"], {"type": "RuntimeDefault"})

    def test_the_container_is_locked_down(self):
        for _, d in self.each("Deployment"):
            spec = d["spec"]["template"]["spec"]
            c = m.container(d)
            sc = c["securityContext"]
            self.assertIs(sc["readOnlyRootFilesystem"], True)
            self.assertIs(sc["allowPrivilegeEscalation"], False)
            self.assertIs(sc.get("privileged", False), False)
            self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
            self.assertIs(spec["automountServiceAccountToken"], False)
            for key in ("hostNetwork", "hostPID", "hostIPC"):
                self.assertFalse(spec.get(key, False), key)
            self.assertFalse(spec.get("volumes"), "the service needs no volume")

    def test_service_account_has_no_token(self):
        for p, objs in self.profiles.items():
            with self.subTest(p):
                sa = m.one(objs, "ServiceAccount")
                self.assertIs(sa["automountServiceAccountToken"], False)
                self.assertEqual(m.one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"],
                                 sa["metadata"]["name"])

    def test_resources_come_from_the_measured_figures(self):
        idle = m.measured_mib("idle RSS")
        peak = max(m.measured_mib("peak RSS after the load runs (up to 1,000 connections)"),
                   m.measured_mib("RSS under those 11,000 connections"))
        self.assertLess(idle, peak)
        for _, d in self.each("Deployment"):
            res = m.container(d)["resources"]
            limit = m.quantity_bytes(res["limits"]["memory"]) / 2 ** 20
            request = m.quantity_bytes(res["requests"]["memory"]) / 2 ** 20
            self.assertGreaterEqual(limit, 2 * peak, "memory limit: twice the measured peak at least")
            self.assertGreaterEqual(request, peak, "memory request covers the measured peak")
            self.assertLessEqual(request, limit)
            self.assertLessEqual(m.quantity_cpu(res["requests"]["cpu"]), m.quantity_cpu(res["limits"]["cpu"]))
            self.assertGreater(m.quantity_cpu(res["requests"]["cpu"]), 0)

    def test_rolling_update_never_lowers_capacity(self):
        for _, d in self.each("Deployment"):
            strategy = d["spec"]["strategy"]
            self.assertEqual(strategy["type"], "RollingUpdate")
            self.assertEqual(strategy["rollingUpdate"]["maxUnavailable"], 0)
            self.assertGreaterEqual(strategy["rollingUpdate"]["maxSurge"], 1)
        self.assertEqual(m.one(self.profiles["base"], "Deployment")["spec"]["replicas"], 3)
        self.assertEqual(m.one(self.profiles["overlays/dev"], "Deployment")["spec"]["replicas"], 1)
        self.assertGreaterEqual(m.one(self.profiles["overlays/prod"], "Deployment")["spec"]["replicas"], 3)

    def test_images_are_pinned_by_version_or_commit(self):
        for p in ("overlays/dev", "overlays/prod"):
            for d in [o for o in self.profiles[p] if "template" in o.get("spec", {})]:
                for c in d["spec"]["template"]["spec"]["containers"]:
                    with self.subTest(p, container=c["name"]):
                        image = c["image"]
                        self.assertNotIn("@", image)
                        name, _, tag = image.rpartition(":")
                        self.assertTrue(name and "/" not in tag, f"{image} has no tag")
                        self.assertRegex(tag, IMAGE_TAG)
        dev = m.container(m.one(self.profiles["overlays/dev"], "Deployment"))["image"]
        prod = m.container(m.one(self.profiles["overlays/prod"], "Deployment"))["image"]
        self.assertRegex(dev, r":sha-[0-9a-f]{12}$")
        self.assertRegex(prod, r":\d+\.\d+\.\d+$")

    def test_the_downward_api_gives_what_the_binary_reads(self):
        want = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "NODE_NAME": "spec.nodeName"}
        for _, d in self.each("Deployment"):
            env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                   for e in m.container(d)["env"]}
            self.assertEqual({k: env.get(k) for k in want}, want)

    def test_selectors_all_pick_the_pods(self):
        for p, objs in self.profiles.items():
            with self.subTest(p):
                d = m.one(objs, "Deployment")
                labels = d["spec"]["template"]["metadata"]["labels"]

                def picks(selector: dict) -> bool:
                    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

                self.assertTrue(picks(d["spec"]["selector"]["matchLabels"]))
                svc = m.one(objs, "Service")
                self.assertTrue(picks(svc["spec"]["selector"]))
                self.assertTrue(picks(m.one(objs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]))
                self.assertTrue(picks(m.one(objs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]))
                for tsc in d["spec"]["template"]["spec"]["topologySpreadConstraints"]:
                    self.assertTrue(picks(tsc["labelSelector"]["matchLabels"]))
                self.assertTrue(any(t["topologyKey"] == "kubernetes.io/hostname"
                                    for t in d["spec"]["template"]["spec"]["topologySpreadConstraints"]))
                hpa = m.one(objs, "HorizontalPodAutoscaler")["spec"]
                self.assertEqual((hpa["scaleTargetRef"]["kind"], hpa["scaleTargetRef"]["name"]),
                                 ("Deployment", d["metadata"]["name"]))
                self.assertEqual([x["resource"]["name"] for x in hpa["metrics"]], ["cpu"])
                self.assertLessEqual(hpa["minReplicas"], hpa["maxReplicas"])
                for sm in [o for o in objs if o["kind"] == "ServiceMonitor"]:
                    self.assertTrue(all(svc["metadata"]["labels"].get(k) == v
                                        for k, v in sm["spec"]["selector"]["matchLabels"].items()))
                    self.assertEqual({e["port"] for e in sm["spec"]["endpoints"]},
                                     {x["name"] for x in svc["spec"]["ports"]})
                    self.assertTrue(all(e["path"] in self.routes for e in sm["spec"]["endpoints"]))

    def test_service_and_network_policy_admit_the_service_port_only(self):
        for p, objs in self.profiles.items():
            with self.subTest(p):
                c = m.container(m.one(objs, "Deployment"))
                named = {x["name"]: x["containerPort"] for x in c["ports"]}
                svc = m.one(objs, "Service")
                self.assertEqual([(x["name"], x["targetPort"]) for x in svc["spec"]["ports"]], [("http", "http")])
                np = m.one(objs, "NetworkPolicy")["spec"]
                self.assertEqual(sorted(np["policyTypes"]), ["Egress", "Ingress"])
                self.assertEqual(np["egress"], [])
                ports = [port for rule in np["ingress"] for port in rule["ports"]]
                self.assertEqual(len(np["ingress"]), 1)
                self.assertEqual(len(ports), 1)
                self.assertIn(ports[0]["port"], ("http", named["http"]))
                self.assertIn(ports[0]["port"] if isinstance(ports[0]["port"], int) else named[ports[0]["port"]],
                              named.values())

    def test_namespaces_enforce_the_restricted_pod_security_standard(self):
        for p in ("overlays/dev", "overlays/prod"):
            with self.subTest(p):
                objs = self.profiles[p]
                ns = m.one(objs, "Namespace")
                self.assertEqual(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted")
                for o in objs:
                    if o["kind"] != "Namespace":
                        self.assertEqual(o["metadata"].get("namespace"), ns["metadata"]["name"], o["kind"])

    def test_the_prometheus_rule_is_the_tested_rule_file(self):
        rule = m.one(self.profiles["overlays/prod"], "PrometheusRule")
        tested = yaml.safe_load((m.PROMETHEUS_DIR / "rules.yml").read_text())
        self.assertEqual(rule["spec"]["groups"], tested["groups"])
        self.assertEqual(m.one(self.profiles["overlays/prod"], "ServiceMonitor")["spec"]["jobLabel"],
                         "app.kubernetes.io/name")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ManifestArgsTest(unittest.TestCase):
    """The binary run with the Deployment's args and env, as the container would."""

    def start(self, args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
        full = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG")}
        full.update(env)
        full["PORT"] = str(port)  # the manifest's PORT, moved to a free port on this machine
        proc = subprocess.Popen([m.BIN, *args, "--host", "127.0.0.1"], env=full,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def test_every_profiles_args_start_serve(self):
        for p in PROFILES:
            with self.subTest(p):
                c = m.container(m.one(rendered(p), "Deployment"))
                port = free_port()
                proc = self.start(c["args"], m.plain_env(c), port)
                up = rollout.wait_for(port, "/ready", 200, timeout=10, alive=lambda: proc.poll() is None)
                proc.kill()
                err = proc.communicate(timeout=10)[1]
                self.assertTrue(up, f"serve with {p}'s args did not come up: {err[-500:]!r}")

    def test_sigterm_under_load_loses_no_request(self):
        d = m.one(rendered("overlays/prod"), "Deployment")
        c = m.container(d)
        env = m.plain_env(c)
        env.update({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_NAME": "devops-info-test",
                    "POD_NAMESPACE": "devops-info", "NODE_NAME": "node-a"})
        port = free_port()
        proc = self.start(c["args"], env, port)
        if not rollout.wait_for(port, "/health", 200, timeout=10, alive=lambda: proc.poll() is None):
            proc.kill()
            self.fail(f"serve with the manifest's args did not come up: {proc.communicate(timeout=10)[1][-500:]!r}")
        self.assertEqual(rollout.get(port, "/ready"), 200)
        delay = m.parse_duration(m.flag(c["args"], "--shutdown-delay") or "0s")
        grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

        def wait_exit(timeout: float):
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None

        out = rollout.sigterm_under_load(port, lambda: proc.send_signal(signal.SIGTERM), wait_exit, delay, grace)
        self.assertGreater(out.sent, 50)
        self.assertEqual(out.failed, [], f"{len(out.failed)} of {out.sent} requests failed")
        self.assertIsNotNone(out.ready_503_after)
        self.assertLess(out.ready_503_after, 1.0, "/ready turns 503 at once")
        self.assertTrue(out.answered_late, "still answering during the shutdown delay")
        self.assertEqual(out.exit_code, 0)
        self.assertGreaterEqual(out.exit_after, delay * 0.9, "keeps serving for the delay")
        self.assertLess(out.exit_after, grace)


if __name__ == "__main__":
    unittest.main()

"""deploy/helm/devops-info: lint --strict with each values file, every mode rendered and validated strictly
against the pinned schemas, the lockdown on every pod, the schema refusing wrong values, the config file as
the binary reads it, the StatefulSet's and the persistent Deployment's shapes, the helm test and init
commands run against a real server, and agreement with the kustomize base on every field that matters.

    tests/kubernetes/run.sh             # installs the pinned helm, kubectl and schemas, runs this too
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

import manifests as m

CHART = m.ROOT / "deploy" / "helm" / "devops-info"
EXAMPLE = m.ROOT / "deploy" / "examples" / "frontend-backend"
HELM = os.environ.get("HELM", str(m.HERE / ".tools" / "bin" / "helm"))
RELEASE = "devops-info"  # the release name that gives the kustomize base's object names
sys_path = str(m.ROOT / "tests" / "serve")

# Every mode a user can pick, as --set/-f arguments.
MODES = {
    "default": [],
    "dev": ["-f", str(CHART / "values-dev.yaml")],
    "prod": ["-f", str(CHART / "values-prod.yaml")],
    "statefulset": ["--set", "kind=StatefulSet", "--set", "persistence.enabled=true",
                    "--set", "statefulset.podManagementPolicy=Parallel", "--set", "statefulset.partition=1"],
    "rollout-canary": ["--set", "kind=Rollout"],
    "grpc-probes": ["--set", "probeProtocol=grpc", "--set", "port=8080"],
    "trusted-proxies": ["--set-json", 'trustedProxies=["10.0.0.0/8","fd00::/8"]'],
    "tls-secret": ["--set", "tls.enabled=true", "--set", "tls.secretName=my-tls", "--set", "kind=StatefulSet"],
    "tls-cert-manager": ["--set", "tls.enabled=true", "--set", "tls.certManager.enabled=true",
                         "--set", "tls.certManager.issuerRef.name=cluster-ca", "--set",
                         "tls.certManager.issuerRef.kind=ClusterIssuer", "--set-json",
                         'tls.certManager.dnsNames=["devops-info.example.org"]', "--set", "tls.clientCASecret=clients",
                         "--set", "kind=Rollout"],
    "rollout-bluegreen": ["--set", "kind=Rollout", "--set", "rollout.strategy=blueGreen",
                          "--set", "autoscaling.enabled=false"],
    "monitoring-route": ["--set", "kind=Rollout", "--set", "monitoring.enabled=true",
                         "--set", "httpRoute.enabled=true", "--set-json", 'monitoring.labels={"release":"kps"}'],
    "example-backend": ["-f", str(EXAMPLE / "backend.yaml")],
    "example-frontend": ["-f", str(EXAMPLE / "frontend.yaml")],
    "upstreams-tracing": ["--set-json", 'upstreams=["http://backend/upstreams","https://db.data:8443/health"]',
                          "--set", "upstreamCASecret=db-ca",
                          "--set", "tracing.endpoint=https://tempo.monitoring:4318", "--set", "kind=StatefulSet"],
    "deployment-persistent": ["--set", "persistence.enabled=true", "--set", "autoscaling.enabled=false",
                              "--set", "replicaCount=1"],
    "everything": ["-f", str(CHART / "values-dev.yaml"), "--set", "ingress.enabled=true",
                   "--set", "ingress.className=nginx", "--set", "secret.create=true",
                   "--set", "waitFor.enabled=true", "--set", "waitFor.url=http://db-proxy:5000/health",
                   "--set", "configRolloutOnChange=true", "--set", "service.type=NodePort",
                   "--set", "service.nodePort=30080", "--set-json", 'extraEnvFrom=[{"configMapRef":{"name":"extra"}}]'],
}


def helm(*args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def template(*args, check=True) -> subprocess.CompletedProcess:
    return helm("template", RELEASE, str(CHART), "--namespace", "demo", *args, check=check)


def rendered(mode: str) -> list[dict]:
    return m.objects(template(*MODES[mode]).stdout)


def pod_specs(objs: list[dict]) -> list[tuple[str, dict]]:
    """Every pod spec: the workload's template and the helm test Pod."""
    out = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "Rollout"):
            out.append((o["kind"], o["spec"]["template"]["spec"]))
        elif o["kind"] == "Pod":
            out.append((o["metadata"]["name"], o["spec"]))
        elif o["kind"] == "Job":
            out.append((o["metadata"]["name"], o["spec"]["template"]["spec"]))
    return out


def workload(objs: list[dict]) -> dict:
    found = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "Rollout")]
    assert len(found) == 1, [o["kind"] for o in objs]
    return found[0]


class ChartTest(unittest.TestCase):
    def test_lint_strict_with_each_values_file(self):
        for values in ("values.yaml", "values-dev.yaml", "values-prod.yaml"):
            with self.subTest(values=values):
                r = helm("lint", "--strict", str(CHART), "-f", str(CHART / values))
                self.assertIn("0 chart(s) failed", r.stdout)

    def test_chart_versions(self):
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertEqual(chart["apiVersion"], "v2")
        cmake = (m.ROOT / "CMakeLists.txt").read_text()
        version = re.search(r"project\(\s*devops-info\s+VERSION\s+(\S+)", cmake).group(1)
        self.assertEqual(chart["appVersion"], version)
        self.assertIn("kubeVersion", chart)
        prod = yaml.safe_load((CHART / "values-prod.yaml").read_text())
        self.assertEqual(prod["image"]["tag"], version)

    def test_the_chart_readme_s_values_table_is_current(self):
        """README.md's Parameters section is generated from values.yaml's @param comments by the pinned
        @bitnami/readme-generator-for-helm: regenerate it with
        tests/kubernetes/node_modules/.bin/readme-generator --values values.yaml --readme README.md"""
        tool = m.HERE / "node_modules" / ".bin" / "readme-generator"
        with tempfile.TemporaryDirectory() as tmp:
            readme = Path(tmp, "README.md")
            readme.write_text((CHART / "README.md").read_text())
            r = subprocess.run([str(tool), "--values", str(CHART / "values.yaml"), "--readme", str(readme)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(readme.read_text(), (CHART / "README.md").read_text(),
                             "deploy/helm/devops-info/README.md is not current: " + self.test_the_chart_readme_s_values_table_is_current.__doc__)

    def test_every_mode_validates_strictly(self):
        from test_manifests import validate
        for mode in MODES:
            with self.subTest(mode=mode):
                r = validate(template(*MODES[mode]).stdout)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_the_lockdown_on_every_pod_of_every_mode(self):
        for mode in MODES:
            for where, spec in pod_specs(rendered(mode)):
                with self.subTest(mode=mode, pod=where):
                    self.assertFalse(spec["automountServiceAccountToken"])
                    self.assertFalse(spec["enableServiceLinks"])
                    psc = spec["securityContext"]
                    self.assertTrue(psc["runAsNonRoot"])
                    self.assertEqual((psc["runAsUser"], psc["runAsGroup"]), (10001, 10001))
                    self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"})
                    for c in spec.get("initContainers", []) + spec["containers"]:
                        sc = c["securityContext"]
                        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]}, c["name"])
                        self.assertTrue(sc["readOnlyRootFilesystem"], c["name"])
                        self.assertFalse(sc["allowPrivilegeEscalation"], c["name"])
                        self.assertFalse(sc["privileged"], c["name"])
                        self.assertIn("limits", c["resources"], c["name"])

    def test_the_schema_refuses_wrong_values(self):
        cases = {
            ("--set", "replicaCount=many"): "replicaCount",
            ("--set", "kind=DaemonSet"): "kind",
            ("--set", "replicaCont=3"): "replicaCont",
            ("--set", "config.ui.color=red;}"): "color",
            ("--set", "shutdownDelay=soon"): "shutdownDelay",
            ("--set", "service.port=70000"): "port",
            ("--set", "persistence.size=lots"): "size",
            ("--set", "image.pullPolicy=Sometimes"): "pullPolicy",
            ("--set", "probeProtocol=tcp"): "probeProtocol",
            ("--set-json", 'trustedProxies=["ingress.local"]'): "trustedProxies",
            ("--set", "tls.certManager.issuerRef.kind=Vault"): "kind",
            ("--set", "tls.port=70000"): "port",
            ("--set", "tls.certManager.duration=90 days"): "duration",
            ("--set", "tls.secretName=My_Secret"): "secretName",
            ("--set", "tls.sslPort=443"): "sslPort",
            ("--set-json", 'upstreams=["grpc://backend/"]'): "upstreams",
            ("--set-json", 'upstreams=["backend:5000"]'): "upstreams",
            ("--set-json", f'upstreams={json.dumps([f"http://h{i}/" for i in range(17)])}'): "upstreams",
            ("--set", "upstreamTimeout=soon"): "upstreamTimeout",
            ("--set", "tracing.sampler=sometimes"): "sampler",
            ("--set", "tracing.samplerArg=2"): "samplerArg",
            ("--set", "tracing.endpoint=tempo:4318"): "endpoint",
            ("--set", "networkPolicy.upstreamPorts[0]=0"): "upstreamPorts",
            ("--set", "upstreamCASecret=Not_A_Name"): "upstreamCASecret",
        }
        for args, key in cases.items():
            with self.subTest(args=args):
                r = template(*args, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(key, r.stderr)

    def test_grpc_probes_ask_liveness_and_readiness_apart_on_the_container_port(self):
        c = workload(rendered("grpc-probes"))["spec"]["template"]["spec"]["containers"][0]
        defaults = workload(rendered("default"))["spec"]["template"]["spec"]["containers"][0]
        for probe, service in (("startupProbe", "liveness"), ("livenessProbe", "liveness"),
                               ("readinessProbe", "readiness")):
            with self.subTest(probe=probe):
                self.assertEqual(c[probe]["grpc"], {"port": 8080, "service": service})
                self.assertNotIn("httpGet", c[probe])
                timings = {k: v for k, v in defaults[probe].items() if k != "httpGet"}
                self.assertEqual({k: v for k, v in c[probe].items() if k != "grpc"}, timings)
        # and the binary answers those probes as the kubelet asks them (gRPC health, HTTP/2 in clear text)
        import sys
        sys.path.insert(0, sys_path)
        from harness import Server, run_cli
        with Server("--unready") as s:
            self.assertEqual(run_cli("health", "--url", f"grpc://127.0.0.1:{s.port}/liveness").returncode, 0)
            self.assertEqual(run_cli("health", "--url", f"grpc://127.0.0.1:{s.port}/readiness").returncode, 1)

    def test_trusted_proxies_become_one_flag_the_binary_takes(self):
        args = workload(rendered("trusted-proxies"))["spec"]["template"]["spec"]["containers"][0]["args"]
        i = args.index("--trusted-proxies")
        self.assertEqual(args[i + 1], "10.0.0.0/8,fd00::/8")
        default = workload(rendered("default"))["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertNotIn("--trusted-proxies", default)
        import sys
        sys.path.insert(0, sys_path)
        from harness import Server
        with Server("--trusted-proxies", args[i + 1]) as s:
            self.assertEqual(s.get("/health").status, 200)

    def test_upstreams_and_tracing_become_flags_variables_and_egress(self):
        objs = rendered("upstreams-tracing")
        c = workload(objs)["spec"]["template"]["spec"]["containers"][0]
        args = c["args"]
        self.assertEqual([args[i + 1] for i, a in enumerate(args) if a == "--upstream"],
                         ["http://backend/upstreams", "https://db.data:8443/health"])
        self.assertEqual(args[args.index("--upstream-timeout") + 1], "2s")
        # The CA of https:// upstreams: a Secret's ca.crt, mounted whole.
        cacert = args[args.index("--upstream-cacert") + 1]
        mount = next(v for v in c["volumeMounts"] if v["name"] == "upstream-ca")
        self.assertEqual(cacert, mount["mountPath"] + "/ca.crt")
        volumes = workload(objs)["spec"]["template"]["spec"]["volumes"]
        self.assertIn({"name": "upstream-ca", "secret": {"secretName": "db-ca"}}, volumes)
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "https://tempo.monitoring:4318")
        self.assertEqual(env["OTEL_TRACES_SAMPLER"], "parentbased_always_on")
        self.assertNotIn("OTEL_TRACES_SAMPLER_ARG", env)
        self.assertEqual(env["OTEL_SERVICE_NAME"], RELEASE)
        # $(VAR) refers to variables defined before it, which the kubelet expands.
        names = [e["name"] for e in c["env"]]
        self.assertLess(names.index("POD_NAMESPACE"), names.index("OTEL_RESOURCE_ATTRIBUTES"))
        self.assertIn("k8s.pod.name=$(POD_NAME)", env["OTEL_RESOURCE_ATTRIBUTES"])
        policy = next(o for o in objs if o["kind"] == "NetworkPolicy")
        egress = policy["spec"]["egress"]
        self.assertEqual(egress[0]["ports"], [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])
        self.assertEqual([p["port"] for p in egress[1]["ports"]], [80, 8443, 5000, 4318])
        self.assertTrue(all("to" not in rule for rule in egress))
        # Without upstreams or a collector: nothing goes out, and no OTEL_* variable is set.
        default = rendered("default")
        self.assertEqual(next(o for o in default if o["kind"] == "NetworkPolicy")["spec"]["egress"], [])
        self.assertFalse([e for e in workload(default)["spec"]["template"]["spec"]["containers"][0]["env"]
                          if e["name"].startswith("OTEL_")])

    def test_the_example_frontend_calls_the_example_backend_through_the_rendered_arguments(self):
        import sys
        sys.path.insert(0, sys_path)
        from harness import Server
        back = workload(rendered("example-backend"))["spec"]["template"]["spec"]["containers"][0]
        front = workload(rendered("example-frontend"))["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual([o["metadata"]["name"] for o in rendered("example-backend") if o["kind"] == "Service"][0],
                         "backend")
        args = front["args"][1:]
        i = args.index("--upstream")
        self.assertEqual(args[i + 1], "http://backend/upstreams")
        policy = next(o for o in rendered("example-frontend") if o["kind"] == "NetworkPolicy")
        self.assertIn({"port": 5000, "protocol": "TCP"}, policy["spec"]["egress"][1]["ports"])
        def plain_env(container):
            return {e["name"]: e["value"] for e in container["env"] if "value" in e and "$(" not in e["value"]
                    and not e["name"].startswith("OTEL_EXPORTER")}
        with Server(*back["args"][1:], env=plain_env(back) | {"PORT": "0"}) as b:
            args[i + 1] = f"http://127.0.0.1:{b.port}/upstreams"
            with Server(*args, env=plain_env(front) | {"PORT": "0"}) as f:
                r = f.get("/upstreams")
                self.assertEqual(r.status, 200, r.body)
                doc = r.json()
                self.assertEqual(doc["name"], "frontend")
                self.assertEqual(doc["upstreams"][0]["answer"]["name"], "backend")

    def test_impossible_combinations_are_refused_with_a_reason(self):
        r = template("--set", "persistence.enabled=true", "--set", "autoscaling.enabled=false", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("one writer", r.stderr)
        r = template("--set", "waitFor.enabled=true", check=False)
        self.assertIn("waitFor.url", r.stderr)
        r = template("--set", "tls.enabled=true", check=False)
        self.assertIn("tls.enabled needs a certificate", r.stderr)
        r = template("--set", "tls.enabled=true", "--set", "tls.certManager.enabled=true", check=False)
        self.assertIn("issuerRef.name", r.stderr)
        r = template("--set", "tls.enabled=true", "--set", "tls.secretName=x", "--set", "tls.port=5000", check=False)
        self.assertIn("tls.port must differ", r.stderr)

    def test_tls_serves_https_beside_http_from_a_mounted_secret_with_the_probes_on_the_plain_port(self):
        for mode, secret in (("tls-secret", "my-tls"), ("tls-cert-manager", "devops-info-tls")):
            with self.subTest(mode=mode):
                objs = rendered(mode)
                spec = workload(objs)["spec"]["template"]["spec"]
                c = spec["containers"][0]
                args = c["args"]
                self.assertEqual(args[args.index("--tls-cert") + 1], "/var/run/secrets/devops-info/tls/tls.crt")
                self.assertEqual(args[args.index("--tls-key") + 1], "/var/run/secrets/devops-info/tls/tls.key")
                self.assertEqual(args[args.index("--tls-port") + 1], "5443")
                self.assertIn({"name": "https", "containerPort": 5443, "protocol": "TCP"}, c["ports"])
                mount = next(v for v in c["volumeMounts"] if v["name"] == "tls")
                self.assertNotIn("subPath", mount)  # whole: the kubelet's swaps reach the pod
                self.assertEqual(next(v for v in spec["volumes"] if v["name"] == "tls")["secret"]["secretName"], secret)
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    self.assertEqual(c[probe]["httpGet"]["port"], "http", probe)
                services = [o for o in objs if o["kind"] == "Service" and o["spec"].get("clusterIP") != "None"]
                for svc in services:
                    self.assertIn({"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"},
                                  svc["spec"]["ports"], svc["metadata"]["name"])
                policy = m.one(objs, "NetworkPolicy")
                self.assertIn({"port": "https", "protocol": "TCP"}, policy["spec"]["ingress"][0]["ports"])
        objs = rendered("tls-cert-manager")
        cert = m.one(objs, "Certificate")
        self.assertEqual(cert["spec"]["secretName"], "devops-info-tls")
        self.assertEqual(cert["spec"]["issuerRef"], {"name": "cluster-ca", "kind": "ClusterIssuer",
                                                     "group": "cert-manager.io"})
        self.assertIn("devops-info.demo.svc", cert["spec"]["dnsNames"])  # the namespace template() renders in
        self.assertIn("devops-info.example.org", cert["spec"]["dnsNames"])
        args = workload(objs)["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(args[args.index("--tls-client-ca") + 1], "/var/run/secrets/devops-info/client-ca/ca.crt")
        self.assertEqual([o for o in rendered("tls-secret") if o["kind"] == "Certificate"], [])
        self.assertEqual([o for o in rendered("default") if o["kind"] == "Certificate"], [])

        # The binary serves with the args as rendered, from a Secret mounted the kubelet's way.
        import sys
        sys.path.insert(0, sys_path)
        from harness import Server
        from test_tls import Kubelet, Pki, peer_cn
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            mount = Path(d, "tls")
            mount.mkdir()
            kube = Kubelet(str(mount))
            kube.put(*pki.issue("devops-info.default.svc"))
            args = workload(rendered("tls-secret"))["spec"]["template"]["spec"]["containers"][0]["args"]
            args = [a.replace("/var/run/secrets/devops-info/tls", str(mount)) for a in args[1:]]
            args[args.index("--tls-port") + 1] = "0"
            with Server(*args) as s:
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "devops-info.default.svc")

    def test_config_becomes_a_config_file_the_binary_reads_and_a_mounted_directory(self):
        objs = rendered("dev")
        cm = m.one([o for o in objs if "helm.sh/hook" not in o["metadata"].get("annotations", {})], "ConfigMap")
        values = yaml.safe_load((CHART / "values-dev.yaml").read_text())
        text = cm["data"]["config.json"]
        self.assertEqual(json.loads(text), values["config"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "config.json")
            path.write_text(text)
            r = subprocess.run([m.BIN, "info", "--config", str(path)], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")  # no unknown key
            self.assertEqual(json.loads(r.stdout)["config"]["ui"]["color"], values["config"]["ui"]["color"])
        pod = workload(objs)["spec"]["template"]["spec"]
        c = pod["containers"][0]
        self.assertEqual(c["args"][-2:], ["--config", "/etc/devops-info/config.json"])
        mount = next(v for v in c["volumeMounts"] if v["name"] == "config")
        self.assertEqual(mount["mountPath"], "/etc/devops-info")
        self.assertNotIn("subPath", mount)  # a subPath mount never sees the kubelet's updates
        self.assertEqual(next(v for v in pod["volumes"] if v["name"] == "config")["configMap"]["name"], RELEASE)
        # A rollout on change only when asked for.
        self.assertNotIn("checksum/config", workload(objs)["spec"]["template"]["metadata"]["annotations"])
        annotated = workload(rendered("everything"))["spec"]["template"]["metadata"]["annotations"]
        self.assertRegex(annotated["checksum/config"], r"^[0-9a-f]{64}$")
        # No config: no file, no flag.
        default = rendered("default")
        self.assertEqual([o for o in default if o["kind"] == "ConfigMap"], [])
        self.assertNotIn("--config", workload(default)["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_the_config_check_hook_runs_the_binary_on_the_new_config(self):
        objs = rendered("dev")
        hooks = [o for o in objs if o["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-install,pre-upgrade"]
        self.assertEqual(sorted(o["kind"] for o in hooks), ["ConfigMap", "Job"])
        cm = next(o for o in hooks if o["kind"] == "ConfigMap")
        job = next(o for o in hooks if o["kind"] == "Job")
        self.assertLess(int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]),
                        int(job["metadata"]["annotations"]["helm.sh/hook-weight"]))  # the file before the Job
        self.assertEqual(cm["data"], m.one([o for o in objs if o not in hooks], "ConfigMap")["data"])
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        mount = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
        # The Job's command on the real binary: a good file passes, a bad one fails the release.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "config.json")
            run = [m.BIN, *[a.replace(mount, tmp) for a in args]]
            path.write_text(cm["data"]["config.json"])
            r = subprocess.run(run, capture_output=True, text=True, timeout=30)
            self.assertEqual((r.returncode, r.stdout), (0, str(path) + "\n"), r.stderr)
            bad = template("-f", str(CHART / "values-dev.yaml"), "--set", "config.port=http")
            bad_cm = next(o for o in m.objects(bad.stdout) if o["kind"] == "ConfigMap"
                          and o["metadata"]["name"].endswith("-config-check"))
            path.write_text(bad_cm["data"]["config.json"])
            r = subprocess.run(run, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2)
            self.assertIn("port: 'http' is not a port number", r.stderr)
        self.assertEqual([o for o in rendered("default") if o["kind"] == "Job"], [])  # no config, nothing to check

    def test_the_secret_goes_in_by_envfrom(self):
        objs = rendered("everything")
        secret = m.one(objs, "Secret")
        self.assertEqual(set(secret["data"]), {"DB_USERNAME", "DB_PASSWORD"})
        env_from = workload(objs)["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        self.assertEqual(env_from, [{"secretRef": {"name": RELEASE}}, {"configMapRef": {"name": "extra"}}])

    def test_statefulset_has_a_headless_service_and_a_volume_per_pod(self):
        objs = rendered("statefulset")
        sts = m.one(objs, "StatefulSet")
        services = {s["metadata"]["name"]: s for s in objs if s["kind"] == "Service"}
        headless = services[sts["spec"]["serviceName"]]
        self.assertEqual(headless["spec"]["clusterIP"], "None")
        self.assertEqual(headless["spec"]["ports"][0]["name"], "http")
        self.assertEqual(services[RELEASE]["spec"]["ports"][0]["name"], "http")
        self.assertEqual([t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]], ["data"])
        self.assertEqual(sts["spec"]["podManagementPolicy"], "Parallel")
        self.assertEqual(sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 1)
        c = sts["spec"]["template"]["spec"]["containers"][0]
        mount = next(v for v in c["volumeMounts"] if v["name"] == "data")
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env["DATA_DIR"], mount["mountPath"])
        self.assertNotIn("volumes", sts["spec"]["template"]["spec"])  # the claim template, no PVC of its own
        self.assertEqual([o for o in objs if o["kind"] == "PersistentVolumeClaim"], [])
        self.assertEqual(m.one(objs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["kind"], "StatefulSet")

    def test_rollout_canary_and_blue_green(self):
        objs = rendered("rollout-canary")
        ro = m.one(objs, "Rollout")
        canary = ro["spec"]["strategy"]["canary"]
        weights = [s.get("setWeight") for s in canary["steps"] if "setWeight" in s]
        self.assertEqual(weights, [20, 40, 60, 80])  # then 100 at the end
        self.assertEqual(canary["steps"][1], {"pause": {}})  # until promoted
        services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
        self.assertEqual({canary["stableService"], canary["canaryService"]}, services)
        self.assertEqual(canary["analysis"]["startingStep"], 1)
        self.assertEqual([o for o in objs if o["kind"] in ("Deployment", "StatefulSet")], [])
        hpa = m.one(objs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
        self.assertEqual((hpa["apiVersion"], hpa["kind"]), ("argoproj.io/v1alpha1", "Rollout"))
        objs = rendered("rollout-bluegreen")
        bg = m.one(objs, "Rollout")["spec"]["strategy"]["blueGreen"]
        self.assertFalse(bg["autoPromotionEnabled"])
        services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
        self.assertEqual({bg["activeService"], bg["previewService"]}, services)
        analysis = m.one(objs, "AnalysisTemplate")
        self.assertTrue(all(x["count"] == 5 for x in analysis["spec"]["metrics"]))  # a pre-promotion analysis ends
        r = template("--set", "kind=Rollout", "--set", "persistence.enabled=true", check=False)
        self.assertIn("one writer", r.stderr)
        r = template("--set", "kind=Rollout", "--set", "rollout.strategy=linear", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_monitoring_scrapes_the_port_named_http_with_the_tested_rules(self):
        self.assertEqual((CHART / "files" / "rules.yml").read_text(), (m.PROMETHEUS_DIR / "rules.yml").read_text(),
                         "deploy/helm/devops-info/files/rules.yml must be a copy of deploy/prometheus/rules.yml")
        objs = rendered("monitoring-route")
        sm = m.one(objs, "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "kps")
        self.assertEqual(sm["spec"]["jobLabel"], "app.kubernetes.io/name")  # job="devops-info", as the rules say
        self.assertEqual([(e["port"], e["path"]) for e in sm["spec"]["endpoints"]], [("http", "/metrics")])
        self.assertEqual(sm["spec"]["podTargetLabels"], ["rollouts-pod-template-hash"])
        picked = [s["metadata"]["name"] for s in objs if s["kind"] == "Service" and
                  sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        self.assertEqual(picked, [RELEASE])  # not the canary Service too: each pod scraped once
        analysis = m.one(objs, "AnalysisTemplate")
        self.assertIn('rollouts_pod_template_hash="{{args.canary-hash}}"',
                      analysis["spec"]["metrics"][0]["provider"]["prometheus"]["query"])
        rule = m.one(objs, "PrometheusRule")
        self.assertEqual(rule["spec"], yaml.safe_load((m.PROMETHEUS_DIR / "rules.yml").read_text()))
        route = m.one(objs, "HTTPRoute")
        self.assertEqual(route["spec"]["rules"][0]["backendRefs"], [{"name": RELEASE, "port": 80}])
        self.assertEqual([o for o in rendered("default") if o["kind"] in ("ServiceMonitor", "PrometheusRule",
                                                                          "HTTPRoute")], [])

    def test_a_persistent_deployment_has_one_claim_and_recreates(self):
        objs = rendered("deployment-persistent")
        dep = m.one(objs, "Deployment")
        self.assertEqual(dep["spec"]["strategy"], {"type": "Recreate"})
        self.assertEqual(dep["spec"]["replicas"], 1)
        pvc = m.one(objs, "PersistentVolumeClaim")
        claim = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
        self.assertEqual(claim["persistentVolumeClaim"]["claimName"], pvc["metadata"]["name"])

    def test_the_helm_test_and_the_init_container_run_against_a_real_server(self):
        import sys
        sys.path.insert(0, sys_path)
        from harness import Server
        objs = rendered("everything")
        test_pod = next(o for o in objs if o["kind"] == "Pod")
        self.assertEqual(test_pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        test_args = test_pod["spec"]["containers"][0]["args"]
        self.assertEqual(test_args[:3], ["health", "--url", f"http://{RELEASE}.demo.svc:80/health"])
        init_args = workload(objs)["spec"]["template"]["spec"]["initContainers"][0]["args"]
        self.assertEqual(init_args, ["health", "--url", "http://db-proxy:5000/health", "--wait", "60s"])

        def run(args, port, wait="3s"):
            args = list(args)
            url = args.index("--url") + 1
            args[url] = re.sub(r"^http://[^/]+", f"http://127.0.0.1:{port}", args[url])
            args[args.index("--wait") + 1] = wait
            return subprocess.run([m.BIN, *args], capture_output=True, text=True, timeout=60)

        with Server() as s:
            for args in (test_args, init_args):
                r = run(args, s.port)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["status"], "healthy")
            port = s.port
        for args in (test_args, init_args):
            r = run(args, port, wait="1s")
            self.assertEqual(r.returncode, 1, r.stdout)

    def test_the_default_render_agrees_with_the_kustomize_base(self):
        """The base in deploy/kubernetes and the chart's default render, with the chart's extra labels and
        its release metadata left out, must be the same objects field for field."""
        def normal(o: dict) -> dict:
            o = copy.deepcopy(o)
            o.pop("metadata", None)

            def walk(node):
                if isinstance(node, dict):
                    for key in ("matchLabels", "selector", "labels"):
                        if key in node and isinstance(node[key], dict) and all(
                                isinstance(v, str) for v in node[key].values()):
                            node[key] = {"app.kubernetes.io/name": node[key].get("app.kubernetes.io/name")}
                    for v in node.values():
                        walk(v)
                elif isinstance(node, list):
                    for v in node:
                        walk(v)
            walk(o)
            return o

        base = {o["kind"]: normal(o) for o in m.objects(m.render(m.KUSTOMIZE_ROOT / "base"))}
        # The one difference on purpose: with an autoscaler the chart leaves `replicas` to it, so that an
        # upgrade does not reset the scale (the base, applied with kubectl, states the starting count).
        self.assertEqual(base["Deployment"]["spec"].pop("replicas"), base["HorizontalPodAutoscaler"]["spec"]["minReplicas"])
        chart = {o["kind"]: normal(o) for o in rendered("default") if o["kind"] != "Pod"}
        self.assertEqual(sorted(chart), sorted(base))
        for kind in base:
            with self.subTest(kind=kind):
                self.maxDiff = None
                self.assertEqual(chart[kind], base[kind])


if __name__ == "__main__":
    unittest.main()


import math  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import rollout  # noqa: E402
import test_prometheus  # noqa: E402


def condition_holds(condition: str, result: list[float]) -> bool:
    """An Argo Rollouts successCondition (its expr language, in the subset the chart uses) on a result."""
    if not re.fullmatch(r"[\w\s\[\]\(\)\.<>=|&!0-9]+", condition):
        raise AssertionError(f"a condition outside the subset this test evaluates: {condition}")
    py = condition.replace("||", " or ").replace("&&", " and ").replace("isNaN", "math.isnan")
    return bool(eval(py, {"__builtins__": {"len": len}, "math": math}, {"result": result}))  # noqa: S307


class AnalysisTest(test_prometheus.ScrapeTest):
    """The Rollout's AnalysisTemplate, as rendered, judged by a real Prometheus scraping two real serve
    processes labelled as two pod template hashes: a healthy version, and one answering half of GET / with
    500 (--fault-error '/=0.5'). The healthy one must pass every metric, the faulty one fail the error ratio."""

    test_prometheus_scrapes_serve_and_loads_the_rules = None  # the parent's own test, run in test_prometheus

    def test_the_analysis_tells_a_faulty_version_from_a_healthy_one(self):
        for strategy in ("canary", "blueGreen"):
            objs = m.objects(template("--set", "kind=Rollout", "--set", f"rollout.strategy={strategy}").stdout)
            analysis = m.one(objs, "AnalysisTemplate")
            strategy_spec = m.one(objs, "Rollout")["spec"]["strategy"][strategy]
            key = "analysis" if strategy == "canary" else "prePromotionAnalysis"
            self.assertEqual(strategy_spec[key]["templates"], [{"templateName": analysis["metadata"]["name"]}])
            self.assertEqual({a["name"] for a in strategy_spec[key]["args"]},
                             {a["name"] for a in analysis["spec"]["args"]})
        metrics = analysis["spec"]["metrics"]
        self.assertEqual([x["name"] for x in metrics], ["error-ratio", "p99-latency"])

        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG", "CONFIG_FILE")}
        ports = {"healthy": test_prometheus.free_port(), "faulty": test_prometheus.free_port()}
        for name, port in ports.items():
            faults = ["--fault-error", "/=0.5"] if name == "faulty" else []
            self.spawn([m.BIN, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                        *faults], env=env)
            self.assertTrue(rollout.wait_for(port, "/health", 200, 10), self.log("devops-info"))
        prom_port = test_prometheus.free_port()
        config = Path(self.tmp.name, "prometheus.yml")
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{"job_name": "devops-info", "static_configs": [
                {"targets": [f"127.0.0.1:{port}"],
                 "labels": {"namespace": "demo", "rollouts_pod_template_hash": name}}
                for name, port in ports.items()]}],
        }))
        self.spawn(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.tmp.name}/data",
                    f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])

        stop = threading.Event()

        def traffic():  # bounded: until stop, at most 60 s
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                for port in ports.values():
                    rollout.get(port, "/")
                time.sleep(0.005)

        t = threading.Thread(target=traffic)
        t.start()
        try:
            # Both versions' rates exist once Prometheus has scraped each a few times under load.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rates = self.query(prom_port, 'sum by (rollouts_pod_template_hash) '
                                              '(rate(http_requests_total{endpoint="/"}[1m]))')
                if len(rates) == 2 and all(float(r["value"][1]) > 0 for r in rates):
                    break
                time.sleep(0.5)
            time.sleep(3)
            verdicts = {}
            for name in ports:
                for metric in metrics:
                    query = (metric["provider"]["prometheus"]["query"]
                             .replace("{{args.namespace}}", "demo").replace("{{args.canary-hash}}", name))
                    result = [float(r["value"][1]) for r in self.query(prom_port, query)]
                    self.assertEqual(len(result), 1, f"{name} {metric['name']}: {result} {self.log('prometheus')}")
                    verdicts[name, metric["name"]] = (condition_holds(metric["successCondition"], result), result[0])
        finally:
            stop.set()
            t.join()
        self.assertTrue(verdicts["healthy", "error-ratio"][0], verdicts)
        self.assertTrue(verdicts["healthy", "p99-latency"][0], verdicts)
        self.assertFalse(verdicts["faulty", "error-ratio"][0], verdicts)
        self.assertGreater(verdicts["faulty", "error-ratio"][1], 0.3, verdicts)
        self.assertTrue(verdicts["faulty", "p99-latency"][0], verdicts)  # fast, only wrong

    def test_conditions_as_argo_reads_them(self):
        c = "len(result) == 0 || isNaN(result[0]) || result[0] <= 0.05"
        self.assertTrue(condition_holds(c, []))
        self.assertTrue(condition_holds(c, [math.nan]))
        self.assertTrue(condition_holds(c, [0.01]))
        self.assertFalse(condition_holds(c, [0.5]))

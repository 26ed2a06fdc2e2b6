"""deploy/prometheus: the rules pass promtool's checks and unit tests (which
fail for a broken rule), and a real Prometheus scrapes a real `serve` on a
loopback port and loads the rules.

Needs promtool and prometheus (Debian's `prometheus` package).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

import manifests as m
import rollout

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def promtool(*args: str, cwd: Path = m.PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


class RulesTest(unittest.TestCase):
    def test_promtool_is_there(self):
        self.assertIsNotNone(shutil.which("promtool"), "promtool is missing: apt-get install prometheus")

    def test_check_rules(self):
        r = promtool("check", "rules", "rules.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unit_tests_pass(self):
        r = promtool("test", "rules", "tests.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_alert_has_a_firing_and_a_quiet_case(self):
        alerts = [r["alert"] for g in yaml.safe_load((m.PROMETHEUS_DIR / "rules.yml").read_text())["groups"]
                  for r in g["rules"] if "alert" in r]
        self.assertGreaterEqual(set(alerts), {"DevopsInfoTargetDown", "DevopsInfoHighErrorRatio",
                                              "DevopsInfoHighLatency", "DevopsInfoRestarting", "DevopsInfoCertificateExpiringSoon",
                                              "DevopsInfoPodNotReady"})
        cases = [c for t in yaml.safe_load((m.PROMETHEUS_DIR / "tests.yml").read_text())["tests"]
                 for c in t.get("alert_rule_test", [])]
        for alert in alerts:
            with self.subTest(alert):
                mine = [c for c in cases if c["alertname"] == alert]
                self.assertTrue(any(c.get("exp_alerts") for c in mine), "a case where it fires")
                self.assertTrue(any(not c.get("exp_alerts") for c in mine), "a case where it does not")

    def test_the_unit_tests_catch_a_broken_rule(self):
        rules = (m.PROMETHEUS_DIR / "rules.yml").read_text()
        for old, new in [("up{job=\"devops-info\"} == 0", "up{job=\"devops-info\"} == 2"),
                         ("> 0.05", "> 0.5"), ("> 0.25", "> 2.5"), (">= 3", ">= 30"),
                         ("== 0\n        for: 10m", "== 1\n        for: 10m")]:
            with self.subTest(new), tempfile.TemporaryDirectory(prefix="devops-info-rules-") as tmp:
                self.assertIn(old, rules)
                Path(tmp, "rules.yml").write_text(rules.replace(old, new, 1))
                shutil.copy(m.PROMETHEUS_DIR / "tests.yml", tmp)
                r = promtool("test", "rules", "tests.yml", cwd=Path(tmp))
                self.assertNotEqual(r.returncode, 0, r.stdout)


class ScrapeTest(unittest.TestCase):
    """A real Prometheus scraping a real serve, both on 127.0.0.1."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="devops-info-prometheus-")
        self.addCleanup(self.tmp.cleanup)

    def spawn(self, cmd: list[str], **kw) -> subprocess.Popen:
        log = open(Path(self.tmp.name, Path(cmd[0]).name + ".log"), "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
        self.addCleanup(log.close)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        return proc

    def log(self, name: str) -> str:
        return Path(self.tmp.name, name + ".log").read_text(errors="replace")[-2000:]

    def query(self, port: int, expr: str) -> list:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with OPENER.open(url, timeout=3) as r:
                return json.load(r)["data"]["result"]
        except OSError:
            return []

    def test_prometheus_scrapes_serve_and_loads_the_rules(self):
        self.assertIsNotNone(shutil.which("prometheus"), "prometheus is missing: apt-get install prometheus")
        app_port, prom_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG")}
        self.spawn([m.BIN, "serve", "--host", "127.0.0.1", "--port", str(app_port)], env=env)
        self.assertTrue(rollout.wait_for(app_port, "/health", 200, 10), self.log("devops-info"))
        for _ in range(7):
            self.assertEqual(rollout.get(app_port, "/"), 200)
        for _ in range(3):
            self.assertEqual(rollout.get(app_port, "/no-such-page"), 404)

        config = Path(self.tmp.name, "prometheus.yml")
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(m.PROMETHEUS_DIR / "rules.yml")],
            "scrape_configs": [{"job_name": "devops-info",
                                "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}]}],
        }))
        self.spawn(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.tmp.name}/data",
                    f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])

        deadline = time.monotonic() + 60
        up = requests = []
        while time.monotonic() < deadline:
            up = self.query(prom_port, 'up{job="devops-info"}')
            requests = self.query(prom_port, 'sum by (endpoint, status) (http_requests_total{job="devops-info"})')
            if up and up[0]["value"][1] == "1" and len(requests) >= 2:
                break
            time.sleep(0.5)
        self.assertTrue(up and up[0]["value"][1] == "1", f"target not up: {up} {self.log('prometheus')}")
        got = {(r["metric"]["endpoint"], r["metric"]["status"]): float(r["value"][1]) for r in requests}
        # The requests this test made (the probe for /health and Prometheus's scrapes aside).
        self.assertEqual(got.get(("/", "200")), 7.0, got)
        self.assertEqual(got.get(("unknown", "404")), 3.0, got)
        self.assertFalse(any(e == "/metrics" for e, _ in got), "scrapes are not counted")

        with OPENER.open(f"http://127.0.0.1:{prom_port}/api/v1/rules", timeout=3) as r:
            groups = json.load(r)["data"]["groups"]
        rules = [x for g in groups for x in g["rules"]]
        self.assertEqual(len(rules), 10, [x["name"] for x in rules])
        self.assertTrue(all(x["health"] in ("ok", "unknown") for x in rules), [x.get("lastError") for x in rules])
        target_down = [x for x in rules if x["name"] == "DevopsInfoTargetDown"]
        self.assertEqual(target_down[0]["state"], "inactive")


if __name__ == "__main__":
    unittest.main()

"""deploy/grafana/devops-info.json: a well-formed dashboard whose every Prometheus query, evaluated by a real
Prometheus scraping a real serve (with a data directory and a config file, so every metric exists), returns
data; and whose metric names are all ones the binary exposes."""
from __future__ import annotations

import json
import os
import re
import threading
import time
import unittest
from pathlib import Path

import yaml

import manifests as m
import rollout
import test_prometheus

DASHBOARD = m.ROOT / "deploy" / "grafana" / "devops-info.json"


def prometheus_targets(dash: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])
            if p["datasource"]["type"] == "prometheus"]


def concrete(expr: str) -> str:
    """The query as Grafana sends it, for job devops-info over 1m."""
    return expr.replace("$__rate_interval", "1m").replace("$job", "devops-info")


class DashboardTest(test_prometheus.ScrapeTest):
    test_prometheus_scrapes_serve_and_loads_the_rules = None  # the parent's own test, run in test_prometheus

    def test_the_dashboard_is_well_formed(self):
        dash = json.loads(DASHBOARD.read_text())
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for p in dash["panels"]:
            self.assertEqual(set(p["gridPos"]), {"x", "y", "w", "h"}, p["title"])
            self.assertLessEqual(p["gridPos"]["x"] + p["gridPos"]["w"], 24, p["title"])
            self.assertTrue(p["targets"], p["title"])
        titles = " ".join(p["title"] for p in dash["panels"]).lower()
        for want in ("requests/s by endpoint", "5xx ratio", "p50", "p99", "in progress", "connections",
                     "log lines dropped", "visits", "build info", "config reload", "upstream calls/s",
                     "upstream error ratio", "upstream latency"):
            self.assertIn(want, titles)
        loki = [t["expr"] for p in dash["panels"] for t in p["targets"] if p["datasource"]["type"] == "loki"]
        self.assertEqual(loki, ['{app="devops-info"} | json | level="ERROR"'])

    def test_every_query_returns_data_from_a_real_prometheus(self):
        dash = json.loads(DASHBOARD.read_text())
        app_port, prom_port = test_prometheus.free_port(), test_prometheus.free_port()
        data = Path(self.tmp.name, "data")
        data.mkdir()
        config = Path(self.tmp.name, "config.json")
        config.write_text(json.dumps({"appName": "dashboard-test", "fault_error": {"/readyz": 1}}))
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG", "CONFIG_FILE", "DATA_DIR")}
        # Its own /health as an upstream, so that the upstream metrics exist.
        self.spawn([m.BIN, "serve", "--host", "127.0.0.1", "--port", str(app_port), "--data-dir", str(data),
                    "--config", str(config), "--log-level", "warning",
                    "--upstream", f"http://127.0.0.1:{app_port}/health"], env=env)
        self.assertTrue(rollout.wait_for(app_port, "/health", 200, 10), self.log("devops-info"))

        # The metrics the dashboard names are ones the binary exposes (the upstream metrics once a call was made).
        rollout.get(app_port, "/upstreams")
        exposed = set(re.findall(r"^# TYPE (\S+)", rollout_text(app_port, "/metrics"), re.M))
        for title, expr in prometheus_targets(dash):
            for name in re.findall(r"\b(http_[a-z_]+|devops_info_[a-z_]+)\b", expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertIn(base, exposed, f"{title}: {name}")

        prom_config = Path(self.tmp.name, "prometheus.yml")
        prom_config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{"job_name": "devops-info", "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}]}],
        }))
        self.spawn(["prometheus", f"--config.file={prom_config}", f"--storage.tsdb.path={self.tmp.name}/prom",
                    f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])
        stop = threading.Event()

        def traffic():  # bounded: until stop, at most 60 s
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                for path in ("/", "/health", "/readyz", "/nope", "/upstreams"):
                    rollout.get(app_port, path)
                time.sleep(0.01)

        t = threading.Thread(target=traffic)
        t.start()
        try:
            # A config reload, so that the reload counters move.
            config.write_text(json.dumps({"appName": "dashboard-test", "fault_error": {"/readyz": 1}, "v": 2}))
            missing = prometheus_targets(dash)
            deadline = time.monotonic() + 60
            while missing and time.monotonic() < deadline:
                time.sleep(1)
                missing = [(title, expr) for title, expr in missing if not self.query(prom_port, concrete(expr))]
        finally:
            stop.set()
            t.join()
        self.assertEqual(missing, [], self.log("prometheus"))


class DerivedFieldTest(unittest.TestCase):
    def test_the_loki_derived_field_finds_the_trace_id_of_a_real_log_line(self):
        """datasources.yaml's derived field (a Go regular expression Python reads alike) takes the trace_id
        of serve's JSON line and of its text line, and links it to the Tempo data source."""
        import subprocess
        provisioning = yaml.safe_load((DASHBOARD.parent / "datasources.yaml").read_text())
        sources = {d["name"]: d for d in provisioning["datasources"]}
        self.assertEqual(sources["Tempo"]["type"], "tempo")
        loki = sources["Loki"]
        self.assertEqual(loki["type"], "loki")
        (field,) = loki["jsonData"]["derivedFields"]
        self.assertEqual(field["datasourceUid"], sources["Tempo"]["uid"])
        self.assertEqual(field["url"], "$${__value.raw}")
        # Tempo's own trace-to-logs link back, on the same label.
        self.assertEqual(sources["Tempo"]["jsonData"]["tracesToLogsV2"]["datasourceUid"], loki["uid"])
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        for fmt in ("json", "text"):
            with self.subTest(format=fmt):
                out = subprocess.run(
                    ["timeout", "-s", "TERM", "1", m.BIN, "serve", "--host", "127.0.0.1", "--port", "0",
                     "--log-format", fmt, "--delay-path", "/never"],
                    capture_output=True, text=True, timeout=30)
                self.assertIn("listening", out.stdout)
                line = next(l for l in out.stdout.splitlines() if "listening" in l)
                self.assertIsNone(re.search(field["matcherRegex"], line))
                request = ('{"msg":"request","trace_id":"%s","span_id":"00f067aa0ba902b7"}' % trace if fmt == "json"
                           else "INFO    request method=GET trace_id=%s span_id=00f067aa0ba902b7" % trace)
                self.assertEqual(re.search(field["matcherRegex"], request).group(1), trace)


def rollout_text(port: int, path: str) -> str:
    with test_prometheus.OPENER.open(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


if __name__ == "__main__":
    unittest.main()

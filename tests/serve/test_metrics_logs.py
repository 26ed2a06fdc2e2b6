"""/metrics values after a known number of requests, a valid exposition, and
the log lines: every one valid JSON with its fields, or readable text."""
import json
import re
import signal
import unittest

from harness import Server, sample_value, wait_until


class MetricsTest(unittest.TestCase):
    def test_counts_after_known_requests(self):
        with Server() as s:
            for _ in range(7):
                self.assertEqual(s.get("/health").status, 200)
            for _ in range(3):
                self.assertEqual(s.get("/no/such/%d" % _).status, 404)
            for _ in range(2):
                self.assertEqual(s.request("POST", "/health").status, 405)
            self.assertEqual(s.request("HEAD", "/").status, 200)
            self.assertEqual(s.get("/ready").status, 200)
            s.get("/metrics")  # not counted
            # A request is counted once its answer is out: the last one may lag a moment.
            m = wait_until(lambda: (lambda m: m if sum(v for _, _, v in m["http_requests_total"]["samples"]) >= 14
                                    else None)(s.metrics()), what="14 counted requests")

            def total(**labels):
                return sample_value(m, "http_requests_total", **labels)

            self.assertEqual(total(method="GET", endpoint="/health", status="200"), 7)
            self.assertEqual(total(method="GET", endpoint="unknown", status="404"), 3)
            self.assertEqual(total(method="POST", endpoint="/health", status="405"), 2)
            self.assertEqual(total(method="HEAD", endpoint="/", status="200"), 1)
            self.assertEqual(total(method="GET", endpoint="/ready", status="200"), 1)
            self.assertEqual(sum(v for _, _, v in m["http_requests_total"]["samples"]), 14)
            # Paths that match no route share one label value; /metrics does not count itself.
            endpoints = {labels["endpoint"] for _, labels, _ in m["http_requests_total"]["samples"]}
            self.assertEqual(endpoints, {"/", "/health", "/ready", "unknown"})

            hist = "http_request_duration_seconds"
            self.assertEqual(m[hist]["type"], "histogram")
            count = sample_value(m, hist, hist + "_count", method="GET", endpoint="/health")
            self.assertEqual(count, 7)
            les = [labels["le"] for name, labels, _ in m[hist]["samples"]
                   if name == hist + "_bucket" and labels["endpoint"] == "/health" and labels["method"] == "GET"]
            self.assertEqual([float(le) for le in les],
                             [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")])
            self.assertGreater(sample_value(m, hist, hist + "_sum", method="GET", endpoint="/health"), 0)
            self.assertEqual(sample_value(m, "http_requests_in_progress"), 0)

            # A second scrape sees the same counts: scrapes do not count.
            again = s.metrics()
            self.assertEqual(sample_value(again, "http_requests_total", method="GET", endpoint="/health",
                                          status="200"), 7)

    def test_process_and_build_metrics(self):
        with Server() as s:
            m = s.metrics()
            for name, kind in [("process_cpu_seconds_total", "counter"), ("process_resident_memory_bytes", "gauge"),
                               ("process_virtual_memory_bytes", "gauge"), ("process_start_time_seconds", "gauge"),
                               ("process_open_fds", "gauge"), ("process_max_fds", "gauge"),
                               ("devops_info_build_info", "gauge")]:
                with self.subTest(metric=name):
                    self.assertEqual(m[name]["type"], kind)
                    self.assertIsNotNone(m[name]["help"])
                    self.assertEqual(len(m[name]["samples"]), 1)
            self.assertGreater(sample_value(m, "process_resident_memory_bytes"), 100_000)
            self.assertGreaterEqual(sample_value(m, "process_open_fds"), 3)
            info = s.get("/").json()
            build = m["devops_info_build_info"]["samples"][0]
            self.assertEqual(build[2], 1)
            self.assertEqual(build[1]["version"], info["service"]["version"])
            self.assertEqual(build[1]["commit"], info["build"]["commit"])
            import time
            self.assertAlmostEqual(sample_value(m, "process_start_time_seconds"), time.time(), delta=60)


class LogTest(unittest.TestCase):
    def test_every_line_is_json_with_its_fields(self):
        with Server() as s:
            s.get("/", headers={"User-Agent": 'log "test" \\ x'})
            s.get("/nope")
            s.request("DELETE", "/ready")
            # Each line is written after its response is sent: wait for them all.
            wait_until(lambda: len([l for l in s.logs() if l["msg"] == "request"]) == 3, what="3 request lines")
            self.assertEqual(s.stop(), 0)
        logs = s.logs()  # fails on any line that is not JSON
        self.assertEqual(len(logs), len(s.lines))
        for line in logs:
            self.assertIsInstance(line["timestamp"], str)
            self.assertRegex(line["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
            self.assertIn(line["level"], ("DEBUG", "INFO", "WARNING", "ERROR"))
            self.assertIsInstance(line["msg"], str)
        start = logs[0]
        self.assertEqual(start["msg"], "listening")
        self.assertEqual(start["level"], "INFO")
        self.assertEqual((start["host"], start["port"], start["service"]), ("127.0.0.1", s.port, "devops-info-service"))
        self.assertRegex(start["version"], r"\S")
        requests = [l for l in logs if l["msg"] == "request"]
        self.assertEqual(sorted((r["method"], r["path"], r["status"]) for r in requests),
                         [("DELETE", "/ready", 405), ("GET", "/", 200), ("GET", "/nope", 404)])
        for r in requests:
            self.assertEqual(r["client_ip"], "127.0.0.1")
            self.assertIsInstance(r["duration_ms"], (int, float))
            self.assertGreaterEqual(r["duration_ms"], 0)
            self.assertIsInstance(r["user_agent"], str)
        self.assertEqual([r["user_agent"] for r in requests if r["path"] == "/"], ['log "test" \\ x'])
        self.assertEqual([l["msg"] for l in logs[-2:]], ["shutting down", "stopped"])
        self.assertEqual(logs[-2]["signal"], "SIGTERM")

    def test_debug_env_gives_debug_lines(self):
        with Server(env={"DEBUG": "true"}) as s:
            s.wait_for_log(lambda d: d.get("level") == "DEBUG", what="a DEBUG line")
        with Server(env={"DEBUG": "false"}) as s:
            s.get("/health")
            s.stop()
            self.assertNotIn("DEBUG", {l["level"] for l in s.logs()})

    def test_log_level_flag_beats_debug_env(self):
        s = Server("--log-level", "warning", env={"DEBUG": "true"})
        try:
            s.start(quiet=True)
            s.get("/nope")
            self.assertEqual(s.stop(), 0)
            self.assertEqual(s.lines, [])  # no DEBUG, no INFO
        finally:
            s.kill()

    def test_text_format_is_readable_lines(self):
        s = Server("--log-format", "text")
        s.proc = __import__("subprocess").Popen(s.cmd, stdout=-1, stderr=-1, env=s.env)
        try:
            first = s.proc.stdout.readline().decode()
            self.assertRegex(first, r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00 INFO +listening host=127\.0\.0\.1 port=\d+ ")
            port = int(re.search(r" port=(\d+)", first).group(1))
            s.port = port
            s.get("/health", headers={"User-Agent": "two words"})
            line = s.proc.stdout.readline().decode()
            self.assertRegex(line, r' INFO +request method=GET path=/health protocol=HTTP/1\.1 status=200 client_ip=127\.0\.0\.1 '
                                   r'user_agent="two words" duration_ms=\d+\.\d{3} trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16}\n$')
            with self.assertRaises(ValueError):
                json.loads(line)
        finally:
            s.proc.kill()
            s.proc.wait()
            s.proc.stdout.close()
            s.proc.stderr.close()


class SignalTest(unittest.TestCase):
    def test_every_signal_that_ends_it_is_logged_and_drains(self):
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name), Server() as s:
                self.assertEqual(s.get("/health").status, 200)
                self.assertEqual(s.stop(sig), 0, s.stderr)
                down = [l for l in s.logs() if l["msg"] == "shutting down"]
                self.assertEqual([l["signal"] for l in down], [sig.name])
                self.assertEqual(s.logs()[-1]["msg"], "stopped")


if __name__ == "__main__":
    unittest.main()

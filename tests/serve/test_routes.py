"""Every route and method of `serve`: status codes, headers, JSON schema and
types, the 404, 405, 413, 400 and 500 paths, and many idle connections."""
import json
import os
import socket
import tempfile
import time
import unittest

import jsonschema

from harness import SOURCE_DIR, TIMEOUT, Server, run_cli, split_answers

ROUTES = ["/", "/health", "/ready", "/metrics", "/visits", "/livez", "/readyz"]
# gRPC health's methods, in the same table; they answer gRPC calls over HTTP/2 (test_http2.py).
GRPC_ROUTES = ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"]
# Templates: a value in the last segment (test_introspection.py).
TEMPLATES = ["/status/{code}", "/delay/{duration}"]

with open(os.path.join(SOURCE_DIR, "docs", "info.schema.json"), encoding="utf-8") as f:
    SCHEMA = json.load(f)

# The keys of the Flask service's GET /, which clients already parse.
FLASK_KEYS = {
    "service": {"name": str, "version": str, "description": str, "framework": str},
    "system": {"hostname": str, "platform": str, "platform_version": str, "architecture": str, "cpu_count": int},
    "runtime": {"uptime_seconds": int, "uptime_human": str, "current_time": str, "timezone": str},
    "request": {"client_ip": str, "user_agent": str, "method": str, "path": str},
}


class RoutesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.TemporaryDirectory()  # /visits answers only with a data directory
        cls.server = Server("--data-dir", cls.data.name).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.data.cleanup()

    def assertJsonHeaders(self, r):
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(int(r.header("Content-Length")), len(r.body))

    def test_root_is_the_report_plus_the_request(self):
        r = self.server.get("/", headers={"User-Agent": "routes-test/1.0"})
        self.assertEqual(r.status, 200)
        self.assertJsonHeaders(r)
        self.assertTrue(r.body.endswith(b"\n"))
        doc = r.json()
        jsonschema.validate(doc, SCHEMA)
        for section, keys in FLASK_KEYS.items():
            for key, kind in keys.items():
                self.assertIsInstance(doc[section][key], kind, f"{section}.{key}")
        self.assertEqual(doc["request"], {"client_ip": "127.0.0.1", "user_agent": "routes-test/1.0",
                                          "method": "GET", "path": "/"})
        self.assertEqual(doc["service"]["name"], "devops-info-service")
        self.assertEqual(doc["runtime"]["pid"], self.server.proc.pid)
        self.assertRegex(doc["runtime"]["current_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
        self.assertEqual([(e["path"], e["method"]) for e in doc["endpoints"]],
                         [(p, "GET") for p in ROUTES] + [(p, "POST") for p in GRPC_ROUTES]
                         + [(p, "GET") for p in TEMPLATES] + [("/env", "GET"), ("/headers", "GET"),
                                                                          ("/echo", "POST, PUT"),
                                                                          ("/upstreams", "GET")])
        self.assertEqual(list(doc), ["service", "system", "runtime", "request", "container", "build",
                                     "endpoints", "notes"])

    def test_root_has_the_same_keys_as_info(self):
        info = json.loads(self.server_cli_info())
        served = self.server.get("/").json()
        del served["request"]

        def keys(node, prefix=""):
            if isinstance(node, dict):
                return {k for key, v in node.items() for k in keys(v, f"{prefix}.{key}")} | {prefix}
            return {prefix}

        self.assertEqual(keys(served) - {".notes"}, keys(info) - {".notes"})

    def server_cli_info(self):
        r = run_cli("info", "--compact")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_current_time_and_request_are_per_request(self):
        a = self.server.get("/", headers={"User-Agent": "a"}).json()
        time.sleep(0.002)
        b = self.server.get("/?x=1", headers={"User-Agent": "b \"quoted\" \u00e9".encode()}).json()
        self.assertLess(a["runtime"]["current_time"], b["runtime"]["current_time"])
        self.assertEqual(b["request"]["user_agent"], "b \"quoted\" \u00e9")
        self.assertEqual(b["request"]["path"], "/")
        # Not UTF-8 (Latin-1): replaced, and the document stays valid JSON.
        c = self.server.get("/", headers={"User-Agent": b"caf\xe9"}).json()
        self.assertEqual(c["request"]["user_agent"], "caf\ufffd")

    def test_health(self):
        r = self.server.get("/health")
        self.assertEqual(r.status, 200)
        self.assertJsonHeaders(r)
        doc = r.json()
        self.assertEqual(list(doc), ["status", "timestamp", "uptime_seconds"])
        self.assertEqual(doc["status"], "healthy")
        self.assertIsInstance(doc["uptime_seconds"], int)
        self.assertRegex(doc["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

    def test_ready(self):
        r = self.server.get("/ready")
        self.assertEqual(r.status, 200)
        self.assertJsonHeaders(r)
        self.assertEqual(r.json(), {"status": "ready"})

    def test_livez_and_readyz_answer_as_health_and_ready(self):
        for alias, path, status in (("/livez", "/health", "healthy"), ("/readyz", "/ready", "ready")):
            with self.subTest(alias):
                a, b = self.server.get(alias), self.server.get(path)
                self.assertEqual((a.status, b.status), (200, 200))
                self.assertJsonHeaders(a)
                self.assertEqual(a.json()["status"], status)
                self.assertEqual(set(a.json()), set(b.json()))
        self.assertTrue({"/livez", "/readyz"} <= {e["path"] for e in self.server.get("/").json()["endpoints"]})

    def test_metrics_content_type(self):
        r = self.server.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn(b"# TYPE http_requests_total counter\n", r.body)

    def test_head_works_wherever_get_does(self):
        for path in ROUTES + ["/nope"]:
            with self.subTest(path=path):
                get = self.server.get(path)
                head = self.server.request("HEAD", path)
                self.assertEqual(head.status, get.status)
                self.assertEqual(head.body, b"")
                self.assertEqual(head.header("Content-Type"), get.header("Content-Type"))
                # The length of what GET would send (metrics and times may differ by a few bytes).
                self.assertAlmostEqual(int(head.header("Content-Length")), len(get.body), delta=200)

    def test_unknown_path_is_404_json(self):
        for path in ("/nope", "/health/", "/HEALTH", "//", "/metrics/x", "/%68ealthz"):
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status, 404)
                self.assertJsonHeaders(r)
                self.assertEqual(r.json()["error"], "Not Found")

    def test_wrong_method_is_405_json_with_allow(self):
        for path in ROUTES:
            for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                with self.subTest(path=path, method=method):
                    r = self.server.request(method, path)
                    self.assertEqual(r.status, 405)
                    self.assertEqual(r.header("Allow"), "GET, HEAD")
                    self.assertJsonHeaders(r)
                    self.assertEqual(r.json()["error"], "Method Not Allowed")

    def test_wrong_method_with_a_body_is_405_too(self):
        r = self.server.request("POST", "/health", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")
        self.assertEqual(self.server.request("POST", "/nope", body=b"x").status, 404)

    def test_large_body_is_413_json(self):
        r = self.server.request("POST", "/", body=b"x" * (256 * 1024))
        self.assertEqual(r.status, 413)
        self.assertJsonHeaders(r)
        self.assertEqual(r.json()["error"], "Payload Too Large")

    def test_malformed_request_is_400_json(self):
        answer = split_answers(self.server.raw_request(b"NOT-HTTP\r\n\r\n"))[0]
        self.assertEqual(answer.status, 400, answer.head)
        self.assertEqual(answer.headers.get("content-type"), "application/json")
        self.assertEqual(answer.headers.get("connection"), "close")
        self.assertEqual(json.loads(answer.body)["error"], "Bad Request")

    def test_oversized_header_is_refused_without_harm(self):
        r = self.server.raw_request(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertRegex(r.split(b"\r\n", 1)[0], rb"^HTTP/1.1 4\d\d ")
        self.assertEqual(self.server.get("/health").status, 200)

    def test_handler_failure_is_500_json_and_an_error_line(self):
        # --fault-error fails the request inside the service, as a handler that throws does.
        with Server("--fault-error", "/ready=1") as s:
            r = s.get("/ready")
            self.assertEqual(r.status, 500)
            self.assertJsonHeaders(r)
            self.assertEqual(r.json()["error"], "Internal Server Error")
            line = s.wait_for_log(lambda d: d.get("level") == "ERROR", what="the ERROR line")
            self.assertEqual(line["msg"], "request failed")
            self.assertEqual(line["error_type"], "std::runtime_error")
            self.assertIn("injected fault", line["error"])
            self.assertEqual(s.get("/health").status, 200)  # still serving
            self.assertIsNone(s.proc.poll())

    def test_range_is_ignored(self):
        r = self.server.get("/health", headers={"Range": "bytes=0-4"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "healthy")

    def test_grpc_methods_over_http1_are_415_and_get_is_405_with_allow_post(self):
        for path in GRPC_ROUTES:
            with self.subTest(path=path):
                r = self.server.request("POST", path, body=b"\0\0\0\0\0",
                                        headers={"Content-Type": "application/grpc"})
                self.assertEqual(r.status, 415)
                self.assertJsonHeaders(r)
                self.assertIn("HTTP/2", r.json()["detail"])
                r = self.server.get(path)
                self.assertEqual(r.status, 405)
                self.assertEqual(r.header("Allow"), "POST")
                self.assertEqual(r.json()["allowed"], ["POST"])

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT)
        try:
            for path in ROUTES * 3:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_idle_and_slow_connections_do_not_block_health(self):
        idle = []
        try:
            for i in range(300):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT)
                if i % 3 == 0:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: slow\r\n")  # headers never finished
                idle.append(s)
            start = time.monotonic()
            r = self.server.get("/health")
            took = time.monotonic() - start
            self.assertEqual(r.status, 200)
            self.assertLess(took, 2.0, "a new client waited behind idle ones")
        finally:
            for s in idle:
                s.close()


class KubernetesRootTest(unittest.TestCase):
    def test_root_reports_the_pod_from_the_downward_api(self):
        env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_NAME": "devops-info-7d9c5b6f4-x2x8q",
               "POD_NAMESPACE": "web", "NODE_NAME": "node-a"}
        with Server(env=env) as server:
            doc = server.get("/").json()
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["container"]["runtime"], "kubernetes")
        self.assertEqual(doc["container"]["kubernetes"],
                         {"pod_name": "devops-info-7d9c5b6f4-x2x8q", "namespace": "web", "node_name": "node-a"})


if __name__ == "__main__":
    unittest.main()

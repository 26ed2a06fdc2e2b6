"""The routes a person asks on demand: /status/{code} and /delay/{duration}
from the URL alone, /env, /headers and /echo, on a real server, over
HTTP/1.1 and HTTP/2; their bad values; the delay on the loop's timer (no
thread waits); labels that stay the routes' templates whatever the paths;
--introspection, --max-delay, --max-body, their variables and config-file
keys (live)."""
import base64
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import unittest

from harness import TIMEOUT, Server, parse_exposition, run_cli


class IntrospectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads", "1", "--log-level", "warning", "--max-delay", "3s").start(quiet=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()

    def test_status_answers_with_the_code_asked_for(self):
        for code in (200, 201, 301, 404, 418, 429, 500, 503, 599):
            with self.subTest(code=code):
                r = self.server.get(f"/status/{code}")
                self.assertEqual(r.status, code)
                self.assertEqual(r.json(), {"status": code, "reason": r.json()["reason"]})
                self.assertEqual(r.header("Content-Type"), "application/json")
        r = self.server.get("/status/503")
        self.assertEqual(r.json()["reason"], "Service Unavailable")
        head = self.server.request("HEAD", "/status/503")
        self.assertEqual((head.status, head.body), (503, b""))

    def test_204_and_304_carry_no_body_type_or_length_over_both_protocols(self):
        for code in (204, 304):
            with self.subTest(code=code):
                r = self.server.get(f"/status/{code}")
                self.assertEqual((r.status, r.body), (code, b""))
                self.assertIsNone(r.header("Content-Length"))
                self.assertIsNone(r.header("Content-Type"))
                out = subprocess.run(["curl", "-s", "-i", "--http2-prior-knowledge",
                                      f"http://127.0.0.1:{self.server.port}/status/{code}"],
                                     capture_output=True, text=True, timeout=TIMEOUT)
                self.assertTrue(out.stdout.startswith(f"HTTP/2 {code}"), out.stdout)
                self.assertNotIn("content-length", out.stdout)

    def test_bad_codes_and_durations_are_400_json_at_once(self):
        for path in ("/status/199", "/status/600", "/status/20", "/status/abc", "/delay/soon", "/delay/4s",
                     "/delay/-1s"):
            with self.subTest(path=path):
                start = time.monotonic()
                r = self.server.get(path)
                self.assertEqual(r.status, 400)
                self.assertEqual(r.json()["error"], "Bad Request")
                self.assertIn("detail", r.json())
                self.assertLess(time.monotonic() - start, 0.5)
        self.assertIn("over --max-delay (3s)", self.server.get("/delay/4s").json()["detail"])
        self.assertEqual(self.server.get("/status/").status, 404)
        self.assertEqual(self.server.get("/status/200/more").status, 404)

    def test_delay_holds_the_answer_on_a_timer_while_the_one_loop_serves_others(self):
        results = []

        def slow():
            start = time.monotonic()
            r = self.server.get("/delay/1s")
            results.append((r.status, time.monotonic() - start, r.json()))

        threads = [threading.Thread(target=slow) for _ in range(20)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        start = time.monotonic()
        self.assertEqual(self.server.get("/health").status, 200)  # one event loop, twenty answers held
        self.assertLess(time.monotonic() - start, 0.3)
        for t in threads:
            t.join(TIMEOUT)
        self.assertEqual(len(results), 20)
        for status, took, doc in results:
            self.assertEqual(status, 200)
            self.assertGreaterEqual(took, 0.95)
            self.assertLess(took, 3)
            self.assertEqual(doc, {"delay": "1s", "delay_ms": 1000})

    def test_random_paths_leave_only_templates_in_the_labels(self):
        rng = random.Random(20261207)
        for _ in range(300):
            self.server.get(f"/status/{rng.randint(100, 699)}")
        for _ in range(300):
            self.server.get(f"/delay/{rng.randint(0, 40)}ms")
        families = parse_exposition(self.server.get("/metrics").body.decode())
        endpoints = set()
        for family in families.values():
            for sample in family["samples"]:
                if "endpoint" in sample[1]:
                    endpoints.add(sample[1]["endpoint"])
        self.assertIn("/status/{code}", endpoints)
        self.assertIn("/delay/{duration}", endpoints)
        self.assertFalse([e for e in endpoints if e.startswith(("/status/", "/delay/")) and "{" not in e],
                         "a raw path became a label")
        statuses = {s[1]["status"] for s in families["http_requests_total"]["samples"]
                    if s[1].get("endpoint") == "/status/{code}"}
        self.assertLessEqual(len(statuses), 401)  # one series per status code at most: 200..599 and 400


class EnvTest(unittest.TestCase):
    def test_env_shows_what_the_globs_admit_and_redacts_secret_names(self):
        env = {"POD_NAME": "web-1", "POD_API_TOKEN": "s3cr3t", "NODE_NAME": "n1", "APP_MODE": "demo",
               "DB_PASSWORD": "hunter2"}
        with Server(env=env) as s:
            doc = s.get("/env").json()
            self.assertEqual(doc["allowed"], ["POD_*", "NODE_*", "KUBERNETES_*", "HOSTNAME"])
            self.assertEqual(doc["variables"]["POD_NAME"], "web-1")
            self.assertEqual(doc["variables"]["NODE_NAME"], "n1")
            self.assertEqual(doc["variables"]["POD_API_TOKEN"], "<redacted>")  # allowed, and still hidden
            self.assertNotIn("APP_MODE", doc["variables"])
            self.assertNotIn("DB_PASSWORD", doc["variables"])
            self.assertNotIn("s3cr3t", s.get("/env").body.decode())
        with Server("--env-allow", "APP_*,DB_*", env=env) as s:
            doc = s.get("/env").json()
            self.assertEqual(doc["variables"], {"APP_MODE": "demo", "DB_PASSWORD": "<redacted>"})
        with Server(env=dict(env, ENV_ALLOW="*", INTROSPECTION="off")) as s:
            self.assertEqual(s.get("/env").status, 404)

    def test_the_config_file_changes_the_globs_live(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config.json")
            with open(path, "w") as f:
                json.dump({"env_allow": "POD_*"}, f)
            with Server("--config", path, env={"POD_NAME": "web-1", "APP_MODE": "demo"}) as s:
                self.assertEqual(s.get("/env").json()["variables"], {"POD_NAME": "web-1"})
                with open(path + ".new", "w") as f:
                    json.dump({"env_allow": "APP_*"}, f)
                os.rename(path + ".new", path)
                deadline = time.monotonic() + TIMEOUT
                while "APP_MODE" not in s.get("/env").json()["variables"] and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertEqual(s.get("/env").json()["variables"], {"APP_MODE": "demo"})


class HeadersTest(unittest.TestCase):
    def test_headers_answers_with_what_arrived_over_both_protocols(self):
        with Server() as s:
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMEOUT)
            conn.putrequest("GET", "/headers", skip_accept_encoding=True)
            conn.putheader("X-Trace", "abc")
            conn.putheader("X-A", "1")
            conn.putheader("X-A", "2")
            conn.endheaders()
            doc = json.loads(conn.getresponse().read())
            conn.close()
            self.assertEqual(doc["protocol"], "HTTP/1.1")
            self.assertEqual(doc["headers"]["X-Trace"], "abc")
            self.assertEqual(doc["headers"]["X-A"], ["1", "2"])
            self.assertEqual(doc["headers"]["Host"], f"127.0.0.1:{s.port}")
            out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-H", "X-Trace: xyz",
                                  f"http://127.0.0.1:{s.port}/headers"], capture_output=True, text=True,
                                 timeout=TIMEOUT)
            doc = json.loads(out.stdout)
            self.assertEqual(doc["protocol"], "HTTP/2")
            self.assertEqual(doc["headers"]["x-trace"], "xyz")
            self.assertFalse([n for n in doc["headers"] if n.startswith(":")])
        with Server("--introspection", "off") as s:
            self.assertEqual(s.get("/headers").status, 404)


class EchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads", "1", "--log-level", "warning").start(quiet=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()

    def curl(self, *args):
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code} %{http_version}", *args],
                             capture_output=True, timeout=TIMEOUT)
        body, _, tail = out.stdout.rpartition(b"\n")
        code, version = tail.decode().split()
        return int(code), version, body

    def test_post_and_put_answer_with_the_request_over_both_protocols(self):
        url = f"http://127.0.0.1:{self.server.port}/echo?a=1&b=two"
        for proto in ("--http1.1", "--http2-prior-knowledge"):
            for method in ("POST", "PUT"):
                with self.subTest(proto=proto, method=method):
                    code, version, body = self.curl(proto, "-X", method, "-H", "X-Trace: t1",
                                                    "-H", "Content-Type: text/plain",
                                                    "--data-binary", "héllo wörld", url)
                    self.assertEqual(code, 200)
                    doc = json.loads(body)
                    self.assertEqual(doc["method"], method)
                    self.assertEqual((doc["path"], doc["query"]), ("/echo", "a=1&b=two"))
                    self.assertEqual(doc["protocol"], "HTTP/2" if version == "2" else "HTTP/1.1")
                    self.assertEqual(doc["body"], "héllo wörld")
                    self.assertEqual(doc["body_encoding"], "utf-8")
                    self.assertEqual(doc["body_bytes"], len("héllo wörld".encode()))
                    trace = doc["headers"].get("X-Trace", doc["headers"].get("x-trace"))
                    self.assertEqual(trace, "t1")

    def test_binary_chunked_and_empty_bodies(self):
        blob = bytes(range(256)) * 40  # 10 KiB, not UTF-8
        r = self.server.request("POST", "/echo", body=blob)
        doc = r.json()
        self.assertEqual(doc["body_encoding"], "base64")
        self.assertEqual(base64.b64decode(doc["body"]), blob)
        # Chunked (curl sends it so for stdin of unknown length).
        out = subprocess.run(["curl", "-s", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                              f"http://127.0.0.1:{self.server.port}/echo"], input=b"x" * 70000,
                             capture_output=True, timeout=TIMEOUT)
        self.assertEqual(json.loads(out.stdout)["body_bytes"], 70000)
        doc = self.server.request("POST", "/echo", body=b"").json()
        self.assertEqual((doc["body"], doc["body_bytes"]), ("", 0))

    def test_a_2_mib_body_is_413_and_the_server_goes_on(self):
        big = b"x" * (2 * 1024 * 1024)
        url = f"http://127.0.0.1:{self.server.port}/echo"
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-", url],
                             input=big, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(out.stdout, b"413")
        # HTTP/2: 413 at the announced length, then RST_STREAM NO_ERROR (RFC 9113 8.1). nghttp,
        # since curl before 8.x drops an answer that such a reset follows.
        with tempfile.NamedTemporaryFile() as f:
            f.write(big)
            f.flush()
            out = subprocess.run(["nghttp", "-v", "-d", f.name, url], capture_output=True, text=True,
                                 timeout=TIMEOUT)
        self.assertIn(":status: 413", out.stdout)
        self.assertRegex(out.stdout, r"recv RST_STREAM frame[^\n]*\n\s+\(error_code=NO_ERROR")
        # A body just at the limit is taken whole.
        r = self.server.request("POST", "/echo", body=b"y" * (1024 * 1024))
        self.assertEqual((r.status, r.json()["body_bytes"]), (200, 1024 * 1024))
        # Another route still reads and drops a body up to 64 KiB, and refuses more.
        self.assertEqual(self.server.request("POST", "/health", body=b"z" * 1000).status, 405)
        self.assertEqual(self.server.request("POST", "/health", body=b"z" * 70000).status, 413)
        self.assertEqual(self.server.get("/health").status, 200)

    def test_get_is_405_naming_post_and_put(self):
        r = self.server.get("/echo")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "POST, PUT")
        self.assertEqual(r.json()["allowed"], ["POST", "PUT"])

    def test_max_body_from_the_variable_and_live_from_the_file_and_off_is_404(self):
        with Server(env={"MAX_BODY": "1KiB"}) as s:
            self.assertEqual(s.request("POST", "/echo", body=b"a" * 1024).status, 200)
            self.assertEqual(s.request("POST", "/echo", body=b"a" * 1025).status, 413)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config.json")
            with open(path, "w") as f:
                json.dump({"max_body": "100B"}, f)
            with Server("--config", path) as s:
                self.assertEqual(s.request("POST", "/echo", body=b"a" * 101).status, 413)
                with open(path + ".new", "w") as f:
                    json.dump({"max_body": "4KiB"}, f)
                os.rename(path + ".new", path)
                s.wait_for_log(lambda l: l.get("msg") == "config reloaded" and "max_body" in l.get("changed", []),
                               what="the reload naming max_body")
                self.assertEqual(s.request("POST", "/echo", body=b"a" * 4096).status, 200)
        with Server("--introspection", "off") as s:
            self.assertEqual(s.request("POST", "/echo", body=b"hi").status, 404)
        r = run_cli("serve", "--port", "0", "--max-body", "1MB")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-body: '1MB' is not a size up to 16MiB (64KiB, 1MiB)", r.stderr)


class ClientAddressTest(unittest.TestCase):
    def test_forwarded_addresses_are_believed_from_trusted_proxies_only(self):
        xff = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
        with Server() as s:  # no trusted proxies: the peer is the client, whatever it says
            self.assertEqual(s.get("/", headers=xff).json()["request"]["client_ip"], "127.0.0.1")
        with Server("--trusted-proxies", "127.0.0.0/8") as s:
            mark = s.mark()
            doc = s.get("/", headers=xff).json()
            self.assertEqual(doc["request"]["client_ip"], "203.0.113.7")  # the rightmost untrusted
            line = s.wait_for_log(lambda d: d.get("msg") == "request" and d.get("path") == "/", since=mark)
            self.assertEqual(line["client_ip"], "203.0.113.7")
            doc = s.get("/", headers={"Forwarded": 'for="[2001:db8::17]:4711";proto=https'}).json()
            self.assertEqual(doc["request"]["client_ip"], "2001:db8::17")
            self.assertEqual(s.get("/", headers={"X-Forwarded-For": "unknown"}).json()["request"]["client_ip"],
                             "127.0.0.1")
            out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-H", "X-Forwarded-For: 192.0.2.44",
                                  f"http://127.0.0.1:{s.port}/"], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(json.loads(out.stdout)["request"]["client_ip"], "192.0.2.44")
        r = run_cli("serve", "--port", "0", "--trusted-proxies", "proxy.local")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--trusted-proxies: 'proxy.local' is not comma-separated address ranges", r.stderr)


class IntrospectionSwitchTest(unittest.TestCase):
    def test_off_by_flag_or_variable_is_404_and_the_rest_serves(self):
        for args, env in ((["--introspection", "off"], None), ([], {"INTROSPECTION": "off"})):
            with self.subTest(args=args, env=env):
                with Server(*args, env=env) as s:
                    self.assertEqual(s.get("/status/503").status, 404)
                    self.assertEqual(s.get("/delay/1ms").status, 404)
                    self.assertEqual(s.request("POST", "/echo", body=b"x").status, 404)
                    self.assertEqual(s.get("/health").status, 200)

    def test_bad_values_exit_2_naming_the_flag_or_variable(self):
        r = run_cli("serve", "--port", "0", "--introspection", "maybe")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--introspection: 'maybe' is not on or off", r.stderr)
        r = run_cli("serve", "--port", "0", env={"MAX_DELAY": "1h"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("MAX_DELAY: '1h' is not a duration from 0s to 10m", r.stderr)

    def test_the_config_file_turns_them_off_and_on_live(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config.json")
            with open(path, "w") as f:
                json.dump({"introspection": True, "max_delay": "100ms"}, f)
            with Server("--config", path) as s:
                self.assertEqual(s.get("/delay/200ms").status, 400)
                with open(path + ".new", "w") as f:
                    json.dump({"introspection": False}, f)
                os.rename(path + ".new", path)
                deadline = time.monotonic() + TIMEOUT
                while s.get("/status/200").status != 404 and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertEqual(s.get("/status/200").status, 404)
                line = s.wait_for_log(lambda l: l.get("msg") == "config reloaded" and "introspection" in
                                      l.get("changed", []), what="the reload naming introspection")
                self.assertIn("max_delay", line["changed"])
                with open(path + ".new", "w") as f:
                    json.dump({"max_delay": "1s"}, f)
                os.rename(path + ".new", path)
                while s.get("/delay/200ms").status != 200 and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertEqual(s.get("/delay/200ms").status, 200)


if __name__ == "__main__":
    unittest.main()

"""GET /upstreams on real servers: a chain of serve processes whose answers
nest, the bad upstreams (hanging, trickling, resetting, huge, garbage,
refused, unknown, pointing back at the caller), the bounds (the timeout,
the calls in flight, the hop count, the answer's size), connections kept
alive, the metrics, the configuration (flags, UPSTREAM_URIS, the config
file live) and a drain with calls in flight."""
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import h2.connection

from harness import TIMEOUT, Server, health_p99, reserved_port, run_cli, sample_value, wait_until


class BadUpstream:
    """A loopback server that misbehaves as asked, one thread per connection,
    until stop(). `accepted` counts its connections."""

    def __init__(self, how):
        self.how = how
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/{how}"
        self.stopped = threading.Event()
        self.accepted = 0
        self.requests = []
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        self.requests.append(data.decode("latin-1"))
        return data

    def _serve(self, conn):
        try:
            self._behave(conn)
        except OSError:
            pass

    def _behave(self, conn):
        conn.settimeout(30)
        while self._read_request(conn) is not None:
            if self.how == "hang":
                self.stopped.wait(30)
                return
            if self.how == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                while not self.stopped.wait(0.1):
                    conn.sendall(b" ")
                return
            if self.how == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            if self.how == "huge":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n")
                block = b"[" * 65536
                for _ in range(160):
                    if self.stopped.is_set():
                        return
                    conn.sendall(block)
                return
            if self.how == "garbage":
                conn.sendall(b"\x00\xff\x13 this is not HTTP at all\r\n\r\n")
                conn.close()
                return
            if self.how == "text":
                body = b"<html>hello</html>"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
                continue
            if self.how == "fail":
                body = b'{"error":"down"}'
                conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                continue
            raise AssertionError(self.how)

    def stop(self):
        self.stopped.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def entries(doc):
    return {e["url"]: e for e in doc["upstreams"]}


class ChainTest(unittest.TestCase):
    """Three serve processes, A -> B -> C."""

    @classmethod
    def setUpClass(cls):
        cls.c = Server("--threads", "1", env={"POD_NAME": "c-0", "OTEL_SERVICE_NAME": "db"}).start()
        cls.b = Server("--threads", "1", "--upstream", f"http://127.0.0.1:{cls.c.port}/health",
                       env={"POD_NAME": "b-0", "OTEL_SERVICE_NAME": "backend"}).start()
        cls.a = Server("--threads", "2", env={"POD_NAME": "a-0", "OTEL_SERVICE_NAME": "frontend",
                                              "UPSTREAM_URIS": f"http://127.0.0.1:{cls.b.port}/upstreams,"
                                                               f"http://localhost:{cls.b.port}/"}).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b, cls.c):
            s.kill()

    def test_a_frontend_nests_its_backends_answers_as_a_tree(self):
        r = self.a.get("/upstreams")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual((doc["name"], doc["pod"]), ("frontend", "a-0"))
        self.assertIsInstance(doc["version"], str)
        self.assertGreater(doc["duration_ms"], 0)
        self.assertEqual(len(doc["upstreams"]), 2)
        chain = doc["upstreams"][0]
        self.assertEqual(chain["url"], f"http://127.0.0.1:{self.b.port}/upstreams")
        self.assertEqual(chain["status"], 200)
        self.assertNotIn("error", chain)
        self.assertEqual((chain["answer"]["name"], chain["answer"]["pod"]), ("backend", "b-0"))
        leaf = chain["answer"]["upstreams"][0]
        self.assertEqual(leaf["status"], 200)
        self.assertEqual(leaf["answer"]["status"], "healthy")
        # localhost: its addresses tried in turn (::1 may come first; serve listens on 127.0.0.1 only).
        report = doc["upstreams"][1]
        self.assertEqual(report["status"], 200, report)
        self.assertEqual(report["answer"]["request"]["path"], "/")
        self.assertTrue(report["answer"]["request"]["user_agent"].startswith("devops-info/"))

    def test_the_hop_count_travels_and_grows(self):
        r = self.a.get("/upstreams", headers={"X-Devops-Info-Hops": "3"})
        self.assertEqual(r.status, 200)
        # B's /upstreams was called with 4 hops, and called C with 5: B shows it in its answer only through
        # the request C saw; the report of GET / shows the header count at B.
        r = self.a.get("/upstreams", headers={"X-Devops-Info-Hops": "8"})
        self.assertEqual(r.status, 508)
        self.assertEqual(r.json()["error"], "Loop Detected")
        self.assertIn("X-Devops-Info-Hops", r.json()["detail"])

    def test_http2_clients_get_the_same_answer(self):
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_code}",
                              f"http://127.0.0.1:{self.a.port}/upstreams"],
                             capture_output=True, text=True, timeout=TIMEOUT)
        body, code = out.stdout.rsplit("\n", 1)
        self.assertEqual(code, "200")
        self.assertEqual(json.loads(body)["upstreams"][0]["answer"]["name"], "backend")

    def test_head_has_no_body(self):
        r = self.a.request("HEAD", "/upstreams")
        self.assertEqual((r.status, r.body), (200, b""))

    def test_the_metrics_count_each_upstream_by_status(self):
        self.a.get("/upstreams")
        fam = self.a.metrics()
        url = f"http://127.0.0.1:{self.b.port}/upstreams"
        self.assertGreaterEqual(sample_value(fam, "devops_info_upstream_requests_total", upstream=url,
                                             status="200"), 1)
        self.assertGreaterEqual(sample_value(fam, "devops_info_upstream_request_duration_seconds",
                                             "devops_info_upstream_request_duration_seconds_count",
                                             upstream=url), 1)
        self.assertIn('endpoint="/upstreams"', self.a.get("/metrics").body.decode())

    def test_connections_to_an_upstream_are_kept_alive_and_reused(self):
        up = BadUpstream("text")
        try:
            with Server("--threads", "1", "--upstream", up.url) as s:
                for _ in range(20):
                    r = s.get("/upstreams")
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.json()["upstreams"][0]["answer"], "<html>hello</html>")
                self.assertEqual(up.accepted, 1)
                self.assertEqual(len(up.requests), 20)
                first = up.requests[0]
                self.assertTrue(first.startswith("GET /text HTTP/1.1\r\n"), first)
                self.assertIn(f"\r\nHost: 127.0.0.1:{up.port}\r\n", first)
                self.assertIn("\r\nX-Devops-Info-Hops: 1\r\n", first)
                self.assertIn("\r\ntraceparent: 00-", first)
        finally:
            up.stop()


class BadUpstreamTest(unittest.TestCase):
    def test_each_bad_upstream_ends_with_its_error_within_the_timeout(self):
        ups = [BadUpstream(h) for h in ("hang", "trickle", "reset", "huge", "garbage", "fail")]
        try:
            with reserved_port() as refused:
                urls = [u.url for u in ups] + [f"http://127.0.0.1:{refused}/", "http://no-such-name.invalid/"]
                args = ["--threads", "1", "--upstream-timeout", "1s"]
                for u in urls:
                    args += ["--upstream", u]
                with Server(*args) as s:
                    start = time.monotonic()
                    r = s.get("/upstreams")
                    took = time.monotonic() - start
                    self.assertEqual(r.status, 502)
                    self.assertLess(took, 2.5)
                    got = entries(r.json())
                    want = {
                        "hang": (None, "timed out after 1s"),
                        "trickle": (200, "timed out after 1s"),
                        "reset": (None, "reset"),
                        "huge": (200, "answer too large"),
                        "garbage": (None, "bad answer"),
                    }
                    for u in ups[:5]:
                        status, error = want[u.how]
                        with self.subTest(how=u.how):
                            e = got[u.url]
                            self.assertEqual(e["status"], status, e)
                            self.assertIn(error, e["error"])
                            self.assertNotIn("answer", e)
                            self.assertLessEqual(e["duration_ms"], 1500)
                    fail = got[ups[5].url]
                    self.assertEqual((fail["status"], fail["answer"]), (500, {"error": "down"}))
                    self.assertNotIn("error", fail)
                    self.assertEqual(got[urls[6]]["error"], "connection refused")
                    self.assertIn("cannot resolve the name no-such-name.invalid", got[urls[7]]["error"])
                    fam = s.metrics()
                    for u, status in ((ups[0].url, "timeout"), (ups[3].url, "too_large"), (ups[4].url, "bad_answer"),
                                      (urls[6], "connect"), (urls[7], "resolve"), (ups[5].url, "500")):
                        with self.subTest(status=status):
                            self.assertEqual(sample_value(fam, "devops_info_upstream_requests_total", upstream=u,
                                                          status=status), 1)
        finally:
            for u in ups:
                u.stop()

    def test_health_stays_fast_and_memory_bounded_with_20_bad_calls_in_flight(self):
        ups = [BadUpstream(h) for h in ("hang", "trickle", "huge", "hang", "trickle")]
        try:
            args = ["--threads", "2", "--upstream-timeout", "4s", "--log-level", "warning"]
            for u in ups:
                args += ["--upstream", u.url]
            with Server(*args, quiet=True) as s:
                base = rss_kib(s.proc.pid)
                with ThreadPoolExecutor(4) as pool:
                    calls = [pool.submit(s.get, "/upstreams") for _ in range(4)]  # 4 x 5 = 20 calls
                    wait_until(lambda: sum(u.accepted for u in ups) >= 18, what="the calls to connect")
                    p99 = health_p99(s)
                    self.assertLess(p99, 0.05, f"/health p99 {p99 * 1000:.1f} ms with 20 bad calls in flight")
                    self.assertFalse(any(c.done() for c in calls), "the calls ended before their timeout")
                    for c in calls:
                        self.assertEqual(c.result().status, 502)
                grown = rss_kib(s.proc.pid) - base
                self.assertLess(grown, 32 * 1024, f"RSS grew {grown} KiB")
        finally:
            for u in ups:
                u.stop()

    def test_an_answer_over_the_max_body_is_an_error(self):
        with Server("--threads", "1") as b:
            with Server("--threads", "1", "--upstream", f"http://127.0.0.1:{b.port}/",
                        "--upstream-max-body", "512") as a:
                e = a.get("/upstreams").json()["upstreams"][0]
                self.assertEqual(e["status"], 200)
                self.assertEqual(e["error"], "answer too large (over 512 bytes)")

    def test_a_loop_is_stopped_by_the_hop_count(self):
        with reserved_port() as port:
            with Server("--threads", "2", "--upstream", f"http://127.0.0.1:{port}/upstreams",
                        port=str(port)) as a:
                r = a.get("/upstreams")
                self.assertEqual(r.status, 502)
                depth, e = 0, r.json()
                while "answer" in e.get("upstreams", [{}])[0]:
                    e = e["upstreams"][0]["answer"]
                    depth += 1
                # Hops 1 to 7 call on; the request carrying 8 is refused.
                self.assertEqual(depth, 8)
                self.assertEqual((e["status"], e["error"]), (508, "Loop Detected"))
                def statuses():
                    return sorted(l["status"] for l in a.logs() if l.get("path") == "/upstreams")
                wait_until(lambda: len(statuses()) == 9, what="the nine requests' log lines")
                self.assertEqual(statuses(), [502] * 8 + [508])

    def test_past_the_calls_in_flight_on_a_loop_it_answers_503(self):
        up = BadUpstream("hang")
        try:
            args = ["--threads", "1", "--upstream-timeout", "3s", "--log-level", "warning"]
            for i in range(16):
                args += ["--upstream", f"{up.url}/{i}"]
            with Server(*args, quiet=True) as s:
                with ThreadPoolExecutor(16) as pool:
                    calls = [pool.submit(s.get, "/upstreams") for _ in range(16)]  # 256 calls: the limit
                    wait_until(lambda: up.accepted >= 256, what="256 calls to connect")
                    r = s.get("/upstreams")
                    self.assertEqual(r.status, 503)
                    self.assertIsNotNone(r.header("Retry-After"))
                    self.assertEqual(s.get("/health").status, 200)
                    self.assertEqual([c.result().status for c in calls], [502] * 16)
                # Room again once they ended.
                self.assertEqual(s.get("/upstreams").status, 502)
        finally:
            up.stop()

    def test_clients_that_leave_before_the_answer_leave_nothing_behind(self):
        up = BadUpstream("hang")
        try:
            with Server("--threads", "1", "--upstream-timeout", "500ms", "--upstream", up.url) as s:
                for proto in ("http/1.1", "h2"):
                    for _ in range(20):
                        sock = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
                        if proto == "h2":
                            conn = h2.connection.H2Connection()
                            conn.initiate_connection()
                            conn.send_headers(1, [(":method", "GET"), (":path", "/upstreams"), (":scheme", "http"),
                                                  (":authority", "x")], end_stream=True)
                            sock.sendall(conn.data_to_send())
                        else:
                            sock.sendall(b"GET /upstreams HTTP/1.1\r\nHost: x\r\n\r\n")
                        sock.close()
                wait_until(lambda: up.accepted >= 40, what="the calls to start")
                time.sleep(0.8)  # their timeouts pass, with their connections gone
                self.assertEqual(s.get("/health").status, 200)
                fam = s.metrics()
                self.assertEqual(sample_value(fam, "devops_info_upstream_requests_total", upstream=up.url,
                                              status="timeout"), 40)
                self.assertEqual(sample_value(fam, "http_requests_in_progress"), 0)
        finally:
            up.stop()

    def test_a_drain_waits_for_the_calls_in_flight(self):
        up = BadUpstream("hang")
        try:
            with Server("--threads", "1", "--upstream-timeout", "1s", "--upstream", up.url) as s:
                with ThreadPoolExecutor(1) as pool:
                    call = pool.submit(s.get, "/upstreams")
                    wait_until(lambda: up.accepted >= 1, what="the call to connect")
                    s.proc.send_signal(signal.SIGTERM)
                    self.assertEqual(call.result().status, 502)
                self.assertEqual(s.wait(), 0)
        finally:
            up.stop()


class TlsUpstreamTest(unittest.TestCase):
    """https:// upstreams: a serve with --tls-cert as the backend, its certificate from a test CA."""

    @classmethod
    def setUpClass(cls):
        from test_tls import Pki
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = Pki(cls.tmp.name)
        cert, key = cls.pki.issue("backend", san="IP:127.0.0.1,DNS:localhost")
        cls.backend = Server("--threads", "1", "--tls-port", "0", "--tls-cert", cert, "--tls-key", key).start()
        cls.other = Pki(cls.tmp.name, name="other-ca")

    @classmethod
    def tearDownClass(cls):
        cls.backend.kill()
        cls.tmp.cleanup()

    def test_an_https_upstream_is_verified_against_the_ca_and_kept_alive(self):
        url = f"https://127.0.0.1:{self.backend.tls_port}/health"
        named = f"https://localhost:{self.backend.tls_port}/"
        with Server("--threads", "1", "--upstream", url, "--upstream", named,
                    "--upstream-cacert", self.pki.ca) as a:
            for _ in range(5):
                r = a.get("/upstreams")
                self.assertEqual(r.status, 200, r.body)
            got = entries(r.json())
            self.assertEqual(got[url]["answer"]["status"], "healthy")
            self.assertEqual(got[named]["answer"]["request"]["path"], "/")
            # Five calls to each, on one connection each: the TLS port accepted two.
            fam = self.backend.metrics()
            self.assertEqual(sample_value(fam, "http_requests_total", method="GET", endpoint="/health",
                                          status="200"), 5)

    def test_an_unknown_ca_or_a_wrong_name_is_a_tls_error(self):
        url = f"https://127.0.0.1:{self.backend.tls_port}/health"
        with Server("--threads", "1", "--upstream", url, "--upstream-cacert", self.other.ca) as a:
            r = a.get("/upstreams")
            self.assertEqual(r.status, 502)
            e = r.json()["upstreams"][0]
            self.assertIsNone(e["status"])
            self.assertIn("certificate verify failed", e["error"])
            self.assertEqual(sample_value(a.metrics(), "devops_info_upstream_requests_total", upstream=url,
                                          status="tls"), 1)
        # A certificate for another name, from the right CA.
        cert, key = self.pki.issue("elsewhere", san="DNS:elsewhere.example")
        with Server("--threads", "1", "--tls-port", "0", "--tls-cert", cert, "--tls-key", key) as elsewhere:
            wrong = f"https://127.0.0.1:{elsewhere.tls_port}/health"
            with Server("--threads", "1", "--upstream", wrong, "--upstream-cacert", self.pki.ca) as a:
                e = a.get("/upstreams").json()["upstreams"][0]
                self.assertIn("certificate verify failed", e["error"])
        # Plain HTTP spoken to the TLS port, or TLS to the plain port, ends with an error, not a hang.
        plain_as_tls = f"https://127.0.0.1:{self.backend.port}/health"
        with Server("--threads", "1", "--upstream", plain_as_tls, "--upstream-cacert", self.pki.ca,
                    "--upstream-timeout", "2s") as a:
            t0 = time.monotonic()
            e = a.get("/upstreams").json()["upstreams"][0]
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertIn("TLS", e["error"])

    def test_an_unreadable_ca_file_refuses_the_start(self):
        r = run_cli("serve", "--port", "0", "--upstream", "https://x/", "--upstream-cacert",
                    os.path.join(self.tmp.name, "missing.pem"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot read --upstream-cacert", r.stderr)


class ConfigTest(unittest.TestCase):
    def test_bad_values_are_refused_at_start(self):
        cases = [
            (["--upstream", "ftp://x/"], {}, "--upstream"),
            (["--upstream", "grpc://x/"], {}, "--upstream"),
            (["--upstream", "http://"], {}, "--upstream"),
            (["--upstream-timeout", "5ms"], {}, "--upstream-timeout"),
            (["--upstream-timeout", "2m"], {}, "--upstream-timeout"),
            (["--upstream-max-body", "17MiB"], {}, "--upstream-max-body"),
            ([], {"UPSTREAM_URIS": ",".join(f"http://h{i}/" for i in range(17))}, "UPSTREAM_URIS"),
            ([], {"UPSTREAM_TIMEOUT": "soon"}, "UPSTREAM_TIMEOUT"),
        ]
        for args, env, name in cases:
            with self.subTest(args=args, env=env):
                r = run_cli("serve", "--port", "0", *args, env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(name, r.stderr)

    def test_the_flag_wins_over_the_environment(self):
        with Server("--threads", "1") as b:
            url = f"http://127.0.0.1:{b.port}/health"
            with Server("--threads", "1", "--upstream", url, env={"UPSTREAM_URIS": "http://127.0.0.1:1/"}) as a:
                self.assertEqual([e["url"] for e in a.get("/upstreams").json()["upstreams"]], [url])

    def test_the_config_files_upstreams_are_live(self):
        with Server("--threads", "1") as b, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"upstreams": []}, f)
            url = f"http://127.0.0.1:{b.port}/health"
            with Server("--threads", "1", "--config", path) as a:
                self.assertEqual(a.get("/upstreams").json()["upstreams"], [])
                mark = a.mark()
                with open(path + ".tmp", "w", encoding="utf-8") as f:
                    json.dump({"upstreams": url, "upstream_timeout": "500ms"}, f)
                os.rename(path + ".tmp", path)
                line = a.wait_for_log(lambda l: l.get("msg") == "config reloaded", since=mark)
                self.assertIn("upstreams", line["changed"])
                self.assertIn("upstream_timeout", line["changed"])
                doc = a.get("/upstreams").json()
                self.assertEqual([(e["url"], e["status"]) for e in doc["upstreams"]], [(url, 200)])
                # A wrong value keeps the last good upstreams.
                mark = a.mark()
                with open(path + ".tmp", "w", encoding="utf-8") as f:
                    json.dump({"upstreams": ["ftp://nope/"]}, f)
                os.rename(path + ".tmp", path)
                a.wait_for_log(lambda l: l.get("level") == "ERROR", since=mark)
                self.assertEqual([e["url"] for e in a.get("/upstreams").json()["upstreams"]], [url])


if __name__ == "__main__":
    unittest.main()

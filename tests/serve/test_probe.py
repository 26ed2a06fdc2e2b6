"""`devops-info health` probing a server: a live one, a closed port, one that
starts late (--wait), and fakes that answer 503, not JSON, or nothing."""
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import BIN, TIMEOUT, Server, clean_env, reserved_port, run_cli


# The probe's peak RSS whatever the server sends, in MiB: a few MiB in a plain
# build; a sanitizer's shadow memory and quarantine add their own.
SANITIZED = bool(os.environ.get("ASAN_OPTIONS") or os.environ.get("TSAN_OPTIONS"))
PROBE_RSS_MIB = 400 if SANITIZED else 64

class Fake:
    """A stdlib HTTP server on 127.0.0.1 answering every GET with one fixed reply."""

    def __init__(self, status, body, content_type="application/json"):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (stdlib name)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class LiveServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.url = f"http://127.0.0.1:{cls.server.port}/health"

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()

    def test_healthy_server_exits_0_and_prints_its_document(self):
        r = run_cli("health", "--url", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        doc = json.loads(r.stdout)
        self.assertEqual(list(doc), ["status", "timestamp", "uptime_seconds"])
        self.assertEqual(doc["status"], "healthy")
        self.assertIn("\n  ", r.stdout)

    def test_formats(self):
        r = run_cli("health", "--url", self.url, "--format", "table")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^status\s+healthy$")
        r = run_cli("health", "--url", self.url, "--compact")
        self.assertEqual(r.stdout.count("\n"), 1)

    def test_default_url_is_loopback_and_port_from_env(self):
        since = self.server.mark()
        r = run_cli("health", env={"PORT": str(self.server.port)})
        self.assertEqual(r.returncode, 0, r.stderr)
        # (A line of an earlier test may still come after `since`: lines are written after the answer.)
        line = self.server.wait_for_log(lambda d: d.get("user_agent", "").startswith("devops-info-health/")
                                        and d.get("path") == "/health", what="the probe's request", since=since)
        self.assertEqual((line["status"], line["client_ip"]), (200, "127.0.0.1"))

    def test_url_forms(self):
        for url in (f"127.0.0.1:{self.server.port}/health", f"HTTP://127.0.0.1:{self.server.port}/health?x=1"):
            with self.subTest(url=url):
                self.assertEqual(run_cli("health", "--url", url).returncode, 0)

    def test_a_route_that_is_not_health_fails(self):
        r = run_cli("health", "--url", f"http://127.0.0.1:{self.server.port}/nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answered HTTP 404", r.stderr)


class UnhealthyTest(unittest.TestCase):
    def test_closed_port_is_refused(self):
        with reserved_port() as port:
            r = run_cli("health", "--url", f"http://127.0.0.1:{port}/health")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^devops-info: error: http://127\.0\.0\.1:\d+/health: connection refused\n$")

    def test_default_url_on_a_closed_port(self):
        with reserved_port() as port:
            r = run_cli("health", env={"PORT": str(port)})
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"http://127.0.0.1:{port}/health: connection refused", r.stderr)

    def test_503_exits_1_and_still_prints_the_document(self):
        with Fake(503, '{"status": "unhealthy", "timestamp": "t", "uptime_seconds": 3}') as fake:
            r = run_cli("health", "--url", fake.url)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["status"], "unhealthy")
        self.assertIn("answered HTTP 503 (status: unhealthy)", r.stderr)

    def test_200_with_a_status_other_than_healthy_exits_1(self):
        with Fake(200, '{"status": "degraded"}') as fake:
            r = run_cli("health", "--url", fake.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("status is degraded", r.stderr)

    def test_not_json_exits_1(self):
        with Fake(200, "<html>ok</html>", "text/html") as fake:
            r = run_cli("health", "--url", fake.url)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("answered HTTP 200 but not with JSON (text/html)", r.stderr)

    def test_silent_server_times_out(self):
        with socket.socket() as silent:  # accepts (the kernel does), never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            start = time.monotonic()
            r = run_cli("health", "--url", f"http://127.0.0.1:{silent.getsockname()[1]}/health", "--timeout", "300ms")
            took = time.monotonic() - start
        self.assertEqual(r.returncode, 1)
        self.assertIn("timed out", r.stderr)
        self.assertLess(took, 5)

    def test_bad_arguments_are_usage_errors(self):
        for args, env in ((["--url", "ftp://127.0.0.1/health"], {}), (["--url", "http://[::1/health"], {}),
                          (["--url", "http://127.0.0.1:99999/"], {}), (["--timeout", "soon"], {}),
                          (["--wait", "-1s"], {}), (["--timeout", "0"], {}), ([], {"PORT": "abc"}),
                          (["--local", "--url", "http://127.0.0.1/"], {})):
            with self.subTest(args=args, env=env):
                r = run_cli("health", *args, env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("devops-info: error: "), r.stderr)


class Hostile:
    """A raw TCP server on 127.0.0.1: `handler(conn)` answers each connection as it likes."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/health"
        self.handler = handler
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            try:
                conn.recv(65536)
                self.handler(conn)
            except OSError:
                pass  # the probe hung up: that is the point

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()


def probe_measured(*args):
    """Runs `health`; its exit code, stderr, seconds taken and peak RSS in MiB."""
    start = time.monotonic()
    p = subprocess.Popen([BIN, "health", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=clean_env())
    err = p.stderr.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    return p.returncode, err, time.monotonic() - start, usage.ru_maxrss / 1024


def drip(data, every=0.2):
    def handler(conn):
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(every)
    return handler


class HostileServerTest(unittest.TestCase):
    """`health` ends within --timeout and bounded memory, whatever the server does."""

    def test_headers_sent_a_byte_at_a_time(self):
        with Hostile(drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 100)) as h:
            rc, err, took, _ = probe_measured("--url", h.url, "--timeout", "1s")
        self.assertEqual(rc, 1)
        self.assertIn("timed out", err)
        self.assertLess(took, 2.5)

    def test_body_sent_a_byte_at_a_time(self):
        body = b'{"status": "healthy", "timestamp": "t", "uptime_seconds": 1}' * 10
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)

        def handler(conn):
            conn.sendall(head)
            drip(body)(conn)

        with Hostile(handler) as h:
            rc, err, took, _ = probe_measured("--url", h.url, "--timeout", "1s")
        self.assertEqual(rc, 1)
        self.assertIn("timed out", err)
        self.assertLess(took, 2.5)

    def test_a_huge_body_is_cut_off_in_little_memory(self):
        size = 1 << 30

        def handler(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
            chunk = b" " * 65536
            for _ in range(size // len(chunk)):
                conn.sendall(chunk)

        with Hostile(handler) as h:
            rc, err, took, rss = probe_measured("--url", h.url, "--timeout", "5s")
        self.assertEqual(rc, 1)
        self.assertIn("more than 64 KiB", err)
        self.assertLess(took, 5)
        self.assertLess(rss, PROBE_RSS_MIB)

    def test_a_huge_chunked_body_too(self):
        def handler(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(100000):
                conn.sendall(b"10000\r\n" + b"[" * 65536 + b"\r\n")

        with Hostile(handler) as h:
            rc, err, took, rss = probe_measured("--url", h.url, "--timeout", "5s")
        self.assertEqual(rc, 1)
        self.assertIn("more than 64 KiB", err)
        self.assertLess(rss, PROBE_RSS_MIB)

    def test_endless_header_lines_are_cut_off_in_little_memory(self):
        def handler(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            line = b"X-A: " + b"y" * 1000 + b"\r\n"
            for _ in range(200000):
                conn.sendall(line * 10)

        with Hostile(handler) as h:
            rc, err, took, rss = probe_measured("--url", h.url, "--timeout", "5s")
        self.assertEqual(rc, 1)
        self.assertIn("a head over 16 KiB", err)
        self.assertLess(took, 2)
        self.assertLess(rss, PROBE_RSS_MIB)  # 700 MB before

    def test_more_than_100_fields_or_garbage_is_not_an_answer(self):
        for reply, why in ((b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "more than 100 header fields"),
                           (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x answer"),
                           (b"", "closed without an answer"),
                           (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", "the answer ended early")):
            with self.subTest(why=why), Hostile(lambda conn, reply=reply: conn.sendall(reply)) as h:
                rc, err, took, _ = probe_measured("--url", h.url, "--timeout", "5s")
                self.assertEqual(rc, 1)
                self.assertIn(why, err)
                self.assertLess(took, 2)

    def test_an_interim_answer_is_skipped(self):
        body = b'{"status": "healthy", "timestamp": "t", "uptime_seconds": 1}'

        def handler(conn):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))

        with Hostile(handler) as h:
            rc, err, _, _ = probe_measured("--url", h.url, "--timeout", "5s")
        self.assertEqual(rc, 0, err)

    def test_deep_nesting_is_refused(self):
        for depth in (200000, 30000, 33):
            body = b"[" * depth + b"]" * depth
            with self.subTest(depth=depth), Fake(200, body.decode()) as fake:
                rc, err, took, rss = probe_measured("--url", fake.url, "--timeout", "5s")
                self.assertEqual(rc, 1)
                self.assertTrue("deeper than 32 levels" in err or "more than 64 KiB" in err, err)
                self.assertLess(took, 5)
                self.assertLess(rss, PROBE_RSS_MIB)

    def test_a_redirect_is_reported_as_one(self):
        def handler(conn):
            conn.sendall(b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                         b"Content-Type: text/html\r\nContent-Length: 5\r\n\r\nmoved")

        with Hostile(handler) as h:
            rc, err, _, _ = probe_measured("--url", h.url)
        self.assertEqual(rc, 1)
        self.assertIn("answered HTTP 301, a redirect to http://127.0.0.1:1/elsewhere (not followed)", err)

    def test_invalid_characters_in_the_url_are_usage_errors(self):
        for url in ("http://127.0.0.1:5000/he alth", "http://127.0.0.1:5000/\x01", "http://127.0.0.1:5000/<x>"):
            with self.subTest(url=url):
                r = run_cli("health", "--url", url)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("invalid character", r.stderr)


class WaitTest(unittest.TestCase):
    def test_wait_for_a_server_that_starts_late(self):
        with reserved_port() as port:  # refused until the server takes it over
            self.wait_for_a_server_that_starts_late(port)

    def wait_for_a_server_that_starts_late(self, port):
        probe = subprocess.Popen([BIN, "health", "--url", f"http://127.0.0.1:{port}/health", "--wait", "20s",
                                  "--interval", "100ms"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=clean_env(), text=True)
        try:
            time.sleep(0.3)  # let it fail a few times first
            self.assertIsNone(probe.poll(), "the probe gave up early")
            with Server(port=port):
                out, err = probe.communicate(timeout=TIMEOUT)
            self.assertEqual(probe.returncode, 0, err)
            self.assertEqual(json.loads(out)["status"], "healthy")
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.communicate()

    def test_wait_gives_up_at_the_deadline(self):
        start = time.monotonic()
        with reserved_port() as port:
            r = run_cli("health", "--url", f"http://127.0.0.1:{port}/health", "--wait", "700ms",
                        "--interval", "100ms")
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 1)
        self.assertIn("not healthy after 700ms: ", r.stderr)
        self.assertIn("connection refused", r.stderr)
        self.assertGreater(took, 0.5)
        self.assertLess(took, 5)


if __name__ == "__main__":
    unittest.main()

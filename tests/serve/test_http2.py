"""HTTP/2 in clear text on serve's port, with real clients: curl (prior
knowledge and Upgrade), nghttp, h2load, grpcio for gRPC health, and
`health --url grpc://`; HTTP/1.1 on the same port."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

import grpc

from harness import BIN, TIMEOUT, Server, listening_port, parse_exposition, run_cli, sample_value, wait_until

GET_ROUTES = ["/", "/health", "/ready", "/metrics", "/livez", "/readyz"]
CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
SERVING, NOT_SERVING, SERVICE_UNKNOWN = b"\x08\x01", b"\x08\x02", b"\x08\x03"


def health_request(service):
    """A HealthCheckRequest: field 1, the service name."""
    name = service.encode()
    return b"\x0a" + bytes([len(name)]) + name if name else b""


def curl(*args):
    """curl's answer: (status, headers as a dict of lower-case names, body)."""
    out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", *args], capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    data = out.stdout
    # With --http2 the 101's head comes first.
    while data.startswith(b"HTTP/1.1 101"):
        data = data.split(b"\r\n\r\n", 1)[1]
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    version, status = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return version, int(status), headers, body


class Http2RoutesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.base = f"http://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()

    def test_curl_gets_every_route_by_prior_knowledge_and_by_upgrade_as_over_http1(self):
        for path in GET_ROUTES + ["/nope"]:
            one = self.server.get(path)
            for mode in ("--http2-prior-knowledge", "--http2"):
                with self.subTest(path=path, mode=mode):
                    version, status, headers, body = curl(mode, self.base + path)
                    self.assertEqual(version, "HTTP/2")
                    self.assertEqual(status, one.status)
                    self.assertEqual(headers["content-type"], one.header("Content-Type"))
                    self.assertEqual(headers["x-content-type-options"], "nosniff")
                    self.assertEqual(headers["cache-control"], "no-store")
                    self.assertIn("date", headers)
                    self.assertEqual(int(headers["content-length"]), len(body))
                    self.assertNotIn("connection", headers)  # connection-specific: not in HTTP/2
                    if one.header("Content-Type") == "application/json":
                        self.assertEqual(set(json.loads(body)), set(one.json()))

    def test_root_reports_the_request_and_errors_are_the_same_json(self):
        _, status, headers, body = curl("--http2-prior-knowledge", "-A", "h2-agent", self.base + "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["vary"], "Accept")
        doc = json.loads(body)
        self.assertEqual(doc["request"], {"client_ip": "127.0.0.1", "user_agent": "h2-agent", "method": "GET",
                                          "path": "/"})
        _, status, headers, body = curl("--http2-prior-knowledge", "-X", "DELETE", self.base + "/health")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")
        self.assertEqual(json.loads(body)["error"], "Method Not Allowed")
        _, status, headers, _ = curl("--http2-prior-knowledge", "-H", "Accept: text/html", self.base + "/")
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertIn("content-security-policy", headers)

    def test_nghttp_by_prior_knowledge_and_upgrade(self):
        for flags in ([], ["-u"]):
            with self.subTest(flags=flags):
                out = subprocess.run(["nghttp", "-n", "-s", *flags, self.base + "/health"], capture_output=True,
                                     text=True, timeout=TIMEOUT)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("/health", out.stdout)
                out = subprocess.run(["nghttp", *flags, self.base + "/ready"], capture_output=True, text=True,
                                     timeout=TIMEOUT)
                self.assertEqual(json.loads(out.stdout), {"status": "ready"})

    def test_h2load_gets_every_route_without_an_error(self):
        for path in GET_ROUTES:
            with self.subTest(path=path):
                out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", self.base + path],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("2000 succeeded, 0 failed, 0 errored, 0 timeout", out.stdout)
                self.assertIn("status codes: 2000 2xx", out.stdout)

    def test_http1_still_works_on_the_same_port_beside_http2(self):
        r = self.server.get("/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "healthy")

    def test_log_line_names_the_protocol_and_metrics_keep_their_labels(self):
        mark = self.server.mark()
        curl("--http2-prior-knowledge", "-A", "h2-log", self.base + "/livez")
        line = self.server.wait_for_log(lambda d: d.get("user_agent") == "h2-log", since=mark)
        self.assertEqual(line["protocol"], "HTTP/2")
        self.assertEqual(line["path"], "/livez")
        self.assertEqual(line["status"], 200)
        families = parse_exposition(self.server.get("/metrics").body.decode())
        self.assertGreaterEqual(sample_value(families, "http_requests_total", method="GET", endpoint="/livez",
                                             status="200"), 1)


class Http2DrainTest(unittest.TestCase):
    def test_sigterm_sends_goaway_and_lets_a_held_stream_finish(self):
        # The frames are read by hand: python-h2 closes its side at any GOAWAY, while RFC 9113 6.8
        # lets the streams up to its last stream id finish, which is what this checks.
        from hpack import Decoder, Encoder
        with Server("--delay-path", "/health") as s:  # /health held 1 s on a timer
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
            block = Encoder().encode([(":method", "GET"), (":scheme", "http"), (":path", "/health"),
                                      (":authority", "t")])
            frame = lambda kind, flags, stream, payload=b"": (len(payload).to_bytes(3, "big") + bytes([kind, flags])
                                                              + stream.to_bytes(4, "big") + payload)
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 0x5, 1, block))
            time.sleep(0.2)  # the stream is held now
            s.proc.send_signal(15)
            data = b""
            while True:  # until the server closes, once the stream is done
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            sock.close()
            frames, pos = [], 0
            while pos + 9 <= len(data):
                length = int.from_bytes(data[pos:pos + 3], "big")
                frames.append((data[pos + 3], data[pos + 4], int.from_bytes(data[pos + 5:pos + 9], "big"),
                               data[pos + 9:pos + 9 + length]))
                pos += 9 + length
            kinds = [f[0] for f in frames]
            goaway = next(f for f in frames if f[0] == 7)
            self.assertEqual(int.from_bytes(goaway[3][0:4], "big"), 1, "GOAWAY's last stream id")
            self.assertEqual(int.from_bytes(goaway[3][4:8], "big"), 0, "GOAWAY's error code")
            headers = next(f for f in frames if f[0] == 1 and f[2] == 1)
            self.assertGreater(kinds.index(1), kinds.index(7), "the answer came after the GOAWAY")
            # decided before the signal, as over HTTP/1.1 (test_lifecycle): sent as it was
            self.assertEqual(dict(Decoder().decode(headers[3]))[":status"], "200")
            body = b"".join(f[3] for f in frames if f[0] == 0 and f[2] == 1)
            self.assertTrue(any(f[0] == 0 and f[2] == 1 and f[1] & 1 for f in frames), "no END_STREAM")
            self.assertEqual(json.loads(body)["status"], "healthy")
            self.assertEqual(s.wait(), 0)


class GrpcHealthTest(unittest.TestCase):
    """grpc.health.v1 through a real gRPC client (grpcio, generic calls)."""

    def call_check(self, port, service):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            return ch.unary_unary(CHECK)(health_request(service), timeout=5)

    def test_check_serving_for_the_three_names_and_not_found_for_another(self):
        with Server() as s:
            for name in ("", "liveness", "readiness"):
                self.assertEqual(self.call_check(s.port, name), SERVING, name)
            with self.assertRaises(grpc.RpcError) as caught:
                self.call_check(s.port, "payments")
            self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
            self.assertIn("payments", caught.exception.details())
            line = s.wait_for_log(lambda d: d.get("path") == CHECK)
            self.assertEqual((line["method"], line["protocol"], line["status"]), ("POST", "HTTP/2", 200))

    def test_unhealthy_is_not_serving_for_the_server_and_liveness_only(self):
        with Server("--unhealthy") as s:
            self.assertEqual(self.call_check(s.port, ""), NOT_SERVING)
            self.assertEqual(self.call_check(s.port, "liveness"), NOT_SERVING)
            self.assertEqual(self.call_check(s.port, "readiness"), SERVING)

    def test_health_url_grpc_exits_0_on_serving_and_1_otherwise(self):
        with Server("--unready") as s:
            base = f"grpc://127.0.0.1:{s.port}"
            ok = run_cli("health", "--url", base + "/liveness")
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertEqual(json.loads(ok.stdout)["status"], "SERVING")
            for url, why in ((base + "/readiness", "NOT_SERVING"), (base, "NOT_SERVING"),
                             (base + "/nope", "gRPC status 5")):
                with self.subTest(url=url):
                    r = run_cli("health", "--url", url)
                    self.assertEqual(r.returncode, 1)
                    self.assertIn(why, r.stderr)
            # --wait retries until SERVING, as for HTTP.
            waiting = subprocess.Popen([BIN, "health", "--url",
                                        base + "/readiness", "--wait", "10s", "--interval", "100ms"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            self.assertIsNone(waiting.poll())
            run_cli("health", "--set", "ready=true", "--url", f"http://127.0.0.1:{s.port}/health")
            self.assertEqual(waiting.wait(TIMEOUT), 0)

    def test_health_url_grpc_against_what_is_not_grpc(self):
        # An HTTP/1.1-only server, and a listener that never answers.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            r = run_cli("health", "--url", f"grpc://127.0.0.1:{silent.getsockname()[1]}", "--timeout", "500ms")
            self.assertEqual(r.returncode, 1)
            self.assertIn("timed out", r.stderr)
        # Its port is read from /proc, not from its banner: Python buffers a piped stdout
        # (unless PYTHONUNBUFFERED is set), so a banner may never come.
        http1 = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = wait_until(lambda: listening_port(http1.pid), what="the HTTP/1.1 server's port")
            r = run_cli("health", "--url", f"grpc://127.0.0.1:{port}", "--timeout", "2s")
            self.assertEqual(r.returncode, 1)
            self.assertIn("not an HTTP/2 server", r.stderr)
        finally:
            http1.kill()
            http1.wait()

    def test_watch_follows_the_switches_and_ends_at_sigterm_without_holding_it(self):
        with Server() as s:
            ch = grpc.insecure_channel(f"127.0.0.1:{s.port}")
            live = ch.unary_stream(WATCH)(health_request("liveness"), timeout=30)
            ready = ch.unary_stream(WATCH)(health_request("readiness"), timeout=30)
            unknown = ch.unary_stream(WATCH)(health_request("nope"), timeout=30)
            self.assertEqual(next(live), SERVING)
            self.assertEqual(next(ready), SERVING)
            self.assertEqual(next(unknown), SERVICE_UNKNOWN)  # and the call stays open
            run_cli("health", "--set", "healthy=false", "--url", f"http://127.0.0.1:{s.port}/health")
            self.assertEqual(next(live), NOT_SERVING)
            run_cli("health", "--set", "healthy=true", "--url", f"http://127.0.0.1:{s.port}/health")
            self.assertEqual(next(live), SERVING)
            started = time.monotonic()
            s.proc.send_signal(15)
            self.assertEqual(next(ready), NOT_SERVING)  # readiness goes first, at the signal
            self.assertEqual(next(live), NOT_SERVING)   # liveness at the drain
            for call in (live, ready, unknown):
                with self.assertRaises(grpc.RpcError) as caught:
                    while True:
                        next(call)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(s.wait(), 0)
            self.assertLess(time.monotonic() - started, 5, "a Watch held the shutdown")
            ch.close()


if __name__ == "__main__":
    unittest.main()

"""Hostile clients of the TLS port: 10,000 handshakes begun (a whole
ClientHello each) and never finished, ClientHellos trickled a byte at a
time, and many idle TLS connections. While each runs, fresh clients probe
/health on both ports: p99 under 50 ms (250 under a sanitizer), RSS bounded,
and the hostile connections end at the request deadline or make room.
Traffic stays on 127.0.0.1; every loop is bounded."""
import os
import resource
import socket
import ssl
import tempfile
import threading
import time
import unittest

from harness import TIMEOUT, Server, parse_exposition, sample_value
from test_http2_floods import P99_LIMIT, SANITIZED, health_latency, p99, rss_bytes
from test_tls import Pki, client_context, https_get

HANDSHAKES = 10_000


def raise_fd_limit(wanted):
    """As many descriptors as the hard limit allows, up to `wanted`; how many there are."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def client_hello():
    """A real ClientHello's bytes (TLS 1.3 and 1.2 offered), as a client's first flight."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class TlsFloodTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = Pki(cls.tmp.name)
        cert, key = cls.pki.issue("server")
        cls.fds = raise_fd_limit(HANDSHAKES + 2000)
        cls.server = Server("--tls-port", "0", "--tls-cert", cert, "--tls-key", key, "--request-timeout", "2s",
                            "--idle-timeout", "30s", "--max-connections", str(HANDSHAKES + 1000),
                            "--log-level", "info").start()

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.tmp.cleanup()

    def fresh_https(self):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) as raw:
            with client_context(self.pki.ca).wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(https_get(s)[0], 200)
        return time.monotonic() - start

    def probe(self, rounds=100):
        plain, tls, rss = [], [], 0
        for _ in range(rounds):
            plain.append(health_latency(self.server.port))
            tls.append(self.fresh_https())
            rss = max(rss, rss_bytes(self.server.proc.pid))
        return p99(plain), p99(tls), rss

    def test_handshakes_begun_and_never_finished_cost_little_and_block_no_one(self):
        n = min(HANDSHAKES, self.fds - 1000)
        hello = client_hello()
        base = rss_bytes(self.server.proc.pid)
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
                s.sendall(hello)
                socks.append(s)
            plain, tls, rss = self.probe()
            self.assertLess(plain, P99_LIMIT, f"plain /health p99 {plain * 1000:.1f} ms")
            self.assertLess(tls, P99_LIMIT, f"https /health p99 {tls * 1000:.1f} ms (a handshake each)")
            # At most 2,048 handshakes under way hold OpenSSL's state (46 KiB each
            # in 3.0, more in 3.5 with its post-quantum key shares), the rest wait
            # as bytes: 106 MiB measured on Debian 12 and 145 on 13; 534 without the bound.
            # (Under a sanitizer, its quarantine keeps every evicted handshake's
            # memory: only the latency and the eviction are checked there.)
            if not SANITIZED:
                self.assertLess(rss, 192 << 20, f"RSS {rss >> 20} MiB with {n} handshakes under way")
            families = parse_exposition(self.server.get("/metrics").body.decode())
            self.assertGreater(sample_value(families, "devops_info_tls_handshakes_total", result="evicted"), 0)
        finally:
            for s in socks:
                s.close()

    def test_a_trickled_client_hello_is_cut_at_the_request_deadline(self):
        hello = client_hello()
        socks = [socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) for _ in range(200)]
        stop = threading.Event()

        def trickle():
            for i in range(len(hello)):
                if stop.wait(0.5):
                    return
                for s in socks:
                    try:
                        s.send(hello[i:i + 1])
                    except OSError:
                        pass
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            plain, tls, _ = self.probe(rounds=30)
            self.assertLess(plain, P99_LIMIT)
            self.assertLess(tls, P99_LIMIT)
            # Each is closed by the 2 s request deadline, not served for len(hello) / 2 s.
            deadline = time.monotonic() + 2 + TIMEOUT / 4
            for s in socks:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    self.assertEqual(s.recv(1), b"")
                except ConnectionResetError:
                    pass
        finally:
            stop.set()
            t.join(TIMEOUT)
            for s in socks:
                s.close()

    def test_idle_tls_connections_cost_what_openssl_holds_and_no_more(self):
        # OpenSSL 3.0 keeps about 15 KiB per finished TLS 1.3 connection (its
        # SSL object, the session and both ciphers), with the record buffers
        # released while idle; the rest of a connection costs almost nothing.
        n = 2000
        base = rss_bytes(self.server.proc.pid)
        socks = []
        try:
            for _ in range(n):
                raw = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
                s = client_context(self.pki.ca).wrap_socket(raw, server_hostname="127.0.0.1")
                s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                socks.append(s)
            for s in socks:
                s.recv(4096)
            time.sleep(0.5)
            per_conn = (rss_bytes(self.server.proc.pid) - base) / n
            if not SANITIZED:
                self.assertLess(per_conn, 24 * 1024, f"{per_conn / 1024:.1f} KiB per idle TLS connection")
            self.assertLess(health_latency(self.server.port), P99_LIMIT)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()

"""HTTPS beside the plain port on a real server: curl over HTTP/2 (ALPN h2)
and HTTP/1.1, TLS 1.3 offered and 1.1 refused, gRPC health over TLS, the
certificate rotated the kubelet's way (a ..data swap) while a kept-alive
connection answers on, a mismatched pair kept out with an ERROR, mutual
TLS, the https:// and grpcs:// probes, the expiry gauge, plain HTTP and
garbage on the TLS port, and bad files at the start. Certificates are made
for each run with the openssl command (P-256, SHA-256)."""
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import grpc

from harness import TIMEOUT, Server, parse_exposition, run_cli, sample_value
from test_http2 import CHECK, SERVING, health_request


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=TIMEOUT)


class Pki:
    """A CA, and certificates it signs, in a directory: with the extensions a
    strict verifier (Python 3.13's default, X509 strict) asks for."""

    def __init__(self, directory, name="test-ca"):
        self.dir = directory
        self.ca_key = os.path.join(directory, f"{name}.key")
        self.ca = os.path.join(directory, f"{name}.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca, "-days", "30", "-subj", f"/CN={name}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-addext", "subjectKeyIdentifier=hash")
        self.leaf_ext = os.path.join(directory, f"{name}-leaf.ext")
        with open(self.leaf_ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")

    def issue(self, cn, san="IP:127.0.0.1,DNS:localhost", days=10, usage="serverAuth"):
        """A certificate for `cn` and its key: (cert path, key path)."""
        key = os.path.join(self.dir, f"{cn}.key")
        csr = os.path.join(self.dir, f"{cn}.csr")
        pem = os.path.join(self.dir, f"{cn}.pem")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-nodes", "-keyout", key,
                "-out", csr, "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                "-addext", f"extendedKeyUsage={usage}")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-sha256",
                "-days", str(days), "-copy_extensions", "copyall", "-extfile", self.leaf_ext, "-out", pem)
        return pem, key


def client_context(ca, cert=None, key=None, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def peer_cn(port, ca):
    """The CN of the certificate a new handshake gets."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]


def https_get(sock, path="/health"):
    """GET over an open TLS socket, keeping it alive; the status and body."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), body


def curl(*args):
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code} %{http_version}", *args], capture_output=True,
                         text=True, timeout=TIMEOUT)
    body, _, tail = out.stdout.rpartition("\n")
    return out.returncode, tail, body


class Kubelet:
    """A Secret mounted the kubelet's way: DIR/tls.crt -> ..data/tls.crt, ..data -> ..TIMESTAMP, swapped by renaming
    a new ..data symlink over the old one."""

    def __init__(self, directory):
        self.dir = directory
        self.n = 0
        for name in ("tls.crt", "tls.key"):
            os.symlink(os.path.join("..data", name), os.path.join(directory, name))

    def put(self, cert, key):
        self.n += 1
        version = f"..2026_12_07_{self.n:02d}"
        os.mkdir(os.path.join(self.dir, version))
        for src, name in ((cert, "tls.crt"), (key, "tls.key")):
            with open(src, "rb") as f, open(os.path.join(self.dir, version, name), "wb") as out:
                out.write(f.read())
        tmp = os.path.join(self.dir, "..data_tmp")
        os.symlink(version, tmp)
        os.rename(tmp, os.path.join(self.dir, "..data"))

    @property
    def cert(self):
        return os.path.join(self.dir, "tls.crt")

    @property
    def key(self):
        return os.path.join(self.dir, "tls.key")


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = Pki(cls.tmp.name)
        cls.cert, cls.key = cls.pki.issue("server-one")
        cls.server = Server("--tls-port", "0", "--tls-cert", cls.cert, "--tls-key", cls.key).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.tmp.cleanup()

    def url(self, path="/health"):
        return f"https://127.0.0.1:{self.server.tls_port}{path}"

    def test_curl_gets_https_with_alpn_h2_and_with_http11(self):
        rc, tail, body = curl("--cacert", self.pki.ca, self.url("/"))
        self.assertEqual((rc, tail), (0, "200 2"))
        self.assertEqual(json.loads(body)["request"]["path"], "/")
        rc, tail, body = curl("--http1.1", "--cacert", self.pki.ca, self.url())
        self.assertEqual((rc, tail), (0, "200 1.1"))
        self.assertEqual(json.loads(body)["status"], "healthy")
        line = self.server.wait_for_log(lambda d: d.get("path") == "/" and d.get("protocol") == "HTTP/2")
        self.assertEqual(line["status"], 200)
        # The plain port serves on.
        self.assertEqual(self.server.get("/health").status, 200)

    def test_tls13_is_offered_and_tls11_refused(self):
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.tls_port}", "-tls1_3",
                              "-CAfile", self.pki.ca], input="", capture_output=True, text=True, timeout=TIMEOUT)
        self.assertIn("TLSv1.3", out.stdout)
        self.assertIn("Verify return code: 0 (ok)", out.stdout)
        # The client allows TLS 1.1 (security level 0): the refusal is the server's.
        for version in ("-tls1_1", "-tls1"):
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.tls_port}", version,
                                  "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True, text=True,
                                 timeout=TIMEOUT)
            self.assertNotEqual(out.returncode, 0, version)
            self.assertRegex(out.stdout + out.stderr, r"alert protocol version|no protocols available|"
                                                      r"unsupported protocol|wrong version", version)
        # TLS 1.2: ECDHE with AEAD only.
        ctx = client_context(self.pki.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                name, version, _ = s.cipher()
                self.assertEqual(version, "TLSv1.2")
                self.assertTrue(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name)

    def test_grpc_health_over_tls_by_grpcio_and_the_grpcs_probe(self):
        with open(self.pki.ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        with grpc.secure_channel(f"127.0.0.1:{self.server.tls_port}", creds) as ch:
            self.assertEqual(ch.unary_unary(CHECK)(health_request("readiness"), timeout=5), SERVING)
        r = run_cli("health", "--url", f"grpcs://127.0.0.1:{self.server.tls_port}/liveness", "--cacert", self.pki.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "SERVING")

    def test_the_https_probe_verifies_the_server(self):
        r = run_cli("health", "--url", self.url(), "--cacert", self.pki.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "healthy")
        r = run_cli("health", "--url", f"https://localhost:{self.server.tls_port}/health", "--cacert", self.pki.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        with tempfile.TemporaryDirectory() as d:  # a CA that did not sign it
            other = Pki(d, "other-ca")
            r = run_cli("health", "--url", self.url(), "--cacert", other.ca)
        self.assertEqual(r.returncode, 1)
        self.assertIn("certificate verify failed", r.stderr)
        r = run_cli("health", "--url", self.url(), "--insecure")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli("health", "--url", f"https://127.0.0.1:{self.server.port}/health", "--cacert", self.pki.ca)
        self.assertEqual(r.returncode, 1)  # the plain port speaks no TLS
        self.assertIn("TLS handshake failed", r.stderr)

    def test_the_expiry_gauge_is_the_certificates_not_after(self):
        out = subprocess.run(["openssl", "x509", "-in", self.cert, "-noout", "-enddate"], capture_output=True,
                             text=True, check=True)
        not_after = ssl.cert_time_to_seconds(out.stdout.strip().split("=", 1)[1])
        families = parse_exposition(self.server.get("/metrics").body.decode())
        self.assertEqual(sample_value(families, "devops_info_tls_certificate_not_after_seconds"), not_after)
        self.assertIn("devops_info_tls_reloads_total", families)

    def test_testssl_finds_no_weak_protocol_cipher_or_known_vulnerability(self):
        out = subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--ip", "one", "-p", "-s",
                              "-f", "-U", f"127.0.0.1:{self.server.tls_port}"], capture_output=True, text=True,
                             timeout=600)
        report = out.stdout
        self.assertIn("TLS 1.3    offered (OK)", report)
        self.assertIn("ALPN/HTTP2 h2, http/1.1 (offered)", report)
        for old in ("SSLv2", "SSLv3", "TLS 1 ", "TLS 1.1"):
            self.assertRegex(report, rf"{re.escape(old)}\s+not offered", old)
        # (testssl 3.2 on Debian 13 says "Obsoleted CBC" and "FS is offered".)
        for category in ("NULL ciphers", "Anonymous NULL", "Export ciphers", "LOW: 64 Bit", "Triple DES",
                         "Obsolete"):
            self.assertRegex(report, rf"{re.escape(category)}.*not offered", category)
        self.assertRegex(report, r"\bP?FS is offered \(OK\)")
        vulnerable = [line for line in report.splitlines() if re.search(r"\bVULNERABLE\b|NOT ok", line)]
        self.assertEqual(vulnerable, [], report)

    def test_plain_http_and_garbage_are_closed_and_counted_without_a_log_line(self):
        before = parse_exposition(self.server.get("/metrics").body.decode())
        mark = self.server.mark()
        with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            reply = s.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        self.assertIn(b"use https://", reply)
        # (Random bytes after a first one that is no capital letter, which would read as plain HTTP.)
        for garbage in (b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64, b"\x01" + os.urandom(511), b"\x00" * 100):
            with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) as s:
                s.sendall(garbage)
                s.settimeout(5)
                try:
                    while s.recv(4096):
                        pass
                except ConnectionResetError:
                    pass  # closed, maybe with our bytes unread: as good
        after = parse_exposition(self.server.get("/metrics").body.decode())

        def count(families, result):
            return sample_value(families, "devops_info_tls_handshakes_total", result=result)
        self.assertEqual(count(after, "plain_http") - count(before, "plain_http"), 1)
        self.assertGreaterEqual(count(after, "failure") - count(before, "failure"), 3)
        time.sleep(0.2)
        self.assertEqual([d for d in self.server.logs()[mark:] if d.get("path") != "/metrics"], [])
        self.assertEqual(self.server.get("/health").status, 200)


class RotationTest(unittest.TestCase):
    def test_a_kubelet_secret_swap_reaches_new_handshakes_while_a_kept_connection_answers(self):
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            mount = os.path.join(d, "secret")
            os.mkdir(mount)
            kube = Kubelet(mount)
            kube.put(*pki.issue("gen-one"))
            with Server("--tls-port", "0", "--tls-cert", kube.cert, "--tls-key", kube.key) as s:
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "gen-one")
                raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=5)
                kept = client_context(pki.ca).wrap_socket(raw, server_hostname="127.0.0.1")
                self.assertEqual(https_get(kept)[0], 200)

                swapped = time.monotonic()
                kube.put(*pki.issue("gen-two"))
                while peer_cn(s.tls_port, pki.ca) != "gen-two" and time.monotonic() - swapped < 3:
                    time.sleep(0.05)
                self.assertLess(time.monotonic() - swapped, 3, "the new certificate within 3 s")
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "gen-two")
                status, body = https_get(kept)  # the kept connection answers on, with its own certificate
                self.assertEqual((status, json.loads(body)["status"]), (200, "healthy"))
                self.assertEqual(dict(x[0] for x in kept.getpeercert()["subject"])["commonName"], "gen-one")
                s.wait_for_log(lambda l: l.get("msg") == "TLS certificate reloaded" and "gen-two" in l.get("subject", ""))

                # A mismatched pair (three's certificate, two's key): the last good one stays.
                mark = s.mark()
                three, _ = pki.issue("gen-three")
                kube.put(three, os.path.join(d, "gen-two.key"))
                line = s.wait_for_log(lambda l: l.get("msg") == "TLS reload failed, keeping the last good certificate",
                                      since=mark)
                self.assertEqual(line["level"], "ERROR")
                self.assertIn("does not match", line["error"])
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "gen-two")
                # A half-written certificate too.
                mark = s.mark()
                with open(os.path.join(d, "gen-four.pem"), "w") as f:
                    f.write("-----BEGIN CERTIFICATE-----\nMIIB\n")
                kube.put(os.path.join(d, "gen-four.pem"), os.path.join(d, "gen-two.key"))
                s.wait_for_log(lambda l: l.get("msg") == "TLS reload failed, keeping the last good certificate",
                               since=mark)
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "gen-two")
                # ... and the watcher goes on: the next good pair is applied.
                kube.put(*pki.issue("gen-five"))
                s.wait_for_log(lambda l: l.get("msg") == "TLS certificate reloaded" and "gen-five" in l.get("subject", ""))
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "gen-five")
                families = parse_exposition(s.get("/metrics").body.decode())
                self.assertEqual(sample_value(families, "devops_info_tls_reloads_total", result="success"), 2)
                self.assertEqual(sample_value(families, "devops_info_tls_reloads_total", result="failure"), 2)
                self.assertEqual(https_get(kept)[0], 200)
                kept.close()


class MutualTlsTest(unittest.TestCase):
    def test_a_client_without_a_certificate_is_refused_and_one_the_ca_signed_is_served(self):
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            cert, key = pki.issue("server")
            clients = Pki(d, "client-ca")
            client_cert, client_key = clients.issue("probe", san="DNS:probe", usage="clientAuth")
            stranger_cert, stranger_key = pki.issue("stranger", san="DNS:stranger", usage="clientAuth")
            with Server("--tls-port", "0", "--tls-cert", cert, "--tls-key", key,
                        "--tls-client-ca", clients.ca) as s:
                url = f"https://127.0.0.1:{s.tls_port}/health"
                rc, tail, _ = curl("--cacert", pki.ca, url)
                self.assertNotEqual(rc, 0, "no client certificate")
                rc, tail, _ = curl("--cacert", pki.ca, "--cert", stranger_cert, "--key", stranger_key, url)
                self.assertNotEqual(rc, 0, "a certificate the client CA did not sign")
                rc, tail, body = curl("--cacert", pki.ca, "--cert", client_cert, "--key", client_key, url)
                self.assertEqual((rc, tail), (0, "200 2"))
                r = run_cli("health", "--url", url, "--cacert", pki.ca, "--cert", client_cert, "--key", client_key)
                self.assertEqual(r.returncode, 0, r.stderr)
                r = run_cli("health", "--url", url, "--cacert", pki.ca)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(s.get("/health").status, 200)  # the plain port asks for nothing


class StartTest(unittest.TestCase):
    def test_bad_files_and_settings_are_refused_at_the_start(self):
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            cert, key = pki.issue("server")
            _, other_key = pki.issue("other")
            r = run_cli("serve", "--port", "0", "--tls-port", "0", "--tls-cert", cert, "--tls-key", other_key)
            self.assertEqual(r.returncode, 1)
            self.assertIn("the key does not match the certificate", r.stderr)
            r = run_cli("serve", "--port", "0", "--tls-port", "0", "--tls-cert", os.path.join(d, "nope.pem"),
                        "--tls-key", key)
            self.assertEqual(r.returncode, 1)
            self.assertIn("nope.pem", r.stderr)
            r = run_cli("serve", "--port", "0", "--tls-cert", cert)
            self.assertEqual(r.returncode, 2)
            self.assertIn("--tls-cert (TLS_CERT_FILE) needs --tls-key (TLS_KEY_FILE) too", r.stderr)
            r = run_cli("serve", "--port", "5000", "--tls-port", "5000", "--tls-cert", cert, "--tls-key", key)
            self.assertEqual(r.returncode, 2)
            r = run_cli("serve", "--port", "0", "--tls-client-ca", pki.ca)
            self.assertEqual(r.returncode, 2)
            with Server(env={"TLS_CERT_FILE": cert, "TLS_KEY_FILE": key, "TLS_PORT": "0"}) as s:
                self.assertEqual(peer_cn(s.tls_port, pki.ca), "server")


if __name__ == "__main__":
    unittest.main()

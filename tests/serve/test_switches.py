"""The probe switches (--unready, --unhealthy, `health --set` over the control
channel) and fault injection (--fault-delay, --fault-error): off by default,
announced, exact, counted, and refused when wrong."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, TIMEOUT, Server, clean_env, reserved_port, run_cli, sample_value, wait_until


def set_switch(server, *settings, env=None, user=None):
    args = []
    for s in settings:
        args += ["--set", s]
    env = dict(env or {}, PORT=str(server.port))
    if user is None:
        return run_cli("health", *args, env=env)
    # As another user, from a copy that user can reach: the clone may sit
    # where only its owner may enter (a fresh machine's /root is mode 700).
    with tempfile.TemporaryDirectory(prefix="devops-info-other-user-") as tmp:
        os.chmod(tmp, 0o755)
        binary = os.path.join(tmp, "devops-info")
        shutil.copy(BIN, binary)
        os.chmod(binary, 0o755)
        return subprocess.run([binary, "health", *args], capture_output=True, text=True, env=clean_env(env),
                              timeout=TIMEOUT, user=user, group=user, cwd=tmp)


def control(port, data):
    """Raw bytes to the control channel; its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(f"\0devops-info/{port}")
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk


class ProbeSwitchTest(unittest.TestCase):
    def test_off_by_default(self):
        with Server() as s:
            self.assertEqual(s.get("/ready").status, 200)
            self.assertEqual(s.get("/health").status, 200)
            self.assertNotIn("devops_info_faults", s.get("/metrics").body.decode())
            self.assertEqual([l for l in s.logs() if l["level"] != "INFO"], [])

    def test_start_unready_then_ready_from_inside(self):
        with Server("--unready") as s:
            warn = s.wait_for_log(lambda d: d.get("level") == "WARNING", what="the WARNING")
            self.assertIn("--unready", warn["msg"])
            r = s.get("/ready")
            self.assertEqual((r.status, r.json()), (503, {"status": "unready"}))
            self.assertEqual(s.get("/health").status, 200)  # alive, only not ready
            c = set_switch(s, "ready=true")
            self.assertEqual(c.returncode, 0, c.stderr)
            self.assertEqual(json.loads(c.stdout), {"ready": True, "healthy": True})
            self.assertEqual(s.get("/ready").status, 200)
            line = s.wait_for_log(lambda d: d.get("msg") == "probe switches changed", what="the change logged")
            self.assertEqual((line["ready"], line["healthy"], line["by_uid"]), (True, True, os.geteuid()))

    def test_unhealthy_fails_the_probe_until_set_healthy(self):
        with Server("--unhealthy") as s:
            r = s.get("/health")
            self.assertEqual((r.status, r.json()["status"]), (503, "unhealthy"))
            p = run_cli("health", "--url", f"http://127.0.0.1:{s.port}/health")
            self.assertEqual(p.returncode, 1)
            self.assertIn("503", p.stderr)
            self.assertEqual(set_switch(s, "healthy=true").returncode, 0)
            self.assertEqual(run_cli("health", "--url", f"http://127.0.0.1:{s.port}/health").returncode, 0)
            c = set_switch(s, "healthy=false", "ready=no")
            self.assertEqual(json.loads(c.stdout), {"ready": False, "healthy": False})
            self.assertEqual(s.get("/health").status, 503)
            self.assertEqual(s.get("/ready").status, 503)

    def test_set_finds_the_server_by_url_port(self):
        with Server() as s:
            c = run_cli("health", "--url", f"http://127.0.0.1:{s.port}/health", "--set", "ready=false", "--compact")
            self.assertEqual((c.returncode, c.stdout), (0, '{"ready":false,"healthy":true}\n'), c.stderr)
            self.assertEqual(s.get("/ready").status, 503)

    def test_set_refuses_bad_input_without_changing_anything(self):
        with Server() as s:
            for args in (["--set", "ready=maybe"], ["--set", "alive=true"], ["--set", "ready="], ["--set", "ready"],
                         ["--set", "ready=false", "--local"], ["--set", "ready=false", "--wait", "1s"],
                         ["--set", "ready=false", "--url", "http://10.1.2.3:5000/health"],
                         ["--set", "ready=false", "--url", "http://127.0.0.1:5000/he alth x"]):
                with self.subTest(args=args):
                    c = run_cli("health", *args, env={"PORT": str(s.port)})
                    self.assertEqual(c.returncode, 2, c.stderr)
                    self.assertIn("error:", c.stderr)
            self.assertEqual(s.get("/ready").status, 200)

    def test_no_server_is_exit_1_and_says_so(self):
        with reserved_port() as port:  # no server can listen there, so no control channel exists for it
            c = run_cli("health", "--set", "ready=false", env={"PORT": str(port)})
        self.assertEqual(c.returncode, 1)
        self.assertIn("connection refused", c.stderr)

    def test_control_channel_survives_garbage_and_silence(self):
        with Server() as s:
            self.assertIn(b'"error"', control(s.port, b"ready=false healthy=bogus\n"))
            try:  # too long: an error, or a reset when the server closes with bytes unread
                self.assertIn(b'"error"', control(s.port, b"x" * 5000 + b"\n"))
            except ConnectionResetError:
                pass
            self.assertIn(b'"error"', control(s.port, b"\xff\xfe=\x00\n"))
            self.assertEqual(s.get("/ready").status, 200)  # nothing half-applied
            # A client that connects and says nothing is dropped after a second;
            # the channel serves the next one.
            idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.connect(f"\0devops-info/{s.port}")
            try:
                start = time.monotonic()
                self.assertEqual(json.loads(control(s.port, b"\n")), {"ready": True, "healthy": True})
                self.assertLess(time.monotonic() - start, 5)
            finally:
                idle.close()
            self.assertIsNone(s.proc.poll())

    def test_silent_clients_delay_no_one(self):
        # Eight connections that never send a byte, held for the whole test:
        # `health --set` is answered at once beside them, again and again.
        with Server() as s:
            silent = []
            try:
                for _ in range(8):
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    c.connect(f"\0devops-info/{s.port}")
                    silent.append(c)
                for value in ("false", "true", "false"):
                    start = time.monotonic()
                    c = set_switch(s, f"ready={value}")
                    self.assertEqual(c.returncode, 0, c.stderr)
                    self.assertLess(time.monotonic() - start, 0.9, "a silent client delayed --set")
                self.assertEqual(s.get("/ready").status, 503)
                # Twenty more silent ones than fit: the oldest make room, and --set still works.
                for _ in range(20):
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    c.connect(f"\0devops-info/{s.port}")
                    silent.append(c)
                self.assertEqual(set_switch(s, "ready=true").returncode, 0)
                self.assertEqual(s.get("/ready").status, 200)
            finally:
                for c in silent:
                    c.close()

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run the client as another user")
    def test_another_user_is_refused(self):
        with Server() as s:
            c = set_switch(s, "ready=false", user=65534)
            self.assertEqual(c.returncode, 1, c.stdout)
            self.assertIn("permission denied", c.stderr)
            self.assertEqual(s.get("/ready").status, 200)
            s.wait_for_log(lambda d: d.get("msg", "").startswith("control channel: refused"), what="the refusal")

    def test_not_reachable_over_tcp_and_gone_after_exit(self):
        with Server() as s:
            port = s.port
            self.assertEqual(s.stop(), 0)
        with self.assertRaises(ConnectionRefusedError):
            control(port, b"\n")


class FaultTest(unittest.TestCase):
    def test_fixed_delay_on_one_route_only_and_announced(self):
        with Server("--fault-delay", "/health=400ms") as s:
            warn = s.wait_for_log(lambda d: d.get("level") == "WARNING", what="the WARNING")
            self.assertEqual((warn["msg"], warn["route"], warn["delay_min"]), ("fault injection on", "/health", "400ms"))
            start = time.monotonic()
            self.assertEqual(s.get("/health").status, 200)
            self.assertGreaterEqual(time.monotonic() - start, 0.4)
            start = time.monotonic()
            self.assertEqual(s.get("/ready").status, 200)
            self.assertLess(time.monotonic() - start, 0.3)
            m = s.metrics()
            self.assertEqual(sample_value(m, "devops_info_faults_injected_total", endpoint="/health", kind="delay"), 1)

    def test_random_delay_stays_within_bounds_and_does_not_hold_others(self):
        with Server("--fault-delay", "*=100ms-300ms") as s:
            took = []
            for _ in range(6):
                start = time.monotonic()
                self.assertEqual(s.get("/ready").status, 200)
                took.append(time.monotonic() - start)
            self.assertGreaterEqual(min(took), 0.1)
            self.assertLess(max(took), 0.3 + 0.5)
            # A held answer does not hold another connection's.
            with Server("--fault-delay", "/health=2s") as slow:
                t = threading.Thread(target=lambda: slow.get("/health"))
                t.start()
                time.sleep(0.1)
                start = time.monotonic()
                self.assertEqual(slow.get("/ready").status, 200)
                self.assertLess(time.monotonic() - start, 1.0)
                t.join(TIMEOUT)

    def test_error_fraction_is_about_right_and_counted(self):
        with Server("--fault-error", "/=0.3", "--fault-error", "/ready=1") as s:
            codes = [s.get("/").status for _ in range(300)]
            errors = codes.count(500)
            self.assertEqual(set(codes), {200, 500})
            self.assertTrue(40 < errors < 140, errors)  # 90 expected; far outside only when broken
            self.assertEqual(s.get("/ready").status, 500)
            self.assertEqual(s.get("/health").status, 200)
            m = wait_until(lambda: (lambda m: m if sample_value(m, "http_requests_total", endpoint="/ready",
                                                                status="500") == 1 else None)(s.metrics()),
                           what="the 500 counted")
            self.assertEqual(sample_value(m, "devops_info_faults_injected_total", endpoint="/", kind="error"), errors)
            self.assertEqual(sample_value(m, "devops_info_faults_injected_total", endpoint="/ready", kind="error"), 1)
            self.assertEqual(sample_value(m, "http_requests_total", method="GET", endpoint="/", status="500"), errors)

    def test_wrong_values_are_usage_errors(self):
        for args in (["--fault-delay", "/nope=1s"], ["--fault-delay", "/=abc"], ["--fault-delay", "/=2s-1s"],
                     ["--fault-delay", "/=11m"], ["--fault-delay", "/health"], ["--fault-delay", "=1s"],
                     ["--fault-error", "/=1.5"], ["--fault-error", "/=-0.1"], ["--fault-error", "/=nan"],
                     ["--fault-error", "/=0.5x"], ["--fault-error", "/metrics/="], ["--fault-error", "*"]):
            with self.subTest(args=args):
                r = run_cli("serve", "--port", "0", "--host", "127.0.0.1", *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(args[0], r.stderr)

    def test_hidden_test_options_are_gone(self):
        r = run_cli("serve", "--port", "0", "--fail-path", "/x")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()

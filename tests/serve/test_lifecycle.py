"""Start and stop: SIGTERM and SIGINT while a request is in flight, the
shutdown timeout, PID 1, bad configuration values and a busy port."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import TIMEOUT, Server, clean_env, reserved_port, run_cli, sample_value, wait_until, BIN


def in_background(fn):
    """Runs fn in a thread; returns a callable that joins it and gives fn's result (or raises its error)."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: B902: handed to the test thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()

    def result():
        t.join(TIMEOUT)
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def wait_in_flight(server, n=1):
    """Waits until `n` requests are being answered (the scrape itself does not count)."""
    wait_until(lambda: sample_value(server.metrics(), "http_requests_in_progress") >= n,
               what=f"{n} request(s) in flight")


class ShutdownTest(unittest.TestCase):
    def test_sigterm_lets_the_request_in_flight_complete(self):
        # /health's answer is held back a second (a hidden test option):
        # SIGTERM arrives while it waits; it is still sent, and closes.
        with Server("--delay-path", "/health") as s:
            pending = in_background(lambda: s.get("/health"))
            wait_in_flight(s)
            sent = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            r = pending()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "close")
            self.assertEqual(s.wait(), 0, s.stderr)
            self.assertLess(time.monotonic() - sent, 8)
        logs = s.logs()
        msgs = [l["msg"] for l in logs]
        self.assertEqual(msgs[-1], "stopped")
        down = msgs.index("shutting down")
        self.assertEqual(logs[down]["in_flight"], 1)
        self.assertIn(("request", 200), [(l["msg"], l.get("status")) for l in logs[down:]])

    def test_listener_closes_while_a_request_is_in_flight(self):
        # New connections are refused at once; the held answer is still sent.
        with Server("--delay-path", "/") as s:
            conn = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            wait_in_flight(s)
            s.proc.send_signal(signal.SIGTERM)
            s.wait_for_log(lambda d: d.get("msg") == "shutting down", what="shutting down")

            def refused():
                try:
                    socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
                    return False
                except (ConnectionRefusedError, ConnectionResetError):
                    return True

            wait_until(refused, what="the listener to close")
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
            conn.close()
            if not reply.startswith(b"HTTP/1.1 200 "):
                rc = s.wait()
                self.fail(f"no answer ({reply[:100]!r}); exit {rc}; logs {s.logs()[-3:]}; stderr {s.read_stderr()[:2500]}")
            self.assertIn(b"Connection: close\r\n", reply)
            self.assertEqual(s.wait(), 0)

    def test_shutdown_delay_keeps_serving_with_ready_503(self):
        with Server("--shutdown-delay", "1s") as s:
            conn_health = s.get("/health")
            self.assertEqual(conn_health.status, 200)
            sent = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            s.wait_for_log(lambda d: d.get("msg") == "shutting down", what="shutting down")
            ready = s.get("/ready")
            self.assertEqual((ready.status, ready.json()), (503, {"status": "draining"}))
            self.assertEqual(s.get("/health").status, 200)  # alive: not restarted by a liveness probe
            self.assertEqual(s.get("/").status, 200)  # new connections still served
            self.assertEqual(s.wait(), 0)
            took = time.monotonic() - sent
            self.assertGreaterEqual(took, 0.9)
            self.assertLess(took, 5)
        down = [l for l in s.logs() if l["msg"] == "shutting down"]
        self.assertEqual(down[0]["delay"], "1s")

    def test_second_signal_during_the_delay_exits_at_once(self):
        with Server("--shutdown-delay", "30s") as s:
            s.proc.send_signal(signal.SIGTERM)
            s.wait_for_log(lambda d: d.get("msg") == "shutting down", what="shutting down")
            self.assertEqual(s.stop(signal.SIGTERM), 1)
            self.assertEqual(s.logs()[-1]["reason"], "second signal")

    def test_sigint_drains_too(self):
        with Server() as s:
            self.assertEqual(s.get("/").status, 200)
            self.assertEqual(s.stop(signal.SIGINT), 0)
            down = [l for l in s.logs() if l["msg"] == "shutting down"]
            self.assertEqual([l["signal"] for l in down], ["SIGINT"])

    def test_shutdown_timeout_cuts_a_slow_request(self):
        with Server("--delay-path", "/health", "--shutdown-timeout", "200ms") as s:
            pending = in_background(lambda: s.get("/health"))
            wait_in_flight(s)
            sent = time.monotonic()
            self.assertEqual(s.stop(), 1)  # 0 would mean the request finished first
            self.assertLess(time.monotonic() - sent, 5)
            with self.assertRaises(Exception):
                pending()
        last = s.logs()[-1]
        self.assertEqual((last["level"], last["reason"], last["in_flight"]), ("WARNING", "shutdown timeout", 1))

    def test_second_signal_exits_at_once(self):
        with Server("--delay-path", "/health") as s:
            pending = in_background(lambda: s.get("/health"))
            wait_in_flight(s)
            s.proc.send_signal(signal.SIGTERM)
            s.wait_for_log(lambda d: d.get("msg") == "shutting down", what="shutting down")
            self.assertEqual(s.stop(signal.SIGINT), 1)
            self.assertEqual(s.logs()[-1]["reason"], "second signal")
            with self.assertRaises(Exception):
                pending()

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "needs root and unshare(1)")
    def test_works_as_pid_1(self):
        # PID 1 of a PID namespace, as in a container started in exec form:
        # the kernel drops signals it has no handler for.
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", BIN, "serve", "--host", "127.0.0.1",
                                 "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=clean_env())
        try:
            first = proc.stdout.readline()
            if not first:
                self.skipTest("cannot create a PID namespace here: " + proc.stderr.read().decode())
            self.assertIn(b'"pid":1,', first)
            # The server is unshare's child; signal it directly, as a runtime signals PID 1.
            child = wait_until(lambda: open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split(),
                               what="the namespaced child")
            os.kill(int(child[0]), signal.SIGTERM)
            self.assertEqual(proc.wait(TIMEOUT), 0)
            self.assertIn(b'"msg":"stopped"', proc.stdout.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


class ConfigTest(unittest.TestCase):
    def assertUsageError(self, args, env, names):
        r = run_cli("serve", *args, env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("devops-info: error: " + names), r.stderr)

    def test_bad_values_exit_2_naming_the_variable_or_flag(self):
        cases = [
            ([], {"PORT": "abc"}, "PORT"),
            ([], {"PORT": "70000"}, "PORT"),
            ([], {"PORT": "-1"}, "PORT"),
            ([], {"HOST": "not-an-address"}, "HOST"),
            ([], {"HOST": "300.1.2.3"}, "HOST"),
            ([], {"DEBUG": "maybe"}, "DEBUG"),
            (["--port", "70000"], {}, "--port"),
            (["--port", "http"], {}, "--port"),
            (["--host", "localhost"], {}, "--host"),
            (["--shutdown-timeout", "soon"], {}, "--shutdown-timeout"),
            (["--threads", "0"], {}, "--threads"),
            (["--threads", "65"], {}, "--threads"),
            (["--max-connections", "0"], {}, "--max-connections"),
            (["--shutdown-delay", "soon"], {}, "--shutdown-delay"),
            (["--log-format", "xml"], {}, "--log-format"),
            (["--log-level", "loud"], {}, "--log-level"),
        ]
        for args, env, name in cases:
            with self.subTest(args=args, env=env):
                self.assertUsageError(args, env, name)

    def test_flag_beats_environment_beats_default(self):
        # A bad PORT is not even read when --port is given.
        with Server(env={"PORT": "abc", "HOST": "also-bad"}, port="0", host="127.0.0.1") as s:
            self.assertEqual(s.get("/health").status, 200)
        with reserved_port() as port, Server(env={"PORT": str(port), "HOST": "127.0.0.1"}, port=None, host=None) as s:
            self.assertEqual((s.logs()[0]["host"], s.port), ("127.0.0.1", port))

    def test_port_zero_picks_a_free_port_and_logs_it(self):
        with Server() as s:
            self.assertNotEqual(s.port, 0)
            self.assertEqual(s.get("/health").status, 200)

    def test_busy_port_exits_1_saying_so(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            for host in ("127.0.0.1", "0.0.0.0"):
                with self.subTest(host=host):
                    r = run_cli("serve", "--host", host, "--port", str(port))
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn("address already in use", r.stderr)
                    self.assertIn(f":{port}", r.stderr)
                    self.assertTrue(r.stderr.startswith("devops-info: error: "), r.stderr)
                    self.assertIn('"level":"ERROR"', r.stdout)

    def test_second_server_on_the_same_port_fails(self):
        with Server() as s:
            r = run_cli("serve", "--host", "127.0.0.1", "--port", str(s.port))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("address already in use", r.stderr)


if __name__ == "__main__":
    unittest.main()

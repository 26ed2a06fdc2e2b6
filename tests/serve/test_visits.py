"""The visit counter of `serve --data-dir`: counts across restarts, a whole
file and a count that never goes back through 100 kill -9s under load, a
read-only and a full volume (small tmpfs mounts, as root), the lock, a file
that is not a number, and exact counts under concurrent load."""
import http.client
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import json

import jsonschema

from harness import SOURCE_DIR, TIMEOUT, Server, run_cli, sample_value, wait_until

with open(os.path.join(SOURCE_DIR, "docs", "info.schema.json"), encoding="utf-8") as f:
    VISITS_SCHEMA = json.load(f)["$defs"]["visits"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def can_mount():
    """Root with a working tmpfs mount (a container may forbid it)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    d = tempfile.mkdtemp()
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d], capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], check=True)
        return ok
    finally:
        os.rmdir(d)


MOUNT = can_mount()


class Tmpfs:
    """A small tmpfs mounted on a fresh directory, unmounted at exit."""

    def __init__(self, size="64k"):
        self.path = tempfile.mkdtemp()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", self.path], check=True)

    def remount(self, opts):
        subprocess.run(["mount", "-o", f"remount,{opts}", self.path], check=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], check=False)
        os.rmdir(self.path)


def hammer(port, stop, counts, path="/"):
    """GET `path` on one kept-alive connection until `stop` is set; counts answers."""
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            while not stop.is_set():
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                counts.append(r.status)
        except (OSError, http.client.HTTPException):
            time.sleep(0.005)  # the server was killed
        finally:
            conn.close()


class VisitsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.file = os.path.join(self.dir, "visits")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def visits(self, s):
        r = s.get("/visits")
        jsonschema.validate(r.json(), VISITS_SCHEMA)
        return r.status, r.json()

    def test_counts_across_restarts_get_and_head(self):
        with Server("--data-dir", self.dir) as s:
            self.assertEqual(read(self.file), b"0\n")  # created at start
            self.assertEqual(self.visits(s), (200, {"visits": 0}))
            for _ in range(5):
                self.assertEqual(s.get("/").status, 200)
            self.assertEqual(s.request("HEAD", "/").status, 200)
            s.get("/health")
            s.get("/nope")
            s.request("POST", "/")
            self.assertEqual(self.visits(s), (200, {"visits": 6}))
            self.assertEqual(s.stop(), 0)
        self.assertEqual(read(self.file), b"6\n")  # the last count, written on the way out
        with Server(env={"DATA_DIR": self.dir}) as s:  # the environment works as well
            self.assertEqual(self.visits(s), (200, {"visits": 6}))
            s.get("/")
            self.assertEqual(self.visits(s), (200, {"visits": 7}))
            self.assertEqual(sample_value(s.metrics(), "devops_info_visits"), 7)  # for dashboards
            line = [l for l in s.logs() if l["msg"] == "visit counter"][0]
            self.assertEqual((line["visits"], line["writable"]), (6, True))
            self.assertEqual(s.stop(), 0)
        self.assertEqual(read(self.file), b"7\n")
        self.assertEqual(sorted(os.listdir(self.dir)), ["visits", "visits.lock"])  # no temporary left

    def test_off_by_default(self):
        with Server() as s:
            s.get("/")
            r = s.get("/visits")
            self.assertEqual(r.status, 404)
            self.assertIn("--data-dir", r.json()["detail"])
            self.assertNotIn("devops_info_visits", s.get("/metrics").body.decode())
        self.assertEqual(os.listdir(self.dir), [])

    def test_written_every_interval_while_running(self):
        with Server("--data-dir", self.dir, "--flush-interval", "50ms") as s:
            for _ in range(3):
                s.get("/")
            wait_until(lambda: read(self.file) == b"3\n", what="the count on disk")

    def test_a_file_that_is_not_a_number_refuses_to_start(self):
        for text in (b"", b"abc\n", b"12 13\n", b"-1\n", b"99999999999999999999999\n", b"\x00\x01"):
            with self.subTest(text=text):
                with open(self.file, "wb") as f:
                    f.write(text)
                r = run_cli("serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", self.dir)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(self.file, r.stderr)
                self.assertIn("not a number", r.stderr)
                self.assertIn('"level":"ERROR"', r.stdout)
                self.assertEqual(read(self.file), text)  # never overwritten

    def test_missing_directory_refuses_to_start(self):
        r = run_cli("serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", os.path.join(self.dir, "nope"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)

    def test_a_second_server_on_the_same_directory_says_so(self):
        with Server("--data-dir", self.dir) as s:
            s.get("/")
            r = run_cli("serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", self.dir)
            self.assertEqual(r.returncode, 1)
            self.assertIn("another process uses it", r.stderr)
            self.assertIn("visits.lock", r.stderr)
            self.assertEqual(self.visits(s), (200, {"visits": 1}))
            s.proc.kill()  # the kernel drops the lock with the process
            s.wait()
        with Server("--data-dir", self.dir) as s:
            self.assertEqual(s.get("/visits").status, 200)

    def test_exact_under_concurrent_load(self):
        with Server("--data-dir", self.dir, "--flush-interval", "10ms") as s:
            stop = threading.Event()
            per_thread = [[] for _ in range(8)]
            threads = [threading.Thread(target=hammer, args=(s.port, stop, c)) for c in per_thread]
            for t in threads:
                t.start()
            time.sleep(1.5)
            stop.set()
            for t in threads:
                t.join(TIMEOUT)
            answered = sum(c.count(200) for c in per_thread)
            self.assertGreater(answered, 100)
            self.assertEqual(self.visits(s), (200, {"visits": answered}))
            self.assertEqual(s.stop(), 0)
        self.assertEqual(read(self.file), b"%d\n" % answered)

    def test_100_kill_9_under_load(self):
        """Each restart finds a whole file, and the count never goes back."""
        rng = random.Random(1234)
        last = 0
        saw_progress = 0
        start = time.monotonic()
        for i in range(100):
            s = Server("--data-dir", self.dir, "--flush-interval", "10ms")
            s.start()
            try:
                text = read(self.file)
                self.assertRegex(text, rb"^\d+\n$", f"restart {i}: not a whole number")
                on_disk = int(text)
                self.assertGreaterEqual(on_disk, last, f"restart {i}: the count went back")
                self.assertEqual(self.visits(s), (200, {"visits": on_disk}))
                saw_progress += on_disk > last
                last = on_disk
                stop = threading.Event()
                counts = [[] for _ in range(3)]
                threads = [threading.Thread(target=hammer, args=(s.port, stop, c)) for c in counts]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0.02, 0.15))
                s.proc.send_signal(signal.SIGKILL)
                s.proc.wait(TIMEOUT)
                stop.set()
                for t in threads:
                    t.join(TIMEOUT)
                answered = sum(c.count(200) for c in counts)
                # Never more on disk than was counted: what was answered, plus
                # at most one request per connection counted but not yet answered.
                self.assertLessEqual(int(read(self.file)), on_disk + answered + len(counts))
            finally:
                s.kill()
        text = read(self.file)
        self.assertRegex(text, rb"^\d+\n$")
        self.assertGreaterEqual(int(text), last)
        self.assertGreater(saw_progress, 50, "the count was rarely written between kills")
        self.assertLess(time.monotonic() - start, 120)


@unittest.skipUnless(MOUNT, "needs root and tmpfs mounts (CI runs this as root)")
class VolumeTest(unittest.TestCase):
    def test_read_only_volume_starts_serves_and_says_why(self):
        with Tmpfs() as vol:
            with open(os.path.join(vol.path, "visits"), "w") as f:
                f.write("41\n")
            vol.remount("ro")
            with Server("--data-dir", vol.path, "--flush-interval", "20ms") as s:
                err = s.wait_for_log(lambda d: d.get("level") == "ERROR", what="the ERROR line")
                self.assertEqual(err["msg"], "cannot write the visit counter")
                self.assertIn("Read-only file system", err["error"])
                self.assertEqual(s.get("/").status, 200)
                r = s.get("/visits")
                jsonschema.validate(r.json(), VISITS_SCHEMA)
                self.assertEqual(r.status, 503)
                self.assertEqual(r.json()["visits"], 42)
                self.assertIn("Read-only", r.json()["error"])
                self.assertEqual(s.get("/health").status, 200)
                time.sleep(0.2)  # a few failed retries: logged once, not every time
                self.assertEqual(len([l for l in s.logs() if l["level"] == "ERROR"]), 1)
                # The last count cannot be written either: a failed stop.
                self.assertEqual(s.stop(), 1)
                lost = [l for l in s.logs() if l.get("msg") == "visits lost at exit"]
                self.assertEqual(len(lost), 1, s.logs()[-3:])
                self.assertEqual((lost[0]["level"], lost[0]["visits"]), ("ERROR", 42))
            self.assertEqual(read(os.path.join(vol.path, "visits")), b"41\n")

    def test_full_volume_keeps_the_last_whole_count_and_recovers(self):
        with Tmpfs("64k") as vol:
            path = os.path.join(vol.path, "visits")
            with Server("--data-dir", vol.path, "--flush-interval", "20ms") as s:
                for _ in range(3):
                    s.get("/")
                wait_until(lambda: read(path) == b"3\n", what="3 on disk")
                filler = os.path.join(vol.path, "filler")
                fill(filler)
                for _ in range(4):
                    s.get("/")
                err = s.wait_for_log(lambda d: d.get("level") == "ERROR", what="the ERROR line")
                self.assertIn("No space left on device", err["error"])
                r = s.get("/visits")
                self.assertEqual((r.status, r.json()["visits"]), (503, 7))
                self.assertEqual(read(path), b"3\n")  # whole, the last count written
                os.unlink(filler)
                s.wait_for_log(lambda d: d.get("msg") == "visit counter written again", what="the recovery")
                self.assertEqual(s.get("/visits").status, 200)
                wait_until(lambda: read(path) == b"7\n", what="7 on disk")
                self.assertEqual(s.stop(), 0)
            self.assertEqual(sorted(os.listdir(vol.path)), ["visits", "visits.lock"])


    def test_a_full_volume_at_sigterm_is_an_error_and_exit_1(self):
        with Tmpfs("64k") as vol:
            path = os.path.join(vol.path, "visits")
            with Server("--data-dir", vol.path, "--flush-interval", "1h") as s:
                s.get("/")
                fill(os.path.join(vol.path, "filler"))
                for _ in range(2):
                    s.get("/")
                self.assertEqual(s.stop(), 1)  # the graceful stop's write is the first, and fails
                lost = [l for l in s.logs() if l.get("msg") == "visits lost at exit"]
                self.assertEqual(len(lost), 1, s.logs()[-3:])
                self.assertEqual(lost[0]["level"], "ERROR")
                self.assertEqual(lost[0]["visits"], 3)
                self.assertIn("No space left on device", lost[0]["error"])
                self.assertEqual(lost[0]["path"], path)
                self.assertNotIn("stopped", [l.get("msg") for l in s.logs()])
                self.assertIn("the last visit count was not written", s.read_stderr())
            self.assertFalse(os.path.exists(os.path.join(vol.path, ".visits.tmp")))  # no partial file left


def fill(filler):
    """Writes `filler` until the file system is full."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass  # full
    finally:
        os.close(fd)


if __name__ == "__main__":
    unittest.main()

"""Runs the real `devops-info serve` on an ephemeral loopback port for the tests.

DEVOPS_INFO_BIN names the binary (ctest sets it). Every wait is bounded by
TIMEOUT, which is generous because a sanitizer build runs these tests too.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

BIN = os.environ.get("DEVOPS_INFO_BIN", "devops-info")
SOURCE_DIR = os.environ.get("DEVOPS_INFO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = float(os.environ.get("DEVOPS_INFO_TEST_TIMEOUT", "20"))


def clean_env(extra=None):
    """The test's environment without the variables serve reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG")}
    env.update(extra or {})
    return env


def free_port():
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=TIMEOUT, interval=0.01, what="condition"):
    """Polls `predicate` until it returns a true value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name)


class Server:
    """`devops-info serve` on 127.0.0.1 and a port the kernel picks (--port 0).

    Its stdout is read line by line in a thread; `lines` holds them decoded.
    """

    def __init__(self, *args, env=None, port="0", host="127.0.0.1"):
        cmd = [BIN, "serve"]
        if host is not None:
            cmd += ["--host", host]
        if port is not None:
            cmd += ["--port", str(port)]
        self.cmd = cmd + list(args)
        self.env = clean_env(env)
        self.proc = None
        self.port = None
        self.lines = []
        self.raw = []
        self.stderr = ""
        self._cond = threading.Condition()
        self._reader = None

    # -- lifecycle -----------------------------------------------------------
    def start(self, quiet=False):
        """Starts serve and waits for its "listening" line; with `quiet` (no
        INFO lines), polls the fixed port until /health answers instead."""
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if quiet:
            self.port = int(self.cmd[self.cmd.index("--port") + 1])
            wait_until(self._answers, what="/health to answer")
            return self
        line = self.wait_for_log(lambda d: d.get("msg") == "listening", what="the listening log line")
        self.port = line["port"]
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited ({self.proc.returncode}): {self.read_stderr()}")
        try:
            return self.get("/health").status == 200
        except OSError:
            return False

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self.raw.append(raw)
                self.lines.append(raw.decode("utf-8"))  # strict: the logs must be UTF-8
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def logs(self):
        """Every stdout line so far, parsed as JSON (fails on a line that is not)."""
        with self._cond:
            lines = list(self.lines)
        return [json.loads(line) for line in lines]

    def mark(self):
        """How many lines there are now: pass as `since` to wait only for newer ones."""
        with self._cond:
            return len(self.lines)

    def wait_for_log(self, match, timeout=TIMEOUT, what="a log line", since=0):
        """The first JSON log line (from line `since` on) for which `match` is true, waiting for it."""
        deadline = time.monotonic() + timeout
        seen = since
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        doc = {}
                    if match(doc):
                        return doc
                seen = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"serve exited ({self.proc.returncode}) before {what}: {self.read_stderr()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; stdout: {self.lines[-5:]}")
                self._cond.wait(min(left, 0.2))

    def read_stderr(self):
        if self.proc.poll() is not None and self.proc.stderr and not self.stderr:
            self.stderr = self.proc.stderr.read().decode("utf-8", "replace")
        return self.stderr

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Sends `sig` and waits for the exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout=TIMEOUT):
        rc = self.proc.wait(timeout)
        self._reader.join(timeout)
        self.read_stderr()
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        if self.proc:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()

    # -- requests ------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, keep_alive=False):
        """One request on a new connection (closed after it, unless keep_alive)."""
        return self.request_to(self.port, method, path, body, headers, keep_alive)

    @staticmethod
    def request_to(port, method, path, body=None, headers=None, keep_alive=False):
        """request() to a server on 127.0.0.1:`port` that this harness did not start."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        hdrs = dict(headers or {})
        if not keep_alive:
            hdrs.setdefault("Connection", "close")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def raw_request(self, data):
        """Sends raw bytes; returns one response (head and body) as bytes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            s.sendall(data)
            return read_response(s)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r.status
        return parse_exposition(r.body.decode("utf-8"))


def read_response(sock):
    """Reads one HTTP response with a Content-Length (or up to EOF) from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    while m and len(body) < int(m.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# -- Prometheus text exposition format 0.0.4 ---------------------------------
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _parse_labels(text):
    labels = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise AssertionError(f"bad labels: {text!r}")
        if m.group(1) in labels:
            raise AssertionError(f"duplicate label {m.group(1)} in {text!r}")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_exposition(text):
    """Checks `text` against the format and returns {family: {type, help, samples}}.

    samples are (name, labels, value). Histograms are checked too: cumulative
    buckets ending in +Inf, which equals _count.
    """
    if not text.endswith("\n"):
        raise AssertionError("exposition does not end with a newline")
    families = {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) != 4 or not re.fullmatch(_NAME, parts[2]):
                raise AssertionError(f"bad comment line: {line!r}")
            fam = families.setdefault(parts[2], {"type": None, "help": None, "samples": []})
            key = "help" if parts[1] == "HELP" else "type"
            if fam[key] is not None:
                raise AssertionError(f"second {parts[1]} for {parts[2]}")
            if key == "type":
                if parts[3] not in _TYPES:
                    raise AssertionError(f"unknown type: {line!r}")
                if fam["samples"]:
                    raise AssertionError(f"TYPE after samples: {line!r}")
            fam[key] = parts[3]
            continue
        if line.startswith("#") or not line:
            raise AssertionError(f"unexpected line: {line!r}")
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"bad sample line: {line!r}")
        name, labels, value = m.group(1), _parse_labels(m.group(2) or ""), float(m.group(3))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and families.get(base, {}).get("type") == "histogram":
                family = base
        if family not in families or families[family]["type"] is None:
            raise AssertionError(f"sample before its TYPE: {line!r}")
        families[family]["samples"].append((name, labels, value))
    for name, fam in families.items():
        if fam["type"] == "histogram":
            _check_histogram(name, fam["samples"])
    return families


def _check_histogram(name, samples):
    series = {}
    for sample, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sample == name + "_bucket":
            series[key]["buckets"].append((float(labels["le"]), value))
        elif sample == name + "_sum":
            series[key]["sum"] = value
        elif sample == name + "_count":
            series[key]["count"] = value
    for key, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        if les != sorted(les) or les[-1] != float("inf"):
            raise AssertionError(f"{name}{key}: buckets not sorted or no +Inf: {les}")
        if counts != sorted(counts):
            raise AssertionError(f"{name}{key}: buckets not cumulative: {counts}")
        if s["count"] != counts[-1] or s["sum"] is None:
            raise AssertionError(f"{name}{key}: _count {s['count']} != +Inf bucket {counts[-1]}, or no _sum")


def sample_value(families, family, name=None, **labels):
    """The value of the sample of `family` whose labels include `labels` (0 when absent)."""
    for sample, sample_labels, value in families.get(family, {}).get("samples", []):
        if sample == (name or family) and all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    return 0.0


def run_cli(*args, env=None, timeout=TIMEOUT):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=clean_env(env), timeout=timeout)

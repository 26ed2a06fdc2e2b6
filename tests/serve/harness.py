"""Runs the real `devops-info serve` on an ephemeral loopback port for the tests.

DEVOPS_INFO_BIN names the binary (ctest sets it). Every wait is bounded by
TIMEOUT, which is generous because a sanitizer build runs these tests too.
"""
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import typing

BIN = os.environ.get("DEVOPS_INFO_BIN", "devops-info")
SOURCE_DIR = os.environ.get("DEVOPS_INFO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = float(os.environ.get("DEVOPS_INFO_TEST_TIMEOUT", "20"))


# What the binary reads from the environment, which a test sets itself or not at all.
SERVICE_VARIABLES = ("HOST", "PORT", "DEBUG", "NO_COLOR", "DATA_DIR", "CONFIG_FILE", "UPSTREAM_URIS",
                     "UPSTREAM_TIMEOUT", "UPSTREAM_MAX_BODY", "POD_NAME")


def clean_env(extra=None):
    """The test's environment without the variables the binary reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES and not k.startswith("OTEL_")}
    env.update(extra or {})
    return env


@contextlib.contextmanager
def reserved_port():
    """A loopback port held for the block: bound but not listening, so a connection to it is refused and no
    other bind to port 0 can be given it. With SO_REUSEADDR on both sides a serve started on it takes it over
    (serve sets it; a second listener would still fail)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def listening_port(pid):
    """The TCP port process `pid` listens on (from /proc), or None while it listens on none."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
            if m:
                inodes.add(m.group(1))
    except OSError:
        return None
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}", encoding="ascii") as f:
            for line in list(f)[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    return int(fields[1].rsplit(":", 1)[1], 16)
    return None


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

    def __init__(self, *args, env=None, port="0", host="127.0.0.1", quiet=False):
        cmd = [BIN, "serve"]
        if host is not None:
            cmd += ["--host", host]
        if port is not None:
            cmd += ["--port", str(port)]
        self.cmd = cmd + list(args)
        self.quiet = quiet  # `with` starts it with start(quiet=...)
        self.env = clean_env(env)
        self.proc = None
        self.port = None
        self.tls_port = None
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
            self.port = wait_until(lambda: self._exited() or listening_port(self.proc.pid), what="the listener")
            wait_until(self._answers, what="/health to answer")
            return self
        line = self.wait_for_log(lambda d: d.get("msg") == "listening", what="the listening log line")
        self.port = line["port"]
        self.tls_port = line.get("tls_port")
        return self

    def _exited(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited ({self.proc.returncode}): {self.read_stderr()}")
        return False

    def _answers(self):
        self._exited()
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
        """Sends `sig` and waits for the exit; returns the exit code. A server
        that does not exit in time is a failure that says where it stands:
        its last log lines and what each of its threads waits in."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not exit {timeout} s after signal {int(sig)}:\n"
                                 + self.where_it_stands()) from None

    def where_it_stands(self):
        """The last log lines and each thread's state and kernel wait channel, from /proc."""
        out = ["last log lines:"] + [f"  {line.decode(errors='replace').rstrip()}" for line in self.raw[-8:]]
        task_dir = f"/proc/{self.proc.pid}/task"
        for tid in sorted(os.listdir(task_dir)) if os.path.isdir(task_dir) else []:
            try:
                with open(f"{task_dir}/{tid}/stat", encoding="ascii", errors="replace") as f:
                    stat = f.read()
                with open(f"{task_dir}/{tid}/wchan", encoding="ascii", errors="replace") as f:
                    wchan = f.read().strip()
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
                state = stat[stat.rindex(")") + 2]
                out.append(f"  thread {tid} ({comm}): state {state}, waiting in {wchan or '-'}")
            except OSError:
                pass
        return "\n".join(out)

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
        return self.start(quiet=self.quiet)

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


class Answer(typing.NamedTuple):
    """One HTTP answer: its status, fields (lower-cased names), body, and its head as sent."""
    status: int
    headers: dict
    body: bytes
    head: bytes


def parse_answers(data):
    """The whole answers at the start of `data` (framed by Content-Length; none means no body), and the bytes
    after them (an answer not yet whole). The one HTTP response parser of these tests."""
    answers = []
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return answers, data
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return answers, data
        answers.append(Answer(int(lines[0].split(b" ")[1]), headers, rest[:length], head))
        data = rest[length:]


def split_answers(data):
    """Every answer in `data`, which must hold whole answers only."""
    answers, rest = parse_answers(data)
    if rest:
        raise AssertionError(f"a partial answer: {rest[:200]!r}")
    return answers


def read_response(sock):
    """Reads one whole HTTP answer from `sock` (or what came before the server closed); returns its bytes."""
    data = b""
    while True:
        answers, _ = parse_answers(data)
        if answers:
            a = answers[0]
            return a.head + b"\r\n\r\n" + a.body
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


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


def health_p99(server, n=200):
    """The 99th percentile, in seconds, of `n` GET /health on fresh connections, one after another
    (each must answer 200)."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        status = server.get("/health").status
        assert status == 200, status
        times.append(time.monotonic() - t0)
    times.sort()
    return times[max(0, int(n * 0.99) - 1)]


def sample_value(families, family, name=None, **labels):
    """The value of the sample of `family` whose labels include `labels` (0 when absent)."""
    for sample, sample_labels, value in families.get(family, {}).get("samples", []):
        if sample == (name or family) and all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    return 0.0


def run_cli(*args, env=None, timeout=TIMEOUT, drop=(), **kwargs):
    """Runs the binary with `args` to its exit, in clean_env(env) less the variables whose names start with one
    of `drop`; stdout and stderr are captured as text unless `kwargs` send them elsewhere."""
    environment = {k: v for k, v in clean_env(env).items() if not k.startswith(tuple(drop))}
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([BIN, *args], text=True, env=environment, timeout=timeout, **kwargs)

#!/usr/bin/env python3
"""The image test: build the Dockerfile for real, then inspect and run it.

    tests/image/test_image.py            # from anywhere; needs an engine

Engine: `docker` when a daemon answers (`docker info`), otherwise podman
(building with buildah inside it). Where ../shared/tools/container-sandbox sits
next to the clone (these CI machines: no registry), its `env` set-up is
applied before podman runs. `docker build` is left to choose its builder, as
the README's command does (Docker 20.10: the legacy builder).

Environment:
  IMAGE_TEST_ENGINE      docker, podman, or the path of either's client
                         (e.g. /usr/bin/docker); default: chosen as above
  IMAGE_TEST_BASE        base image for BASE_IMAGE (default: the Dockerfile's
                         pinned tag when present locally, else debian:<major>-slim
                         when present locally, else the pinned tag, pulled)
  IMAGE_TEST_VERSION     the VERSION build argument (default 0.0.0-imagetest)
  IMAGE_TEST_KEEP_CACHE  1 keeps the build-stage cache images podman leaves

Prints one PASS or FAIL line per check and `N passed, N failed`; exits 1 if
anything failed. Every wait is bounded; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT.parent / "shared" / "tools" / "container-sandbox"
SIZE_LIMIT = 8_000_000  # bytes: 7.5 MB, built on Debian 12 with its static OpenSSL 3.0 (docs/tls.md)
DEBUG_SIZE_LIMIT = 10_000_000  # bytes: the debug image, 9.6 MB
# The tools the debug image promises (the course's checks use them).
DEBUG_TOOLS = ("sh", "id", "env", "cat", "ls", "ps", "wget", "nslookup", "sha256sum")
MIN_ID = 10001
CPUS, MEMORY, MEMORY_BYTES = "0.5", "64m", 64 * 1024 * 1024
LABELS = ("title", "description", "version", "revision", "source", "created")

TAG = f"localhost/devops-info-imagetest:{os.getpid()}"
DEBUG_TAG = f"localhost/devops-info-imagetest:{os.getpid()}-debug"
NAME = f"devops-info-imagetest-{os.getpid()}"

results = {"passed": 0, "failed": 0}
results_lock = threading.Lock()


def check(ok: bool, what: str, detail: str = "") -> bool:
    with results_lock:  # the multi-arch test builds with several engines at once
        if ok:
            results["passed"] += 1
            print(f"PASS: {what}", flush=True)
        else:
            results["failed"] += 1
            print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def note(msg: str) -> None:
    print(f"  .. {msg}", flush=True)


class Engine:
    """The few commands the test needs, on docker or podman."""

    def __init__(self, choice: str = "") -> None:
        self.env = dict(os.environ)
        choice = choice or os.environ.get("IMAGE_TEST_ENGINE", "")
        if choice:
            self.cmd = choice
            self.name = "podman" if "podman" in Path(choice).name else "docker"
            if self.name == "docker" and not self._ok([self.cmd, "info"]):
                raise SystemExit(f"image test: no docker daemon answers {self.cmd} info")
        elif shutil.which("docker") and self._ok(["docker", "info"]) and not self._is_podman_shim():
            self.cmd = self.name = "docker"
        elif shutil.which("podman") or SANDBOX.exists():
            self.cmd = self.name = "podman"
        else:
            raise SystemExit("image test: neither a docker daemon nor podman is available")
        if self.name == "podman" and SANDBOX.exists():
            self._apply_sandbox_env()

    def _ok(self, cmd: list[str]) -> bool:
        try:
            return subprocess.run(cmd, capture_output=True, timeout=30, env=self.env).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _is_podman_shim(self) -> bool:
        r = subprocess.run(["docker", "--version"], capture_output=True, text=True, timeout=30)
        return "podman" in r.stdout.lower()

    def _apply_sandbox_env(self) -> None:
        out = subprocess.run([str(SANDBOX), "env"], capture_output=True, text=True, timeout=300, check=True)
        for line in out.stdout.splitlines():
            m = re.fullmatch(r"export (\w+)='(.*)'", line.strip())
            if m:
                self.env[m.group(1)] = m.group(2)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self.cmd, *args], capture_output=True, text=True, timeout=timeout, env=self.env)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            return subprocess.CompletedProcess(e.cmd, 124, out, f"timed out after {timeout:.0f} s")

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, timeout=30).returncode == 0

    def inspect(self, kind: str, ref: str) -> dict | None:
        r = self.run(kind, "inspect", ref, timeout=30)
        if r.returncode != 0:
            return None
        data = json.loads(r.stdout)
        return data[0] if isinstance(data, list) else data

    def dangling(self) -> set[str]:
        r = self.run("images", "-q", "--no-trunc", "--filter", "dangling=true", timeout=60)
        return set(r.stdout.split()) if r.returncode == 0 else set()


def pinned_base() -> str:
    m = re.search(r"^ARG BASE_IMAGE=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    return m.group(1) if m else ""


def choose_base(engine: Engine) -> tuple[str, bool]:
    """The base image to build on, and whether it is already in local storage."""
    if os.environ.get("IMAGE_TEST_BASE"):
        base = os.environ["IMAGE_TEST_BASE"]
        return base, engine.image_exists(base)
    pinned = pinned_base()
    if engine.image_exists(pinned):
        return pinned, True
    # The same release made locally (container-sandbox base 13), where no
    # registry can be reached to pull the pinned point release.
    m = re.fullmatch(r"(.*debian):(\d+)(\.\d+)*-slim", pinned)
    if m:
        major = f"{m.group(1)}:{m.group(2)}-slim"
        if engine.image_exists(major):
            return major, True
    return pinned, False


def git_revision() -> str:
    try:
        r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def build(engine: Engine, base: str, local: bool, args: dict[str, str], tag: str, target: str | None) -> bool:
    cmd = ["build", "-t", tag, "-f", str(ROOT / "Dockerfile")]
    if engine.name == "podman":
        # docker format keeps HEALTHCHECK (the OCI format drops it); never
        # reach for a registry when the base is already here.
        cmd += ["--format", "docker"] + (["--pull=never"] if local else [])
    for k, v in {"BASE_IMAGE": base, **args}.items():
        cmd += ["--build-arg", f"{k}={v}"]
    if target:
        cmd += ["--target", target]
    cmd.append(str(ROOT))
    start = time.monotonic()
    r = engine.run(*cmd, timeout=1800)
    took = time.monotonic() - start
    what = f"build{' --target ' + target if target else ''} ({took:.1f} s)"
    if not check(r.returncode == 0, what, "exit code %d" % r.returncode):
        print((r.stdout + r.stderr)[-4000:])
        return False
    return True


def elf_facts(data: bytes) -> tuple[bool, bool, bool]:
    """(is a 64-bit ELF, has no program interpreter = static, has no symbol table = stripped)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2:
        return False, False, False
    end = "<" if data[5] == 1 else ">"
    phoff, shoff = struct.unpack_from(end + "QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", data, 0x36)
    static = all(struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))
    stripped = all(struct.unpack_from(end + "I", data, shoff + i * shentsize + 4)[0] != 2 for i in range(shnum))
    return True, static, stripped


def image_files(engine: Engine, ref: str) -> dict[str, bytes | None] | None:
    """Every path in the image's layers (no leading /), with a regular file's bytes; None if it cannot be saved."""
    with tempfile.TemporaryDirectory(prefix="devops-info-image-") as tmp:
        archive = Path(tmp) / "image.tar"
        extra = ["--format", "docker-archive"] if engine.name == "podman" else []
        r = engine.run("save", *extra, "-o", str(archive), ref, timeout=120)
        if r.returncode != 0:
            note(f"{engine.name} save {ref}: {r.stderr.strip()[-300:]}")
            return None
        files: dict[str, bytes | None] = {}
        with tarfile.open(archive) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            for layer in manifest[0]["Layers"]:
                with tarfile.open(fileobj=io.BytesIO(outer.extractfile(layer).read())) as inner:
                    for m in inner.getmembers():
                        name = m.name.lstrip("./")
                        if name:
                            files[name] = inner.extractfile(m).read() if m.isfile() else None
        return files


def check_contents(engine: Engine) -> bytes | None:
    """The image's one layer holds /devops-info, a static stripped ELF, and nothing else; returns the binary."""
    files = image_files(engine, TAG)
    if not check(files is not None, "image can be saved for inspection"):
        return None
    check(list(files) == ["devops-info"], "the image holds only /devops-info", f"found {sorted(files)[:10]}")
    binary = files.get("devops-info")
    is_elf, static, stripped = elf_facts(binary or b"")
    check(is_elf and static, "/devops-info is a static ELF executable (no program interpreter)")
    check(is_elf and stripped, "/devops-info is stripped (no symbol table)")
    return binary


def check_config(engine: Engine, args: dict[str, str]) -> None:
    img = engine.inspect("image", TAG)
    if not check(img is not None, "image inspect"):
        return
    size = int(img.get("Size") or 0)
    check(0 < size < SIZE_LIMIT, f"image size {size / 1e6:.2f} MB is under {SIZE_LIMIT / 1e6:.0f} MB")
    layers = (img.get("RootFS") or {}).get("Layers") or []
    check(len(layers) == 1, f"one layer of content ({len(layers)})")
    cfg = img.get("Config") or {}
    user = cfg.get("User") or img.get("User") or ""
    m = re.fullmatch(r"(\d+):(\d+)", user)
    check(bool(m) and int(m.group(1)) >= MIN_ID and int(m.group(2)) >= MIN_ID,
          f"numeric non-root user uid:gid >= {MIN_ID} ({user!r})")
    hc = cfg.get("Healthcheck") or img.get("Healthcheck") or {}
    test = hc.get("Test") or []
    check(len(test) >= 2 and test[0] == "CMD" and test[1] == "/devops-info" and "health" in test[2:],
          f"healthcheck runs the binary's own probe in exec form ({test})")
    check(all(hc.get(k) for k in ("Interval", "Timeout", "Retries")),
          "healthcheck sets interval, timeout and retries")
    check("5000/tcp" in (cfg.get("ExposedPorts") or {}), "exposes 5000/tcp")
    check(cfg.get("Entrypoint") == ["/devops-info"] and cfg.get("Cmd") == ["serve"],
          f"ENTRYPOINT [\"/devops-info\"] and CMD [\"serve\"] ({cfg.get('Entrypoint')} {cfg.get('Cmd')})")
    labels = cfg.get("Labels") or img.get("Labels") or {}
    want = {"version": args["VERSION"], "revision": args["REVISION"], "created": args["CREATED"]}
    for key in LABELS:
        value = labels.get(f"org.opencontainers.image.{key}", "")
        check(bool(value) and want.get(key, value) == value, f"label org.opencontainers.image.{key} = {value!r}")


def run_info(engine: Engine, *run_args: str) -> tuple[dict | None, str]:
    r = engine.run("run", "--rm", *run_args, TAG, "info", "--compact", timeout=60)
    if r.returncode != 0:
        return None, f"exit {r.returncode}: {r.stderr.strip()[-500:]}"
    try:
        return json.loads(r.stdout), ""
    except json.JSONDecodeError as e:
        return None, f"not JSON ({e}): {r.stdout[:200]!r}"


def check_info(engine: Engine, version: str) -> None:
    doc, err = run_info(engine)
    if not check(doc is not None, "run --rm IMAGE info prints valid JSON", err):
        return
    c = doc.get("container") or {}
    check(c.get("in_container") is True and c.get("runtime") == engine.name,
          f"info reports the container runtime ({c.get('in_container')}, {c.get('runtime')!r})")
    check((doc.get("service") or {}).get("version") == version,
          f"service.version equals the VERSION build argument ({(doc.get('service') or {}).get('version')!r})")
    user = (doc.get("runtime") or {}).get("user") or {}
    check(user.get("uid", 0) >= MIN_ID and user.get("gid", 0) >= MIN_ID, f"info runs as a non-root user ({user})")

    doc, err = run_info(engine, "--cpus", CPUS, "--memory", MEMORY)
    if not check(doc is not None, f"info under --cpus {CPUS} --memory {MEMORY}", err):
        return
    c = doc.get("container") or {}
    check(c.get("cpu_limit") == float(CPUS), f"cpu_limit is {CPUS} ({c.get('cpu_limit')})")
    check(c.get("memory_limit_bytes") == MEMORY_BYTES, f"memory_limit_bytes is {MEMORY_BYTES} ({c.get('memory_limit_bytes')})")

    doc, err = run_info(engine, "--read-only", "--cap-drop", "ALL")
    check(doc is not None, "info runs with --read-only --cap-drop ALL", err)


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy


def get(url: str) -> tuple[int, bytes]:
    try:
        with OPENER.open(url, timeout=3) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def published_port(engine: Engine) -> int | None:
    r = engine.run("port", NAME, "5000/tcp", timeout=30)
    for line in r.stdout.split():
        m = re.fullmatch(r"127\.0\.0\.1:(\d+)", line.strip())
        if m:
            return int(m.group(1))
    return None


def logs_tail(engine: Engine, n: int = 5) -> str:
    r = engine.run("logs", NAME, timeout=30)
    return " | ".join((r.stdout + r.stderr).strip().splitlines()[-n:])


def healthcheck_status(engine: Engine, name: str, want: str) -> tuple[bool, str]:
    """Whether the runtime's healthcheck reaches `want` (healthy or unhealthy) within a bounded wait."""
    if engine.name == "podman":
        # No systemd timers here: run the image's check, as podman's timer would.
        deadline = time.monotonic() + 15
        while True:
            r = engine.run("healthcheck", "run", name, timeout=30)
            got = "healthy" if r.returncode == 0 else "unhealthy"
            if got == want or time.monotonic() > deadline:
                return got == want, (r.stdout + r.stderr).strip()[-300:]
            time.sleep(1)
    deadline = time.monotonic() + 40
    status = ""
    while time.monotonic() < deadline:
        r = engine.run("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", name)
        status = r.stdout.strip()
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(1)
    return status == want, status


def check_daemon(engine: Engine) -> None:
    run_args = ["run", "-d", "--name", NAME, "-p", "127.0.0.1::5000", "--read-only", "--cap-drop", "ALL"]
    if engine.name == "docker":
        run_args += ["--health-interval", "2s"]  # the image's own check, polled sooner
    r = engine.run(*run_args, TAG, timeout=60)
    if not check(r.returncode == 0, "run -d IMAGE (serve) with --read-only --cap-drop ALL", r.stderr.strip()[-500:]):
        return
    time.sleep(0.5)
    state = (engine.inspect("container", NAME) or {}).get("State") or {}
    if not check(bool(state.get("Running")), "the serve container keeps running",
                 f"exited {state.get('ExitCode')}: {logs_tail(engine)}"):
        return
    port = published_port(engine)
    if not check(port is not None, f"port 5000 published on 127.0.0.1 ({port})"):
        return
    base = f"http://127.0.0.1:{port}"

    deadline, status, body = time.monotonic() + 20, 0, b""
    while time.monotonic() < deadline:
        status, body = get(base + "/health")
        if status == 200:
            break
        time.sleep(0.2)
    try:
        health = json.loads(body) if status == 200 else {}
    except json.JSONDecodeError:
        health = {}
    if not check(status == 200 and health.get("status") == "healthy", f"GET /health answers 200 healthy ({status})",
                 body[:200].decode(errors="replace")):
        note(logs_tail(engine, 20))
    status, body = get(base + "/")
    try:
        root = json.loads(body)
    except json.JSONDecodeError:
        root = {}
    check(status == 200 and "service" in root and "container" in root and "request" in root,
          f"GET / answers 200 with the info document and the request ({status})")

    ok, detail = healthcheck_status(engine, NAME, "healthy")
    check(ok, "the runtime's healthcheck reports healthy", detail)

    start = time.monotonic()
    r = engine.run("stop", "--time", "10", NAME, timeout=30)
    took = time.monotonic() - start
    check(r.returncode == 0 and took < 2.0, f"stop returns within 2 s ({took:.2f} s)", r.stderr.strip()[-300:])
    state = (engine.inspect("container", NAME) or {}).get("State") or {}
    check(state.get("ExitCode") == 0 and not state.get("Running"), f"the container exits 0 on SIGTERM ({state.get('ExitCode')})")
    logs = engine.run("logs", NAME)
    lines = (logs.stdout + logs.stderr).splitlines()
    shutdown = [l for l in lines if re.search(r"shut ?down|shutting|stopp", l, re.I)]
    check(bool(shutdown), "its logs have a shutdown line", (lines[-1] if lines else "no log lines"))


def make_tls_files(directory: str) -> None:
    """A CA and a P-256 certificate for 127.0.0.1 it signs, readable by the image's user."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    d = Path(directory)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-nodes",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"), "-days", "2", "-subj", "/CN=image-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            "-addext", "subjectKeyIdentifier=hash")
    (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
                                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-nodes",
            "-keyout", str(d / "tls.key"), "-out", str(d / "tls.csr"), "-subj", "/CN=devops-info")
    openssl("x509", "-req", "-in", str(d / "tls.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-sha256", "-days", "2", "-extfile", str(d / "leaf.ext"), "-out", str(d / "tls.crt"))
    d.chmod(0o755)
    for f in d.iterdir():
        f.chmod(0o644)


def check_tls(engine: Engine) -> None:
    """HTTPS from the scratch image: ALPN h2 and HTTP/1.1 from the host, and the
    binary's own https:// probe inside, with --cacert (the image has no CAs)."""
    name = NAME + "-tls"
    with tempfile.TemporaryDirectory() as tmp:
        make_tls_files(tmp)
        r = engine.run("run", "-d", "--name", name, "-p", "127.0.0.1::5443", "-v", f"{tmp}:/tls:ro", "--read-only",
                       "--cap-drop", "ALL", TAG, "serve", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key",
                       timeout=60)
        if not check(r.returncode == 0, "run -d IMAGE serve --tls-cert --tls-key", r.stderr.strip()[-300:]):
            return
        try:
            port = None
            for line in engine.run("port", name, "5443/tcp", timeout=30).stdout.split():
                m = re.fullmatch(r"127\.0\.0\.1:(\d+)", line.strip())
                port = int(m.group(1)) if m else port
            if not check(port is not None, f"port 5443 published on 127.0.0.1 ({port})"):
                return

            def handshake(alpn: list[str]) -> tuple[str | None, int]:
                ctx = ssl.create_default_context(cafile=str(Path(tmp) / "ca.crt"))
                ctx.set_alpn_protocols(alpn)
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                        chosen = s.selected_alpn_protocol()
                        if chosen != "http/1.1":
                            return chosen, 0
                        s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        data = b""
                        while chunk := s.recv(65536):
                            data += chunk
                        return chosen, int(data.split(b" ", 2)[1])

            deadline, result, err = time.monotonic() + 20, (None, 0), ""
            while time.monotonic() < deadline:
                try:
                    result = handshake(["http/1.1"])
                    break
                except (OSError, ssl.SSLError) as e:
                    err = str(e)
                    time.sleep(0.2)
            check(result == ("http/1.1", 200), f"HTTPS GET /health over HTTP/1.1 answers 200 ({result})", err)
            try:
                chosen = handshake(["h2", "http/1.1"])[0]
            except (OSError, ssl.SSLError) as e:
                chosen = str(e)
            check(chosen == "h2", f"ALPN chooses h2 when the client offers it ({chosen})")
            probe = ["exec", name, "/devops-info", "health", "--timeout", "3s", "--url", "https://127.0.0.1:5443/health"]
            r = engine.run(*probe, "--cacert", "/tls/ca.crt", timeout=30)
            check(r.returncode == 0, "inside: health --url https://... --cacert exits 0", (r.stdout + r.stderr)[-300:])
            r = engine.run(*probe, timeout=30)
            check(r.returncode == 1 and "certificate verify failed" in r.stderr,
                  f"inside: without --cacert the probe exits 1, the image having no CAs ({r.returncode})",
                  (r.stdout + r.stderr)[-300:])
        finally:
            engine.run("rm", "-f", name, timeout=60)


def check_unhealthy(engine: Engine) -> None:
    """The healthcheck is a real probe: with serve on another port than PORT it fails."""
    name = NAME + "-unhealthy"
    run_args = ["run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL"]
    if engine.name == "docker":
        run_args += ["--health-interval", "1s", "--health-retries", "1"]
    r = engine.run(*run_args, TAG, "serve", "--port", "5001", timeout=60)
    if check(r.returncode == 0, "run -d IMAGE serve --port 5001", r.stderr.strip()[-300:]):
        ok, detail = healthcheck_status(engine, name, "unhealthy")
        check(ok, "the healthcheck reports unhealthy when nothing answers on PORT", detail)
    engine.run("rm", "-f", name, timeout=60)


def check_debug(engine: Engine, version: str, revision: str, runtime_binary: bytes | None) -> None:
    """The distroless-style debug image: the same binary plus a static busybox, the same user, small."""
    img = engine.inspect("image", DEBUG_TAG) or {}
    size = int(img.get("Size") or 0)
    check(0 < size < DEBUG_SIZE_LIMIT, f"debug image size {size / 1e6:.2f} MB is under {DEBUG_SIZE_LIMIT / 1e6:.0f} MB")
    cfg = img.get("Config") or {}
    user = cfg.get("User") or img.get("User") or ""
    check(user == "10001:10001", f"debug has the same numeric non-root user ({user!r})")
    check(not cfg.get("Entrypoint") and cfg.get("Cmd") == ["/devops-info", "serve"],
          f"debug: no ENTRYPOINT, CMD serves ({cfg.get('Entrypoint')} {cfg.get('Cmd')})")
    hc = (cfg.get("Healthcheck") or img.get("Healthcheck") or {}).get("Test") or []
    check(hc[:2] == ["CMD", "/devops-info"], f"debug keeps the healthcheck ({hc})")

    files = image_files(engine, DEBUG_TAG) or {}
    binary = files.get("devops-info")
    is_elf, static, _ = elf_facts(files.get("bin/busybox") or b"")
    check(is_elf and static, "debug: /bin/busybox is a static ELF executable")
    check(binary is not None and binary == runtime_binary,
          "debug: /devops-info is byte for byte the default image's binary")

    # The course's checks, run as the course runs them.
    r = engine.run("run", "--rm", DEBUG_TAG, "id", "-u", timeout=60)
    check(r.returncode == 0 and r.stdout.strip() == "10001", "run --rm DEBUG id -u prints 10001",
          (r.stdout + r.stderr).strip()[-300:])
    script = ("for t in " + " ".join(DEBUG_TOOLS) + "; do command -v $t >/dev/null || echo missing $t; done; "
              "env | grep -q '^PATH=/bin$' || echo no PATH; cat /etc/passwd | grep -q '^app:x:10001:' || echo no app; "
              "whoami; devops-info --version | head -n 2")
    r = engine.run("run", "--rm", DEBUG_TAG, "sh", "-c", script, timeout=60)
    out = r.stdout
    check(r.returncode == 0 and "missing" not in out and "no " not in out and out.startswith("app\n")
          and version in out and revision in out,
          f"debug: {', '.join(DEBUG_TOOLS)} on PATH, /etc/passwd names the user, devops-info --version",
          (out + r.stderr).strip()[-400:])

    # A running debug container serves, and `exec` gets a shell in it.
    name = NAME + "-debug"
    r = engine.run("run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL", DEBUG_TAG, timeout=60)
    if check(r.returncode == 0, "run -d DEBUG serves", r.stderr.strip()[-300:]):
        deadline, out = time.monotonic() + 20, ""
        while time.monotonic() < deadline:
            r = engine.run("exec", name, "sh", "-c", "id -u; wget -q -O - http://127.0.0.1:5000/health; echo; ps",
                           timeout=30)
            out = r.stdout
            if r.returncode == 0 and '"healthy"' in out:
                break
            time.sleep(0.5)
        lines = out.splitlines()
        check(bool(lines) and lines[0] == "10001" and '"healthy"' in out and "devops-info serve" in out,
              "exec DEBUG sh -c: id -u, wget /health, ps show uid 10001 and a healthy serve",
              (out + r.stderr).strip()[-400:])
    engine.run("rm", "-f", name, timeout=60)


def check_pod_as_kubelet(engine: Engine) -> None:
    """The image as the kubelet would run deploy/kubernetes' Deployment (tests/kubernetes/pod.py)."""
    sys.path.insert(0, str(ROOT / "tests" / "kubernetes"))
    import pod  # noqa: PLC0415  needs PyYAML and kubectl, which only this part uses

    pod.check_pod(engine, TAG, check, note)


def cleanup(engine: Engine, before: set[str]) -> None:
    for name in (NAME, NAME + "-unhealthy", NAME + "-debug"):
        engine.run("rm", "-f", name, timeout=60)
    for tag in (TAG, DEBUG_TAG):
        if engine.image_exists(tag):
            engine.run("rmi", "-f", tag, timeout=120)
    if os.environ.get("IMAGE_TEST_KEEP_CACHE") != "1":
        # podman keeps each build stage as an untagged image (the layer cache).
        for image in sorted(engine.dangling() - before):
            engine.run("rmi", image, timeout=120)


def main() -> int:
    engine = Engine()
    base, local = choose_base(engine)
    version = os.environ.get("IMAGE_TEST_VERSION", "0.0.0-imagetest")
    args = {
        "VERSION": version,
        "REVISION": git_revision(),
        "CREATED": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    print(f"image test: engine {engine.name}, base {base}{'' if local else ' (will be pulled)'}, "
          f"VERSION={version} REVISION={args['REVISION']}", flush=True)
    before = engine.dangling()
    try:
        # Both targets first, back to back: they share the build stage.
        built = build(engine, base, local, args, TAG, None)
        debug_built = build(engine, base, local, args, DEBUG_TAG, "debug")
        binary = None
        if built:
            check_config(engine, args)
            binary = check_contents(engine)
            check_info(engine, version)
            check_daemon(engine)
            check_unhealthy(engine)
            check_tls(engine)
            check_pod_as_kubelet(engine)
            r = engine.run("run", "--rm", "--entrypoint", "/bin/sh", TAG, "-c", "true", timeout=60)
            check(r.returncode != 0, "the default image has no shell")
            doc, err = run_info(engine)
            uid = ((doc or {}).get("runtime") or {}).get("user", {}).get("uid")
            r = engine.run("run", "--rm", TAG, "info", "--field", "runtime.user.uid", timeout=60)
            check(r.returncode == 0 and r.stdout.strip() == "10001" and uid == 10001,
                  "run --rm IMAGE info --field runtime.user.uid prints 10001 (the README's `id -u`)",
                  (r.stdout + r.stderr).strip()[-300:])
        if debug_built:
            check_debug(engine, version, args["REVISION"], binary)
    finally:
        cleanup(engine, before)
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

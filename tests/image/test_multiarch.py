#!/usr/bin/env python3
"""The multi-arch test: linux/amd64 and linux/arm64 images from this machine,
a manifest list holding both, the arm64 binary run for real under qemu, and
the binaries' checksums equal between independent builds.

    tests/image/test_multiarch.py        # needs podman and/or a docker daemon, and qemu-aarch64-static

The arm64 image is cross-compiled in the build stage (no emulated compiler);
qemu-user-static only runs the finished binary here, as a test.

Engines: podman (`--platform`) and docker (BuildKit, `DOCKER_BUILDKIT=1`, for
`--platform`; the amd64 image with plain `docker build`, as the README builds
it). Every engine given builds both architectures of the same commit with the
same build arguments; the test then requires one sha256 per architecture
across all of them. With a single engine, it builds each architecture a
second time with `--no-cache` to have two builds to compare. The engines
build side by side, each its architectures in turn. The manifest
list is made with `podman manifest` (Docker 20.10 cannot make one without a
registry).

Environment:
  IMAGE_TEST_ENGINES     space-separated engines or client paths, e.g.
                         "podman /usr/bin/docker" (default: podman and docker,
                         where each is available)
  IMAGE_TEST_BASE, IMAGE_TEST_VERSION, IMAGE_TEST_KEEP_CACHE: as in test_image.py
  QEMU_AARCH64           the qemu user-mode binary (default qemu-aarch64-static)

Prints one PASS or FAIL line per check and `N passed, N failed`; exits 1 if
anything failed. Every wait is bounded; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_image as ti  # noqa: E402  (the engine, base and file helpers)

ARCHES = {"amd64": 62, "arm64": 183}  # ELF e_machine: EM_X86_64, EM_AARCH64
NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
PID = os.getpid()


def machine(data: bytes) -> int:
    return struct.unpack_from("<H", data, 18)[0] if len(data) > 20 else -1


def engines() -> list[ti.Engine]:
    wanted = os.environ.get("IMAGE_TEST_ENGINES", "").split()
    found: list[ti.Engine] = []
    if wanted:
        return [ti.Engine(w) for w in wanted]
    for choice in ("podman", "docker"):
        if shutil.which(choice) or (choice == "podman" and ti.SANDBOX.exists()):
            try:
                e = ti.Engine(choice)
            except SystemExit as err:
                ti.note(str(err))
                continue
            if e.name == choice and not (choice == "docker" and e._is_podman_shim()):
                found.append(e)
    return found


def build(engine: ti.Engine, arch: str, base: str, local: bool, args: dict[str, str], tag: str,
          no_cache: bool) -> bool:
    cmd = ["build", "-t", tag, "-f", str(ti.ROOT / "Dockerfile")]
    saved = dict(engine.env)
    if engine.name == "podman":
        cmd += ["--format", "docker", "--platform", f"linux/{arch}"] + (["--pull=never"] if local else [])
    elif arch != NATIVE:
        # Docker's legacy builder cannot cross-build; BuildKit can.
        engine.env["DOCKER_BUILDKIT"] = "1"
        cmd += ["--platform", f"linux/{arch}"]
    if no_cache:
        cmd.append("--no-cache")
    for k, v in {"BASE_IMAGE": base, **args}.items():
        cmd += ["--build-arg", f"{k}={v}"]
    cmd.append(str(ti.ROOT))
    start = time.monotonic()
    r = engine.run(*cmd, timeout=1800)
    engine.env = saved
    took = time.monotonic() - start
    if not ti.check(r.returncode == 0, f"{engine.name}: build linux/{arch}{' --no-cache' if no_cache else ''} "
                    f"({took:.1f} s)", f"exit code {r.returncode}"):
        print((r.stdout + r.stderr)[-4000:])
        return False
    return True


def binary_of(engine: ti.Engine, tag: str, arch: str) -> bytes | None:
    img = engine.inspect("image", tag) or {}
    got = img.get("Architecture", "")
    ti.check(got == arch, f"{engine.name}: the linux/{arch} image's config says {got!r}")
    files = ti.image_files(engine, tag) or {}
    binary = files.get("devops-info")
    is_elf, static, stripped = ti.elf_facts(binary or b"")
    ti.check(is_elf and static and stripped and machine(binary or b"") == ARCHES[arch],
             f"{engine.name}: linux/{arch} /devops-info is a static, stripped {arch} ELF "
             f"(e_machine {machine(binary or b'')})")
    return binary


def listening_port(log: Path, proc: subprocess.Popen, within: float) -> int | None:
    """The port of serve's "listening" line in `log` (it was started with --port 0)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if doc.get("msg") == "listening":
                return int(doc["port"])
        time.sleep(0.1)
    return None


def check_under_qemu(binary: bytes, version: str) -> None:
    qemu = os.environ.get("QEMU_AARCH64", "qemu-aarch64-static")
    if not ti.check(shutil.which(qemu) is not None, f"{qemu} is installed (Debian: qemu-user-static)"):
        return
    with tempfile.TemporaryDirectory(prefix="devops-info-arm64-") as tmp:
        exe = Path(tmp) / "devops-info"
        exe.write_bytes(binary)
        exe.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DEBUG")}
        # binfmt_misc may or may not be set up; calling qemu explicitly works either way.
        r = subprocess.run([qemu, str(exe), "info", "--compact"], capture_output=True, text=True, timeout=60, env=env)
        try:
            doc = json.loads(r.stdout)
        except json.JSONDecodeError:
            doc = {}
        arch = (doc.get("system") or {}).get("architecture")
        ti.check(r.returncode == 0 and (doc.get("service") or {}).get("version") == version and arch == "aarch64",
                 f"arm64: qemu-aarch64-static devops-info info prints JSON, version {version}, aarch64 ({arch})",
                 (r.stdout + r.stderr)[-300:])

        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([qemu, str(exe), "serve", "--host", "127.0.0.1", "--port", "0"],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            port = listening_port(log, proc, 30)
            ti.check(port is not None, f"arm64: serve under qemu logs the port it listens on ({port})",
                     log.read_text(errors="replace")[-300:])
            url = f"http://127.0.0.1:{port}/health"
            deadline, status, body = time.monotonic() + 30, 0, b""
            while time.monotonic() < deadline and proc.poll() is None:
                status, body = ti.get(url)
                if status == 200:
                    break
                time.sleep(0.2)
            try:
                healthy = json.loads(body).get("status") == "healthy"
            except (json.JSONDecodeError, AttributeError):
                healthy = False
            ti.check(status == 200 and healthy, f"arm64: serve under qemu answers GET /health 200 healthy ({status})",
                     log.read_text(errors="replace")[-300:])
            r = subprocess.run([qemu, str(exe), "health", "--url", url, "--timeout", "5s"],
                               capture_output=True, text=True, timeout=60, env=env)
            ti.check(r.returncode == 0, "arm64: devops-info health under qemu exits 0 against it",
                     (r.stdout + r.stderr)[-300:])
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                code = None
            ti.check(code == 0, f"arm64: serve under qemu exits 0 on SIGTERM ({code})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def check_manifest(podman: ti.Engine, tags: dict[str, str]) -> None:
    name = f"localhost/devops-info-imagetest:{PID}-multiarch"
    podman.run("manifest", "rm", name, timeout=60)
    r = podman.run("manifest", "create", name, timeout=60)
    if not ti.check(r.returncode == 0, "podman manifest create", r.stderr.strip()[-300:]):
        return
    try:
        for arch, tag in tags.items():
            r = podman.run("manifest", "add", name, f"containers-storage:{tag}", timeout=120)
            ti.check(r.returncode == 0, f"podman manifest add the linux/{arch} image", r.stderr.strip()[-300:])
        r = podman.run("manifest", "inspect", name, timeout=60)
        try:
            listed = json.loads(r.stdout).get("manifests") or []
        except json.JSONDecodeError:
            listed = []
        platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in listed)
        ti.check(platforms == ["linux/amd64", "linux/arm64"],
                 f"the manifest list holds linux/amd64 and linux/arm64 ({platforms})", r.stderr.strip()[-300:])
    finally:
        podman.run("manifest", "rm", name, timeout=60)


def main() -> int:
    found = engines()
    if not found:
        raise SystemExit("multi-arch test: neither podman nor a docker daemon is available")
    version = os.environ.get("IMAGE_TEST_VERSION", "0.0.0-imagetest")
    # The same arguments as test_image.py, so a run after it reuses its build stage.
    args = {"VERSION": version, "REVISION": ti.git_revision(), "CREATED": "1970-01-01T00:00:00Z"}
    print(f"multi-arch test: engines {', '.join(e.cmd for e in found)}, "
          f"VERSION={version} REVISION={args['REVISION']}", flush=True)
    sums: dict[str, dict[str, str]] = {arch: {} for arch in ARCHES}
    arm64_binary = None
    made: list[tuple[ti.Engine, str]] = []
    before = {id(e): e.dangling() for e in found}
    try:
        rounds = [(e, False) for e in found] + ([(found[0], True)] if len(found) == 1 else [])
        # Each engine builds its architectures in turn, the engines side by
        # side: one build leaves a CPU idle for much of its time (a layer's
        # last files, its link), which another engine's build fills.
        # Rounds of the same engine (a --no-cache one) stay in turn.
        built: dict[int, dict[str, str]] = {}

        def build_round(n: int, engine: ti.Engine, no_cache: bool) -> None:
            base, local = ti.choose_base(engine)
            built[n] = {}
            for arch in ARCHES:
                tag = f"localhost/devops-info-imagetest:{PID}-{n}-{arch}"
                made.append((engine, tag))
                if build(engine, arch, base, local, args, tag, no_cache):
                    built[n][arch] = tag

        if len(found) > 1:
            threads = [threading.Thread(target=build_round, args=(n, e, nc)) for n, (e, nc) in enumerate(rounds)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for n, (engine, no_cache) in enumerate(rounds):
                build_round(n, engine, no_cache)
        for n, (engine, no_cache) in enumerate(rounds):
            tags = {}
            for arch, tag in built.get(n, {}).items():
                binary = binary_of(engine, tag, arch)
                if binary:
                    tags[arch] = tag
                    sums[arch][f"{engine.cmd}{' --no-cache' if no_cache else ''}"] = \
                        hashlib.sha256(binary).hexdigest()
                    if arch == "arm64" and arm64_binary is None:
                        arm64_binary = binary
            if engine.name == "podman" and not no_cache and len(tags) == 2:
                check_manifest(engine, tags)
        if not any(e.name == "podman" for e in found):
            ti.note("no podman: the manifest list is not checked (Docker 20.10 makes none without a registry)")
        if arm64_binary:
            check_under_qemu(arm64_binary, version)
        for arch, by in sums.items():
            detail = "; ".join(f"{k}: {v}" for k, v in by.items())
            ti.check(len(by) >= 2 and len(set(by.values())) == 1,
                     f"linux/{arch}: {len(by)} builds, one sha256 ({next(iter(by.values()), '')[:16]})", detail)
    finally:
        for engine, tag in made:
            if engine.image_exists(tag):
                engine.run("rmi", "-f", tag, timeout=120)
        if os.environ.get("IMAGE_TEST_KEEP_CACHE") != "1":
            for engine in found:
                for image in sorted(engine.dangling() - before[id(engine)]):
                    engine.run("rmi", image, timeout=120)
    print(f"{ti.results['passed']} passed, {ti.results['failed']} failed")
    return 1 if ti.results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Time from exec to the first healthy answer, then idle memory; one JSON line.

  startup.py [--path /health] [--settle 1.0] -- CMD ARGS...

A free 127.0.0.1 port is exported as PORT (HOST=127.0.0.1) and replaces the
string {port} in CMD ARGS. The clock starts just before the fork and stops
when `GET PATH` over a raw socket answers 200 (connect retried every 0.2 ms).
After --settle seconds VmRSS and VmHWM of the process are read, then it gets
SIGTERM (SIGKILL after 10 s).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(port, path):
    """HTTP status of GET path, or None while the port refuses connections."""
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port))
    except (ConnectionRefusedError, ConnectionResetError):
        s.close()
        return None
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        parts = data.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    except OSError:
        return 0
    finally:
        s.close()


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", default="/health")
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = [c for c in a.cmd if c != "--"]
    port = free_port()
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ms = None
    deadline = t0 + a.timeout
    while time.perf_counter() < deadline and proc.poll() is None:
        if status_of(port, a.path) == 200:
            ms = (time.perf_counter() - t0) * 1000
            break
        time.sleep(0.0002)
    time.sleep(a.settle)
    rss = hwm = None
    if proc.poll() is None:
        rss, hwm = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(json.dumps({"startup_ms": ms, "idle_rss_kb": rss, "hwm_kb": hwm, "exit": proc.returncode}))


if __name__ == "__main__":
    main()

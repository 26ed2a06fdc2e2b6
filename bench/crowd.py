#!/usr/bin/env python3
"""A crowd of idle and slow clients against one server, and a fresh client's
/health latency meanwhile; then the server's memory once the crowd has left.

    crowd.py --port PORT --pid PID [--idle 10000] [--slow 1000] [--silent 0] [--seconds 20]

- idle: keep-alive connections that send one GET /health, read the answer and
  stay open; each asks again every 3 s so that the server's 5 s idle timeout
  does not close it (a connection it closes anyway is opened again);
- slow: connections that send a request head one byte every 2 s and never
  finish it (a server may close them; they are opened again);
- silent: connections that send nothing at all, opened again at once when
  the server closes them (a flood that would fill --max-connections);
- a probe opens a new connection every 20 ms, sends GET /health and times the
  answer (5 s at most).

Prints one JSON object: probe p50/p99/max in ms, probes failed, connections
held (min during the run), the server's RSS (VmRSS) peak during the run and
2 s after the crowd left. All traffic goes to 127.0.0.1; the run ends by
itself after --seconds.
"""
import argparse
import json
import resource
import selectors
import socket
import statistics
import time

REQUEST = b"GET /health HTTP/1.1\r\nHost: crowd\r\n\r\n"
SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: crowd\r\nX-Slow: " + b"a" * 1000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    __slots__ = ("kind", "sock", "next_at", "sent", "buf")

    def __init__(self, kind):
        self.kind = kind
        self.sock = None
        self.next_at = 0.0
        self.sent = 0
        self.buf = b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--silent", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sel = selectors.DefaultSelector()
    clients = ([Client("idle") for _ in range(a.idle)] + [Client("slow") for _ in range(a.slow)] +
               [Client("silent") for _ in range(a.silent)])
    reconnects = 0

    def open_client(c, now):
        nonlocal reconnects
        reconnecting = c.sock is not None
        if reconnecting:
            reconnects += 1
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", a.port))
        except BlockingIOError:
            pass
        c.sock = s
        c.sent = 0
        c.buf = b""
        c.next_at = float("inf") if c.kind == "silent" else now + (0.5 if reconnecting else 0.05)
        sel.register(s, selectors.EVENT_READ, c)

    start = time.monotonic()
    for i, c in enumerate(clients):
        open_client(c, start)
        if i % 500 == 0:  # let the accept queue drain
            time.sleep(0.01)
    reconnects = 0

    lat = []
    failed = 0
    held_min = None
    peak = 0
    next_probe = time.monotonic() + 1.0  # the crowd settles first
    next_sample = 0.0
    next_tick = 0.0
    end = time.monotonic() + a.seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for key, _ in sel.select(timeout=0.005):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                open_client(c, now)  # closed by the server: come back
                continue
            c.buf += data
        if now >= next_tick:
            next_tick = now + 0.05
            due = [c for c in clients if now >= c.next_at]
        else:
            due = []
        for c in due:
            try:
                if c.kind == "idle":
                    c.sock.send(REQUEST)
                    c.next_at = now + 3.0
                else:
                    if c.sent < len(SLOW_HEAD):
                        c.sock.send(SLOW_HEAD[c.sent:c.sent + 1])
                        c.sent += 1
                    c.next_at = now + 2.0
            except (BlockingIOError, InterruptedError):
                c.next_at = now + 0.1
            except OSError:
                open_client(c, now)
        if now >= next_probe:
            next_probe = now + 0.02
            t0 = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", a.port), timeout=5) as p:
                    p.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
                    reply = b""
                    while True:
                        chunk = p.recv(65536)
                        if not chunk:
                            break
                        reply += chunk
                if reply.startswith(b"HTTP/1.1 200"):
                    lat.append((time.monotonic() - t0) * 1000)
                else:
                    failed += 1
            except OSError:
                failed += 1
        if now >= next_sample:
            next_sample = now + 0.25
            peak = max(peak, rss_kib(a.pid))
            held = sum(1 for c in clients if c.sock is not None)
            held_min = held if held_min is None else min(held_min, held)

    for c in clients:
        if c.sock is not None:
            c.sock.close()
    time.sleep(2)
    after = rss_kib(a.pid)
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [float("nan")] * 99
    print(json.dumps({
        "idle": a.idle, "slow": a.slow, "silent": a.silent, "seconds": a.seconds,
        "probes": len(lat) + failed, "probes_failed": failed,
        "probe_p50_ms": round(q[49], 2), "probe_p99_ms": round(q[98], 2),
        "probe_max_ms": round(lat[-1], 2) if lat else None,
        "reconnects": reconnects,
        "rss_peak_mib": round(peak / 1024, 1), "rss_after_mib": round(after / 1024, 1),
    }))


if __name__ == "__main__":
    main()

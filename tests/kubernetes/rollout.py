"""A rolling update as one pod sees it: steady client load while Kubernetes
sends SIGTERM, with the client stopping new requests once `/ready` says 503
(what removing the pod from the Service's endpoints does).

Used by the manifest test (the binary) and the pod test (the image under
podman or docker). Traffic goes to 127.0.0.1 only, every loop is bounded.
"""
from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


def get(port: int, path: str, timeout: float = 2.0) -> int:
    """The status of one GET on a new connection; 0 when it could not be made."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "rollout-test"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def wait_for(port: int, path: str, want: int, timeout: float,
             alive: Callable[[], bool] | None = None) -> bool:
    """Polls GET path until it answers `want`; gives up at the timeout or when `alive` says the server is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get(port, path, timeout=1.0) == want:
            return True
        if alive is not None and not alive():
            return False
        time.sleep(0.05)
    return False


@dataclass
class Outcome:
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    ready_503_after: float | None = None  # seconds from SIGTERM to the first /ready 503
    answered_late: bool = False           # a request well into the delay still answered 200
    exit_code: int | None = None
    exit_after: float | None = None       # seconds from SIGTERM to exit


def sigterm_under_load(port: int, sigterm: Callable[[], None], wait_exit: Callable[[float], int | None],
                       delay: float, grace: float, clients: int = 4) -> Outcome:
    """Load on `/` from `clients` threads and a /ready poller; SIGTERM after
    a second of load; the clients stop when /ready answers 503."""
    out = Outcome()
    lock = threading.Lock()
    stop = threading.Event()     # endpoint removal: no new requests
    abort = threading.Event()    # the test's own bound
    signalled_at: list[float] = []

    def client() -> None:
        while not stop.is_set() and not abort.is_set():
            status = get(port, "/")
            with lock:
                out.sent += 1
                # A request sent before the client learnt of the 503 must succeed.
                if status != 200 and not stop.is_set():
                    out.failed.append(f"GET / -> {status or 'no answer'}")
            time.sleep(0.005)

    def ready_poller() -> None:
        while not abort.is_set():
            status = get(port, "/ready", timeout=1.0)
            if signalled_at and status == 503:
                out.ready_503_after = time.monotonic() - signalled_at[0]
                stop.set()
                return
            time.sleep(0.02)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    threads.append(threading.Thread(target=ready_poller, daemon=True))
    for t in threads:
        t.start()
    time.sleep(1.0)
    signalled_at.append(time.monotonic())
    sigterm()
    if not stop.wait(timeout=min(delay, 3.0) + 2.0):
        out.failed.append("/ready never answered 503 after SIGTERM")
        stop.set()
    # Endpoints and load balancers may still send for a while: a request well
    # into the delay must still be answered.
    if delay >= 1.0:
        time.sleep(max(0.0, delay * 0.6 - (time.monotonic() - signalled_at[0])))
        out.answered_late = get(port, "/") == 200
    code = wait_exit(grace + 5.0)
    out.exit_after = time.monotonic() - signalled_at[0]
    out.exit_code = code
    abort.set()
    for t in threads:
        t.join(timeout=5)
    return out

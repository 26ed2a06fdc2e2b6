"""Upstream names resolved as Kubernetes sets a pod up: dnsmasq answers for
cluster names, resolv.conf has Kubernetes' search domains and ndots:5,
/etc/hosts has its own names. And a DNS server that never answers, which
must not stall a loop. Each scenario runs in a mount and network namespace
of its own (unshare), where /etc/resolv.conf and /etc/hosts are bind-mounted
over and 127.0.0.1:53 is free: the machine's own files and DNS are not
touched, and no traffic leaves the namespace's loopback."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, TIMEOUT, Server, clean_env, health_p99, wait_until  # noqa: E402

SEARCH = "demo.svc.cluster.local svc.cluster.local cluster.local"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def enter(resolv, hosts):
    """Inside the namespace: loopback up, the two files bind-mounted over."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = tempfile.mkdtemp()
    for name, text in (("resolv.conf", resolv), ("hosts", hosts)):
        path = os.path.join(d, name)
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
        subprocess.run(["mount", "--bind", path, f"/etc/{name}"], check=True)


HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.1 from-hosts\n"


def scenario_search():
    enter(f"search {SEARCH}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:2\n", HOSTS)
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    dns = subprocess.Popen([DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                            "--listen-address=127.0.0.1", "--port=53", "--user=root", "--pid-file=",
                            "--address=/backend.demo.svc.cluster.local/127.0.0.1",
                            "--address=/db.other.svc.cluster.local/127.0.0.1",
                            # As CoreDNS: the cluster's zone is its own (NXDOMAIN, or no AAAA), and so is every
                            # other name here (nothing is forwarded).
                            "--local=/cluster.local/", "--address=/#/",
                            "--log-queries", f"--log-facility={log.name}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _answers_udp(), what="dnsmasq")
        with Server("--threads", "1") as b:
            p = b.port
            urls = [f"http://backend:{p}/health",           # a Service in the pod's namespace: the first search domain
                    f"http://db.other:{p}/health",          # NAME.NS: the second
                    f"http://from-hosts:{p}/health",        # /etc/hosts
                    f"http://localhost:{p}/health",         # ::1 first, then 127.0.0.1
                    f"http://missing:{p}/health"]           # NXDOMAIN everywhere
            args = ["--threads", "1", "--upstream-timeout", "5s"]
            for u in urls:
                args += ["--upstream", u]
            with Server(*args) as a:
                doc = a.get("/upstreams").json()
            probe = subprocess.run([BIN, "health", "--url", f"http://backend:{p}/health"], capture_output=True,
                                   text=True, env=clean_env(), timeout=TIMEOUT)
        time.sleep(0.2)
        with open(log.name, encoding="utf-8", errors="replace") as f:
            queries = f.read()
        return {"doc": doc, "urls": urls, "probe": probe.returncode, "queries": queries}
    finally:
        dns.terminate()
        dns.wait(TIMEOUT)
        os.unlink(log.name)


def _answers_udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        # A query for "x." type A, id 1.
        s.sendto(b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01", ("127.0.0.1", 53))
        s.recv(512)
        return True
    except OSError:
        return False
    finally:
        s.close()


def scenario_silent():
    # glibc's own defaults: 5 s per try, 2 tries, for each search domain.
    enter(f"search {SEARCH}\nnameserver 127.0.0.1\noptions ndots:5\n", HOSTS)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))  # reads nothing, answers nothing
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 53))
    tcp.listen(64)
    with Server("--threads", "1") as b:
        names = ["silent-a", "silent-b", "silent-c", "silent-d"]
        args = ["--threads", "1", "--upstream-timeout", "1s", "--log-level", "warning"]
        for n in names:
            args += ["--upstream", f"http://{n}:{b.port}/health"]
        with Server(*args, quiet=True) as a, \
                Server("--threads", "1", "--upstream", f"http://127.0.0.1:{b.port}/health",
                       "--upstream", f"http://silent-e:{b.port}/health", "--upstream-timeout", "1s",
                       "--log-level", "warning", quiet=True) as mixed:
            with ThreadPoolExecutor(5) as pool:
                calls = [pool.submit(_timed_get, a, "/upstreams") for _ in range(5)]  # 5 x 4 = 20 calls
                time.sleep(0.1)
                p99 = health_p99(a, 100)
                results = [c.result() for c in calls]
            # A second round: the lookups still hang on their threads; the calls end at their timeout all the same.
            again = _timed_get(a, "/upstreams")
            numeric = mixed.get("/upstreams").json()
    udp.close()
    tcp.close()
    return {"results": [(r.status, r.json(), took) for r, took in results],
            "again": [again[0].status, again[0].json(), again[1]],
            "health_p99": p99, "numeric": numeric}


def _timed_get(server, path):
    t0 = time.monotonic()
    r = server.get(path)
    return r, time.monotonic() - t0


def run_inside(scenario):
    """Runs `scenario` of this file in a new mount and network namespace; its JSON result."""
    out = subprocess.run(["unshare", "--mount", "--net", sys.executable, os.path.abspath(__file__), scenario],
                         capture_output=True, text=True, timeout=120, env=clean_env(), cwd=os.path.dirname(
                             os.path.abspath(__file__)))
    if out.returncode != 0:
        raise AssertionError(f"the {scenario} scenario failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class ResolverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A container without CAP_SYS_ADMIN (the Debian 13 stage's) cannot make namespaces: there the
        # scenarios cannot run, and say so; CI's test stage sets DEVOPS_INFO_REQUIRE_NAMESPACES so that
        # they never go quietly missing on the host.
        probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True, text=True,
                               timeout=TIMEOUT)
        if probe.returncode != 0:
            why = f"unshare --mount --net is not permitted here: {probe.stderr.strip()}"
            if os.environ.get("DEVOPS_INFO_REQUIRE_NAMESPACES"):
                raise AssertionError(why)
            raise unittest.SkipTest(why)

    def test_search_domains_ndots_hosts_and_address_order_as_kubernetes_writes_them(self):
        got = run_inside("search")
        entries = {e["url"]: e for e in got["doc"]["upstreams"]}
        backend, ns, hosts, localhost, missing = (entries[u] for u in got["urls"])
        for e in (backend, ns, hosts, localhost):
            with self.subTest(url=e["url"]):
                self.assertEqual(e["status"], 200, e)
                self.assertEqual(e["answer"]["status"], "healthy")
        self.assertIsNone(missing["status"])
        self.assertIn("cannot resolve the name missing", missing["error"])
        self.assertEqual(got["probe"], 0)
        # The names were asked for as the search list makes them, through dnsmasq.
        self.assertIn("backend.demo.svc.cluster.local", got["queries"])
        self.assertIn("db.other.svc.cluster.local", got["queries"])
        self.assertNotIn("from-hosts", got["queries"])

    def test_a_dns_server_that_never_answers_stalls_no_loop(self):
        got = run_inside("silent")
        for status, doc, took in got["results"] + [got["again"]]:
            self.assertEqual(status, 502)
            self.assertLess(took, 2.0)
            for e in doc["upstreams"]:
                self.assertIsNone(e["status"])
                self.assertIn("timed out after 1s", e["error"])
        p99 = got["health_p99"]
        self.assertLess(p99, 0.05, f"/health p99 {p99 * 1000:.1f} ms while lookups hang")
        # A numeric upstream needs no lookup: it is answered while names hang.
        first, second = got["numeric"]["upstreams"]
        self.assertEqual(first["status"], 200)
        self.assertIn("timed out", second["error"])


if __name__ == "__main__" and len(sys.argv) == 2 and sys.argv[1] in ("search", "silent"):
    result = {"search": scenario_search, "silent": scenario_silent}[sys.argv[1]]()
    print(json.dumps(result))
elif __name__ == "__main__":
    unittest.main()

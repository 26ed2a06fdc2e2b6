"""Traces from real servers to an OTLP/HTTP JSON receiver written with the
standard library: W3C trace context read and sent on, one server span per
request and one client span per upstream call, a chain in one trace, the
trace id in the log lines, the sampler, the resource, and a collector that
is dead, hangs or is slow, and the flush at the drain."""
import http.server
import json
import signal
import threading
import time
import unittest

from harness import Server, health_p99, reserved_port, sample_value, wait_until
from test_upstreams import BadUpstream

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP collector on 127.0.0.1: keeps what is POSTed to /v1/traces."""

    def __init__(self, status=200):
        receiver = self
        self.posts = []  # (headers, document)
        self.status = status
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    if self.path == "/v1/traces":
                        receiver.posts.append((dict(self.headers), json.loads(body)))
                self.send_response(receiver.status if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def spans(self):
        """Every span received, each with its resource's attributes as a dict under "resource"."""
        out = []
        with self.lock:
            posts = list(self.posts)
        for _, doc in posts:
            for rs in doc["resourceSpans"]:
                resource = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        out.append(dict(s, resource=resource, scope=ss["scope"]))
        return out

    def wait_for(self, n, what="spans"):
        wait_until(lambda: len(self.spans()) >= n, what=f"{n} {what} at the receiver")
        return self.spans()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = v.get("stringValue", int(v["intValue"]) if "intValue" in v else v)
    return out


def tracing_env(receiver, **more):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    env.update(more)
    return env


class ChainTraceTest(unittest.TestCase):
    def test_a_chain_is_one_trace_of_server_client_server_and_the_log_names_it(self):
        r = Receiver()
        try:
            with Server("--threads", "1", env=tracing_env(r, OTEL_SERVICE_NAME="backend")) as b:
                env = tracing_env(r, OTEL_SERVICE_NAME="frontend",
                                  OTEL_RESOURCE_ATTRIBUTES="k8s.pod.name=frontend-0,k8s.namespace.name=demo")
                with Server("--threads", "1", "--upstream", f"http://127.0.0.1:{b.port}/health", env=env) as a:
                    resp = a.get("/upstreams", headers={"traceparent": f"00-{TRACE}-{PARENT}-01",
                                                        "tracestate": "vendor=opaque"})
                    self.assertEqual(resp.status, 200)
                    spans = r.wait_for(3)
                    self.assertEqual(len(spans), 3, spans)
                    self.assertEqual({s["traceId"] for s in spans}, {TRACE})
                    by = {(s["resource"]["service.name"], s["kind"]): s for s in spans}
                    server_a, client_a, server_b = by[("frontend", 2)], by[("frontend", 3)], by[("backend", 2)]
                    # The frontend's server span is the caller's child; its client span, its own child; the
                    # backend's server span, the client span's child.
                    self.assertEqual(server_a["parentSpanId"], PARENT)
                    self.assertEqual(client_a["parentSpanId"], server_a["spanId"])
                    self.assertEqual(server_b["parentSpanId"], client_a["spanId"])
                    self.assertEqual(server_a["name"], "GET /upstreams")
                    self.assertEqual(server_b["name"], "GET /health")
                    a_attrs = attrs(server_a)
                    self.assertEqual((a_attrs["http.request.method"], a_attrs["http.route"], a_attrs["url.path"],
                                      a_attrs["http.response.status_code"]), ("GET", "/upstreams", "/upstreams", 200))
                    self.assertEqual(a_attrs["client.address"], "127.0.0.1")
                    c_attrs = attrs(client_a)
                    self.assertEqual(c_attrs["url.full"], f"http://127.0.0.1:{b.port}/health")
                    self.assertEqual((c_attrs["server.address"], c_attrs["server.port"],
                                      c_attrs["http.response.status_code"]), ("127.0.0.1", b.port, 200))
                    # The client span holds the backend's span in time.
                    self.assertLessEqual(int(client_a["startTimeUnixNano"]), int(server_b["startTimeUnixNano"]))
                    self.assertGreaterEqual(int(client_a["endTimeUnixNano"]), int(server_b["endTimeUnixNano"]))
                    self.assertLessEqual(int(server_a["startTimeUnixNano"]), int(client_a["startTimeUnixNano"]))
                    self.assertEqual(server_a["resource"]["k8s.pod.name"], "frontend-0")
                    self.assertEqual(server_a["resource"]["k8s.namespace.name"], "demo")
                    self.assertIsInstance(server_a["resource"]["service.version"], str)
                    self.assertEqual(server_a["scope"]["name"], "devops-info")
                    # The frontend's log line names the trace and its server span.
                    line = a.wait_for_log(lambda l: l.get("path") == "/upstreams")
                    self.assertEqual((line["trace_id"], line["span_id"]), (TRACE, server_a["spanId"]))
                    line = b.wait_for_log(lambda l: l.get("path") == "/health")
                    self.assertEqual((line["trace_id"], line["span_id"]), (TRACE, server_b["spanId"]))
                    headers = r.posts[0][0]
                    self.assertEqual(headers["Content-Type"], "application/json")
        finally:
            r.stop()

    def test_trace_context_is_sent_on_with_the_callers_flag_and_tracestate(self):
        up = BadUpstream("text")
        try:
            with Server("--threads", "1", "--upstream", up.url) as a:  # tracing off: context still travels
                a.get("/upstreams", headers={"traceparent": f"00-{TRACE}-{PARENT}-00", "tracestate": "v=1"})
                a.get("/upstreams", headers={"traceparent": f"00-{TRACE.upper()}-{PARENT}-01", "tracestate": "v=2"})
                a.get("/upstreams")
                sent = [dict(l.split(": ", 1) for l in req.split("\r\n")[1:] if ": " in l) for req in up.requests]
                self.assertEqual(len(sent), 3)
                tp = [s["traceparent"].split("-") for s in sent]
                self.assertEqual((tp[0][1], tp[0][3]), (TRACE, "00"))
                self.assertNotEqual(tp[0][2], PARENT)  # the client span's id, not the caller's
                self.assertEqual(sent[0]["tracestate"], "v=1")
                # An invalid traceparent starts a new trace, and its tracestate is dropped.
                self.assertNotEqual(tp[1][1], TRACE.lower())
                self.assertNotIn("tracestate", sent[1])
                self.assertNotIn("tracestate", sent[2])
                self.assertNotEqual(tp[1][1], tp[2][1])
                wait_until(lambda: len([l for l in a.logs() if l.get("path") == "/upstreams"]) == 3,
                           what="three log lines")
                lines = [l for l in a.logs() if l.get("path") == "/upstreams"]
                self.assertEqual(lines[0]["trace_id"], TRACE)
                self.assertEqual([l["trace_id"] for l in lines[1:]], [tp[1][1], tp[2][1]])
        finally:
            up.stop()


class SamplingTest(unittest.TestCase):
    def test_every_request_gets_a_span_and_the_callers_decision_wins(self):
        r = Receiver()
        try:
            with Server("--threads", "1", env=tracing_env(r)) as s:
                s.get("/health")  # no traceparent: a new trace, a root span
                s.get("/health", headers={"traceparent": f"00-{TRACE}-{PARENT}-00"})  # not sampled: no span
                s.request("POST", "/echo", body=b"x")
                s.get("/no/such/route")
                spans = r.wait_for(3)
                time.sleep(0.3)
                spans = r.spans()
                self.assertEqual([sp["name"] for sp in spans], ["GET /health", "POST /echo", "GET"])
                self.assertNotEqual(spans[0]["traceId"], TRACE)
                self.assertIn(spans[0].get("parentSpanId", ""), ("",))
                self.assertEqual(attrs(spans[2])["http.response.status_code"], 404)
                self.assertNotIn("http.route", attrs(spans[2]))
                fam = s.metrics()
                self.assertGreaterEqual(sample_value(fam, "devops_info_trace_spans_total", result="exported"), 3)
        finally:
            r.stop()

    def test_always_off_and_a_ratio_of_zero_export_nothing_but_logs_keep_ids(self):
        for env in ({"OTEL_TRACES_SAMPLER": "always_off"},
                    {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}):
            with self.subTest(env=env):
                r = Receiver()
                try:
                    with Server("--threads", "1", env=tracing_env(r, **env)) as s:
                        for _ in range(5):
                            s.get("/health")
                        time.sleep(0.3)
                        self.assertEqual(r.spans(), [])
                        line = s.wait_for_log(lambda l: l.get("path") == "/health")
                        self.assertRegex(line["trace_id"], "^[0-9a-f]{32}$")
                        self.assertRegex(line["span_id"], "^[0-9a-f]{16}$")
                finally:
                    r.stop()

    def test_sdk_disabled_exports_nothing(self):
        r = Receiver()
        try:
            with Server("--threads", "1", env=tracing_env(r, OTEL_SDK_DISABLED="true")) as s:
                s.get("/health")
                time.sleep(0.3)
                self.assertEqual(r.spans(), [])
                self.assertNotIn("traces_endpoint", s.wait_for_log(lambda l: l.get("msg") == "listening"))
        finally:
            r.stop()

    def test_wrong_values_are_warnings_and_defaults(self):
        r = Receiver()
        try:
            env = tracing_env(r, OTEL_TRACES_SAMPLER="sometimes", OTEL_BSP_MAX_QUEUE_SIZE="lots",
                              OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_HEADERS="x-scope-orgid=team%201")
            with Server("--threads", "1", env=env) as s:
                warnings = [l["error"] for l in s.logs() if l.get("msg") == "tracing setting ignored"]
                self.assertEqual(len(warnings), 3, warnings)
                self.assertIn("sometimes", warnings[0])
                listening = s.wait_for_log(lambda l: l.get("msg") == "listening")
                self.assertEqual(listening["traces_endpoint"], r.url + "/v1/traces")
                s.get("/health")
                r.wait_for(1)
                self.assertEqual(r.posts[0][0]["x-scope-orgid"], "team 1")
        finally:
            r.stop()


class HttpsCollectorTest(unittest.TestCase):
    def test_an_https_endpoint_is_verified_against_otel_exporter_otlp_certificate(self):
        import ssl
        import tempfile
        from test_tls import Pki
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            cert, key = pki.issue("collector")
            r = Receiver()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            r.httpd.socket = ctx.wrap_socket(r.httpd.socket, server_side=True)
            try:
                url = r.url.replace("http://", "https://")
                env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "50",
                       "OTEL_EXPORTER_OTLP_CERTIFICATE": pki.ca}
                with Server("--threads", "1", env=env) as s:
                    s.get("/health")
                    self.assertEqual(r.wait_for(1)[0]["name"], "GET /health")
                # Without the CA: nothing arrives, the failure is counted.
                env.pop("OTEL_EXPORTER_OTLP_CERTIFICATE")
                env["OTEL_BSP_EXPORT_TIMEOUT"] = "300"
                before = len(r.spans())
                with Server("--threads", "1", env=env) as s:
                    s.get("/health")
                    wait_until(lambda: sample_value(s.metrics(), "devops_info_trace_spans_total",
                                                    result="failed") >= 1, what="the failed export to be counted")
                self.assertEqual(len(r.spans()), before)
            finally:
                r.stop()


class CollectorTroubleTest(unittest.TestCase):
    def test_a_dead_collector_costs_a_counter_only(self):
        with reserved_port() as port:
            env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}/v1/traces",
                   "OTEL_BSP_SCHEDULE_DELAY": "20", "OTEL_BSP_EXPORT_TIMEOUT": "100"}
            with Server("--threads", "1", env=env) as s:
                for _ in range(20):
                    self.assertEqual(s.get("/health").status, 200)
                wait_until(lambda: sample_value(s.metrics(), "devops_info_trace_spans_total", result="failed") >= 20,
                           what="the failed spans to be counted")

    def test_a_hanging_collector_and_a_full_queue_drop_and_count_without_slowing_requests(self):
        hang = BadUpstream("hang")
        try:
            env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": hang.url, "OTEL_BSP_SCHEDULE_DELAY": "10",
                   "OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5",
                   "OTEL_EXPORTER_OTLP_TIMEOUT": "10000"}
            with Server("--threads", "1", "--log-level", "warning", env=env, quiet=True) as s:
                self.assertLess(health_p99(s), 0.05)
                fam = s.metrics()
                self.assertGreaterEqual(sample_value(fam, "devops_info_trace_spans_total", result="dropped"), 180)
                self.assertEqual(sample_value(fam, "devops_info_trace_spans_total", result="exported"), 0)
                # The drain does not wait past its timeout for the collector.
                t0 = time.monotonic()
                s.proc.send_signal(signal.SIGTERM)
                self.assertEqual(s.wait(), 0)
                self.assertLess(time.monotonic() - t0, 7)  # at most 5 s for the flush
        finally:
            hang.stop()

    def test_what_is_queued_is_sent_at_the_drain(self):
        r = Receiver()
        try:
            env = tracing_env(r, OTEL_BSP_SCHEDULE_DELAY="600000")
            with Server("--threads", "1", env=env) as s:
                for _ in range(5):
                    s.get("/health")
                time.sleep(0.2)
                self.assertEqual(r.spans(), [])
                s.proc.send_signal(signal.SIGTERM)
                self.assertEqual(s.wait(), 0)
                self.assertEqual(len(r.spans()), 5)
        finally:
            r.stop()

    def test_a_collector_refusing_the_batch_is_counted_as_failed(self):
        r = Receiver(status=400)
        try:
            with Server("--threads", "1", env=tracing_env(r)) as s:
                s.get("/health")
                wait_until(lambda: sample_value(s.metrics(), "devops_info_trace_spans_total", result="failed") >= 1,
                           what="the refused span to be counted")
                # Each batch posted once (the /metrics requests have their spans too), none retried.
                fam = s.metrics()
                self.assertEqual(sample_value(fam, "devops_info_trace_spans_total", result="exported"), 0)
                self.assertLessEqual(len(r.posts), sample_value(fam, "devops_info_trace_spans_total", result="failed"))
        finally:
            r.stop()


if __name__ == "__main__":
    unittest.main()

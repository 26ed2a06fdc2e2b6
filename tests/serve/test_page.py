"""GET / for a browser: the page with its Content-Security-Policy, chosen by Accept or ?format=, every
attacker-controlled value inert, and the JSON unchanged for every other client."""
import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import unittest

from harness import Server, run_cli

CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
          "application/signed-exchange;v=b3;q=0.7")
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# In every value an attacker may control: tags, both quotes, an entity, a script end.
EVIL = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;</style>"

# The keys of GET / whose values change from one answer to the next.
CHANGING = {("runtime", "uptime_seconds"), ("runtime", "uptime_human"), ("runtime", "current_time"),
            ("system", "memory_available_bytes"), ("system", "load_average"), ("system", "uptime_seconds")}


def steady(doc):
    """The document less its values that change by the second."""
    doc = json.loads(json.dumps(doc))
    for section, key in CHANGING:
        doc.get(section, {}).pop(key, None)
    return doc


def csp_hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline(html, tag):
    m = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
    return m.group(1) if m else None


class PageTest(unittest.TestCase):
    def test_a_browser_gets_the_page_with_a_strict_policy(self):
        with Server() as s:
            for accept in (CHROME, FIREFOX):
                r = s.get("/", headers={"Accept": accept})
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                self.assertEqual(r.header("Vary"), "Accept")
                self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
                html = r.body.decode()
                self.assertTrue(html.startswith("<!DOCTYPE html>"))
                policy = r.header("Content-Security-Policy")
                directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
                self.assertEqual(directives["default-src"], "'none'")
                self.assertEqual(directives["style-src"], csp_hash(inline(html, "style")))
                self.assertEqual(directives["script-src"], csp_hash(inline(html, "script")))
                self.assertEqual(directives["connect-src"], "'self'")
                self.assertEqual(directives["frame-ancestors"], "'none'")
                self.assertEqual(html.count("<script"), 1)
                self.assertEqual(html.count("<style"), 1)
                self.assertNotRegex(html, r"(src|href)=\"(https?:)?//")  # nothing from elsewhere

    def test_every_other_client_gets_todays_json(self):
        with Server() as s:
            plain = s.get("/", headers={"Accept": "*/*"})
            self.assertEqual(plain.header("Content-Type"), "application/json")
            reference = steady(plain.json())
            for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*", "User-Agent": "python-requests/2.31"},
                            {"Accept": "application/json, text/html;q=0.9"}, {"Accept": "text/html;q=0, */*"}):
                with self.subTest(headers=headers):
                    r = s.get("/", headers=dict(headers, **({} if "User-Agent" in headers else
                                                           {"User-Agent": "Python-urllib/3.11"})))
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.header("Content-Type"), "application/json")
                    self.assertEqual(r.header("Vary"), "Accept")
                    self.assertIsNone(r.header("Content-Security-Policy"))
                    doc = r.json()
                    self.assertEqual(list(doc), ["service", "system", "runtime", "request", "container", "build",
                                                 "endpoints", "notes"])
                    want = json.loads(json.dumps(reference))
                    want["request"]["user_agent"] = doc["request"]["user_agent"]
                    self.assertEqual(steady(doc), want)
            # A raw HTTP/1.0 request with no Accept at all: the same JSON, one line.
            raw = s.raw_request(b"GET / HTTP/1.0\r\n\r\n")
            head, _, body = raw.partition(b"\r\n\r\n")
            self.assertIn(b"Content-Type: application/json\r\n", head)
            self.assertEqual(body.count(b"\n"), 1)
            self.assertEqual(list(json.loads(body))[:3], ["service", "system", "runtime"])

    def test_format_parameter_overrides_accept(self):
        with Server() as s:
            self.assertEqual(s.get("/?format=html").header("Content-Type"), "text/html; charset=utf-8")
            self.assertEqual(s.get("/?format=json", headers={"Accept": CHROME}).header("Content-Type"),
                             "application/json")
            self.assertEqual(s.get("/?x=1&format=HTML").header("Content-Type"), "text/html; charset=utf-8")
            bad = s.get("/?format=yaml", headers={"Accept": CHROME})
            self.assertEqual(bad.status, 400)
            self.assertEqual(bad.json(), {"error": "Bad Request", "status": 400, "path": "/",
                                          "detail": "?format= takes json or html"})
            head = s.request("HEAD", "/", headers={"Accept": CHROME})
            self.assertEqual(head.status, 200)
            self.assertEqual(head.body, b"")
            self.assertGreater(int(head.header("Content-Length")), 1000)
            self.assertIsNotNone(head.header("Content-Security-Policy"))

    def test_attacker_controlled_values_come_back_inert(self):
        tmp = tempfile.mkdtemp(prefix="devops-info-page-")
        try:
            path = os.path.join(tmp, "config.json")
            with open(path, "w") as f:
                json.dump({EVIL: EVIL, "nested": {"list": [EVIL]}, "ui": {"title": EVIL, "message": EVIL}}, f)
            with Server("--config", path) as s:
                r = s.get("/?format=html", headers={"User-Agent": EVIL})
                html = r.body.decode()
                self.assertNotIn("<script>alert", html)
                self.assertNotIn("<img", html)
                self.assertNotIn("onerror=alert", html.replace("onerror=alert(2)&gt;", ""))
                self.assertNotIn("</style>\"", html)
                self.assertEqual(html.count("<script"), 1)
                self.assertEqual(html.count("</style>"), 1)
                escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;"
                self.assertEqual(html.count(escaped), 4)  # the title twice, the message, the user agent
                # In the config's values, as JSON text: the key, its value and the list's item.
                self.assertEqual(html.count("&lt;script&gt;alert(1)&lt;/script&gt;\\&quot;&#39;&gt;"), 3)
                # The request's path: only "/" reaches this route, and the query is not shown.
                r = s.get("/?format=html&q=%3Cscript%3E", headers={"Accept": CHROME})
                self.assertNotIn("%3Cscript", r.body.decode())
                # And the JSON for the same request is JSON, not HTML-escaped.
                doc = s.get("/", headers={"User-Agent": EVIL}).json()
                self.assertEqual(doc["request"]["user_agent"], EVIL)
                self.assertEqual(doc["config"]["values"][EVIL], EVIL)
        finally:
            shutil.rmtree(tmp)

    def test_the_page_shows_the_visit_count_and_counts_once(self):
        tmp = tempfile.mkdtemp(prefix="devops-info-page-")
        try:
            with Server("--data-dir", tmp) as s:
                s.get("/")
                html = s.get("/", headers={"Accept": CHROME}).body.decode()
                self.assertIn('<td id="visits">2</td>', html)
                self.assertEqual(s.get("/visits").json(), {"visits": 2})
            with Server() as s:
                self.assertNotIn('id="visits"', s.get("/?format=html").body.decode())
        finally:
            shutil.rmtree(tmp)

    def test_info_writes_the_same_page_static(self):
        r = run_cli("info", "--format", "html")
        self.assertEqual(r.returncode, 0, r.stderr)
        html = r.stdout
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", html)
        m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
        policy = m.group(1).replace("&#39;", "'")
        self.assertIn("default-src 'none'", policy)
        self.assertIn(f"style-src {csp_hash(inline(html, 'style'))}", policy)
        self.assertIn("script-src 'none'", policy)
        hostname = run_cli("info", "--field", "system.hostname").stdout.strip()
        self.assertIn(f"<strong>{hostname}</strong>", html)


if __name__ == "__main__":
    unittest.main()

"""The page in a real browser: Debian's chromium, headless, driven by playwright-core (pinned in
package-lock.json), loads GET / from a real serve on 127.0.0.1 and the test reads the rendered DOM: the
hostname, the version, the config's colour and message, the visit count, a hostile User-Agent shown as text,
the refresh script run under the Content-Security-Policy with no violation, and no request anywhere but
127.0.0.1. The screenshot goes to BROWSER_SCREENSHOT when set (the README's picture)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
from harness import BIN, Server, run_cli  # noqa: E402

EVIL_AGENT = "<script>alert(document.domain)</script><img src=x onerror=alert(1)>"


def browse(url, screenshot, user_agent=None):
    args = ["node", os.path.join(HERE, "page.mjs"), url, screenshot] + ([user_agent] if user_agent else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=HERE)
    if r.returncode != 0:
        raise AssertionError(f"page.mjs failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


class BrowserTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="devops-info-browser-")
        self.config = os.path.join(self.tmp, "config.json")
        with open(self.config, "w") as f:
            json.dump({"appName": "devops-info", "environment": "canary", "features": {"visitsCounter": True},
                       "database": {"host": "db", "password": "hunter2"},
                       "ui": {"color": "teal", "message": "canary: v2"}}, f)
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_the_page_in_chromium(self):
        shot = os.path.join(self.tmp, "page.png")
        with Server("--config", self.config, "--data-dir", self.data) as s:
            seen = browse(f"http://127.0.0.1:{s.port}/", shot, EVIL_AGENT)
            visits = s.get("/visits").json()["visits"]
        facts = seen["facts"]
        self.assertEqual(seen["status"], 200)
        self.assertEqual(seen["headers"]["content-type"], "text/html; charset=utf-8")
        self.assertEqual(seen["problems"], [])  # no CSP violation, no script error, no dialog
        hostname = run_cli("info", "--field", "system.hostname").stdout.strip()
        version = run_cli("info", "--field", "service.version").stdout.strip()
        self.assertEqual(facts["hostname"], hostname)
        self.assertEqual(facts["version"], version)
        self.assertEqual(facts["title"], f"devops-info-service {version} on {hostname}")
        self.assertEqual(facts["message"], "canary: v2")
        self.assertEqual(facts["swatch"], "rgb(0, 128, 128)")  # teal, as the config says
        self.assertEqual(facts["band"], "rgb(0, 128, 128)")
        self.assertEqual(facts["health"], "healthy")  # set by the script: it ran
        self.assertRegex(facts["uptime"], r"^\d+ hours, \d+ minutes$")
        self.assertEqual(facts["visits"], "1")
        self.assertEqual(visits, 1)  # the script reads /visits and /health, which count no visit
        self.assertEqual(facts["userAgent"], EVIL_AGENT)  # shown as text
        self.assertEqual((facts["scripts"], facts["injected"]), (1, 0))
        config = json.loads(facts["config"])
        self.assertEqual(config["database"], {"host": "db", "password": "<redacted>"})
        origin = f"http://127.0.0.1:{s.port}/"
        self.assertEqual([u for u in seen["requests"] if not u.startswith(origin)], [])
        self.assertIn(origin + "health", seen["requests"])
        self.assertIn(origin + "visits", seen["requests"])
        self.assertGreater(os.path.getsize(shot), 10_000)
        if os.environ.get("BROWSER_SCREENSHOT"):
            shutil.copy(shot, os.environ["BROWSER_SCREENSHOT"])

    def test_the_static_page_of_info_in_chromium(self):
        page = os.path.join(self.tmp, "report.html")
        with open(page, "w") as f:
            subprocess.run([BIN, "info", "--format", "html", "--config", self.config], stdout=f, check=True,
                           timeout=30)
        # A file has no server to refresh from: the script is absent, so the badge never turns "healthy".
        r = subprocess.run(["node", "-e", STATIC_CHECK, "file://" + page], capture_output=True, text=True,
                           timeout=120, cwd=HERE)
        self.assertEqual(r.returncode, 0, r.stderr)
        seen = json.loads(r.stdout)
        self.assertEqual(seen["problems"], [])
        self.assertEqual(seen["scripts"], 0)
        self.assertEqual(seen["swatch"], "rgb(0, 128, 128)")
        self.assertEqual([u for u in seen["requests"] if not u.startswith("file://")], [])


STATIC_CHECK = r"""
import('playwright-core').then(async ({ chromium }) => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                          args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage();
  const requests = [], problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(process.argv[1]);
  const facts = await page.evaluate(() => ({
    scripts: document.scripts.length,
    swatch: getComputedStyle(document.querySelector('.swatch')).backgroundColor,
  }));
  console.log(JSON.stringify({ ...facts, requests, problems }));
  await browser.close();
});
"""

if __name__ == "__main__":
    unittest.main()

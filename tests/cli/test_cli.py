"""Runs the built devops-info binary: every format, every exit code, bad flags.

DEVOPS_INFO_BIN names the binary (ctest sets it).
"""
import json
import os
import re
import shlex
import subprocess
import sys
import unittest

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
from harness import run_cli as run  # noqa: E402  the one way the tests run the binary
SOURCE_DIR = os.environ.get("DEVOPS_INFO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(SOURCE_DIR, "docs", "info.schema.json"), encoding="utf-8") as f:
    SCHEMA = json.load(f)


class InfoTest(unittest.TestCase):
    def test_default_is_pretty_json_with_the_flask_keys(self):
        r = run("info")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        doc = json.loads(r.stdout)
        self.assertIn("\n  ", r.stdout)
        self.assertEqual(doc["service"]["name"], "devops-info-service")
        for section, keys in {
            "service": ["name", "version", "description", "framework"],
            "system": ["hostname", "platform", "platform_version", "architecture", "cpu_count"],
            "runtime": ["uptime_seconds", "uptime_human", "current_time", "timezone"],
        }.items():
            for key in keys:
                self.assertIn(key, doc[section], f"{section}.{key}")
        self.assertEqual(doc["system"]["platform"], "Linux")
        # As Python's platform.version() and platform.release() report them.
        self.assertEqual(doc["system"]["platform_version"], os.uname().version)
        self.assertEqual(doc["system"]["platform_release"], os.uname().release)
        self.assertRegex(doc["runtime"]["uptime_human"], r"^\d+ hours, \d+ minutes$")
        self.assertEqual(doc["system"]["architecture"], os.uname().machine)
        self.assertIsInstance(doc["runtime"]["uptime_seconds"], int)
        self.assertRegex(doc["runtime"]["current_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
        self.assertEqual([e["path"] for e in doc["endpoints"]][:2], ["/", "/health"])
        self.assertNotIn("request", doc)

    def test_report_validates_against_the_documented_schema(self):
        jsonschema.validate(json.loads(run("info").stdout), SCHEMA)

    def test_golden_reports_validate_against_the_schema(self):
        golden = os.path.join(SOURCE_DIR, "tests", "fixtures", "golden")
        names = [n for n in sorted(os.listdir(golden)) if n.endswith(".json")]
        self.assertGreaterEqual(len(names), 5)
        for name in names:
            with self.subTest(name=name), open(os.path.join(golden, name), encoding="utf-8") as f:
                jsonschema.validate(json.load(f), SCHEMA)

    def test_schema_rejects_a_broken_report(self):
        doc = json.loads(run("info").stdout)
        del doc["system"]["hostname"]
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(doc, SCHEMA)

    def test_markdown_has_the_sections_as_tables_and_no_colour(self):
        r = run("info", "--format", "markdown", "--color", "always")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^## devops-info-service \S+ on \S+\n")
        for section in ("Service", "System", "Runtime", "Container", "Build", "Endpoints"):
            self.assertIn(f"\n### {section}\n\n| | |\n| --- | --- |\n", r.stdout)
        self.assertNotIn("\x1b", r.stdout)
        self.assertEqual(run("info", "--format", "markdown", "--compact").returncode, 2)

    def test_compact_is_one_line(self):
        r = run("info", "--compact")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("\n"), 1)
        json.loads(r.stdout)

    def test_table_has_sections_and_no_colour_off_a_terminal(self):
        r = run("info", "--format", "table")
        self.assertEqual(r.returncode, 0, r.stderr)
        for title in ("Service", "System", "Runtime", "Container", "Build", "Endpoints"):
            self.assertRegex(r.stdout, rf"(?m)^{title}$")
        self.assertNotIn("\x1b", r.stdout)

    def test_colour_only_when_asked_and_never_with_no_color(self):
        self.assertIn("\x1b[1m", run("info", "-f", "table", "--color", "always").stdout)
        self.assertNotIn("\x1b", run("info", "-f", "table", "--color", "never").stdout)
        self.assertNotIn("\x1b", run("info", "-f", "table", env={"NO_COLOR": "1"}).stdout)

    def test_env_format_evaluates_in_a_shell(self):
        r = run("info", "--format", "env")
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in r.stdout.splitlines():
            self.assertRegex(line, r"^DEVOPS_INFO_[A-Z0-9_]+='")
        out = subprocess.run(
            ["sh", "-c", 'eval "$1"; printf %s "$DEVOPS_INFO_SYSTEM_HOSTNAME"', "sh", r.stdout],
            capture_output=True, text=True, check=True).stdout
        self.assertEqual(out, os.uname().nodename)

    def test_field_prints_the_raw_value(self):
        r = run("info", "--field", "system.hostname")
        self.assertEqual((r.returncode, r.stdout), (0, os.uname().nodename + "\n"))
        r = run("info", "--field", "system.cpu_count")
        self.assertTrue(r.stdout.strip().isdigit(), r.stdout)
        r = run("info", "--field", "service")
        self.assertEqual(json.loads(r.stdout)["name"], "devops-info-service")

    def test_list_indexes_are_plain_decimal(self):
        self.assertEqual(run("info", "--field", "endpoints.0.path").stdout, "/\n")
        for path in ("endpoints.00", "endpoints.01.path", "endpoints.+1", "endpoints.-0", "endpoints. 1", "endpoints."):
            with self.subTest(path=path):
                r = run("info", "--field", path)
                self.assertEqual(r.returncode, 2, r.stdout)
                self.assertIn("unknown field", r.stderr)

    def test_unknown_field_is_a_usage_error(self):
        r = run("info", "--field", "system.nope")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^devops-info: error: unknown field 'system.nope'; fields of system: hostname")

    def test_bad_values_and_flags_are_usage_errors(self):
        for args in (["info", "--format", "xml"], ["info", "--bogus"], ["info", "--compact", "-f", "table"],
                     ["info", "--field", "a", "--format", "json"], ["nope"], [], ["info", "extra"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("devops-info: error: "), r.stderr)


# What the manifests in deploy/kubernetes give the container: the variable
# every pod has, and the downward API's pod, namespace and node.
POD_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_NAME": "devops-info-7d9c5b6f4-x2x8q",
           "POD_NAMESPACE": "web", "NODE_NAME": "node-a"}


class KubernetesTest(unittest.TestCase):
    def test_a_pod_reports_its_name_namespace_and_node(self):
        r = run("info", env=POD_ENV)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["container"]["runtime"], "kubernetes")
        self.assertEqual(doc["container"]["kubernetes"],
                         {"pod_name": "devops-info-7d9c5b6f4-x2x8q", "namespace": "web", "node_name": "node-a"})
        r = run("info", "--field", "container.kubernetes.node_name", env=POD_ENV)
        self.assertEqual((r.returncode, r.stdout), (0, "node-a\n"))
        table = run("info", "--format", "table", env=POD_ENV).stdout
        self.assertRegex(table, r"(?m)^  pod +devops-info-7d9c5b6f4-x2x8q$")
        self.assertRegex(table, r"(?m)^  namespace +web$")
        self.assertRegex(table, r"(?m)^  node +node-a$")

    def test_a_pod_without_the_downward_api_has_nulls(self):
        env = {**POD_ENV, "POD_NAME": "", "POD_NAMESPACE": "", "NODE_NAME": ""}
        doc = json.loads(run("info", env=env).stdout)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["container"]["kubernetes"], {"pod_name": None, "namespace": None, "node_name": None})

    def test_pod_variables_outside_kubernetes_are_not_reported(self):
        env = {k: v for k, v in POD_ENV.items() if not k.startswith("KUBERNETES_")}
        r = run("info", env=env, drop=("KUBERNETES_",))
        doc = json.loads(r.stdout)
        # Null unless this test itself runs in a pod (found by /proc/1/cgroup).
        if doc["container"]["runtime"] != "kubernetes":
            self.assertIsNone(doc["container"]["kubernetes"])
            table = run("info", "-f", "table", env=env, drop=("KUBERNETES_",)).stdout
            self.assertNotIn("devops-info-7d9c5b6f4-x2x8q", table)
            self.assertNotRegex(table, r"(?m)^  pod ")

    def test_hostile_values_stay_data_in_every_format(self):
        evil = "x'; touch /nonexistent/pwned; echo '\n\"}"
        env = {**POD_ENV, "POD_NAME": evil}
        doc = json.loads(run("info", "--compact", env=env).stdout)
        self.assertEqual(doc["container"]["kubernetes"]["pod_name"], evil)
        r = run("info", "--format", "env", env=env)
        out = subprocess.run(
            ["sh", "-c", 'eval "$1"; printf %s "$DEVOPS_INFO_CONTAINER_KUBERNETES_POD_NAME"', "sh", r.stdout],
            capture_output=True, text=True, check=True).stdout
        self.assertEqual(out, evil.replace("\n", " "))


class HealthTest(unittest.TestCase):
    def test_local_document(self):
        r = run("health", "--local")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(list(doc), ["status", "timestamp", "uptime_seconds"])
        self.assertEqual(doc["status"], "healthy")
        self.assertIsInstance(doc["uptime_seconds"], int)

    def test_local_table(self):
        r = run("health", "--local", "--format", "table")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^status\s+healthy$")

    def test_default_probes_the_local_server(self):
        # Without --local, health probes http://127.0.0.1:${PORT:-5000}/health
        # (tests/serve has the live server); a closed port is an unhealthy exit.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = run("health", env={"PORT": str(port)})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, f"devops-info: error: http://127.0.0.1:{port}/health: connection refused\n")

    def test_local_does_not_mix_with_probe_options(self):
        r = run("health", "--local", "--wait", "5s")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--local cannot be combined with --wait", r.stderr)


class TopLevelTest(unittest.TestCase):
    def test_help_exits_zero(self):
        for args in (["--help"], ["info", "--help"], ["health", "--help"], ["serve", "--help"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 0)
                self.assertIn("Usage", r.stdout)

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_help_and_version_on_a_full_stdout_exit_1(self):
        for args in (["--version"], ["--help"], ["info", "--help"], ["health", "--help"], ["serve", "--help"]):
            with self.subTest(args=args), open("/dev/full", "w") as full:
                r = run(*args, stdout=full)
                self.assertEqual(r.returncode, 1)
                self.assertIn("cannot write to standard output", r.stderr)

    def test_version_names_version_commit_and_compiler(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^devops-info \d+\.\d+\.\d+")
        self.assertIn("commit: ", r.stdout)
        self.assertIn("compiler: ", r.stdout)


if __name__ == "__main__":
    unittest.main()

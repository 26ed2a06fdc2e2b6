"""The config file (--config, CONFIG_FILE) on a real server: loaded at start or refused with its line and column,
reloaded live the three ways a file changes (the kubelet's ..data swap, an editor's rename, an in-place
rewrite) and on SIGHUP, never half-written, a bad or vanished file keeping the last good configuration, the
metrics saying so, and no request disturbed by a reload every 100 ms under load."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import jsonschema

from harness import SOURCE_DIR, TIMEOUT, Server, run_cli, sample_value, wait_until

with open(os.path.join(SOURCE_DIR, "docs", "info.schema.json"), encoding="utf-8") as f:
    SCHEMA = json.load(f)

# How soon a change must be seen; the watcher itself needs about 50 ms after inotify.
SEEN_WITHIN = 2.0


def write_atomically(path, text):
    """An editor's save: a new file renamed over the old one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class ConfigMapDir:
    """A directory laid out as the kubelet lays out a ConfigMap volume: config.json -> ..data/config.json,
    ..data -> ..<timestamp>/, updated by writing a new timestamped directory and renaming a new ..data
    symlink over the old one, then removing the old directory."""

    def __init__(self, root, text):
        self.root = root
        self.n = 0
        self.current = None
        self.update(text)
        os.symlink("..data/config.json", os.path.join(root, "config.json"))

    @property
    def path(self):
        return os.path.join(self.root, "config.json")

    def update(self, text):
        self.n += 1
        name = f"..2026_12_02_00_00_{self.n:02d}.{os.getpid()}"
        os.mkdir(os.path.join(self.root, name))
        with open(os.path.join(self.root, name, "config.json"), "w") as f:
            f.write(text)
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(name, tmp)
        os.rename(tmp, os.path.join(self.root, "..data"))
        if self.current:
            shutil.rmtree(os.path.join(self.root, self.current))
        self.current = name


def config_of(server):
    return server.get("/").json()["config"]


def wait_for_config(server, predicate, what, within=SEEN_WITHIN):
    """Waits for GET /'s config to satisfy `predicate`; fails if that takes longer than `within` seconds."""
    start = time.monotonic()
    wait_until(lambda: predicate(config_of(server)), timeout=TIMEOUT, interval=0.02, what=what)
    took = time.monotonic() - start
    if took > within:
        raise AssertionError(f"{what} took {took:.2f} s (at most {within} s)")
    return config_of(server)


class ConfigTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="devops-info-config-")
        self.path = os.path.join(self.dir, "config.json")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, doc):
        write_atomically(self.path, json.dumps(doc, indent=2))

    def serve(self, *args, env=None, quiet=False):
        return Server("--config", self.path, *args, env=env, quiet=quiet)


class StartTest(ConfigTestCase):
    def test_the_application_config_is_shown_with_its_source_generation_and_secrets_redacted(self):
        self.write({"appName": "devops-info", "environment": "dev", "features": {"visitsCounter": True},
                    "database": {"host": "db", "password": "hunter2"}, "apiKey": "k-123", "DB_TOKEN": "t",
                    "ui": {"title": "Demo", "color": "#0a7", "message": "canary v2"}})
        with self.serve() as s:
            jsonschema.validate(s.get("/").json(), SCHEMA)
            c = config_of(s)
            self.assertEqual(c["file"], self.path)
            self.assertEqual(c["generation"], 1)
            self.assertRegex(c["loaded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
            self.assertEqual(c["pending_restart"], [])
            self.assertEqual(c["ui"], {"title": "Demo", "color": "#0a7", "message": "canary v2"})
            self.assertEqual(c["values"], {"appName": "devops-info", "environment": "dev",
                                           "features": {"visitsCounter": True},
                                           "database": {"host": "db", "password": "<redacted>"},
                                           "apiKey": "<redacted>", "DB_TOKEN": "<redacted>"})
            body = s.get("/").body.decode()
            for secret in ("hunter2", "k-123"):
                self.assertNotIn(secret, body)
            families = s.metrics()
            self.assertEqual(sample_value(families, "devops_info_config_last_reload_successful"), 1)
            self.assertGreater(sample_value(families, "devops_info_config_last_reload_success_timestamp_seconds"),
                               time.time() - 60)
            self.assertEqual(sample_value(families, "devops_info_config_reloads_total", result="success"), 0)

    def test_config_file_variable_names_the_file_and_the_flag_wins(self):
        self.write({"appName": "from-variable"})
        other = os.path.join(self.dir, "other.json")
        with open(other, "w") as f:
            json.dump({"appName": "from-flag"}, f)
        with Server(env={"CONFIG_FILE": self.path}) as s:
            self.assertEqual(config_of(s)["values"]["appName"], "from-variable")
        with Server("--config", other, env={"CONFIG_FILE": self.path}) as s:
            self.assertEqual(config_of(s)["values"]["appName"], "from-flag")

    def test_without_a_file_there_is_no_config_key_and_no_config_metrics(self):
        with Server() as s:
            self.assertNotIn("config", s.get("/").json())
            self.assertNotIn("devops_info_config", s.get("/metrics").body.decode())

    def test_settings_from_the_file_below_flags_and_environment(self):
        self.write({"log_level": "warning", "log_format": "text", "fault_error": {"/visits": 1},
                    "ready": False, "data_dir": os.path.join(self.dir, "file-data")})
        env_data = os.path.join(self.dir, "env-data")
        os.mkdir(env_data)
        with self.serve("--log-format", "json", env={"DATA_DIR": env_data}, quiet=True) as s:
            self.assertEqual(s.get("/visits").status, 500)
            self.assertEqual(s.get("/ready").status, 503)
            s.get("/")
            wait_until(lambda: os.path.exists(os.path.join(env_data, "visits")), what="the env's data dir")
            self.assertFalse(os.path.exists(os.path.join(self.dir, "file-data")))
            # JSON (the flag) at level warning (the file): the fault's ERROR (written by the log
            # thread, so waited for), no request lines.
            s.wait_for_log(lambda d: d.get("level") == "ERROR", what="the fault's ERROR line")
            self.assertFalse(any(l["msg"] == "request" for l in s.logs()))

    def test_a_bad_file_at_start_exits_2_naming_the_file_line_column_and_key(self):
        cases = [
            ('{\n  "appName": "x",\n  "port": "eighty"\n}\n', r":3:3: port: 'eighty' is not a port number"),
            ('{\n  "log_level": "loud"\n}\n', r":2:3: log_level: 'loud' is not a log level"),
            ('{\n  "ui": {"color": "red;}</style>"}\n}\n', r":2:10: ui.color: .* is not a colour"),
            ('{\n  "appName": "x",\n  "features": {\n}\n', r":5:1: invalid JSON: "),
            ('{"threads": [1]}', r":1:2: threads: expected a string, a number or a boolean, not an array"),
            ('["not", "an", "object"]', r":1:1: the file must hold a JSON object, not an array"),
            ("", r":1:1: invalid JSON: "),
            # 50,000 nested arrays (100 KB) once overflowed the stack (exit 139): now the 65th level is named.
            ('{\n  "appName": ' + "[" * 50_000 + "]" * 50_000 + "\n}\n", r":2:77: JSON nested deeper than 64 levels"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                with open(self.path, "w") as f:
                    f.write(text)
                r = run_cli("serve", "--host", "127.0.0.1", "--port", "0", "--config", self.path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertRegex(r.stderr, re.escape(self.path) + message)
                self.assertEqual(r.stdout, "")
        # info reads the same file the same way: the deep one is a usage error there too, not a crash.
        with open(self.path, "w") as f:
            f.write('{"appName": ' + "[" * 50_000 + "]" * 50_000 + "}")
        r = run_cli("info", "--config", self.path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{self.path}:1:76: JSON nested deeper than 64 levels", r.stderr)
        r = run_cli("serve", "--port", "0", "--config", os.path.join(self.dir, "missing.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.json: No such file or directory", r.stderr)
        r = run_cli("serve", "--port", "0", "--config", self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Is a directory", r.stderr)

    def test_info_shows_the_config_and_checks_it_as_serve_would(self):
        self.write({"appName": "x", "token": "s3cret", "logLevel": "debug"})
        r = run_cli("info", "--config", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        config = json.loads(r.stdout)["config"]
        self.assertEqual(config["values"], {"appName": "x", "token": "<redacted>", "logLevel": "debug"})
        self.assertIn("warning: ", r.stderr)
        self.assertIn("did you mean 'log_level'?", r.stderr)
        r = run_cli("info", "--field", "config.values.appName", env={"CONFIG_FILE": self.path})
        self.assertEqual(r.stdout, "x\n")
        self.write({"port": 70000})
        r = run_cli("info", "--config", self.path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(":2:3: port: '70000' is not a port number", r.stderr)
        r = run_cli("info")
        self.assertNotIn("config", json.loads(r.stdout))


class ReloadTest(ConfigTestCase):
    def test_the_kubelet_s_symlink_swap_is_seen_within_2_seconds(self):
        cm = ConfigMapDir(self.dir, json.dumps({"appName": "one"}))
        with Server("--config", cm.path) as s:
            self.assertEqual(config_of(s)["values"], {"appName": "one"})
            cm.update(json.dumps({"appName": "two", "ui": {"color": "teal"}}))
            c = wait_for_config(s, lambda c: c["values"].get("appName") == "two", "the swapped ConfigMap")
            self.assertEqual(c["generation"], 2)
            self.assertEqual(c["ui"]["color"], "teal")
            line = s.wait_for_log(lambda d: d.get("msg") == "config reloaded", what="the reload line")
            self.assertEqual(line["generation"], 2)
            self.assertIn("values", line["changed"])
            self.assertIn("ui", line["changed"])
            # And a second time: the watch follows the new directory.
            cm.update(json.dumps({"appName": "three"}))
            wait_for_config(s, lambda c: c["values"].get("appName") == "three", "the second swap")
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_reloads_total", result="success"), 2)

    def test_an_editor_s_rename_and_an_in_place_rewrite(self):
        self.write({"appName": "one"})
        with self.serve() as s:
            self.write({"appName": "renamed"})
            wait_for_config(s, lambda c: c["values"].get("appName") == "renamed", "the renamed file")
            with open(self.path, "w") as f:  # truncated and written in place
                f.write(json.dumps({"appName": "rewritten"}))
            wait_for_config(s, lambda c: c["values"].get("appName") == "rewritten", "the rewritten file")
            self.assertEqual(config_of(s)["generation"], 3)

    def test_a_file_written_slowly_is_never_applied_half_way(self):
        self.write({"appName": "old"})
        full = json.dumps({"appName": "new", "padding": "x" * 2000})
        with self.serve() as s:
            seen = []
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    seen.append(config_of(s)["values"].get("appName"))

            t = threading.Thread(target=watch)
            t.start()
            try:
                with open(self.path, "w") as f:
                    for i in range(0, len(full), 500):  # four pieces, 300 ms apart
                        f.write(full[i:i + 500])
                        f.flush()
                        time.sleep(0.3)
                wait_for_config(s, lambda c: c["values"].get("appName") == "new", "the whole file")
            finally:
                stop.set()
                t.join()
            self.assertEqual(set(seen) - {"old", "new"}, set())
            self.assertEqual(config_of(s)["values"]["padding"], "x" * 2000)
            families = s.metrics()
            self.assertEqual(sample_value(families, "devops_info_config_last_reload_successful"), 1)

    def test_a_file_nested_too_deep_is_an_error_on_reload_and_the_server_stays_up(self):
        self.write({"appName": "good"})
        with self.serve() as s:
            mark = s.mark()
            with open(self.path, "w") as f:
                f.write('{"appName": "deep", "features": ' + "[" * 50_000 + "]" * 50_000 + "}")
            err = s.wait_for_log(lambda d: d.get("level") == "ERROR" and "config" in d.get("msg", ""),
                                 what="the reload's ERROR", since=mark)
            self.assertIn(f"{self.path}:1:96: JSON nested deeper than 64 levels", err["error"])
            self.assertEqual(s.proc.poll(), None)
            self.assertEqual(config_of(s)["values"]["appName"], "good")
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_reloads_total", result="failure"), 1)

    def test_a_bad_file_keeps_the_last_good_config_and_the_metrics_say_so(self):
        self.write({"appName": "good", "fault_error": {"/health": 1}})
        with self.serve() as s:
            mark = s.mark()
            with open(self.path, "w") as f:
                f.write('{\n  "appName": "bad",\n  "log_level": 7\n}\n')
            err = s.wait_for_log(lambda d: d.get("level") == "ERROR" and "config" in d.get("msg", ""),
                                 what="the reload's ERROR", since=mark)
            self.assertEqual(err["file"], self.path)
            self.assertIn(f"{self.path}:3:3: log_level: '7' is not a log level", err["error"])
            self.assertEqual(config_of(s)["values"]["appName"], "good")
            self.assertEqual(s.get("/health").status, 500)  # the good file's fault is still on
            families = s.metrics()
            self.assertEqual(sample_value(families, "devops_info_config_last_reload_successful"), 0)
            self.assertEqual(sample_value(families, "devops_info_config_reloads_total", result="failure"), 1)
            before = sample_value(families, "devops_info_config_last_reload_success_timestamp_seconds")
            time.sleep(0.2)
            # The same bad text is not retried (nor logged) every second; a fix is applied.
            time.sleep(1.2)
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_reloads_total", result="failure"), 1)
            self.write({"appName": "fixed"})
            wait_for_config(s, lambda c: c["values"].get("appName") == "fixed", "the fixed file")
            families = s.metrics()
            self.assertEqual(sample_value(families, "devops_info_config_last_reload_successful"), 1)
            self.assertGreater(sample_value(families, "devops_info_config_last_reload_success_timestamp_seconds"),
                               before)
            self.assertEqual(s.get("/health").status, 200)  # the fixed file has no fault

    def test_a_vanished_file_keeps_the_config_with_a_warning_until_it_is_back(self):
        self.write({"appName": "here"})
        with self.serve() as s:
            mark = s.mark()
            os.remove(self.path)
            warn = s.wait_for_log(lambda d: d.get("level") == "WARNING", what="the WARNING", since=mark)
            self.assertIn("gone", warn["msg"])
            self.assertEqual(config_of(s)["values"]["appName"], "here")
            time.sleep(1.2)  # once, not every second
            self.assertEqual(len([l for l in s.logs()[mark:] if l["level"] == "WARNING"]), 1)
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_last_reload_successful"), 1)
            self.write({"appName": "back"})
            wait_for_config(s, lambda c: c["values"].get("appName") == "back", "the file back")

    def test_an_unknown_key_is_a_warning_and_the_rest_applies(self):
        self.write({"appName": "one"})
        with self.serve() as s:
            mark = s.mark()
            self.write({"appName": "two", "logLevel": "debug", "ui": {"colour": "red"}})
            wait_for_config(s, lambda c: c["values"].get("appName") == "two", "the file with unknown keys")
            # The warnings come before the reload's own line, which the log thread writes in order.
            s.wait_for_log(lambda d: d.get("msg") == "config reloaded", what="the reload line", since=mark)
            warnings = [l["warning"] for l in s.logs()[mark:] if l["level"] == "WARNING"]
            self.assertTrue(any("logLevel: unknown key (did you mean 'log_level'?)" in w for w in warnings), warnings)
            self.assertTrue(any("ui.colour: unknown key" in w for w in warnings), warnings)
            self.assertEqual(config_of(s)["ui"]["color"], None)

    def test_a_restart_only_key_warns_is_counted_and_waits(self):
        self.write({"appName": "one"})
        with self.serve("--threads", "1") as s:
            mark = s.mark()
            self.write({"appName": "two", "max_connections": 50, "threads": 4, "idle_timeout": "75s"})
            c = wait_for_config(s, lambda c: c["values"].get("appName") == "two", "the restart-only change")
            # --threads wins over the file
            self.assertEqual(c["pending_restart"], ["max_connections", "idle_timeout"])
            jsonschema.validate(s.get("/").json(), SCHEMA)
            warn = s.wait_for_log(lambda d: d.get("key") == "max_connections", what="the WARNING", since=mark)
            self.assertEqual(warn["level"], "WARNING")
            self.assertEqual(warn["msg"], "config change takes effect at the next start")
            self.assertEqual((warn["running"], warn["wanted"]), ("10000", "50"))
            idle = s.wait_for_log(lambda d: d.get("key") == "idle_timeout", what="its WARNING", since=mark)
            self.assertEqual((idle["running"], idle["wanted"]), ("5s", "75s"))
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_restart_required_total"), 2)
            # the same wishes: counted once
            self.write({"appName": "three", "max_connections": 50, "idle_timeout": "75s"})
            wait_for_config(s, lambda c: c["values"].get("appName") == "three", "the next file")
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_restart_required_total"), 2)

    def test_live_settings_apply_at_once(self):
        self.write({"appName": "one"})
        with self.serve() as s:
            self.assertEqual(s.get("/ready").status, 200)
            self.write({"ready": False, "healthy": False, "fault_delay": ["/visits=300ms"], "log_level": "warning"})
            wait_until(lambda: s.get("/ready").status == 503, what="/ready 503")
            self.assertEqual(s.get("/health").status, 503)
            start = time.monotonic()
            s.get("/visits")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
            mark = s.mark()
            s.get("/ready")
            time.sleep(0.3)
            self.assertFalse(any(l["msg"] == "request" for l in s.logs()[mark:]))
            self.write({"ready": True, "log_level": "info", "log_format": "text"})
            wait_until(lambda: s.get("/ready").status == 200, what="/ready 200 again")
            self.assertEqual(s.get("/health").status, 200)
            wait_until(lambda: any(l.startswith("20") and " INFO " in l and "request" in l for l in s.lines),
                       what="a request line in text")

    def test_sighup_reloads_with_a_file(self):
        self.write({"appName": "one"})
        with self.serve() as s:
            s.proc.send_signal(signal.SIGHUP)
            s.wait_for_log(lambda d: d.get("msg") == "config file unchanged", what="the unchanged line")
            self.assertEqual(sample_value(s.metrics(), "devops_info_config_reloads_total", result="success"), 1)
            self.assertEqual(config_of(s)["generation"], 1)
            s.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: sample_value(s.metrics(), "devops_info_config_reloads_total", result="success") == 2,
                       what="the second SIGHUP")
            self.assertIsNone(s.proc.poll())
            self.assertEqual(s.get("/health").status, 200)
            self.assertEqual(s.stop(), 0)

    def test_sighup_without_a_file_still_drains_and_exits(self):
        with Server() as s:
            s.proc.send_signal(signal.SIGHUP)
            self.assertEqual(s.wait(), 0)
            self.assertTrue(any(l.get("signal") == "SIGHUP" and l["msg"] == "shutting down" for l in s.logs()))

    def test_shutdown_delay_from_a_reloaded_file(self):
        self.write({})
        with self.serve() as s:
            self.write({"shutdown_delay": "700ms"})
            wait_until(lambda: config_of(s)["generation"] == 2, what="the reload")
            start = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: s.get("/ready").status == 503, what="/ready 503 during the delay")
            self.assertEqual(s.wait(), 0)
            self.assertGreaterEqual(time.monotonic() - start, 0.7)


class ReloadUnderLoadTest(ConfigTestCase):
    def test_a_reload_every_100_ms_under_load_disturbs_no_request(self):
        self.write({"appName": "v0"})
        with self.serve("--log-level", "warning", quiet=True) as s:
            stop = threading.Event()
            written = []

            def reload_loop():
                n = 0
                while not stop.is_set():
                    n += 1
                    self.write({"appName": f"v{n}", "ui": {"message": f"release {n}"}})
                    written.append(n)
                    time.sleep(0.1)

            t = threading.Thread(target=reload_loop)
            t.start()
            try:
                r = subprocess.run(["wrk", "-t2", "-c20", "-d3s", f"http://127.0.0.1:{s.port}/"],
                                   capture_output=True, text=True, timeout=60)
            finally:
                stop.set()
                t.join()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("Socket errors", r.stdout)
            self.assertNotIn("Non-2xx", r.stdout)
            total = int(re.search(r"(\d+) requests in", r.stdout).group(1))
            self.assertGreater(total, 100)
            last = f"v{written[-1]}"
            wait_for_config(s, lambda c: c["values"]["appName"] == last, "the last version")
            families = s.metrics()
            self.assertGreaterEqual(sample_value(families, "devops_info_config_reloads_total", result="success"), 10)
            self.assertEqual(sample_value(families, "devops_info_config_reloads_total", result="failure"), 0)
            answered = [(labels["status"], value) for name, labels, value in families["http_requests_total"]["samples"]
                        if labels.get("endpoint") == "/"]
            self.assertEqual([a for a in answered if a[0] != "200"], [])
            self.assertGreaterEqual(dict(answered)["200"], total)


if __name__ == "__main__":
    unittest.main()

"""The man page, the shell completions and the help examples against the real --help output.

Every option that `devops-info --help` or `devops-info COMMAND --help` shows
must be documented under that command in the man page and be offered by the
bash, zsh and fish completions, with the same values for enumerated options
(`--format json|table|env`); and nothing may be documented or completed that
--help does not show. The --help text of the built binary is the reference.

ctest sets DEVOPS_INFO_BIN (the binary) and DEVOPS_INFO_SOURCE_DIR.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BIN = os.environ.get("DEVOPS_INFO_BIN", "devops-info")
SOURCE_DIR = os.environ.get("DEVOPS_INFO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MAN_PAGE = os.path.join(SOURCE_DIR, "man", "devops-info.1")
COMPLETIONS = os.path.join(SOURCE_DIR, "completions")
TOP = ""  # the scope of the global options


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, **kwargs)


def need(program):
    path = shutil.which(program)
    if path is None:
        raise AssertionError(f"{program} is not installed (./build.sh deps installs it)")
    return path


def parse_names(text):
    """'-f, --format json|table|env' -> (['-f', '--format'], 'json|table|env')."""
    tokens = [t for t in re.split(r",\s*|\s+", text.strip()) if t]
    names = []
    while tokens and tokens[0].startswith("-"):
        names.append(tokens.pop(0))
    value = tokens[0] if tokens and ("|" in tokens[0] or re.fullmatch(r"[A-Z][A-Z0-9_:]*", tokens[0])) else ""
    return names, value


def choices(value):
    return set(value.split("|")) if "|" in value else None


class Help:
    """The options and subcommands that the built binary's --help shows."""

    def __init__(self):
        self.options = {}  # scope ("" or command) -> {name: value}
        self.groups = {}  # scope -> [[names of one option]]
        self.commands = []
        top = self._help([])
        for line in top["subcommands"]:
            self.commands.append(line.split()[0])
        self.options[TOP], self.groups[TOP] = top["options"], top["groups"]
        for cmd in self.commands:
            sub = self._help([cmd])
            self.options[cmd], self.groups[cmd] = sub["options"], sub["groups"]

    @staticmethod
    def _help(args):
        r = run([BIN, *args, "--help"])
        if r.returncode != 0:
            raise AssertionError(f"devops-info {' '.join(args)} --help exited {r.returncode}: {r.stderr}")
        options, groups, subcommands, section = {}, [], [], ""
        for line in r.stdout.splitlines():
            if line and not line[0].isspace() and line.rstrip().endswith(":"):
                section = line.strip().lower()
                continue
            if "option" in section and re.match(r"^\s{1,4}-", line):
                names, value = parse_names(line)
                groups.append(names)
                for name in names:
                    options[name] = value
            elif "subcommand" in section and re.match(r"^\s{1,4}[a-z]", line):
                subcommands.append(line.strip())
        if "-h" not in options and "--help" not in options:
            raise AssertionError(f"cannot parse the options of devops-info {' '.join(args)} --help:\n{r.stdout}")
        return {"options": options, "groups": groups, "subcommands": subcommands}


HELP = None


def setUpModule():
    global HELP
    HELP = Help()


def scopes():
    return [TOP, *HELP.commands]


def scope_name(scope):
    return "devops-info" if scope == TOP else f"devops-info {scope}"


class HelpTest(unittest.TestCase):
    """Each --help ends with two or three examples that use real options."""

    @staticmethod
    def examples(scope):
        r = run([BIN, *([scope] if scope else []), "--help"])
        lines = r.stdout.rstrip("\n").split("\n")
        starts = [i for i, line in enumerate(lines) if line.strip() == "Examples:"]
        return lines[starts[-1] + 1:] if starts else None

    def test_every_help_ends_with_examples(self):
        for scope in scopes():
            with self.subTest(scope=scope_name(scope)):
                examples = self.examples(scope)
                self.assertIsNotNone(examples, f"'{scope_name(scope)} --help' has no Examples: section")
                self.assertTrue(all(line.startswith("  ") and "devops-info" in line for line in examples),
                                f"'{scope_name(scope)} --help' does not end with its examples: {examples}")
                self.assertIn(len(examples), (2, 3), f"'{scope_name(scope)} --help': {len(examples)} examples")

    def test_examples_use_real_commands_and_options(self):
        for scope in scopes():
            for line in self.examples(scope) or []:
                for cmd, args in re.findall(r"devops-info\s+([\w-]+)([^;|&#)\"\n]*)", line):
                    with self.subTest(example=line.strip()):
                        self.assertIn(cmd, HELP.commands)
                        for opt in re.findall(r"(?<!\S)(--?[A-Za-z][\w-]*)", args):
                            self.assertIn(opt, HELP.options[cmd], f"{opt} is no option of {cmd}")


class ManPageTest(unittest.TestCase):
    """man/devops-info.1, as mandoc renders it, against --help."""

    @classmethod
    def setUpClass(cls):
        need("mandoc")
        r = run(["mandoc", "-Tascii", "-O", "width=250", MAN_PAGE])
        if r.returncode != 0:
            raise AssertionError(f"mandoc cannot render {MAN_PAGE}: {r.stderr}")
        text = re.sub(r".\x08", "", r.stdout)
        cls.sections = {}  # SECTION -> lines; "OPTIONS/Options for info" -> lines
        section = sub = None
        for line in text.splitlines():
            if re.match(r"^[A-Z][A-Z ]+$", line):
                section, sub = line.strip(), None
                cls.sections[section] = []
                continue
            m = re.match(r"^ {3}(\S.*)$", line)
            if m and section:
                sub = f"{section}/{m.group(1).strip()}"
                cls.sections[sub] = []
                continue
            if section:
                cls.sections[section].append(line)
                if sub:
                    cls.sections[sub].append(line)

    def terms(self, key):
        """The option terms of a subsection: {name: value}."""
        self.assertIn(key, self.sections, f"the man page has no subsection '{key.split('/')[-1]}' under OPTIONS")
        out = {}
        for line in self.sections[key]:
            if re.match(r"^ {7}-", line):
                names, value = parse_names(line)
                for name in names:
                    out[name] = value
        return out

    @staticmethod
    def options_key(scope):
        return "OPTIONS/Global options" if scope == TOP else f"OPTIONS/Options for {scope}"

    def test_every_command_is_described(self):
        documented = [line.strip() for line in self.sections["COMMANDS"] if re.match(r"^ {7}[a-z]+$", line)]
        self.assertEqual(sorted(documented), sorted(HELP.commands), "COMMANDS of the man page vs. --help")

    def test_every_option_in_help_is_documented(self):
        for scope in scopes():
            with self.subTest(scope=scope_name(scope)):
                terms = self.terms(self.options_key(scope))
                missing = sorted(set(HELP.options[scope]) - set(terms))
                self.assertEqual(missing, [], f"'{scope_name(scope)} --help' shows options the man page lacks")

    def test_every_documented_option_exists(self):
        for scope in scopes():
            with self.subTest(scope=scope_name(scope)):
                stale = sorted(set(self.terms(self.options_key(scope))) - set(HELP.options[scope]))
                self.assertEqual(stale, [], f"the man page documents options '{scope_name(scope)} --help' lacks")

    def test_enumerated_values_match(self):
        for scope in scopes():
            terms = self.terms(self.options_key(scope))
            for name, value in HELP.options[scope].items():
                if choices(value) and name in terms:
                    with self.subTest(option=f"{scope_name(scope)} {name}"):
                        self.assertEqual(choices(terms[name]), choices(value))

    def test_synopsis_names_every_option(self):
        synopsis = " ".join(" ".join(self.sections["SYNOPSIS"]).split())
        blocks = re.split(r"(?=devops-info )", synopsis)
        for scope in scopes():
            head = scope_name(scope) + " "
            block = next((b for b in blocks if b.startswith(head) and (scope or b.split()[1].startswith("["))), "")
            with self.subTest(scope=scope_name(scope)):
                self.assertTrue(block, f"no synopsis line for {scope_name(scope)}")
                for names in HELP.groups[scope]:
                    if "--help" in names or "--version" in names:
                        continue
                    found = [n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", block)]
                    self.assertTrue(found, f"the synopsis of {scope_name(scope)} lacks {' or '.join(names)}")

    def test_required_sections(self):
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT", "EXIT STATUS",
                        "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertIn(section, self.sections)
        env = "\n".join(self.sections["ENVIRONMENT"])
        for var in ("HOST", "PORT", "DEBUG", "NO_COLOR"):
            self.assertRegex(env, rf"(?m)^ {{7}}{var}\b")


class CompletionTest(unittest.TestCase):
    """completions/ for bash, zsh and fish against --help."""

    def assert_same(self, offered, shown):
        offered, shown = set(offered), set(shown)
        problems = []
        if shown - offered:
            problems.append(f"--help shows, the completion lacks: {' '.join(sorted(shown - offered))}")
        if offered - shown:
            problems.append(f"the completion offers, --help lacks: {' '.join(sorted(offered - shown))}")
        if problems:
            self.fail("; ".join(problems))

    @classmethod
    def setUpClass(cls):
        cls.env = dict(os.environ)
        cls.env["PATH"] = os.path.dirname(os.path.abspath(BIN)) + os.pathsep + cls.env.get("PATH", "")
        cls.home = tempfile.mkdtemp(prefix="devops-info-completion-")
        cls.env.update(HOME=cls.home, XDG_CONFIG_HOME=cls.home, XDG_DATA_HOME=cls.home)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    # --- bash: ask the completion function, as readline would ----------------
    def bash(self, line):
        script = r"""
            source "$1"
            read -r -a COMP_WORDS <<<"$2"
            [[ $2 == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$2 COMP_POINT=${#2}
            _devops_info devops-info "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
            printf '%s\n' "${COMPREPLY[@]}"
        """
        r = run(["bash", "--norc", "--noprofile", "-c", script, "bash",
                 os.path.join(COMPLETIONS, "devops-info.bash"), line], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {w for w in r.stdout.split("\n") if w}

    # --- fish: its own `complete -C` ------------------------------------------
    def fish(self, line):
        need("fish")
        src = os.path.join(COMPLETIONS, "devops-info.fish")
        r = run(["fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", src, line], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {w.split("\t")[0] for w in r.stdout.split("\n") if w}

    # --- zsh: the _arguments specs of each command's function ---------------
    @classmethod
    def zsh_specs(cls):
        with open(os.path.join(COMPLETIONS, "_devops-info"), encoding="utf-8") as f:
            text = f.read()
        out = {}
        for func, body in re.findall(r"(?ms)^(_devops-info(?:_\w+)?)\(\) \{\n(.*?)^\}", text):
            scope = func[len("_devops-info_"):] if func != "_devops-info" else TOP
            if scope == "fields":
                continue
            opts = {}
            for spec in re.findall(r"(?m)^\s*('.*?)\s*\\?$", body):
                head = re.sub(r"\([^)]*\)", "", spec.split("[")[0])  # no exclusion lists
                names = re.findall(r"(?<=[{,'])(--?[A-Za-z][\w-]*)", head)
                values = re.search(r":\(([^)]*)\)'$", spec)
                for name in names:
                    opts[name] = values.group(1).split() if values else None
            commands = re.findall(r"^\s*[\"']([a-z]+):", body, re.M)
            out[scope] = (opts, commands)
        return out

    def test_zsh_is_valid(self):
        need("zsh")
        r = run(["zsh", "-n", os.path.join(COMPLETIONS, "_devops-info")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_subcommands(self):
        want = set(HELP.commands)
        for shell, offered in (("bash", self.bash("devops-info ")), ("fish", self.fish("devops-info ")),
                               ("zsh", self.zsh_specs()[TOP][1])):
            with self.subTest(shell=shell):
                self.assert_same(offered, want)

    def test_options_per_command(self):
        zsh = self.zsh_specs()
        for scope in scopes():
            want = set(HELP.options[scope])
            line = scope_name(scope) + " -"
            with self.subTest(shell="bash", scope=scope_name(scope)):
                self.assert_same(self.bash(line), want)
            with self.subTest(shell="fish", scope=scope_name(scope)):
                self.assert_same(self.fish(line), want)
            with self.subTest(shell="zsh", scope=scope_name(scope)):
                self.assertIn(scope, zsh, f"no zsh function for {scope_name(scope)}")
                self.assert_same(zsh[scope][0], want)

    def test_enumerated_values(self):
        zsh = self.zsh_specs()
        for scope in scopes():
            for name, value in HELP.options[scope].items():
                want = choices(value)
                if not want:
                    continue
                line = f"{scope_name(scope)} {name} "
                with self.subTest(shell="bash", option=line):
                    self.assert_same(self.bash(line), want)
                with self.subTest(shell="fish", option=line):
                    self.assert_same(self.fish(line), want)
                with self.subTest(shell="zsh", option=line):
                    self.assert_same(zsh[scope][0].get(name) or [], want)


if __name__ == "__main__":
    unittest.main()

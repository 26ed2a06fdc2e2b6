#!/usr/bin/env python3
"""clang-tidy over the project's sources, skipping what an earlier clean run saw.

    scripts/tidy.py BUILD_DIR FILE...        # BUILD_DIR holds compile_commands.json

Each file runs with the command CMake gave it. With TIDY_CACHE set to a
directory, a file is skipped when its preprocessed text (clang++ -E, so every
header it includes counts), its compile flags, .clang-tidy and clang-tidy's
version are those of a run that found nothing; a file with findings is never
recorded. Without TIDY_CACHE every file runs. Prints clang-tidy's findings
and a count; exits 1 if any file has findings (.clang-tidy makes every
warning an error).
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def compile_commands(build_dir):
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        return {os.path.realpath(os.path.join(e["directory"], e["file"])): e for e in json.load(f)}


def preprocess_command(entry):
    """The entry's compile command, as clang++ -E -P to stdout (no output file, no line markers)."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = ["clang++"], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a != "-c":
            out.append(a)
    # (GCC's warning flags that clang lacks must not fail the key.)
    return out + ["-Wno-unknown-warning-option", "-E", "-P", "-o", "-"], entry["directory"]


def key(entry, top, versions):
    cmd, cwd = preprocess_command(entry)
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=300, check=False)
    if r.returncode != 0:
        return None  # let clang-tidy say what is wrong
    h = hashlib.sha256(versions)
    h.update(" ".join(cmd).replace(top, ".").encode())  # the same flags in another clone
    h.update(r.stdout)
    return h.hexdigest()


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    build_dir, files = sys.argv[1], sys.argv[2:]
    top = os.getcwd()
    commands = compile_commands(build_dir)
    cache = os.environ.get("TIDY_CACHE", "")
    with open(".clang-tidy", "rb") as f:
        versions = f.read() + subprocess.run(["clang-tidy", "--version"], capture_output=True, check=True).stdout

    def one(path):
        entry = commands.get(os.path.realpath(path))
        if entry is None:
            return path, f"{path}: not in {build_dir}/compile_commands.json\n", False
        k = key(entry, top, versions) if cache else None
        if k and os.path.exists(os.path.join(cache, k)):
            return path, "", True
        r = subprocess.run(["clang-tidy", "-p", build_dir, "--quiet", path], capture_output=True, text=True,
                           timeout=1800, check=False)
        clean = r.returncode == 0
        if clean and k:
            os.makedirs(cache, exist_ok=True)
            with open(os.path.join(cache, k), "w", encoding="utf-8") as f:
                f.write(path + "\n")
        return path, "" if clean else r.stdout + r.stderr, False

    failed = skipped = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, output, cached in pool.map(one, files):
            skipped += cached
            if output:
                failed += 1
                sys.stdout.write(output)
    print(f"clang-tidy: {len(files)} files, {skipped} unchanged since a clean run, {failed} with findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

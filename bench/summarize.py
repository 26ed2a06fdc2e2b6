#!/usr/bin/env python3
"""Summarise one bench/run.sh output directory as markdown (stdout)."""
import json
import re
import statistics
import sys
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(path):
    if not path.exists():
        return None
    t = path.read_text()
    r = {"rps": None, "p50": None, "p99": None, "errors": 0, "non2xx": 0, "requests": None}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", t):
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", t, re.M):
            r[key] = ms(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t):
        r["errors"] = sum(int(x) for x in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", t):
        r["non2xx"] = int(m.group(1))
    if m := re.search(r"(\d+) requests in", t):
        r["requests"] = int(m.group(1))
    return r


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def fmt(v, spec="{:,.0f}"):
    return "–" if v is None else spec.format(v)


def main(out):
    out = Path(out)
    starts = jsonl(out / "startup.jsonl")
    peers = list(dict.fromkeys(s["peer"] for s in starts))
    idle = {d["peer"]: d["idle_rss_kb"] for d in jsonl(out / "idle.jsonl")}
    peak = {d["peer"]: d["peak_rss_kb"] for d in jsonl(out / "peak.jsonl")}
    tests = ["c1-root", "c1-health", "c50-root", "c50-health", "c200-root", "c200-health", "c1000-health"]
    if (out / "wrk" / "nginx.c50-health.txt").exists():
        peers.append("nginx")
    wrk = {(p, t): parse_wrk(out / "wrk" / f"{p}.{t}.txt") for p in peers for t in tests}

    print(f"# devops-info benchmark ({out.name})\n")
    print("```\n" + (out / "env.txt").read_text().strip() + "\n```\n")
    print("## Start-up and memory\n")
    print("| server | exec to healthy ms (median, min–max) | idle RSS MiB (in the load phase) | peak RSS MiB (VmHWM) |")
    print("|---|---|---|---|")
    for p in peers:
        ms_ = [s["startup_ms"] for s in starts if s["peer"] == p and s["startup_ms"] is not None]
        st = f"{statistics.median(ms_):.2f} ({min(ms_):.2f}–{max(ms_):.2f})" if ms_ else "–"
        print(f"| {p} | {st} | {fmt(idle.get(p) and idle[p] / 1024, '{:.2f}')} | "
              f"{fmt(peak.get(p) and peak[p] / 1024, '{:.2f}')} |")
    print("\n## Load (wrk on the same cores)\n")
    print("| test | server | req/s | p50 ms | p99 ms | errors (socket + non-2xx) | devops-info req/s ÷ this | devops-info p99 ÷ this |")
    print("|---|---|---|---|---|---|---|---|")
    for t in tests:
        ours = wrk.get(("devops-info", t))
        for p in peers:
            r = wrk[(p, t)]
            if r is None:
                continue
            ratio = p99r = "–"
            if p != "devops-info" and ours and ours["rps"] and r["rps"]:
                ratio = f"{ours['rps'] / r['rps']:.2f}×"
                if ours["p99"] and r["p99"]:
                    p99r = f"{ours['p99'] / r['p99']:.2f}×"
            print(f"| {t} | {p} | {fmt(r['rps'])} | {fmt(r['p50'], '{:.2f}')} | {fmt(r['p99'], '{:.2f}')} | "
                  f"{r['errors'] + r['non2xx']} | {ratio} | {p99r} |")
    calls = jsonl(out / "syscalls.jsonl")
    if calls:
        print("\n## System calls per keep-alive request (strace -f -c under wrk -c50 /health)\n")
        print("| server | requests | system calls | per request |")
        print("|---|---|---|---|")
        for c in calls:
            per = c["syscalls"] / c["requests"] if c["requests"] else None
            print(f"| {c['peer']} | {c['requests']:,} | {c['syscalls']:,} | {fmt(per, '{:.2f}')} |")
    pipe = out / "pipelining.json"
    if pipe.exists():
        d = json.loads(pipe.read_text())
        print(f"\n100 pipelined requests in one write: {d['answers']} answers, in order: {d['in_order']}")
    crowd = jsonl(out / "crowd.jsonl")
    if crowd:
        print("\n## A crowd: 10,000 idle keep-alive + 1,000 slow-header connections\n")
        print("| server | fresh /health p50 ms | p99 ms | max ms | probes failed | RSS peak MiB | RSS after MiB |")
        print("|---|---|---|---|---|---|---|")
        for c in crowd:
            if c.get("silent"):
                continue
            print(f"| {c['peer']} | {c['probe_p50_ms']} | {c['probe_p99_ms']} | {c['probe_max_ms']} | "
                  f"{c['probes_failed']}/{c['probes']} | {c['rss_peak_mib']} | {c['rss_after_mib']} |")
    flood = [c for c in crowd if c.get("silent")]
    if flood:
        print("\n## A flood: 12,000 connections that send nothing, at the default --max-connections 10,000\n")
        print("| server | fresh /health p50 ms | p99 ms | max ms | probes failed | reconnects | evicted |")
        print("|---|---|---|---|---|---|---|")
        for c in flood:
            print(f"| {c['peer']} | {c['probe_p50_ms']} | {c['probe_p99_ms']} | {c['probe_max_ms']} | "
                  f"{c['probes_failed']}/{c['probes']} | {c['reconnects']} | {c.get('evicted', '')} |")
    cost = out / "cost" / "summary.md"
    if cost.exists():
        print("\n" + cost.read_text().strip())
    h2 = out / "h2" / "summary.md"
    if h2.exists():
        print("\n" + h2.read_text().strip())
    hf = out / "hyperfine.json"
    if hf.exists():
        res = json.loads(hf.read_text())["results"]
        print("\n## One-shot `info` (hyperfine -N)\n")
        print("| command | mean ms | median ms | min ms |")
        print("|---|---|---|---|")
        for r in res:
            print(f"| `{r.get('command')}` | {r['mean'] * 1000:.2f} | {r['median'] * 1000:.2f} | {r['min'] * 1000:.2f} |")
        if len(res) == 2:
            print(f"\n`info` / `/bin/true` (medians): {res[1]['median'] / res[0]['median']:.2f}×")


if __name__ == "__main__":
    main(sys.argv[1])

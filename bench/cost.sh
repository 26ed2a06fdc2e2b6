#!/usr/bin/env bash
# bench/cost.sh [OUTDIR]: server CPU time per /health request, devops-info
# against nginx returning the same body, at 50 connections (wrk), in two
# rows measured side by side:
#
#   logs     one JSON access-log line per request, to a file, on both sides
#            (nginx: a JSON log_format; ours: serve's own log, stdout to a file)
#   no-logs  no access log on either side (nginx: access_log off; ours:
#            --log-level warning)
#
# CPU time is utime + stime of the server's processes (nginx: its workers)
# from /proc, read before and after each wrk run, divided by the requests wrk
# counted. The rounds alternate between the servers; the medians are printed
# with the ratio nginx / ours (>= 1.0: ours costs no more than nginx).
# Also `/`, the info document, for ours (it should cost within 10 % of
# /health).
#
# Env: BIN (default: the static release build, scripts/build-static.sh),
# ROUNDS (5), DURATION (5s), NGINX_WORKERS and THREADS (2 each).
# All traffic goes to 127.0.0.1; every run is bounded by DURATION.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/build/bench/cost-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
WORKERS=${NGINX_WORKERS:-2}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$OUT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need wrk wrk
need nginx nginx-light
install_missing
BIN=${BIN:-$ROOT/$("$ROOT/scripts/build-static.sh" | tail -1)}

trap cleanup EXIT

start() {  # NAME: nginx-logs, nginx-no-logs, ours-logs or ours-no-logs
  local name=$1
  shift
  PORT[$name]=$(free_port)
  case $name in
    nginx-*)
      local log="access_log off;"
      [ "$name" = nginx-logs ] && log="access_log $OUT/$name.access.log json;"
      mkdir -p "$OUT/$name"
      sed "s|@DIR@|$OUT/$name|g; s|@PORT@|${PORT[$name]}|g; s|@WORKERS@|$WORKERS|g; s|@ACCESS_LOG@|$log|g" \
        "$HERE/peers/nginx-cost.conf.in" > "$OUT/$name/nginx.conf"
      nginx -e "$OUT/$name/error.log" -c "$OUT/$name/nginx.conf" &
      ;;
    ours-logs) "$BIN" serve --host 127.0.0.1 --port "${PORT[$name]}" --threads "$THREADS" > "$OUT/$name.log" 2>&1 & ;;
    ours-no-logs)
      "$BIN" serve --host 127.0.0.1 --port "${PORT[$name]}" --threads "$THREADS" --log-level warning \
        > "$OUT/$name.log" 2>&1 &
      ;;
  esac
  PID[$name]=$!
  wait_healthy "${PORT[$name]}" 100 && return 0
  echo "cost: $name did not answer /health" >&2
  exit 1
}

# One run: prints microseconds of server CPU per request.
measure() {  # NAME PATH
  local name=$1 path=$2 before after reqs
  before=$(ticks "${PID[$name]}")
  wrk -t2 -c50 -d"$DURATION" "http://127.0.0.1:${PORT[$name]}$path" > "$OUT/wrk.$name.txt" 2>&1
  after=$(ticks "${PID[$name]}")
  reqs=$(grep -oE '^ *[0-9]+ requests in' "$OUT/wrk.$name.txt" | grep -oE '[0-9]+')
  grep -q 'Non-2xx\|Socket errors' "$OUT/wrk.$name.txt" && { echo "cost: errors in $name's run" >&2; cat "$OUT/wrk.$name.txt" >&2; }
  $PY -c "print(round(($after - $before) / $HZ / $reqs * 1e6, 2))"
}

{
  echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  nproc: $(nproc)"
  echo "binary: $("$BIN" --version | head -1)  nginx: $(nginx -v 2>&1)"
  echo "wrk -t2 -c50 -d$DURATION, $ROUNDS rounds alternating; nginx $WORKERS workers, ours $THREADS threads"
} | tee "$OUT/env.txt"

for name in nginx-logs nginx-no-logs ours-logs ours-no-logs; do start "$name"; done
for name in "${!PID[@]}"; do wrk -t2 -c10 -d1s "http://127.0.0.1:${PORT[$name]}/health" >/dev/null 2>&1; done

: > "$OUT/runs.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for name in nginx-logs ours-logs nginx-no-logs ours-no-logs; do
    us=$(measure "$name" /health)
    echo "{\"round\": $round, \"server\": \"$name\", \"path\": \"/health\", \"cpu_us\": $us}" >> "$OUT/runs.jsonl"
  done
  for name in ours-logs ours-no-logs; do
    us=$(measure "$name" /)
    echo "{\"round\": $round, \"server\": \"$name\", \"path\": \"/\", \"cpu_us\": $us}" >> "$OUT/runs.jsonl"
  done
  : > "$OUT/nginx-logs.access.log"  # the file need not grow for the whole run
  kill -USR1 "${PID[nginx-logs]}" 2>/dev/null || true
done

$PY - "$OUT/runs.jsonl" <<'PYEOF' | tee "$OUT/summary.md"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(server, path="/health"):
    return statistics.median(r["cpu_us"] for r in runs if r["server"] == server and r["path"] == path)
print("| server CPU per request, wrk -c50 | nginx /health | ours /health | ratio (nginx / ours) | ours / | / against /health |")
print("| --- | --- | --- | --- | --- | --- |")
for row, label in (("logs", "a JSON access-log line per request, to a file"), ("no-logs", "no access log")):
    n, o, r = med(f"nginx-{row}"), med(f"ours-{row}"), med(f"ours-{row}", "/")
    print(f"| {label} | {n:.2f} µs | {o:.2f} µs | {n / o:.2f} | {r:.2f} µs | {r / o:.2f}× |")
PYEOF

# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share; sourced, after PY is set.
# Servers they start go in PID and PORT (by name); `cleanup` stops them all.

# need COMMAND PACKAGE: PACKAGE goes on the list install_missing installs
# when COMMAND is not there.
MISSING=""
need() { command -v "$1" >/dev/null || MISSING="$MISSING $2"; }
# install_missing: apt-get installs the packages need() listed, if any.
install_missing() {
  [ -n "$MISSING" ] || return 0
  # shellcheck disable=SC2086 # one word per package
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $MISSING >/dev/null
}

# A loopback port free now.
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_healthy PORT [TRIES]: waits until http://127.0.0.1:PORT/health answers,
# 50 ms between tries (default 200, 10 s); fails if it never does.
wait_healthy() {
  local _
  for _ in $(seq 1 "${2:-200}"); do
    $PY -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$1/health', timeout=1)" 2>/dev/null &&
      return 0
    sleep 0.05
  done
  return 1
}

# shellcheck disable=SC2034 # PORT is filled and read by the scripts
declare -A PID PORT
cleanup() {
  local k
  for k in "${!PID[@]}"; do kill "${PID[$k]}" 2>/dev/null || true; done
  for k in "${!PID[@]}"; do wait "${PID[$k]}" 2>/dev/null || true; done
  PID=()
}

# ticks PID: the CPU ticks (utime + stime) of every thread of PID and of its
# children's (nginx's workers), from /proc; divide by HZ for seconds.
ticks() {
  local total=0 pid t
  for pid in "$1" $(pgrep -P "$1" || true); do
    for t in /proc/"$pid"/task/*/stat; do
      [ -r "$t" ] || continue
      # fields 14 and 15, after the command name in parentheses
      total=$((total + $(sed 's/.*) //' "$t" | awk '{print $12 + $13}')))
    done
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)

# h2load_run PID LOG ARGS...: one h2load run (ARGS) against the server PID;
# prints "req/s cpu-us-per-request" (h2load_numbers). h2load 1.52 now and
# then leaves one client sending requests after -D has "stopped all
# clients", and never exits: a run still going DURATION + 60 s after it
# began is killed and made again, once.
h2load_run() {
  local pid=$1 log=$2 before after rc limit=$((DURATION + 60))
  shift 2
  for _ in 1 2; do
    before=$(ticks "$pid")
    rc=0
    timeout -k 5 "$limit" h2load "$@" >"$log" 2>&1 || rc=$?
    after=$(ticks "$pid")
    [ "$rc" -eq 124 ] || break
    echo "bench: h2load still running after $limit s, killed and run again ($log)" >&2
  done
  h2load_numbers "$log" "$before" "$after"
}

# h2load_numbers LOG BEFORE AFTER: "req/s cpu-us-per-request" of one h2load
# run, from its log and the server's CPU ticks before and after it; fails on
# errors. With -D, requests still in flight at the deadline count as failed:
# at most 50 connections x 10 streams of them. More is a real error.
h2load_numbers() {
  $PY - "$1" "$2" "$3" "$HZ" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
before, after, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text).group(1))
done = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done", text).group(1))
failed, errored, timeout = (int(x) for x in re.search(r"(\d+) failed, (\d+) errored, (\d+) timeout", text).groups())
if failed > 500 or timeout > 0 or re.search(r"status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx", text) is None:
    sys.exit(f"h2load reported errors in {sys.argv[1]}: {failed} failed, {errored} errored, {timeout} timeout")
print(f"{rps:.0f} {(after - before) / hz * 1e6 / max(done, 1):.2f}")
PYEOF
}

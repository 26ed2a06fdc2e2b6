# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share; sourced, after PY is set.
# Servers they start go in PID and PORT (by name); `cleanup` stops them all.

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

#!/usr/bin/env bash
# bench/ab.sh OLD_BINARY NEW_BINARY: two builds of devops-info serve side by
# side on this machine, for a change that must cost nothing: ROUNDS rounds
# (5), each running wrk (-t2 -c50, DURATION 5s; one thread at one
# connection) against / and /health of OLD, then of NEW, one server at a time
# on 127.0.0.1. Prints each round and the medians, and NEW/OLD as a ratio
# (1.00: no change; the machine's noise is a few per cent, so compare the
# medians).
#
# Env: ROUNDS, DURATION, CONNECTIONS (50), PATHS ("/ /health"), LOG_LEVEL
# (warning: no access log; info: a JSON line per request, to a file),
# OLD_ARGS and NEW_ARGS (more serve flags for each, e.g. NEW_ARGS="--config f.json").
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
PATHS=${PATHS:-"/ /health"}
LOG_LEVEL=${LOG_LEVEL:-warning}
THREADS=$((CONNECTIONS < 2 ? CONNECTIONS : 2))  # wrk wants a connection per thread
command -v wrk >/dev/null || { echo "bench/ab.sh: needs wrk (Debian: wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# serve BINARY ARGS...: starts it on a free port, prints the port.
serve() {
  local bin=$1 log=$tmp/serve.log
  shift
  "$bin" serve --host 127.0.0.1 --port 0 --log-level "$LOG_LEVEL" "$@" >"$log" 2>&1 &
  echo $! >"$tmp/pid"
  local port=""
  for _ in $(seq 1 100); do
    port=$(ss -Hltnp 2>/dev/null | awk -v pid="pid=$(cat "$tmp/pid")," '$0 ~ pid {sub(/.*:/, "", $4); print $4; exit}')
    [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "bench/ab.sh: $bin did not start: $(cat "$log")" >&2; exit 1; }
  echo "$port"
}
stop() { kill "$(cat "$tmp/pid")"; wait "$(cat "$tmp/pid")" 2>/dev/null || true; }

# rps PORT PATH: requests per second, or the errors if any.
rps() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$1$2")
  if grep -q "Socket errors\|Non-2xx" <<<"$out"; then
    echo "bench/ab.sh: errors against $2: $out" >&2
    exit 1
  fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

declare -A results
echo "round  path      old req/s   new req/s   new/old"
for round in $(seq 1 "$ROUNDS"); do
  for path in $PATHS; do
    # shellcheck disable=SC2086
    port=$(serve "$old" ${OLD_ARGS:-})
    a=$(rps "$port" "$path")
    stop
    # shellcheck disable=SC2086
    port=$(serve "$new" ${NEW_ARGS:-})
    b=$(rps "$port" "$path")
    stop
    results[$path,old]+="$a "
    results[$path,new]+="$b "
    printf '%-6s %-9s %10.0f  %10.0f   %6.3f\n' "$round" "$path" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo
echo "medians of $ROUNDS rounds (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, --log-level $LOG_LEVEL)"
for path in $PATHS; do
  a=$(median <<<"${results[$path,old]}")
  b=$(median <<<"${results[$path,new]}")
  printf '%-9s old %10.0f   new %10.0f   new/old %6.3f\n' "$path" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done

#!/usr/bin/env bash
# bench/upstreams.sh [OUTDIR]: a service that calls a service, and tracing.
#
#   /upstreams           requests/s of GET /upstreams with one upstream (a
#                        devops-info serve's /health, the same backend for
#                        both), wrk -c 50: devops-info against the Go peer
#                        (bench/peers/go, the same call with net/http, its
#                        idle connections per host raised to 256 so that it
#                        keeps them alive too), in alternating rounds
#   tracing on /health   requests/s of GET /health with every request traced
#                        (always_on, OTLP/HTTP JSON to nginx on 127.0.0.1,
#                        which reads and drops), against the same
#                        binary with tracing off, in alternating rounds
#
# Medians are printed with the ratios the goals are set in: ours/Go on
# /upstreams (>= 1.5), tracing on/off on /health (>= 0.9); and, for the
# traced server, how many spans were exported or dropped. Both frontends
# log every request (to a file).
#
# Env: BIN (default: the static release build, scripts/build-static.sh),
# ROUNDS (5), DURATION (5: seconds per wrk run), THREADS (2: the frontends'
# event loops, and GOMAXPROCS), WRK_THREADS (2). All traffic goes to
# 127.0.0.1; every run is bounded by DURATION.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/build/bench/upstreams-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
THREADS=${THREADS:-2}
WRK_THREADS=${WRK_THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need wrk wrk
need go golang-go
need curl curl
need nginx nginx-light
install_missing
BIN=${BIN:-$ROOT/$("$ROOT/scripts/build-static.sh" | tail -1)}
GO_BIN=$OUT/peer-go
(cd "$HERE/peers/go" && CGO_ENABLED=0 GOPROXY=off GOFLAGS='' go build -trimpath -ldflags='-s -w' -o "$GO_BIN" .)
trap cleanup EXIT

start() {  # start NAME COMMAND...: in the background, logging to OUT/NAME.log, on PORT[NAME]
  local name=$1
  shift
  "$@" >"$OUT/$name.log" 2>&1 &
  PID[$name]=$!
  wait_healthy "${PORT[$name]}" || { echo "upstreams: $name did not start" >&2; exit 1; }
}

PORT[backend]=$(free_port)
start backend "$BIN" serve --host 127.0.0.1 --port "${PORT[backend]}" --threads "$THREADS" --log-level warning
UPSTREAM="http://127.0.0.1:${PORT[backend]}/health"

PORT[ours]=$(free_port)
start ours "$BIN" serve --host 127.0.0.1 --port "${PORT[ours]}" --threads "$THREADS" --upstream "$UPSTREAM"
PORT[go]=$(free_port)
start go env HOST=127.0.0.1 PORT="${PORT[go]}" GOMAXPROCS="$THREADS" UPSTREAM_URIS="$UPSTREAM" "$GO_BIN"

# The OTLP receiver: nginx, which reads each POST and answers 200, as a sink
# whose own cost is small (Python's http.server, as in the tests, took more
# CPU than the exporter it measures, on the same cores). wait_healthy's GET
# /health gets 200 too.
PORT[receiver]=$(free_port)
mkdir -p "$OUT/receiver"
cat >"$OUT/receiver/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $OUT/receiver/nginx.pid;
error_log $OUT/receiver/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $OUT/receiver;
  server {
    listen 127.0.0.1:${PORT[receiver]};
    location / { return 200 '{}'; }
  }
}
EOF
start receiver nginx -p "$OUT/receiver" -c "$OUT/receiver/nginx.conf"
PORT[traced]=$(free_port)
start traced env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${PORT[receiver]}" OTEL_TRACES_SAMPLER=always_on \
  "$BIN" serve --host 127.0.0.1 --port "${PORT[traced]}" --threads "$THREADS" --log-level warning
PORT[plain]=$(free_port)
start plain "$BIN" serve --host 127.0.0.1 --port "${PORT[plain]}" --threads "$THREADS" --log-level warning

# Both frontends answer the same tree before anything is measured.
for who in ours go; do
  status=$(curl -s -o "$OUT/$who-answer.json" -w '%{http_code}' "http://127.0.0.1:${PORT[$who]}/upstreams")
  [ "$status" = 200 ] || { echo "upstreams: $who answered $status" >&2; cat "$OUT/$who-answer.json" >&2; exit 1; }
done

{
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -r)  nproc: $(nproc)  cpu:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "binary: $("$BIN" --version | head -1)  go: $(go version | cut -d' ' -f3)"
  echo "rounds: $ROUNDS x ${DURATION}s, wrk -t$WRK_THREADS -c50, frontends with $THREADS threads"
  echo "loadavg before: $(cat /proc/loadavg)"
} | tee "$OUT/env.txt"

# wrk_rps NAME PATH ROUND: requests/s of one run; fails on errors or non-2xx answers.
wrk_rps() {
  local log="$OUT/wrk-$1-$3.txt"
  wrk -t"$WRK_THREADS" -c50 -d"${DURATION}s" "http://127.0.0.1:${PORT[$1]}$2" >"$log"
  if grep -qE 'Non-2xx|Socket errors' "$log"; then
    echo "upstreams: errors in $log:" >&2
    cat "$log" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$log"
}

declare -A RPS
for round in $(seq 1 "$ROUNDS"); do
  for who in ours go; do
    RPS[$who]="${RPS[$who]:-} $(wrk_rps "$who" /upstreams "$round")"
  done
  for who in traced plain; do
    RPS[$who]="${RPS[$who]:-} $(wrk_rps "$who" /health "$round")"
  done
  echo "round $round: /upstreams ours ${RPS[ours]##* } go ${RPS[go]##* }; /health traced ${RPS[traced]##* } plain ${RPS[plain]##* }"
done

spans=$(curl -s "http://127.0.0.1:${PORT[traced]}/metrics" | awk '/^devops_info_trace_spans_total/ {printf "%s ", $0}')
$PY - "${RPS[ours]}" "${RPS[go]}" "${RPS[traced]}" "${RPS[plain]}" "$spans" <<'PYEOF' | tee "$OUT/summary.txt"
import statistics, sys
ours, go, traced, plain = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m = statistics.median
print(f"/upstreams, one upstream, c50    ours {m(ours):.0f} req/s   go {m(go):.0f} req/s   "
      f"ours/go {m(ours) / m(go):.2f} (goal >= 1.5)")
print(f"/health, tracing on vs off       on {m(traced):.0f} req/s   off {m(plain):.0f} req/s   "
      f"on/off {m(traced) / m(plain):.2f} (goal >= 0.9)")
print(f"spans: {sys.argv[5].strip()}")
PYEOF
echo "results: $OUT"

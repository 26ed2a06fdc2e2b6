#!/usr/bin/env bash
# bench/h2.sh [OUTDIR]: HTTP/2 in clear text, devops-info against nginx
# (Debian's nginx-light, `listen ... http2`) in the same run, in rounds that
# alternate between the two servers:
#
#   h2c /health, h2c /   requests/s through h2load -c 50 -m 10 (50
#                        connections, 10 streams each); nginx answers /
#                        with a fixed copy of our own / document
#   h2c /health cost     server CPU time (utime + stime from /proc) per
#                        request, during the /health runs
#   gRPC Check           gRPC health Check calls/s through h2load (a POST of
#                        the 5-byte gRPC frame with content-type
#                        application/grpc and te: trailers), ours only,
#                        against our own h2c /health rate
#
# Medians are printed with the ratios the goals are set in: ours/nginx
# req/s (>= 1.0), nginx/ours CPU per request (>= 1.0: ours costs no more),
# Check/health (>= 0.8). No access log on either side.
#
# Env: BIN (default: the static release build, scripts/build-static.sh),
# ROUNDS (5), DURATION (5: seconds per h2load run), NGINX_WORKERS and
# THREADS (2 each), H2LOAD_THREADS (2). All traffic goes to 127.0.0.1;
# every run is bounded by DURATION.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/build/bench/h2-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WORKERS=${NGINX_WORKERS:-2}
THREADS=${THREADS:-2}
H2LOAD_THREADS=${H2LOAD_THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # nginx resolves relative paths against its own prefix

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need h2load nghttp2-client
need nginx nginx-light
need curl curl
install_missing
BIN=${BIN:-$ROOT/$("$ROOT/scripts/build-static.sh" | tail -1)}
trap cleanup EXIT


PORT[ours]=$(free_port)
"$BIN" serve --host 127.0.0.1 --port "${PORT[ours]}" --threads "$THREADS" --log-level warning >"$OUT/ours.log" 2>&1 &
PID[ours]=$!
wait_healthy "${PORT[ours]}" || { echo "h2: serve did not start" >&2; exit 1; }
# nginx's / is our own / as it is now, backslashes and quotes escaped for
# nginx's string (by Python: a sed replacement would take the escapes back,
# as it did once "The request's header fields" came into the document).
PORT[nginx]=$(free_port)
mkdir -p "$OUT/nginx"
$PY - "$HERE/peers/nginx-h2.conf.in" "$OUT/nginx/nginx.conf" "$OUT/nginx" "${PORT[nginx]}" "$WORKERS" \
  "http://127.0.0.1:${PORT[ours]}/" <<'PYEOF'
import sys, urllib.request
src, dst, directory, port, workers, url = sys.argv[1:7]
body = urllib.request.urlopen(url).read().decode().replace("\\", "\\\\").replace("'", "\\'")
lines = open(src).read().splitlines(keepends=True)
for i, line in enumerate(lines):
    if line.lstrip().startswith("#"):
        continue  # the comments name the placeholders
    for key, value in (("@DIR@", directory), ("@PORT@", port), ("@WORKERS@", workers), ("@ROOT_BODY@", body.strip())):
        line = line.replace(key, value)
    lines[i] = line
open(dst, "w").write("".join(lines))
PYEOF
nginx -e "$OUT/nginx/error.log" -c "$OUT/nginx/nginx.conf" &
PID[nginx]=$!
# nginx's h2c listener speaks HTTP/2 only: wait with curl's prior knowledge.
for _ in $(seq 1 200); do
  curl -fs --http2-prior-knowledge -o /dev/null "http://127.0.0.1:${PORT[nginx]}/health" && break
  sleep 0.05
done
curl -fs --http2-prior-knowledge -o /dev/null "http://127.0.0.1:${PORT[nginx]}/health" ||
  { echo "h2: nginx did not start" >&2; exit 1; }
printf '\0\0\0\0\0' >"$OUT/check.bin"  # an empty HealthCheckRequest, framed: the whole server

# run NAME PATH [h2load args...]: one h2load run; prints "req/s cpu-us-per-request"
run() {
  local name=$1 path=$2
  shift 2
  h2load_run "${PID[$name]}" "$OUT/$name-${path//\//_}-$RANDOM.txt" \
    -c 50 -m 10 -t "$H2LOAD_THREADS" -D "$DURATION" "$@" "http://127.0.0.1:${PORT[$name]}$path"
}

declare -A rows
for round in $(seq 1 "$ROUNDS"); do
  for name in ours nginx; do
    read -r rps cpu < <(run "$name" /health)
    rows[$name-health]+="$rps "
    rows[$name-cost]+="$cpu "
    read -r rps _ < <(run "$name" /)
    rows[$name-root]+="$rps "
  done
  read -r rps _ < <(run ours /grpc.health.v1.Health/Check -d "$OUT/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers')
  rows[ours-check]+="$rps "
  echo "h2: round $round of $ROUNDS done" >&2
done

$PY - "$OUT/summary.md" <<PYEOF
import statistics, sys
rows = {$(for k in "${!rows[@]}"; do printf '"%s": [%s], ' "$k" "$(echo "${rows[$k]}" | xargs | tr ' ' ',')"; done)}
m = {k: statistics.median(v) for k, v in rows.items()}
lines = [
    "## HTTP/2 in clear text against nginx's h2c, and gRPC health (h2.sh)",
    "",
    "| row | ours | nginx | ratio | goal |",
    "| --- | --- | --- | --- | --- |",
    f"| h2c /health req/s | {m['ours-health']:,.0f} | {m['nginx-health']:,.0f} | {m['ours-health'] / m['nginx-health']:.2f}x nginx | >= 1.0 |",
    f"| h2c / req/s | {m['ours-root']:,.0f} | {m['nginx-root']:,.0f} | {m['ours-root'] / m['nginx-root']:.2f}x nginx | >= 1.0 |",
    f"| h2c /health CPU per request | {m['ours-cost']:.2f} us | {m['nginx-cost']:.2f} us | nginx/ours {m['nginx-cost'] / m['ours-cost']:.2f} | >= 1.0 |",
    f"| gRPC Check calls/s | {m['ours-check']:,.0f} | | {m['ours-check'] / m['ours-health']:.2f}x our h2c /health | >= 0.8 |",
]
text = "\n".join(lines) + f"\n\nMedians of ${ROUNDS} rounds of ${DURATION} s, h2load -c 50 -m 10 -t ${H2LOAD_THREADS}; " \
       f"serve --threads ${THREADS}, nginx worker_processes ${WORKERS}.\n"
for k in sorted(rows):
    text += f"\n{k}: {rows[k]}"
open(sys.argv[1], "w").write(text + "\n")
print(text)
PYEOF

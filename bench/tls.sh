#!/usr/bin/env bash
# bench/tls.sh [OUTDIR]: HTTPS, devops-info against nginx (Debian's
# nginx-light, `listen ... ssl http2`) with the same OpenSSL, the same
# certificate (P-256) and the same TLS settings, in rounds that alternate
# between the two servers:
#
#   new handshakes/s     h2load -n 2000 -c 2000 --h1: each connection makes
#                        one request, so the rate is that of full handshakes
#   HTTPS keep-alive     h2load -c 50 --h1 -D: /health over HTTP/1.1 on TLS
#   HTTP/2 over TLS      h2load -c 50 -m 10 -D: /health over h2 by ALPN
#   CPU per request      server CPU time (utime + stime from /proc) per
#                        request during the two keep-alive rows: where h2load
#                        is the bottleneck, this is what tells the servers apart
#
# Medians are printed with ours/nginx ratios (goals: >= 0.9, 1.0, 1.0).
#
# Env: BIN (default: the static release build, scripts/build-static.sh),
# ROUNDS (5), DURATION (5: seconds per timed run), NGINX_WORKERS and
# THREADS (2 each), H2LOAD_THREADS (2). All traffic goes to 127.0.0.1;
# every run is bounded by DURATION or by its request count.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/build/bench/tls-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WORKERS=${NGINX_WORKERS:-2}
THREADS=${THREADS:-2}
H2LOAD_THREADS=${H2LOAD_THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need h2load nghttp2-client
need nginx nginx-light
need openssl openssl
install_missing
BIN=${BIN:-$ROOT/$("$ROOT/scripts/build-static.sh" | tail -1)}
trap cleanup EXIT

# One certificate for both, P-256 as cert-manager issues by the chart.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 2 -subj /CN=bench \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null

PORT[ours]=$(free_port)
TLS_PORT=$(free_port)
"$BIN" serve --host 127.0.0.1 --port "${PORT[ours]}" --tls-port "$TLS_PORT" --tls-cert "$OUT/cert.pem" \
  --tls-key "$OUT/key.pem" --threads "$THREADS" --log-level warning >"$OUT/ours.log" 2>&1 &
PID[ours]=$!
wait_healthy "${PORT[ours]}" || { echo "tls: serve did not start" >&2; exit 1; }
PORT[nginx]=$(free_port)
NGINX_H2_PORT=$(free_port)
mkdir -p "$OUT/nginx"
sed "s|@DIR@|$OUT/nginx|g; s|@PORT@|${PORT[nginx]}|g; s|@H2PORT@|$NGINX_H2_PORT|g; s|@WORKERS@|$WORKERS|g;
     s|@CERT@|$OUT/cert.pem|g; s|@KEY@|$OUT/key.pem|g" "$HERE/peers/nginx-tls.conf.in" >"$OUT/nginx/nginx.conf"
nginx -e "$OUT/nginx/error.log" -c "$OUT/nginx/nginx.conf" &
PID[nginx]=$!
# The HTTP/1.1 rows' and the HTTP/2 row's addresses (nginx-tls.conf.in says why two).
declare -A TARGET=([ours]="https://127.0.0.1:$TLS_PORT" [nginx]="https://127.0.0.1:${PORT[nginx]}")
declare -A TARGET_H2=([ours]="https://127.0.0.1:$TLS_PORT" [nginx]="https://127.0.0.1:$NGINX_H2_PORT")
for _ in $(seq 1 200); do
  curl -fsk -o /dev/null "${TARGET[nginx]}/health" && break
  sleep 0.05
done
curl -fsk -o /dev/null "${TARGET[nginx]}/health" || { echo "tls: nginx did not start" >&2; exit 1; }

# run NAME URL [h2load args...]: one h2load run against URL/health, served
# by NAME; prints "req/s cpu-us-per-request"
run() {
  local name=$1 url=$2
  shift 2
  h2load_run "${PID[$name]}" "$OUT/$name-$RANDOM.txt" -t "$H2LOAD_THREADS" "$@" "$url/health"
}

declare -A rows
for round in $(seq 1 "$ROUNDS"); do
  for name in ours nginx; do
    read -r rps _ < <(run "$name" "${TARGET[$name]}" -n 2000 -c 2000 --h1)
    rows[$name-handshake]+="$rps "
    read -r rps cpu < <(run "$name" "${TARGET[$name]}" -c 50 --h1 -D "$DURATION")
    rows[$name-h1]+="$rps "
    rows[$name-h1cost]+="$cpu "
    read -r rps cpu < <(run "$name" "${TARGET_H2[$name]}" -c 50 -m 10 -D "$DURATION")
    rows[$name-h2]+="$rps "
    rows[$name-h2cost]+="$cpu "
  done
  echo "tls: round $round of $ROUNDS done" >&2
done

$PY - "$OUT/summary.md" <<PYEOF
import statistics, sys
rows = {$(for k in "${!rows[@]}"; do printf '"%s": [%s], ' "$k" "$(echo "${rows[$k]}" | xargs | tr ' ' ',')"; done)}
m = {k: statistics.median(v) for k, v in rows.items()}
def row(label, key, goal):
    return f"| {label} | {m['ours-' + key]:,.0f} | {m['nginx-' + key]:,.0f} | {m['ours-' + key] / m['nginx-' + key]:.2f}x nginx | >= {goal} |"
lines = [
    "## HTTPS against nginx's ssl http2, the same OpenSSL and certificate (tls.sh)",
    "",
    "| row | ours | nginx | ratio | goal |",
    "| --- | --- | --- | --- | --- |",
    row("new handshakes/s (h2load -n 2000 -c 2000 --h1)", "handshake", "0.9"),
    row("HTTPS keep-alive /health req/s (-c 50 --h1)", "h1", "1.0"),
    row("HTTP/2 over TLS /health req/s (-c 50 -m 10)", "h2", "1.0"),
    f"| server CPU per HTTPS keep-alive request | {m['ours-h1cost']:.2f} us | {m['nginx-h1cost']:.2f} us | nginx/ours {m['nginx-h1cost'] / m['ours-h1cost']:.2f} | |",
    f"| server CPU per HTTP/2-over-TLS request | {m['ours-h2cost']:.2f} us | {m['nginx-h2cost']:.2f} us | nginx/ours {m['nginx-h2cost'] / m['ours-h2cost']:.2f} | |",
]
text = "\n".join(lines) + f"\n\nMedians of ${ROUNDS} rounds (timed runs ${DURATION} s), h2load -t ${H2LOAD_THREADS}; " \
       f"serve --threads ${THREADS}, nginx worker_processes ${WORKERS}.\n"
for k in sorted(rows):
    text += f"\n{k}: {rows[k]}"
open(sys.argv[1], "w").write(text + "\n")
print(text)
PYEOF

#!/usr/bin/env bash
# bench/run.sh [OUTDIR]: measure devops-info serve and info, and the peer
# implementations of the same service in bench/peers (Go's net/http, the
# Flask app under gunicorn, nginx as the ceiling), in one run on this
# machine. Prints a table (also OUTDIR/summary.md).
#
# What: requests/s, p50/p99 latency and errors for / and /health at 1, 50,
# 200 and 1,000 connections (wrk, on the same cores as the server); nginx
# answering a fixed /health body as the ceiling; system calls per keep-alive
# request (strace -f -c); 100 pipelined requests in one write; a crowd of
# 10,000 idle and 1,000 slow-header connections with a fresh client's /health
# latency and the RSS during and after (crowd.py); a flood of 12,000 silent
# connections at the default --max-connections, with a fresh client's /health
# latency and the connections evicted; server CPU per /health request against
# nginx, with and without an access log (cost.sh); HTTP/2 in clear text against
# nginx's h2c, and gRPC health Check calls (h2.sh); HTTPS against nginx's
# ssl http2 (tls.sh); /upstreams against Go and tracing on against off
# (upstreams.sh); idle and peak RSS; exec to
# first healthy response; a one-shot `info` against /bin/true. All traffic
# goes to 127.0.0.1; every load run is bounded by DURATION.
#
# Env: DURATION (10s), STARTS (10 startup samples), BIN (the devops-info to
# measure; default: the static release build from scripts/build-static.sh,
# the binary the image ships), PEERS_DIR (bench/peers; empty to skip),
# PEERS ("go-nethttp gunicorn-gthread nginx"), CROWD_SECONDS (20).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/build/bench/run-$(date +%Y%m%d-%H%M%S)}
DURATION=${DURATION:-10s}
STARTS=${STARTS:-10}
PEERS_DIR=${PEERS_DIR-$HERE/peers}
PEERS=${PEERS:-"go-nethttp gunicorn-gthread nginx"}
CROWD_SECONDS=${CROWD_SECONDS:-20}
PY=/usr/bin/python3
mkdir -p "$OUT"/{wrk,logs,nginx}
ulimit -n "$(ulimit -Hn)"  # wrk's 1,000 connections and the crowd's 11,000

pkgs=""
command -v wrk >/dev/null || pkgs="$pkgs wrk"
command -v hyperfine >/dev/null || pkgs="$pkgs hyperfine"
command -v strace >/dev/null || pkgs="$pkgs strace"
if [ -n "$PEERS_DIR" ] && [ -d "$PEERS_DIR" ]; then
  command -v go >/dev/null || pkgs="$pkgs golang-go"
  $PY -c 'import flask, gunicorn' 2>/dev/null || pkgs="$pkgs python3-flask gunicorn"
  [[ " $PEERS " != *" nginx "* ]] || command -v nginx >/dev/null || pkgs="$pkgs nginx-light"
else
  PEERS=""
fi
if [ -n "$pkgs" ]; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/dev/null
fi

BIN=${BIN:-$ROOT/$("$ROOT/scripts/build-static.sh" | tail -1)}
GO_BIN=$OUT/info-svc-go
if [[ " $PEERS " == *" go-nethttp "* ]]; then
  (cd "$PEERS_DIR/go" && CGO_ENABLED=0 GOPROXY=off GOFLAGS= go build -trimpath -ldflags='-s -w' -o "$GO_BIN" .)
fi

# cmd for a peer; {port} is replaced, HOST/PORT are exported too
peer_cmd() {
  case $1 in
    devops-info) echo "$BIN serve --max-connections 16000" ;;  # the crowd is 11,000
    nginx) echo "nginx -e $OUT/nginx/error.log -c $OUT/nginx/nginx.conf" ;;
    go-nethttp) echo "$GO_BIN" ;;
    gunicorn-gthread) echo "$PY -m gunicorn -w 2 -k gthread --threads 4 -b 127.0.0.1:{port} --chdir $PEERS_DIR flask_app:app" ;;
  esac
}
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -r)  nproc: $(nproc)  cpu:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "binary: $("$BIN" --version | tr '\n' ' ')"
  echo "binary size: $(stat -c %s "$BIN") bytes, $(file -b "$BIN" | cut -d, -f1-2)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "peers: ${PEERS:-none}"
  echo "loadavg before: $(cat /proc/loadavg)"
} | tee "$OUT/env.txt"

echo "== one-shot info (hyperfine)"
hyperfine -N --warmup 10 --runs 300 --export-json "$OUT/hyperfine.json" \
  -n /bin/true /bin/true -n "devops-info info" "$BIN info" \
  > "$OUT/hyperfine.txt" 2>&1
grep -E 'Benchmark|Time' "$OUT/hyperfine.txt"

echo "== exec to first healthy response, idle RSS (x$STARTS, alternating)"
: > "$OUT/startup.jsonl"
for _ in $(seq 1 "$STARTS"); do
  for p in devops-info ${PEERS/nginx/}; do
    # shellcheck disable=SC2046
    line=$($PY "$HERE/startup.py" -- $(peer_cmd "$p"))
    echo "{\"peer\": \"$p\", ${line#\{}" >> "$OUT/startup.jsonl"
  done
done

trap cleanup EXIT

echo "== start servers"
for p in devops-info $PEERS; do
  PORT[$p]=$(free_port)
  if [ "$p" = nginx ]; then
    sed "s|@DIR@|$OUT/nginx|g; s|@PORT@|${PORT[$p]}|g" "$PEERS_DIR/nginx.conf.in" > "$OUT/nginx/nginx.conf"
  fi
  cmd=$(peer_cmd "$p"); cmd=${cmd//\{port\}/${PORT[$p]}}
  # shellcheck disable=SC2086
  HOST=127.0.0.1 PORT=${PORT[$p]} $cmd > "$OUT/logs/$p.log" 2>&1 &
  PID[$p]=$!
done
for p in devops-info $PEERS; do
  wait_healthy "${PORT[$p]}" || true
  echo "$p pid=${PID[$p]} port=${PORT[$p]}"
done
sleep 1
for p in devops-info $PEERS; do
  echo "{\"peer\": \"$p\", \"idle_rss_kb\": $(awk '/^VmRSS/ {print $2}' /proc/${PID[$p]}/status)}"
done > "$OUT/idle.jsonl"
for p in devops-info $PEERS; do
  wrk -t2 -c10 -d2s "http://127.0.0.1:${PORT[$p]}/health" > "$OUT/wrk/warmup-$p.txt" 2>&1
done

echo "== load (wrk -d$DURATION, peers alternating)"
for test in c50-root c50-health c1-root c1-health c200-root c200-health c1000-health; do
  conns=${test%%-*}; conns=${conns#c}
  path=/; [[ $test == *health ]] && path=/health
  threads=2; (( conns < 2 )) && threads=1
  for p in devops-info $PEERS; do
    [ "$p" = nginx ] && [ "$path" = / ] && continue  # nginx serves only the fixed /health
    wrk -t$threads -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:${PORT[$p]}$path" \
      > "$OUT/wrk/$p.$test.txt" 2>&1 || true
    printf '  %-17s %-11s %s\n' "$p" "$test" "$(grep -h 'Requests/sec' "$OUT/wrk/$p.$test.txt" || echo FAILED)"
    sleep 1
  done
done
for p in devops-info $PEERS; do
  # peak: the process's own high-water mark (gunicorn: the master only)
  echo "{\"peer\": \"$p\", \"peak_rss_kb\": $(awk '/^VmHWM/ {print $2}' /proc/${PID[$p]}/status)}"
done > "$OUT/peak.jsonl"

echo "== system calls per keep-alive request (strace -f -c, wrk -c50 /health for 3 s)"
: > "$OUT/syscalls.jsonl"
for p in devops-info go-nethttp nginx; do
  [[ " devops-info $PEERS " == *" $p "* ]] || continue
  pids=${PID[$p]}
  [ "$p" = nginx ] && pids="$pids $(pgrep -P "${PID[$p]}" | tr '\n' ' ')"
  # shellcheck disable=SC2046
  strace -f -c -o "$OUT/strace-$p.txt" $(printf -- '-p %s ' $pids) &
  spid=$!
  sleep 0.5
  wrk -t2 -c50 -d3s "http://127.0.0.1:${PORT[$p]}/health" > "$OUT/wrk/strace-$p.txt" 2>&1 || true
  kill -INT $spid; wait $spid 2>/dev/null || true
  reqs=$(grep -oE '^ *[0-9]+ requests in' "$OUT/wrk/strace-$p.txt" | grep -oE '[0-9]+' || echo 0)
  calls=$(awk '$NF=="total" {print $4}' "$OUT/strace-$p.txt")
  echo "{\"peer\": \"$p\", \"requests\": ${reqs:-0}, \"syscalls\": ${calls:-0}}" | tee -a "$OUT/syscalls.jsonl"
done

echo "== 100 pipelined requests in one write"
$PY - "${PORT[devops-info]}" > "$OUT/pipelining.json" <<'PYEOF'
import json, socket, sys
port = int(sys.argv[1])
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    paths = ["/health", "/ready", "/nope", "/"] * 25
    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: b\r\n\r\n" % p.encode() for p in paths))
    data, answers = b"", []
    while len(answers) < 100:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
            if len(rest) < n:
                break
            answers.append(int(head.split(b" ")[1]))
            data = rest[n:]
want = [200, 200, 404, 200] * 25
print(json.dumps({"answers": len(answers), "in_order": answers == want}))
PYEOF
cat "$OUT/pipelining.json"

echo "== a crowd: 10,000 idle + 1,000 slow-header connections, ${CROWD_SECONDS}s"
: > "$OUT/crowd.jsonl"
for p in devops-info go-nethttp; do
  [[ " devops-info $PEERS " == *" $p "* ]] || continue
  line=$($PY "$HERE/crowd.py" --port "${PORT[$p]}" --pid "${PID[$p]}" --seconds "$CROWD_SECONDS")
  echo "{\"peer\": \"$p\", ${line#\{}" | tee -a "$OUT/crowd.jsonl"
  sleep 2
done
cleanup

echo "== a flood: 12,000 connections that send nothing, default --max-connections (10,000), ${CROWD_SECONDS}s"
fport=$(free_port)
"$BIN" serve --host 127.0.0.1 --port "$fport" > "$OUT/logs/devops-info-flood.log" 2>&1 &
PID[flood]=$!
wait_healthy "$fport" || true
line=$($PY "$HERE/crowd.py" --port "$fport" --pid "${PID[flood]}" --idle 0 --slow 0 --silent 12000 \
  --seconds "$CROWD_SECONDS")
evicted=$($PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$fport/metrics').read().decode())" | awk '/^devops_info_connections_evicted_total / {print $2}')
echo "{\"peer\": \"devops-info\", \"evicted\": ${evicted:-null}, ${line#\{}" | tee -a "$OUT/crowd.jsonl"
cleanup

echo "== server CPU per /health request against nginx (cost.sh)"
BIN=$BIN "$HERE/cost.sh" "$OUT/cost" | tail -4
echo "== HTTP/2 in clear text against nginx, and gRPC health Check (h2.sh)"
BIN=$BIN "$HERE/h2.sh" "$OUT/h2" | head -8
echo "== HTTPS against nginx's ssl http2 (tls.sh)"
BIN=$BIN "$HERE/tls.sh" "$OUT/tls" | head -10
echo "== GET /upstreams against Go, tracing on against off (upstreams.sh)"
BIN=$BIN "$HERE/upstreams.sh" "$OUT/upstreams" | tail -4
echo "loadavg after: $(cat /proc/loadavg)" | tee -a "$OUT/env.txt"
gzip -f "$OUT"/logs/*.log
$PY "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"

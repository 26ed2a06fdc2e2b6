#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS]: builds the fuzz targets of the HTTP/1.1 and
# the HTTP/2 protocols with clang and libFuzzer and runs each for SECONDS
# (default 60) on a copy of its seed corpus (corpus/, corpus-h2/), one after
# the other. Exits non-zero on a crash or sanitizer report; the input that
# caused it is left in build/fuzz/ (crash-*).
#
# FUZZ_SEED=N FUZZ_RUNS=M: a fixed seed and number of inputs instead of a
# time, so that a run repeats exactly (CI uses this: a red CI run then means
# a change broke something, not that the fuzzer got lucky).
#
# FUZZ_JOBS=J (default: the number of CPUs, at most 4): J fuzzers side by
# side, each on its own copy of the corpus (so none reads what another found
# and each repeats exactly), with seeds N, N+1, ..., and M/J inputs each. The
# M inputs in all are the same number whatever J is. FUZZ_H2_RUNS=M2: the
# HTTP/2 target's number of inputs (default: FUZZ_RUNS).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
pkgs=()
command -v clang++ >/dev/null || pkgs+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed' ||
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || pkgs+=(libclang-rt-dev)
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null
fi
cmake -S tests/fuzz -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build/fuzz >/dev/null
cd build/fuzz
rm -rf corpus corpus-* crash-* fuzz*.log
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || { echo "fuzz: FUZZ_JOBS must be a positive number" >&2; exit 2; }
[ "$jobs" -le 4 ] || jobs=4

# fuzz TARGET CORPUS RUNS: J jobs of one target; exits the script on a crash.
fuzz() {
  local target=$1 corpus=$2 runs=$3 i limit pids=() failed=()
  for i in $(seq 1 "$jobs"); do
    limit=(-max_total_time="$SECONDS_TO_RUN")
    [ -n "$runs" ] && limit=(-runs="$(((runs + jobs - 1) / jobs))")
    [ -n "${FUZZ_SEED:-}" ] && limit+=(-seed="$((FUZZ_SEED + i - 1))")
    cp -r "../../tests/fuzz/$corpus" "$target-corpus-$i"
    "./$target" "${limit[@]}" -max_len=8192 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="crash-$target-$i-" "$target-corpus-$i" >"$target-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$jobs"); do
    wait "${pids[$((i - 1))]}" || failed+=("$i")
  done
  for i in $(seq 1 "$jobs"); do
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' "$target-$i.log" |
      sed "s/^/$target job $i: /" || true
  done
  if [ ${#failed[@]} -gt 0 ]; then
    for i in "${failed[@]}"; do
      grep -B2 -A30 -m1 'ERROR' "$target-$i.log" >&2 || tail -40 "$target-$i.log" >&2
    done
    echo "fuzz: $target FAILED (job ${failed[*]}); the input is in build/fuzz/crash-$target-*" >&2
    exit 1
  fi
  echo "fuzz: $target ok (${runs:-${SECONDS_TO_RUN} s} ${runs:+inputs} in $jobs jobs, no crash)"
}

fuzz fuzz_http_protocol corpus "${FUZZ_RUNS:-}"
fuzz fuzz_http2_protocol corpus-h2 "${FUZZ_H2_RUNS:-${FUZZ_RUNS:-}}"

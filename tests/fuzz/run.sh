#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS]: builds the HTTP protocol's fuzz target with
# clang and libFuzzer and runs it for SECONDS (default 60) on a copy of the
# seed corpus. Exits non-zero on a crash or sanitizer report; the input that
# caused it is left in build/fuzz/ (crash-*).
#
# FUZZ_SEED=N FUZZ_RUNS=M: a fixed seed and number of inputs instead of a
# time, so that a run repeats exactly (CI uses this: a red CI run then means
# a change broke something, not that the fuzzer got lucky).
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
rm -rf build/fuzz/corpus && cp -r tests/fuzz/corpus build/fuzz/corpus
cd build/fuzz
rc=0
limit=(-max_total_time="$SECONDS_TO_RUN")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
[ -n "${FUZZ_SEED:-}" ] && limit+=(-seed="$FUZZ_SEED")
./fuzz_http_protocol "${limit[@]}" -max_len=8192 -timeout=10 -print_final_stats=1 corpus \
  >fuzz.log 2>&1 || rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' fuzz.log || true
if [ "$rc" -ne 0 ]; then
  grep -B2 -A30 -m1 'ERROR' fuzz.log >&2 || tail -40 fuzz.log >&2
  echo "fuzz: FAILED (exit $rc); the input is in build/fuzz/crash-*" >&2
  exit 1
fi
echo "fuzz: ok (${FUZZ_RUNS:-${SECONDS_TO_RUN} s} ${FUZZ_RUNS:+inputs}, no crash)"

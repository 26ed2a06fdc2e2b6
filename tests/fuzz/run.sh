#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS]: builds the HTTP protocol's fuzz target with
# clang and libFuzzer and runs it for SECONDS (default 60) on a copy of the
# seed corpus. Exits non-zero on a crash or sanitizer report; the input that
# caused it is left in build/fuzz/ (crash-*).
#
# FUZZ_SEED=N FUZZ_RUNS=M: a fixed seed and number of inputs instead of a
# time, so that a run repeats exactly (CI uses this: a red CI run then means
# a change broke something, not that the fuzzer got lucky).
#
# FUZZ_JOBS=J (default: the number of CPUs, at most 4): J fuzzers side by
# side, each on its own copy of the corpus (so none reads what another found
# and each repeats exactly), with seeds N, N+1, ..., and M/J inputs each. The
# M inputs in all are the same number whatever J is.
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
pids=()
for i in $(seq 1 "$jobs"); do
  limit=(-max_total_time="$SECONDS_TO_RUN")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$(((FUZZ_RUNS + jobs - 1) / jobs))")
  [ -n "${FUZZ_SEED:-}" ] && limit+=(-seed="$((FUZZ_SEED + i - 1))")
  cp -r ../../tests/fuzz/corpus "corpus-$i"
  ./fuzz_http_protocol "${limit[@]}" -max_len=8192 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="crash-$i-" "corpus-$i" >"fuzz-$i.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in $(seq 1 "$jobs"); do
  wait "${pids[$((i - 1))]}" || failed+=("$i")
done
for i in $(seq 1 "$jobs"); do
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' "fuzz-$i.log" | sed "s/^/job $i: /" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  for i in "${failed[@]}"; do
    grep -B2 -A30 -m1 'ERROR' "fuzz-$i.log" >&2 || tail -40 "fuzz-$i.log" >&2
  done
  echo "fuzz: FAILED (job ${failed[*]}); the input is in build/fuzz/crash-*" >&2
  exit 1
fi
echo "fuzz: ok (${FUZZ_RUNS:-${SECONDS_TO_RUN} s} ${FUZZ_RUNS:+inputs} in $jobs jobs, no crash)"

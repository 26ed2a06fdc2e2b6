#!/usr/bin/env bash
# bench/image-build.sh [ENGINE...]: how long the image takes to build again
# after a change, with each engine named (default: /usr/bin/docker, Debian's
# Docker with its legacy builder, when its daemon answers, and podman).
#
# On a copy of the working tree, after one full build that fills the layer
# cache (its time is printed too, not judged):
#   cli     a one-line change in a src/cli file (src/cli/cmd_info.cpp)
#   serve   a one-line change in a src/serve file (src/serve/service.cpp)
#   clean   every layer after the packages one built again (the copy's
#           Dockerfile gets a no-op step right after the packages layer)
# Each is the wall time of `build` for the default image; the targets are
# 30 s, 60 s and 90 s on an idle 2-core machine. The longest stretch of a
# build without a line of output is printed too. BASE_IMAGE: the base to
# build on (default: the Dockerfile's pinned tag where present, else
# the same release's debian:<major>-slim). Prints a table; exits 1 if a build fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
sandbox=$ROOT/../shared/tools/container-sandbox

engines=("$@")
if [ ${#engines[@]} -eq 0 ]; then
  if [ -x /usr/bin/docker ] && /usr/bin/docker info >/dev/null 2>&1; then engines+=(/usr/bin/docker); fi
  if command -v podman >/dev/null; then engines+=(podman); fi
fi
[ ${#engines[@]} -gt 0 ] || { echo "image-build: no engine (a Docker daemon or podman)" >&2; exit 1; }
if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$sandbox" ]; then eval "$(bash "$sandbox" env)"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The working tree as it is (committed or not), as the build context.
(cd "$ROOT" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -C "$work" -xf -

pinned=$(sed -n 's/^ARG BASE_IMAGE=//p' "$work/Dockerfile" | head -n 1)
nonce=$(date +%s%N)
rows=()

# Copies the build's output to the log, then prints the wall time and the
# longest stretch without a line, in seconds.
timed_log() {
  /usr/bin/python3 -c '
import sys, time
start = last = time.monotonic()
gap = 0.0
with open(sys.argv[1], "w") as log:
    for line in sys.stdin:
        now = time.monotonic()
        gap, last = max(gap, now - last), now
        log.write(line)
print(f"{time.monotonic() - start:.1f} {max(gap, time.monotonic() - last):.1f}")' "$1"
}

build() {  # build ENGINE TAG LOG: prints the wall time and the longest silence, in seconds
  local engine=$1 tag=$2 log=$3 base=${BASE_IMAGE:-} extra=() out
  if [[ $(basename "$engine") == podman ]]; then extra=(--format docker --pull=never); fi
  if [ -z "$base" ]; then
    base=$pinned
    "$engine" image inspect "$base" >/dev/null 2>&1 || base=$(sed -E 's/:([0-9]+)(\.[0-9]+)*-slim$/:\1-slim/' <<<"$pinned")
  fi
  if ! out=$("$engine" build "${extra[@]}" -t "$tag" --build-arg BASE_IMAGE="$base" \
      --build-arg VERSION=0.0.0-buildtime --build-arg REVISION=buildtime "$work" 2>&1 | timed_log "$log"); then
    echo "image-build: $engine build failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
  echo "$out"
}

for engine in "${engines[@]}"; do
  name=$(basename "$engine")
  tag=localhost/devops-info-buildtime:$nonce
  echo "== $name ($("$engine" --version | head -n 1))" >&2
  read -r first first_gap < <(build "$engine" "$tag" "$work/$name-first.log") && [ -n "$first" ] || exit 1
  echo "   first build: ${first} s (longest silence ${first_gap} s)" >&2
  echo "// build-time probe $nonce $name" >>"$work/src/cli/cmd_info.cpp"
  read -r cli cli_gap < <(build "$engine" "$tag" "$work/$name-cli.log") && [ -n "$cli" ] || exit 1
  echo "   a change in src/cli: ${cli} s (longest silence ${cli_gap} s)" >&2
  echo "// build-time probe $nonce $name" >>"$work/src/serve/service.cpp"
  read -r serve serve_gap < <(build "$engine" "$tag" "$work/$name-serve.log") && [ -n "$serve" ] || exit 1
  echo "   a change in src/serve: ${serve} s (longest silence ${serve_gap} s)" >&2
  cp "$work/Dockerfile" "$work/Dockerfile.orig"
  sed -i "0,/^ARG TARGETARCH\$/s//ARG TARGETARCH\nRUN true  # clean build $nonce $name/" "$work/Dockerfile"
  read -r clean clean_gap < <(build "$engine" "$tag" "$work/$name-clean.log") && [ -n "$clean" ] || exit 1
  echo "   clean (packages layer cached): ${clean} s (longest silence ${clean_gap} s)" >&2
  mv "$work/Dockerfile.orig" "$work/Dockerfile"
  "$engine" rmi -f "$tag" >/dev/null 2>&1 || true
  gap=$(printf '%s\n' "$first_gap" "$cli_gap" "$serve_gap" "$clean_gap" | sort -g | tail -n 1)
  rows+=("$(printf '| %s | %.0f s | %.0f s | %.0f s | %.0f s | %.0f s |' "$name" "$cli" "$serve" "$clean" "$first" "$gap")")
done

echo
echo "loadavg: $(cut -d' ' -f1-3 /proc/loadavg)  nproc: $(nproc)"
echo "| builder | src/cli change (≤ 30 s) | src/serve change (≤ 60 s) | clean, packages cached (≤ 90 s) | first build | longest silence |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"

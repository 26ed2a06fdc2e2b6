#!/bin/sh
# man_lint.sh PAGE: fails on any message of `mandoc -Tlint` (style included)
# or any warning of `groff -ww`, the formatter man-db uses.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 PAGE" >&2; exit 2; }
page=$1
status=0
for tool in mandoc groff; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "FAIL: $tool is not installed (./build.sh deps installs it)" >&2
    exit 1
  }
done
out=$(mandoc -Tlint "$page" 2>&1) || status=1
[ -z "$out" ] || { printf '%s\n' "$out"; status=1; }
out=$(groff -man -ww -z -Tutf8 "$page" 2>&1) || status=1
[ -z "$out" ] || { printf '%s\n' "$out"; status=1; }
[ "$status" -eq 0 ] && echo "$page: no mandoc -Tlint or groff -ww messages" || echo "FAIL: $page has lint messages" >&2
exit "$status"

#!/bin/sh
# generate.sh SOURCE.scd OUTPUT: the man page from its scdoc(5) source.
#
# The page's date comes from the source's "; date: YYYY-MM-DD" line, not the
# clock, so the output is the same on every machine and the committed page
# can be compared with a fresh one.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SOURCE.scd OUTPUT" >&2; exit 2; }
src=$1
out=$2
command -v scdoc >/dev/null 2>&1 || {
  echo "$0: scdoc not found: install it (Debian/Ubuntu: apt-get install scdoc)" >&2
  exit 1
}
date=$(sed -n 's/^; date: *\([0-9-]*\)*$/\1/p' "$src")
[ -n "$date" ] || { echo "$0: no '; date: YYYY-MM-DD' line in $src" >&2; exit 1; }
SOURCE_DATE_EPOCH=$(date -u -d "$date" +%s)
export SOURCE_DATE_EPOCH
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
scdoc <"$src" >"$tmp"
# scdoc writes .P around every block; mandoc -Tlint reports each one that
# separates nothing. Keep a .P only where text follows it, after text or
# after the end of an indented block (.RE), so option entries stay apart.
awk '
  /^\.\\"/ { print; next }
  $0 == ".P" { pending = 1; next }
  /^\.RE( |$)/ { print; prev = $0; next }
  {
    if (pending && $0 !~ /^\.(SH|SS|P|RS)( |$)/ && prev !~ /^\.(TH|SH|SS|RS)( |$)/) print ".P"
    pending = 0
    print
    prev = $0
  }
' "$tmp" >"$out"

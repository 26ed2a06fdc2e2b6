#!/bin/sh
# man_current.sh MAN_DIR WORK_DIR: fails when MAN_DIR/devops-info.1 differs
# from what its source, MAN_DIR/devops-info.1.scd, generates now.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 MAN_DIR WORK_DIR" >&2; exit 2; }
man=$1
work=$2
mkdir -p "$work"
sh "$man/generate.sh" "$man/devops-info.1.scd" "$work/devops-info.1"
if ! diff -u "$man/devops-info.1" "$work/devops-info.1"; then
  echo "FAIL: man/devops-info.1 is out of date with man/devops-info.1.scd;" >&2
  echo "run 'cmake --build BUILD_DIR --target update-man' and commit the result" >&2
  echo "($(scdoc -v 2>&1 | head -n1 || true) made the page above; another release may format differently)" >&2
  exit 1
fi
echo "man/devops-info.1 is current"

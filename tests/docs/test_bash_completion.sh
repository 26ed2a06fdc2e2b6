#!/usr/bin/env bash
# Loads the bash completion for devops-info into bash and checks what it
# completes, as readline would ask it (COMP_WORDS, COMP_CWORD, COMP_LINE,
# COMP_POINT in; COMPREPLY out): once on its own and once under the
# bash-completion package, which it uses when loaded.
#
#   test_bash_completion.sh COMPLETION_FILE DEVOPS_INFO_BINARY
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 COMPLETION_FILE DEVOPS_INFO_BINARY" >&2; exit 2; }
completion=$(realpath "$1")
binary=$(realpath "$2")
bash_completion=/usr/share/bash-completion/bash_completion
[ -r "$bash_completion" ] || {
  echo "FAIL: $bash_completion is missing: install bash-completion (apt-get install bash-completion)" >&2
  exit 1
}
# The completion runs `devops-info` by the name it was typed with.
export PATH="$(dirname "$binary"):$PATH"

cases() {
  # complete LINE: COMPREPLY for the cursor at the end of LINE, sorted, one line.
  complete_line() {
    local line=$1 word
    local -a w=()
    # readline splits at blanks, and "=" becomes a word of its own.
    for word in $line; do
      while [[ $word == *=* ]]; do
        [[ -n ${word%%=*} ]] && w+=("${word%%=*}")
        w+=("=")
        word=${word#*=}
      done
      [[ -n $word ]] && w+=("$word")
    done
    [[ $line == *" " || $line == *= ]] && w+=("")
    COMP_WORDS=("${w[@]}")
    COMP_CWORD=$((${#w[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _devops_info devops-info "${w[COMP_CWORD]}" "${w[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
  }
  failed=0
  expect() {  # LINE EXPECTED (space-separated, sorted)
    local got
    got=$(complete_line "$1")
    if [[ $got == "$2" ]]; then
      echo "ok   [$mode] '$1' -> $got"
    else
      echo "FAIL [$mode] '$1': expected '$2', got '$got'"
      failed=1
    fi
  }
  expect_prefix() {  # LINE PREFIX: at least one candidate, every one starts with PREFIX
    local got c
    got=$(complete_line "$1")
    for c in $got; do [[ $c == "$2"* ]] || got=''; done
    if [[ -n $got ]]; then
      echo "ok   [$mode] '$1' -> $got"
    else
      echo "FAIL [$mode] '$1': expected candidates starting with '$2', got '$(complete_line "$1")'"
      failed=1
    fi
  }

  expect "devops-info " "health info serve"
  expect "devops-info h" "health"
  expect "devops-info -" "--help --version -V -h"
  expect "devops-info --v" "--version"
  expect "devops-info info --" "--color --compact --config --field --format --help"
  expect "devops-info info --c" "--color --compact --config"
  expect "devops-info info --format " "env html json markdown table"
  expect "devops-info info -f t" "table"
  expect "devops-info info --format=" "env html json markdown table"
  expect "devops-info info --format=j" "json"
  expect "devops-info info --compact --format e" "env"
  expect "devops-info info --color " "always auto never"
  expect "devops-info health --format " "json table"
  expect "devops-info health --format=t" "table"
  expect "devops-info health --lo" "--local"
  expect "devops-info health --wait " "10s 1m 1s 30s 500ms 5s"
  expect "devops-info serve --log-format " "json text"
  expect "devops-info serve --log-level " "debug error info warning"
  expect "devops-info serve --log-" "--log-format --log-level"
  expect "devops-info serve --port " ""
  expect "devops-info info --compact=" ""
  # --field asks the program which keys exist.
  expect "devops-info info --field sys" "system"
  expect "devops-info info --field system.load" "system.load_average"
  expect "devops-info info --field system.load_average." "system.load_average.15m system.load_average.1m system.load_average.5m"
  expect "devops-info info --field=container.in" "container.in_container"
  expect "devops-info info --field system.hostname." ""
  expect_prefix "devops-info info --field endpoints." "endpoints."
  expect_prefix "devops-info info --field endpoints.0" "endpoints.0"
  return $failed
}

export -f cases
status=0
mode=plain bash --norc --noprofile -c "source '$completion'; cases" || status=1
mode=bash-completion bash --norc --noprofile -c "source '$bash_completion'; source '$completion'; cases" || status=1
[ $status -eq 0 ] && echo "bash completion: all cases pass" || echo "bash completion: FAILED"
exit $status

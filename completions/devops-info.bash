# bash completion for devops-info                          -*- shell-script -*-
#
# Installed as share/bash-completion/completions/devops-info, where the
# bash-completion package loads it on demand; `source` it to use it without
# that package. The options per command mirror `devops-info COMMAND --help`
# (a test compares them).

# --field PATH, one key at a time: the program itself says which keys exist
# below a path, in the error it gives for an unknown one.
_devops_info_fields() {
  local prog=$1 cur=$2 parent='' msg list key
  local -a keys=()
  [[ $cur == *.* ]] && parent=${cur%.*}
  msg=$("$prog" info --field "${parent:+$parent.}" 2>&1 >/dev/null)
  [[ $msg =~ fields( of [^:]*)?:\ (.*)$ ]] || return 0
  list=${BASH_REMATCH[2]}
  if [[ $list =~ ^0\.\.([0-9]+)$ ]]; then
    for ((key = 0; key <= BASH_REMATCH[1]; key++)); do keys+=("$key"); done
  else
    local IFS=$'\n'
    # shellcheck disable=SC2206 # split "a, b, c" on the commas
    keys=(${list//, /$'\n'})
  fi
  for key in "${keys[@]}"; do
    [[ ${parent:+$parent.}$key == "$cur"* ]] && COMPREPLY+=("${parent:+$parent.}$key")
  done
}

_devops_info() {
  local cur prev words cword split=false
  if declare -F _init_completion >/dev/null; then
    _init_completion -s || return
  else
    words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    cur=${words[cword]} prev=${words[cword - 1]:-}
    # Without bash-completion "--format=js" arrives as "--format" "=" "js".
    if [[ $cur == = ]]; then
      cur='' split=true
    elif [[ $prev == = ]] && ((cword >= 2)); then
      prev=${words[cword - 2]} split=true
    fi
  fi

  local cmd='' i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      info | health | serve)
        cmd=${words[i]}
        break
        ;;
    esac
  done

  local values=''
  case $cmd:$prev in
    info:-f | info:--format) values='json table markdown html env' ;;
    health:-f | health:--format) values='json table' ;;
    info:--color) values='auto always never' ;;
    info:--field)
      _devops_info_fields "${words[0]}" "$cur"
      return
      ;;
    serve:--host) values='0.0.0.0 127.0.0.1' ;;
    serve:--log-format) values='json text' ;;
    serve:--log-level) values='debug info warning error' ;;
    health:--set) values='ready=true ready=false healthy=true healthy=false' ;;
    serve:--data-dir)
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return
      ;;
    info:--config | serve:--config | serve:--tls-cert | serve:--tls-key | serve:--tls-client-ca | serve:--upstream-cacert | \
      health:--cacert | health:--cert | health:--key)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return
      ;;
    health:--timeout | health:--wait | health:--interval | serve:--shutdown-timeout | serve:--shutdown-delay | serve:--flush-interval | \
      serve:--request-timeout | serve:--idle-timeout | serve:--write-timeout | serve:--max-delay | serve:--upstream-timeout)
      values='500ms 1s 5s 10s 30s 1m'
      ;;
    serve:--introspection) values='on off' ;;
    serve:--max-body | serve:--upstream-max-body) values='64KiB 256KiB 1MiB 4MiB 16MiB' ;;
    health:--url | serve:--port | serve:--tls-port | serve:--threads | serve:--max-connections | serve:--fault-delay | serve:--fault-error | serve:--env-allow | serve:--trusted-proxies | serve:--upstream) return ;;
  esac
  if [[ -n $values ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
    return
  fi
  $split && return

  local opts
  case $cmd in
    info) opts='-h --help -f --format -c --compact --field --color --config' ;;
    health)
      opts='-h --help --url --timeout --wait --interval --local --set -f --format -c --compact'
      opts+=' --cacert --insecure --cert --key'
      ;;
    serve)
      opts='-h --help --host --port --threads --max-connections --log-format --log-level --shutdown-delay'
      opts+=' --shutdown-timeout --data-dir --flush-interval --unready --unhealthy --fault-delay --fault-error'
      opts+=' --config --request-timeout --idle-timeout --write-timeout --introspection --max-delay --max-body'
      opts+=' --env-allow --trusted-proxies --tls-cert --tls-key --tls-port --tls-client-ca'
      opts+=' --upstream --upstream-timeout --upstream-max-body --upstream-cacert'
      ;;
    *)
      if [[ $cur == -* ]]; then
        opts='-h --help -V --version'
      else
        opts='info health serve'
      fi
      ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
}

complete -F _devops_info devops-info

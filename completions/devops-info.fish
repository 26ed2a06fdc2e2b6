# fish completion for devops-info. Installed as
# share/fish/vendor_completions.d/devops-info.fish. The options per command
# mirror `devops-info COMMAND --help` (a test compares them).

# --field PATH, one key at a time: the program itself says which keys exist
# below a path, in the error it gives for an unknown one.
function __devops_info_fields
    set -l prog (commandline -opc)[1]
    set -l tok (string replace -r -- '^--field=' '' (commandline -ct))
    set -l parent (string replace -r -- '\.[^.]*$' '' $tok)
    test "$parent" = "$tok"; and set parent ''
    set -l arg ''
    test -n "$parent"; and set arg "$parent."
    set -l msg ($prog info --field "$arg" 2>&1 >/dev/null)
    set -l list (string match -r -g -- 'fields(?: of [^:]*)?: (.*)$' $msg)
    test -n "$list"; or return
    set -l keys
    if string match -q -r -- '^0\.\.\d+$' $list
        set keys (seq 0 (string replace -- '0..' '' $list))
    else
        set keys (string split -- ', ' $list)
    end
    for key in $keys
        echo $arg$key
    end
end

set -l commands info health serve
set -l top "not __fish_seen_subcommand_from $commands"
set -l info '__fish_seen_subcommand_from info'
set -l health '__fish_seen_subcommand_from health'
set -l serve '__fish_seen_subcommand_from serve'
set -l durations '500ms 1s 5s 10s 30s 1m'

complete -c devops-info -f

complete -c devops-info -n $top -s h -l help -d 'Print help and exit'
complete -c devops-info -n $top -s V -l version -d 'Print version, commit and compiler'
complete -c devops-info -n $top -a info -d 'Report of the service, the host and the runtime'
complete -c devops-info -n $top -a health -d 'Probe a server, or print the local health document'
complete -c devops-info -n $top -a serve -d 'Run the HTTP service'

complete -c devops-info -n $info -s h -l help -d 'Print the options of info'
complete -c devops-info -n $info -s f -l format -x -a 'json table markdown html env' -d 'Output format'
complete -c devops-info -n $info -s c -l compact -d 'JSON on one line'
complete -c devops-info -n $info -l field -x -a '(__devops_info_fields)' -d 'Print one value alone'
complete -c devops-info -n $info -l color -x -a 'auto always never' -d 'Colour in table output'
complete -c devops-info -n $info -l config -r -F -d 'Add the config file under config'

complete -c devops-info -n $health -s h -l help -d 'Print the options of health'
complete -c devops-info -n $health -l url -x -d 'Health endpoint to probe'
complete -c devops-info -n $health -l timeout -x -a $durations -d 'Give up on one request after'
complete -c devops-info -n $health -l wait -x -a $durations -d 'Retry until healthy, at most'
complete -c devops-info -n $health -l interval -x -a $durations -d 'Pause between attempts'
complete -c devops-info -n $health -l local -d 'Print the local health document'
complete -c devops-info -n $health -l set -x -a 'ready=true ready=false healthy=true healthy=false' -d "Flip the local server's readiness or health"
complete -c devops-info -n $health -s f -l format -x -a 'json table' -d 'Output format'
complete -c devops-info -n $health -s c -l compact -d 'JSON on one line'
complete -c devops-info -n $health -l cacert -r -F -d 'PEM CAs to verify an https server against'
complete -c devops-info -n $health -l insecure -d "Do not verify the server's certificate (tests only)"
complete -c devops-info -n $health -l cert -r -F -d 'PEM client certificate, for mutual TLS'
complete -c devops-info -n $health -l key -r -F -d 'PEM key of the client certificate'

complete -c devops-info -n $serve -s h -l help -d 'Print the options of serve'
complete -c devops-info -n $serve -l host -x -a '0.0.0.0 127.0.0.1' -d 'Address to listen on'
complete -c devops-info -n $serve -l port -x -d 'TCP port to listen on'
complete -c devops-info -n $serve -l threads -x -d 'Event loops'
complete -c devops-info -n $serve -l max-connections -x -d 'Most connections open at once'
complete -c devops-info -n $serve -l log-format -x -a 'json text' -d 'Log line format'
complete -c devops-info -n $serve -l log-level -x -a 'debug info warning error' -d 'Least severe level logged'
complete -c devops-info -n $serve -l request-timeout -x -a $durations -d 'Time for a request to arrive'
complete -c devops-info -n $serve -l idle-timeout -x -a $durations -d 'Time a kept-alive connection may wait'
complete -c devops-info -n $serve -l write-timeout -x -a $durations -d 'Time an unread answer may wait'
complete -c devops-info -n $serve -l shutdown-delay -x -a $durations -d 'Time to keep serving with /ready 503 after SIGTERM'
complete -c devops-info -n $serve -l shutdown-timeout -x -a $durations -d 'Time for requests in flight after SIGTERM'
complete -c devops-info -n $serve -l data-dir -x -a '(__fish_complete_directories)' -d 'Count visits of / in this directory'
complete -c devops-info -n $serve -l flush-interval -x -a $durations -d 'How often the visit count is written'
complete -c devops-info -n $serve -l unready -d 'Start with /ready answering 503'
complete -c devops-info -n $serve -l unhealthy -d 'Start with /health answering 503'
complete -c devops-info -n $serve -l fault-delay -x -d 'Fault injection: ROUTE=DURATION or ROUTE=MIN-MAX'
complete -c devops-info -n $serve -l fault-error -x -d 'Fault injection: ROUTE=FRACTION answered 500'
complete -c devops-info -n $serve -l config -r -F -d 'JSON config file, reloaded live'
complete -c devops-info -n $serve -l introspection -x -a 'on off' -d 'The on-demand routes /status, /delay, /env, /headers, /echo'
complete -c devops-info -n $serve -l max-delay -x -a $durations -d 'Longest /delay may wait'
complete -c devops-info -n $serve -l tls-cert -r -F -d 'PEM certificate for HTTPS'
complete -c devops-info -n $serve -l tls-key -r -F -d 'PEM key of the certificate'
complete -c devops-info -n $serve -l tls-port -x -d 'HTTPS port'
complete -c devops-info -n $serve -l tls-client-ca -r -F -d 'Mutual TLS: PEM CAs of client certificates'
complete -c devops-info -n $serve -l max-body -x -a '64KiB 256KiB 1MiB 4MiB 16MiB' -d 'Largest body /echo takes'
complete -c devops-info -n $serve -l env-allow -x -d 'Environment variables /env shows (globs)'
complete -c devops-info -n $serve -l trusted-proxies -x -d 'Ranges whose X-Forwarded-For is believed'
complete -c devops-info -n $serve -l upstream -x -d 'An upstream /upstreams calls (repeatable)'
complete -c devops-info -n $serve -l upstream-timeout -x -a $durations -d 'How long each upstream call may take'
complete -c devops-info -n $serve -l upstream-cacert -r -F -d 'PEM CAs of https:// upstreams'
complete -c devops-info -n $serve -l upstream-max-body -x -a '64KiB 256KiB 1MiB 4MiB 16MiB' -d 'Largest answer an upstream may give'

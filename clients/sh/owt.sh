# owt.sh: call owt from shell scripts with nothing but curl and base64.
#
# Source it (bash, dash, zsh, ksh), then call adaptors:
#
#   . clients/sh/owt.sh
#   owt_call http://127.0.0.1:9876/hello example/echo/echo.py '{"name": "owt"}'
#   echo 'def run(): return "hi"' | owt_call http://127.0.0.1:9876 -
#   owt_call "$URL" adaptor.py '{"n": 3}' '{"fn_name": "main", "use_cache": true}'
#
# owt_call URL FILE|- [KWARGS] [FIELDS]
#   FILE    the adaptor source; - reads it from stdin
#   KWARGS  the arguments: a JSON object, or a Python expression that the
#           server evaluates, such as "{'n': 2 ** 10}"
#   FIELDS  more protocol fields, as a JSON object: fn_name, use_cache,
#           cache_kwargs, cache_key_override, pin, timeout
#
# Set OWT_CALL_AUTH=user:password for a server started with --auth.
#
# The answer goes to stdout as it arrives (streams stay streams). When the
# server answers with an error, its JSON error body is written to stdout,
# a note to stderr, and owt_call returns 22 (curl's code for HTTP errors).
# Needs curl >= 7.76 (for --fail-with-body).

# Base64 on one line: GNU base64 wraps at 76 columns, BSD's does not wrap.
owt_b64() {
    base64 | tr -d '\n'
}

owt_call() {
    if [ "$#" -lt 2 ] || [ "$#" -gt 4 ]; then
        echo "usage: owt_call URL FILE|- [KWARGS] [FIELDS]" >&2
        return 2
    fi
    local url code body fields status
    url=$1
    if [ "$2" = "-" ]; then
        code=$(owt_b64)
    elif [ -r "$2" ]; then
        code=$(owt_b64 < "$2")
    else
        echo "owt_call: cannot read $2" >&2
        return 2
    fi
    body="{\"code_b64\":\"$code\""
    if [ -n "${3-}" ]; then
        body="$body,\"kwargs_b64\":\"$(printf '%s' "$3" | owt_b64)\""
    fi
    if [ -n "${4-}" ]; then
        # Splice the members of the FIELDS object into the request body.
        fields=${4#*\{}
        fields=${fields%\}*}
        case $fields in
            *[![:space:]]*) body="$body,$fields" ;;
        esac
    fi
    body="$body}"
    set -- -sS -N --fail-with-body -H 'Content-Type: application/json' --data-binary @-
    if [ -n "${OWT_CALL_AUTH-}" ]; then
        set -- "$@" -u "$OWT_CALL_AUTH"
    fi
    # printf is a shell builtin: a large body is never a command argument.
    printf '%s' "$body" | curl "$@" "$url"
    status=$?
    if [ "$status" -eq 22 ]; then
        echo "owt_call: the server answered with an error (its JSON body is above)" >&2
    fi
    return "$status"
}

#!/usr/bin/env bash
# example/echo/echo_kwargs.sh: send echo.py and its arguments as POST JSON.
#
# Usage: ./example/echo/echo_kwargs.sh http://localhost:9876
# Needs curl, base64 and jq.
set -euo pipefail

URL="${1:-http://localhost:9876}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CODE_B64="$(base64 < "$HERE/echo.py" | tr -d '\n')"
KWARGS_B64="$(printf '%s' "{'name': 'owt'}" | base64 | tr -d '\n')"
BODY="$(jq -cn --arg code "$CODE_B64" --arg kwargs "$KWARGS_B64" \
  '{code_b64: $code, kwargs_b64: $kwargs}')"
curl -sS --fail-with-body --json "$BODY" "$URL/hello"

#!/usr/bin/env bash
# example/echo/echo_request.sh: the same call as a GET, fields in the query string.
#
# Usage: ./example/echo/echo_request.sh http://localhost:9876
# Needs curl and base64.
set -euo pipefail

URL="${1:-http://localhost:9876}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CODE_B64="$(base64 < "$HERE/echo.py" | tr -d '\n')"
KWARGS_B64="$(printf '%s' "{'name': 'owt'}" | base64 | tr -d '\n')"
curl -sS --fail-with-body -G \
  --data-urlencode "code_b64=$CODE_B64" \
  --data-urlencode "kwargs_b64=$KWARGS_B64" \
  "$URL"

#!/usr/bin/env bash
# example/echo/echo_script.sh: the adaptor lives inside the script.
#
# Usage: ./example/echo/echo_script.sh http://localhost:9876
# Needs curl and the owt command (pip install -e . from the repo root).
set -euo pipefail

URL="${1:-http://localhost:9876}"
read -r -d '' CODE <<'EOF_CODE' || true
def run(name: str):
    return f"Hello, {name}!"
EOF_CODE

# `owt encode` builds the JSON body: {"code_b64": ..., "kwargs_b64": ...}.
BODY="$(printf '%s\n' "$CODE" | owt encode - --kwargs "{'name': 'owt'}" --format json)"
curl -sS --fail-with-body --json "$BODY" "$URL/hello"

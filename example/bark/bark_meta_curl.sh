#!/usr/bin/env bash
# example/bark/bark_meta_curl.sh: print a curl command for a URL that serves a
# freshly built web app on every visit.
#
# bark_construct_curl.sh snapshots the app into its URL. This one sends an
# adaptor that, on each request, runs bark_construct_curl.sh on the server and
# fetches the page it describes, so edits to bark.html, bark.js or the
# adaptors show up on refresh. owt must run on this machine (it reads the
# files from this checkout).
#
#   bash -c "$(./example/bark/bark_meta_curl.sh http://localhost:9876) -s -o /dev/null -w '%{url}'"
set -euo pipefail

URL="${1:-http://localhost:9876}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

read -r -d '' CODE <<'EOF_CODE' || true
import shlex

from owt.lib.shell import bash


def run(base_url, construct_script):
    # The construct script prints a curl command; run it and hand on the page.
    command = bash(f"{shlex.quote(construct_script)} {shlex.quote(base_url)}")
    page = bash(command.strip() + " -sS --fail-with-body")
    return page, {"Content-Type": "text/html; charset=utf-8"}
EOF_CODE

KWARGS="$(jq -cn --arg url "$URL" --arg script "$HERE/bark_construct_curl.sh" \
  '{base_url: $url, construct_script: $script}')"
CODE_B64="$(printf '%s\n' "$CODE" | base64 | tr -d '\n')"
KWARGS_B64="$(printf '%s\n' "$KWARGS" | base64 | tr -d '\n')"
echo "curl -G --data-urlencode code_b64=$CODE_B64 --data-urlencode kwargs_b64=$KWARGS_B64 $URL"

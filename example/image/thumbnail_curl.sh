#!/usr/bin/env bash
# example/image/thumbnail_curl.sh: upload a picture, get its thumbnail back.
#
# Usage: ./example/image/thumbnail_curl.sh URL PICTURE OUT.png [SIZE]
# Needs curl and base64. The adaptor goes as a text part, the picture as the
# file part "image" and the other arguments as text parts.
set -euo pipefail

URL="${1:-http://localhost:9876}"
PICTURE="${2:?a picture to shrink}"
OUT="${3:?where to write the PNG}"
SIZE="${4:-64}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

curl -sS --fail-with-body \
  -F "code_b64=$(base64 < "$HERE/thumbnail.py" | tr -d '\n')" \
  -F "image=@$PICTURE" \
  -F "size=$SIZE" \
  -F "grey=true" \
  -o "$OUT" \
  "$URL/thumbnail"

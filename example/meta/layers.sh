#!/usr/bin/env bash
# example/meta/layers.sh: echo.py answered from 1 to N owts deep.
#
# Usage: ./example/meta/layers.sh [N_LAYERS] [PORT]   (defaults: 5, 9876)
# Run it from the repo root, against an owt started there: each layer starts
# the next owt on the next port (9877, 9878, ...) and stops it afterwards.
set -euo pipefail

N_LAYERS="${1:-5}"
PORT="${2:-9876}"

b64() { base64 | tr -d '\n'; }

# The arguments bootstrap.py takes, carrying CODE_B64 and KWARGS_B64 inside.
wrap() {
  printf '{"payload_code_b64": "%s", "payload_kwargs_b64": "%s"}\n' "$1" "$2" | b64
}

META_B64="$(b64 < example/meta/bootstrap.py)"
ECHO_B64="$(b64 < example/echo/echo.py)"
for LAYER in $(seq 1 "$N_LAYERS"); do
  NAME="owt"
  for _ in $(seq 1 "$LAYER"); do
    NAME="$NAME-inside-owt"
  done
  KWARGS_B64="$(wrap "$ECHO_B64" "$(printf '{"name": "%s"}\n' "$NAME" | b64)")"
  for _ in $(seq 2 "$LAYER"); do
    KWARGS_B64="$(wrap "$META_B64" "$KWARGS_B64")"
  done
  echo "layer $LAYER: $NAME"
  RESULT="$(curl -sS --fail-with-body -G --data-urlencode "code_b64=$META_B64" \
    --data-urlencode "kwargs_b64=$KWARGS_B64" "http://localhost:$PORT")"
  echo "Result: $RESULT"
done

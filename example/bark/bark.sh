#!/usr/bin/env bash
# example/bark/bark.sh: speak TEXT through owt and save one WAV per sentence.
#
# Usage:
#   ./example/bark/bark.sh http://localhost:9876/file.wav "Hello world! This is a test." /tmp/output_dir [ADAPTOR]
#
# ADAPTOR is espeak (owt/lib/espeak.py), bark (owt/lib/bark.py) or auto (the
# default: bark where the server can import it, espeak otherwise). Writes
# OUTDIR/sentence0.wav, sentence1.wav, ... as each sentence arrives, then
# OUTDIR/all.wav with the whole text. Needs curl, jq and base64.
set -euo pipefail

URL="${1:?usage: bark.sh URL TEXT OUTDIR [espeak|bark|auto]}"
TEXT="${2:?give the text to speak}"
OUTDIR="${3:?give a directory for the WAV files}"
ADAPTOR="${4:-auto}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

b64() { base64 | tr -d '\n'; }

if [[ "$ADAPTOR" == auto ]]; then
  # Ask the server itself which adaptor it can run.
  PROBE="$(jq -cn --arg code "$(b64 < "$REPO/example/bark/which_tts.py")" '{code_b64: $code}')"
  if curl -sS --fail-with-body --json "$PROBE" "$URL" | jq -e '.bark' > /dev/null; then
    ADAPTOR=bark
  else
    ADAPTOR=espeak
  fi
fi
case "$ADAPTOR" in
  espeak | bark) ;;
  *) echo "bark.sh: ADAPTOR must be espeak, bark or auto, not '$ADAPTOR'" >&2; exit 2 ;;
esac

mkdir -p "$OUTDIR"
CODE_B64="$(b64 < "$REPO/owt/lib/$ADAPTOR.py")"
KWARGS_B64="$(jq -cn --arg text "$TEXT" '{text: $text}' | b64)"
BODY="$(jq -cn --arg code "$CODE_B64" --arg kwargs "$KWARGS_B64" \
  '{code_b64: $code, kwargs_b64: $kwargs, use_cache: "true", cache_kwargs: "true"}')"

echo "Running curl --json <owt/lib/$ADAPTOR.py, text=$(jq -cn --arg t "$TEXT" '$t')> $URL"
I=0
DONE=no
OTHER=""
LAST=""
# One line per event: `data: {...}` for each sentence, `data: [DONE]` at the end.
while IFS= read -r LINE || [[ -n "$LINE" ]]; do
  LINE="${LINE%$'\r'}"
  case "$LINE" in
    "data: {"*)
      if [[ "$LAST" == "event: error" ]]; then
        echo "bark.sh: the server failed: ${LINE#data: }" >&2
        exit 1
      fi
      FILE="$OUTDIR/sentence$I.wav"
      printf '%s' "${LINE#data: }" | jq -r '.sentence' | base64 -d > "$FILE"
      printf '%s' "${LINE#data: }" | jq -r '.cumulative' | base64 -d > "$OUTDIR/all.wav"
      echo "Wrote $FILE: $(printf '%s' "${LINE#data: }" | jq -r '.text')"
      I=$((I + 1))
      ;;
    "data: [DONE]") DONE=yes ;;
    "") ;;
    *) OTHER="$OTHER$LINE"$'\n' ;;
  esac
  [[ -n "$LINE" ]] && LAST="$LINE"
done < <(curl -sS -N --json @- "$URL" <<< "$BODY")

if [[ "$DONE" != yes ]]; then
  echo "bark.sh: the stream ended without [DONE] after $I sentence(s)." >&2
  [[ -n "$OTHER" ]] && printf '%s' "$OTHER" >&2
  exit 1
fi
echo "Wrote $I sentence file(s) and $OUTDIR/all.wav"

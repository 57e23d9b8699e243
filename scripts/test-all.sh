#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it.
# Debian packages: chromium (browser tests), espeak-ng (real TTS audio), wrk
# (benchmark smoke run), redis-server (the shared response cache), nodejs
# (JavaScript client tests). Python packages go
# into .venv; torch is pinned to the CPU build that lies on local disk.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for pkg in chromium espeak-ng wrk curl jq redis-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# Node 20 comes with this kind of machine (NodeSource); Debian's own is older.
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -d .venv ] || python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[test,dev,embed,bench,redis,ray]'

python -m pytest -q -p no:cacheprovider tests "$@"

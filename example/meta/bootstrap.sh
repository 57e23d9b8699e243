#!/usr/bin/env bash
# example/meta/bootstrap.sh: owt inside owt.
#
#   source example/meta/bootstrap.sh
#   CMD=$(owtInOwt http://localhost 9876 "$CODE_B64" "$KWARGS_B64")
#   bash -c "$CMD"
#
# owtInOwt URL PORT PAYLOAD_CODE_B64 PAYLOAD_KWARGS_B64 prints a curl command.
# It sends the owt on URL:PORT an adaptor that starts a second owt on PORT+1
# (`python -m owt serve`), waits until it answers, sends it the payload code
# and arguments, and stops it again before answering with what it said.

function owtInOwt() {
  local URL="$1"
  local PORT="$2"
  local PAYLOAD_CODE_B64="$3"
  local PAYLOAD_KWARGS_B64="$4"
  local CODE KWARGS CODE_B64 KWARGS_B64
  read -r -d '' CODE <<'EOF_CODE' || true
import socket
import subprocess
import sys
import time

import requests

START_SECONDS = 30
ANSWER_SECONDS = 300


def run(payload_code_b64, payload_kwargs_b64, base_url="http://localhost"):
    port = args.port + 1
    inner = f"{base_url}:{port}"
    require_free(port)
    print(f"going one level down: owt on port {port}")
    child = subprocess.Popen(
        [sys.executable, "-m", "owt", "serve", "--port", str(port)],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_until_answering(child, inner)
        answer = requests.get(
            inner + request.path,
            params={"code_b64": payload_code_b64, "kwargs_b64": payload_kwargs_b64},
            timeout=ANSWER_SECONDS,
        )
        content_type = answer.headers.get("Content-Type", "text/plain")
        return answer.content, answer.status_code, {"Content-Type": content_type}
    finally:
        stop(child)


def require_free(port):
    with socket.socket() as probe:
        # As servers bind: TIME_WAIT leftovers of an earlier inner owt are fine.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((args.address, port))
        except OSError:
            raise RuntimeError(f"port {port} is taken: the inner owt can't use it")


def wait_until_answering(child, url):
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(
                f"the inner owt exited with status {child.returncode} "
                f"(is port {args.port + 1} taken?)"
            )
        try:
            requests.get(url + "/_owt/health", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"the inner owt did not answer at {url} in {START_SECONDS} s")


def stop(child):
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)
    print(f"stopped the owt on port {args.port + 1}")
EOF_CODE

  KWARGS="{\"payload_code_b64\": \"$PAYLOAD_CODE_B64\", \"payload_kwargs_b64\": \"$PAYLOAD_KWARGS_B64\", \"base_url\": \"$URL\"}"
  CODE_B64="$(printf '%s\n' "$CODE" | base64 | tr -d '\n')"
  KWARGS_B64="$(printf '%s\n' "$KWARGS" | base64 | tr -d '\n')"
  echo "curl -sS -G --data-urlencode code_b64=$CODE_B64 --data-urlencode kwargs_b64=$KWARGS_B64 $URL:$PORT"
}

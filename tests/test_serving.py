"""What owt's default HTTP server (owt.serving, on cheroot) must do, over HTTP."""

from __future__ import annotations

import concurrent.futures
import re
import socket
import subprocess
import sys
import time

import requests

from tests.owtserver import REPO
from tests.owtserver import wait_until_up

THREE_EVENTS = """import time

def run():
    def events():
        for i in range(3):
            yield f"data: {i}\\n\\n"
            time.sleep(0.4)
    return events(), {"Content-Type": "text/event-stream"}
"""

SLEEPY = (
    "import time\n\ndef run(seconds):\n    time.sleep(seconds)\n    return 'slept'\n"
)


def read_events(
    sock: socket.socket, want: int, timeout: float
) -> list[tuple[float, bytes]]:
    """(arrival time, event) for each SSE event read from a raw socket."""
    sock.settimeout(timeout)
    started = time.monotonic()
    buffer = b""
    events: list[tuple[float, bytes]] = []
    while len(events) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
        found = re.findall(rb"data: \d\n\n", buffer)
        now = time.monotonic() - started
        events += [(now, event) for event in found[len(events) :]]
    return events


def test_sse_events_arrive_one_by_one(owt_server):
    query = (
        requests.Request(
            "GET", owt_server.url + "/events", params={"code": THREE_EVENTS}
        )
        .prepare()
        .path_url
    )
    with socket.create_connection(("127.0.0.1", owt_server.port)) as sock:
        sock.sendall(f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        events = read_events(sock, 3, timeout=10)
    assert [e for _, e in events] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
    times = [at for at, _ in events]
    # Each event arrives when it is yielded, 0.4 s apart, not all at the end.
    assert times[0] < 0.35
    assert 0.3 < times[1] - times[0] < 1.5
    assert 0.3 < times[2] - times[1] < 1.5


def test_sixty_slow_requests_are_served_at_once(owt_server):
    # Every admitted request gets a thread at once: slow adaptors never keep
    # other requests waiting.
    def call(_):
        return owt_server.post(SLEEPY, {"seconds": 2}, timeout=30).text

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        answers = list(pool.map(call, range(60)))
    elapsed = time.monotonic() - started
    assert answers == ["slept"] * 60
    assert elapsed < 5.5, f"60 requests of 2 s took {elapsed:.1f} s"


def test_keep_alive_connections_are_reused(owt_server):
    with requests.Session() as session:
        for _ in range(3):
            r = session.get(owt_server.url + "/_owt/health", timeout=10)
            assert r.ok
            assert r.headers.get("Connection", "").lower() != "close"


def test_port_zero_serves_on_the_port_it_prints(tmp_path):
    log = (tmp_path / "out.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "owt", "serve", "--port", "0"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        port = None
        while port is None and time.monotonic() < deadline:
            found = re.search(
                r"Owt serving on 127\.0\.0\.1:(\d+)", (tmp_path / "out.log").read_text()
            )
            port = int(found.group(1)) if found else None
            time.sleep(0.05)
        assert port, (tmp_path / "out.log").read_text()
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, 20)
        r = requests.post(
            url, json={"code": "def run(): return Server.sing().port"}, timeout=10
        )
        assert r.text == str(port)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_owt_starts_again_on_its_port_as_soon_as_it_stops(tmp_path):
    # An idle keep-alive connection left behind must not keep a restarted owt
    # (a script that restarts it, or the meta example) off its port.
    from tests.owtserver import running_owt

    with running_owt(log_dir=tmp_path) as server:
        port = server.port
        held = requests.Session()
        assert held.get(server.url + "/_owt/health", timeout=10).ok
    try:
        with running_owt(
            port=port, log_dir=tmp_path / "again", start_seconds=5
        ) as again:
            assert again.port == port
            assert requests.get(again.url + "/_owt/health", timeout=10).ok
    finally:
        held.close()


def test_a_port_in_use_is_refused_with_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "owt", "serve", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"can't listen on 127.0.0.1:{port}" in done.stderr
    assert "in use" in done.stderr

"""owt with several HTTP worker processes (``owt serve --processes 2``): the
acceptance behaviours hold with two worker processes, streaming included."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time

import psutil
import pytest
import requests

from tests.owtserver import b64
from tests.owtserver import running_owt
from tests.owtserver import wait_until_up

ECHO_SCRIPT = "def run(name: str):\n  return f'Hello, {name}!'\n"
ECHO_PY = (
    "from owt.server import Server\n\n\n"
    "def run(name=None):\n"
    '    return f"Hello, {name}, from {Server.sing().address}:{Server.sing().port}!"\n'
)
SLOW_STREAM = """import time

def run():
    def events():
        yield "data: first\\n\\n"
        time.sleep(1.5)
        yield "data: second\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""
PID_AFTER = "import os, time\n\ndef run(seconds=0.3):\n    time.sleep(seconds)\n    return os.getpid()\n"


def worker_processes(master_pid, count=2, seconds=15):
    """The main process's worker processes, once ``count`` of them run."""
    master = psutil.Process(master_pid)
    deadline = time.monotonic() + seconds
    while len(master.children()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return master.children()


@pytest.fixture(scope="module")
def multi_owt():
    with running_owt("--processes", "2") as server:
        yield server


def test_it_says_where_it_serves(multi_owt):
    deadline = time.monotonic() + 10
    while "Owt serving on" not in multi_owt.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"Owt serving on 127.0.0.1:{multi_owt.port}" in multi_owt.output()


def test_two_worker_processes_answer(multi_owt):
    workers = {p.pid for p in worker_processes(multi_owt.proc.pid)}
    assert len(workers) == 2

    def call(_):
        return int(multi_owt.get(PID_AFTER, {"seconds": 0.3}).text)

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        pids = set(pool.map(call, range(120)))
    assert pids <= workers
    assert pids == workers, "one worker did all the work"


def test_echo_by_post_json(multi_owt):
    r = requests.post(
        multi_owt.url + "/hello",
        json={"code_b64": b64(ECHO_SCRIPT), "kwargs_b64": b64("{'name': 'owt'}\n")},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.text == "Hello, owt!"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_echo_py_names_the_server_by_get(multi_owt):
    r = requests.get(
        multi_owt.url,
        params={"code_b64": b64(ECHO_PY), "kwargs_b64": b64("{'name': 'owt'}\n")},
        timeout=10,
    )
    assert r.text == f"Hello, owt, from 127.0.0.1:{multi_owt.port}!"


def test_stream_first_event_arrives_before_the_generator_ends(multi_owt):
    started = time.monotonic()
    r = multi_owt.post(SLOW_STREAM, stream=True)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    chunks = r.iter_content(chunk_size=None)
    first = next(chunks)
    first_at = time.monotonic() - started
    rest = b"".join(chunks)
    assert first == b"data: first\n\n"
    assert first_at < 1.0
    assert rest == b"data: second\n\n"
    assert time.monotonic() - started >= 1.4


def test_a_slow_adaptor_does_not_delay_quick_ones(multi_owt):
    with concurrent.futures.ThreadPoolExecutor(21) as pool:
        slow = pool.submit(multi_owt.get, PID_AFTER, {"seconds": 3})
        time.sleep(0.2)
        started = time.monotonic()
        quick = list(
            pool.map(lambda _: multi_owt.get(ECHO_SCRIPT, {"name": "x"}), range(20))
        )
        quick_done = time.monotonic() - started
        assert slow.result().ok
    assert [r.text for r in quick] == ["Hello, x!"] * 20
    assert quick_done < 2.5


def test_errors_are_json_and_the_server_keeps_serving(multi_owt):
    bad = multi_owt.post("def run(:\n")
    assert bad.status_code == 400
    assert bad.json()["error"]
    boom = multi_owt.post("def run():\n    raise ValueError('boom')\n")
    assert boom.status_code == 500
    assert "boom" in boom.json()["message"]
    assert multi_owt.post(ECHO_SCRIPT, {"name": "still"}).text == "Hello, still!"


def test_code_in_a_long_query_string(multi_owt):
    # Code sent by GET: far over the 4-8 KB request lines some servers cap.
    padding = "x" * 20_000
    code = f"PAD = {padding!r}\n\ndef run():\n    return len(PAD)\n"
    r = multi_owt.get(code)
    assert r.status_code == 200
    assert r.text == "20000"


def test_options_reach_every_worker():
    sha = (
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"  # "password"
    )
    with running_owt("--processes", "2", "--auth", f"me:{sha}") as server:
        assert requests.get(server.url + "/_owt/health", timeout=10).status_code == 401
        ok = requests.get(
            server.url + "/_owt/health", auth=("me", "password"), timeout=10
        )
        assert ok.status_code == 200


def test_sigterm_stops_the_main_process_and_its_workers():
    with running_owt("--processes", "2") as server:
        workers = worker_processes(server.proc.pid)
        assert len(workers) == 2
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=15)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []


def test_port_zero_with_two_processes(tmp_path):
    import re
    import subprocess
    import sys

    from tests.owtserver import REPO

    out = tmp_path / "out.log"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "owt",
                "serve",
                "--port",
                "0",
                "--processes",
                "2",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 20
            found = None
            while found is None and time.monotonic() < deadline:
                found = re.search(r"Owt serving on 127\.0\.0\.1:(\d+)", out.read_text())
                time.sleep(0.05)
            assert found, out.read_text()
            url = f"http://127.0.0.1:{found.group(1)}"
            wait_until_up(url, proc, 20)
            r = requests.post(
                url, json={"code": "def run(): return Server.sing().port"}, timeout=10
            )
            assert r.text == found.group(1)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)

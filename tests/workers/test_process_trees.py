"""Processes adaptors start never outlive what owt promises (issue 13): a
timed-out call's worker is killed with every process below it, including
one that left its session; stopping owt stops them all within 2 s; and a
worker that breaks the channel's protocol is replaced, its call a 502."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.owtserver import running_owt
from tests.workers.procs import PROCESS
from tests.workers.procs import wait_for_workers
from tests.workers.procs import workers

# Starts a grandchild in a session of its own (setsid), through a child
# that exits at once, so the grandchild is an orphan; writes its pid.
ORPHAN_IN_OWN_SESSION = """import subprocess, sys, time

def run(pid_file, then_sleep=0, stubborn=False):
    launcher = (
        "import subprocess, sys\\n"
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True,\\n"
        "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\\n"
        "print(p.pid)\\n"
    )
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True)
    with open(pid_file, "w") as f:
        f.write(out.stdout.strip())
    end = time.monotonic() + then_sleep
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            if not stubborn:
                raise
    return "started"
"""


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


@pytest.fixture
def cleanup_pids():
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_worker_killed_after_a_timeout_takes_its_setsid_grandchild_with_it(
    tmp_path, cleanup_pids
):
    # The call ignores the interrupt, so its worker is killed after --grace.
    pid_file = tmp_path / "grandchild"
    with running_owt(
        *PROCESS, "--workers", "1", "--timeout", "2", "--grace", "0.5", log_dir=tmp_path
    ) as server:
        wait_for_workers(server, 1)
        response = server.post(
            ORPHAN_IN_OWN_SESSION,
            {"pid_file": str(pid_file), "then_sleep": 60, "stubborn": True},
        )
        assert response.status_code == 504
        grandchild = int(pid_file.read_text())
        cleanup_pids.append(grandchild)
        assert wait_gone(grandchild, 10), "the setsid grandchild outlived the timeout"
        wait_for_workers(server, 1)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_sigterm_stops_owt_and_every_process_adaptors_left(
    tmp_path, cleanup_pids, executor
):
    pid_file = tmp_path / "grandchild"
    args = (*PROCESS, "--workers", "1") if executor == "process" else ()
    left_behind = (
        "import os, time\n"
        "from multiprocessing import Process\n"
        "def run():\n"
        "    child = Process(target=time.sleep, args=(300,))\n"
        "    child.start()\n"
        "    return str(child.pid)\n"
    )
    with running_owt(*args, log_dir=tmp_path) as server:
        if executor == "process":
            wait_for_workers(server, 1)
        assert server.post(ORPHAN_IN_OWN_SESSION, {"pid_file": str(pid_file)}).ok
        grandchild = int(pid_file.read_text())
        child = int(server.post(left_behind).text)
        cleanup_pids.extend([grandchild, child])
        assert pid_alive(grandchild) and pid_alive(child)
        started = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=10)
        took = time.monotonic() - started
    assert took < 2.0, f"owt took {took:.1f} s to stop"
    assert wait_gone(grandchild, 2) and wait_gone(child, 2)


def test_a_worker_that_breaks_the_protocol_is_replaced_and_its_call_is_a_502(tmp_path):
    # The worker's channel is file descriptor argv[1]: write a frame whose
    # payload length no message could have.
    breaker = (
        "import os, struct, sys, time\n"
        "def run():\n"
        "    os.write(int(sys.argv[1]), struct.pack('!IQ', 16, 2 ** 62))\n"
        "    time.sleep(30)\n"
    )
    with running_owt(*PROCESS, "--workers", "1", log_dir=tmp_path) as server:
        before = wait_for_workers(server, 1)[0]
        response = server.post(breaker, timeout=30)
        assert response.status_code == 502
        assert response.json()["error"] == "worker_died"
        after = wait_for_workers(server, 1)[0]
        assert after["pid"] != before["pid"]
        assert not pid_alive(before["pid"])
        assert server.post("def run():\n    return 'fine'\n").text == "fine"
        assert [w["state"] for w in workers(server)] == ["ready"]


def test_sigterm_stops_owt_within_2s_with_the_spec_meta_server_still_running(tmp_path):
    # The spec's meta example starts a whole second owt in a
    # multiprocessing.Process; here nobody stops it before owt is stopped.
    from tests.owtserver import free_port

    inner = free_port()
    meta = (
        "def run(new_port):\n"
        "    _globals = {'new_port': new_port}\n"
        "    _locals = {}\n"
        "    exec('from owt.server import *\\n"
        "from multiprocessing import Process\\n"
        "args.port = new_port\\n"
        "server_thread = Process(target=main)\\n', _globals, _locals)\n"
        "    _locals['server_thread'].start()\n"
        "    return str(_locals['server_thread'].pid)\n"
    )
    with running_owt(log_dir=tmp_path) as server:
        child = int(server.post(meta, {"new_port": inner}).text)
        health = f"http://127.0.0.1:{inner}/_owt/health"

        assert requests.get(health, timeout=10).json()["status"] == "ok"
        started = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=10)
        took = time.monotonic() - started
    assert took < 2.0, f"owt took {took:.1f} s to stop"
    assert wait_gone(child, 2)
    with pytest.raises(requests.ConnectionError):
        requests.get(health, timeout=2)

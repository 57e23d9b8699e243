"""The process executor against real worker processes over real HTTP.

Time limits, cancelling (client disconnect and DELETE), crash isolation
(os._exit, a segfault), warm code per worker, streaming through a worker,
per-worker environment and limits, and shutdown without orphans.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import requests

from owt.execute import code_digest
from tests.owtserver import running_owt
from tests.workers.procs import PROCESS
from tests.workers.procs import pid_exists
from tests.workers.procs import processes_in_groups
from tests.workers.procs import wait_for_workers
from tests.workers.procs import workers

PID = "import os\ndef run():\n    return str(os.getpid())\n"


def wait_for(predicate, seconds: float = 10, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not true within {seconds} s: {predicate}")


def nonce(code: str) -> str:
    """``code`` made unique, so it is new to every worker."""
    return f"# {uuid.uuid4().hex}\n{textwrap.dedent(code)}"


@pytest.fixture(scope="module")
def one_worker():
    """One worker, a 2 s time limit and a 1 s grace period."""
    args = (*PROCESS, "--workers", "1", "--timeout", "2", "--grace", "1")
    with running_owt(*args) as server:
        wait_for_workers(server, 1)
        yield server


@pytest.fixture(scope="module")
def two_workers():
    with running_owt(*PROCESS, "--workers", "2", "--grace", "1") as server:
        wait_for_workers(server, 2)
        yield server


# -- time limits -------------------------------------------------------------


def test_infinite_loop_answers_504_in_about_two_seconds_and_the_slot_serves_again(
    one_worker, tmp_path
):
    marker = tmp_path / "interrupted"
    code = nonce(
        f"""
        def run():
            try:
                while True:
                    pass
            except KeyboardInterrupt:
                open({str(marker)!r}, "w").write("cleaned up")
                raise
        """
    )
    pid_before = workers(one_worker)[0]["pid"]
    started = time.monotonic()
    r = one_worker.post(code, path="/loop")
    elapsed = time.monotonic() - started
    assert r.status_code == 504
    body = r.json()
    assert body["error"] == "timeout"
    assert "2 s" in body["message"]
    assert body["request_id"] == r.headers["X-Request-Id"]
    assert 1.8 <= elapsed < 3.5
    # The adaptor saw KeyboardInterrupt and cleaned up; the worker lives on.
    wait_for(marker.exists, 5)
    assert marker.read_text() == "cleaned up"
    ok = one_worker.post(PID)
    assert ok.status_code == 200
    assert int(ok.text) == pid_before
    assert workers(one_worker)[0]["restarts"] == 0


def test_blocking_sleep_is_interrupted_too(one_worker):
    code = nonce("import time\ndef run():\n    time.sleep(600)\n")
    started = time.monotonic()
    r = one_worker.post(code)
    assert r.status_code == 504
    assert time.monotonic() - started < 3.5
    assert one_worker.post(PID).status_code == 200


def test_adaptor_that_swallows_the_interrupt_is_killed_after_the_grace_period(
    one_worker,
):
    code = nonce(
        """
        import time
        def run():
            while True:
                try:
                    time.sleep(0.01)
                except BaseException:
                    pass
        """
    )
    before = workers(one_worker)[0]
    r = one_worker.post(code)
    assert r.status_code == 504
    after = wait_for(
        lambda: [
            w
            for w in workers(one_worker)
            if w["restarts"] == before["restarts"] + 1 and w["state"] == "ready"
        ],
        10,
    )[0]
    assert after["pid"] != before["pid"]
    assert "SIGKILL" in after["last_exit"]
    assert "--grace" in after["last_exit"]
    assert not pid_exists(before["pid"])
    # The replacement serves the next request.
    assert one_worker.post(PID).text == str(after["pid"])


def test_request_timeout_field_lowers_the_limit_but_cannot_raise_it(one_worker):
    code = nonce("import time\ndef run():\n    time.sleep(30)\n")
    started = time.monotonic()
    r = requests.post(one_worker.url, json={"code": code, "timeout": 30}, timeout=30)
    assert r.status_code == 504
    assert time.monotonic() - started < 3.5  # capped by --timeout 2

    started = time.monotonic()
    r = requests.post(one_worker.url, json={"code": code, "timeout": 0.5}, timeout=30)
    assert r.status_code == 504
    assert r.json()["timeout"] == 0.5
    assert time.monotonic() - started < 1.5


def test_stream_gets_the_limit_between_chunks_not_in_total(one_worker):
    # 6 chunks 0.5 s apart: 3 s in total, longer than --timeout 2.
    code = nonce(
        """
        import time
        def run():
            for i in range(6):
                yield f"{i}\\n"
                time.sleep(0.5)
        """
    )
    r = one_worker.post(code, timeout=30)
    assert r.status_code == 200
    assert r.text == "".join(f"{i}\n" for i in range(6))


def test_stream_that_stalls_ends_with_a_timeout_event(one_worker):
    code = nonce(
        """
        import time
        def run():
            def events():
                yield "data: first\\n\\n"
                time.sleep(600)
            return events(), {"Content-Type": "text/event-stream"}
        """
    )
    started = time.monotonic()
    r = one_worker.post(code, timeout=30)
    assert r.status_code == 200
    assert r.text.startswith("data: first\n\n")
    assert "event: error" in r.text and '"timeout"' in r.text
    assert time.monotonic() - started < 3.5


def test_timeout_needs_the_process_executor():
    result = subprocess.run(
        [sys.executable, "-m", "owt", "serve", "--timeout", "2", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--executor process" in result.stderr


# -- cancelling --------------------------------------------------------------


def test_disconnecting_stream_client_stops_the_generator(two_workers, tmp_path):
    marker = tmp_path / "closed"
    code = nonce(
        f"""
        import time
        def run():
            def events():
                try:
                    for i in range(1000):
                        yield f"data: {{i}}\\n\\n"
                        time.sleep(0.05)
                finally:
                    open({str(marker)!r}, "w").write("closed")
            return events(), {{"Content-Type": "text/event-stream"}}
        """
    )
    r = two_workers.post(code, stream=True)
    chunks = r.iter_content(chunk_size=None)
    assert next(chunks).startswith(b"data: 0")
    r.close()
    wait_for(marker.exists, 5)
    # Its worker's place is free again.
    wait_for(lambda: all(not w["in_flight"] for w in workers(two_workers)), 5)


def sleeps_until_interrupted(marker) -> str:
    """An adaptor that sleeps and, once interrupted, writes ``marker``."""
    return nonce(
        f"""
        import time
        def run():
            try:
                time.sleep(600)
            except KeyboardInterrupt:
                open({str(marker)!r}, "w").write("interrupted")
                raise
        """
    )


def test_client_that_gives_up_on_a_slow_call_cancels_it(two_workers, tmp_path):
    marker = tmp_path / "stopped"
    code = sleeps_until_interrupted(marker)
    with pytest.raises(requests.ReadTimeout):
        two_workers.post(code, timeout=1)
    wait_for(marker.exists, 5)
    wait_for(lambda: all(not w["in_flight"] for w in workers(two_workers)), 5)


def test_delete_cancels_a_running_request(two_workers, tmp_path):
    marker = tmp_path / "cancelled"
    code = sleeps_until_interrupted(marker)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(two_workers.post, code, timeout=30)
        running = wait_for(
            lambda: [f for w in workers(two_workers) for f in w["in_flight"]], 10
        )
        request_id = running[0]["request_id"]
        d = requests.delete(f"{two_workers.url}/_owt/requests/{request_id}", timeout=10)
        assert d.status_code == 200
        assert d.json() == {"request_id": request_id, "cancelled": True}
        r = future.result(timeout=10)
    assert r.status_code == 409
    assert r.json()["error"] == "cancelled"
    assert r.headers["X-Request-Id"] == request_id
    wait_for(marker.exists, 5)


def test_delete_of_an_unknown_request_is_404(two_workers):
    r = requests.delete(two_workers.url + "/_owt/requests/nothing", timeout=10)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_delete_in_inline_mode_says_it_needs_the_process_executor(tmp_path):
    with running_owt() as server:
        r = requests.delete(server.url + "/_owt/requests/x", timeout=10)
        assert r.status_code == 409
        assert "--executor process" in r.json()["message"]
        assert requests.get(server.url + "/_owt/workers", timeout=10).json() == {
            "executor": "inline"
        }


# -- crashes -----------------------------------------------------------------

SLOW_PID = (
    "import os, time\ndef run():\n    time.sleep(1.5)\n    return str(os.getpid())\n"
)


@pytest.mark.parametrize(
    ("crash", "named"),
    [
        ("import os\ndef run():\n    os._exit(1)\n", "exited with code 1"),
        (
            "import ctypes\ndef run():\n    ctypes.string_at(0)\n",
            "SIGSEGV",
        ),
    ],
    ids=["os_exit", "segfault"],
)
def test_a_dying_worker_fails_only_its_request_and_is_replaced(
    two_workers, crash, named
):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(two_workers.post, nonce(SLOW_PID), timeout=30)
        wait_for(lambda: any(w["in_flight"] for w in workers(two_workers)))
        r = two_workers.post(nonce(crash))
        # The other worker's request completes.
        survivor = slow.result(timeout=30)
    assert r.status_code == 502
    body = r.json()
    assert body["error"] == "worker_died"
    assert named in body["message"]
    assert survivor.status_code == 200
    assert f"pid {survivor.text}" not in body["message"]
    assert two_workers.alive()
    ready = wait_for_workers(two_workers, 2)
    assert sum(w["restarts"] for w in ready) >= 1
    assert any(named in (w["last_exit"] or "") for w in ready)
    assert two_workers.post(PID).status_code == 200


def test_a_crash_fails_every_request_in_that_worker_but_no_other(tmp_path):
    with running_owt(*PROCESS, "--workers", "1") as server:
        wait_for_workers(server, 1)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(server.post, nonce(SLOW_PID)) for _ in range(2)]
            wait_for(lambda: len(workers(server)[0]["in_flight"]) == 2)
            crash = server.post("import os\ndef run():\n    os._exit(3)\n")
            results = [f.result(timeout=30) for f in slow]
        assert crash.status_code == 502
        assert [r.status_code for r in results] == [502, 502]
        assert all("exited with code 3" in r.json()["message"] for r in results)
        wait_for_workers(server, 1)
        assert server.post(PID).status_code == 200


# -- warm code, routing, environment and limits ---------------------------------


def test_warm_top_level_runs_once_per_worker(tmp_path):
    loads = tmp_path / "loads"
    code = nonce(
        f"""
        import os, time
        with open({str(loads)!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
        CALLS = []

        def run():
            time.sleep(0.3)
            CALLS.append(1)
            return {{"pid": os.getpid(), "calls": len(CALLS)}}
        """
    )
    args = (*PROCESS, "--workers", "2", "--max-concurrency", "1")
    with running_owt(*args) as server:
        wait_for_workers(server, 2)
        # Calls one after another stick to the worker that has the code warm.
        first = [server.post(code).json() for _ in range(3)]
        assert len({r["pid"] for r in first}) == 1
        assert [r["calls"] for r in first] == [1, 2, 3]
        assert loads.read_text().split() == [str(first[0]["pid"])]
        # Two at once: that worker is full (--max-concurrency 1), so the
        # other one gets the second call and loads the code too, once.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(server.post, code) for _ in range(2)]
            both = [f.result().json() for f in futures]
        assert {r["pid"] for r in both} == {w["pid"] for w in workers(server)}
        for _ in range(4):
            assert server.post(code).status_code == 200
        pids = loads.read_text().split()
        assert sorted(pids) == sorted(str(w["pid"]) for w in workers(server))


def test_new_code_goes_to_the_least_busy_worker(two_workers):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(two_workers.post, nonce(SLOW_PID), timeout=30)
        wait_for(lambda: any(w["in_flight"] for w in workers(two_workers)))
        busy = [w["pid"] for w in workers(two_workers) if w["in_flight"]]
        quick = two_workers.post(nonce(PID))
        assert int(quick.text) not in busy
        assert slow.result().status_code == 200


def test_workers_endpoint_shows_pid_state_warm_code_and_in_flight(two_workers):
    code = nonce(PID)
    pid = int(two_workers.post(code).text)
    listed = workers(two_workers)
    assert [w["index"] for w in listed] == [0, 1]
    mine = next(w for w in listed if w["pid"] == pid)
    assert mine["state"] == "ready"
    assert code_digest(code) in mine["warm"]
    assert mine["in_flight"] == []
    assert isinstance(mine["restarts"], int)


def test_each_worker_gets_its_own_environment():
    code = "import os\ndef run():\n    return os.environ.get('CUDA_VISIBLE_DEVICES', '-')\n"
    args = (
        *PROCESS,
        "--max-concurrency",
        "1",
        "--worker-env",
        "CUDA_VISIBLE_DEVICES=0",
        "--worker-env",
        "CUDA_VISIBLE_DEVICES=1 OWT_TEST_EXTRA=x",
    )
    with running_owt(*args) as server:
        listed = wait_for_workers(server, 2)
        assert [w["env"] for w in listed] == [
            {"CUDA_VISIBLE_DEVICES": "0"},
            {"CUDA_VISIBLE_DEVICES": "1", "OWT_TEST_EXTRA": "x"},
        ]
        slow = "import os, time\ndef run():\n    time.sleep(1)\n    return os.environ['CUDA_VISIBLE_DEVICES']\n"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(server.post, slow) for _ in range(2)]
            seen = sorted(f.result().text for f in futures)
        assert seen == ["0", "1"]
        assert server.post(code).text in ("0", "1")


def test_every_worker_full_is_503_with_retry_after():
    args = (*PROCESS, "--workers", "1", "--max-concurrency", "1")
    with running_owt(*args) as server:
        wait_for_workers(server, 1)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(server.post, nonce(SLOW_PID))
            wait_for(lambda: workers(server)[0]["in_flight"])
            r = server.post(PID)
            assert slow.result().status_code == 200
        assert r.status_code == 503
        assert r.headers["Retry-After"]
        assert r.json()["error"] == "overloaded"
        assert server.post(PID).status_code == 200


# -- streaming ---------------------------------------------------------------


def test_stream_through_a_worker_arrives_incrementally(two_workers):
    code = nonce(
        """
        import time
        def run():
            for i in range(3):
                yield f"chunk {i}\\n"
                time.sleep(0.5)
        """
    )
    started = time.monotonic()
    r = two_workers.post(code, stream=True)
    arrivals = []
    for chunk in r.iter_content(chunk_size=None):
        arrivals.append((time.monotonic() - started, chunk))
    assert b"".join(c for _, c in arrivals) == b"chunk 0\nchunk 1\nchunk 2\n"
    # The first chunk came long before the generator finished (~1.5 s).
    assert arrivals[0][0] < 0.5
    assert arrivals[-1][0] > 1.0


def test_a_slow_reader_holds_the_worker_back_instead_of_owt_buffering(
    two_workers, tmp_path
):
    produced = tmp_path / "produced"
    code = nonce(
        f"""
        def run():
            for i in range(200):
                with open({str(produced)!r}, "w") as f:
                    f.write(str(i + 1))
                yield bytes([i % 256]) * (1024 * 1024)
        """
    )
    r = two_workers.post(code, stream=True, timeout=60)
    chunks = r.iter_content(chunk_size=1024 * 1024)
    total = len(next(chunks))
    time.sleep(2)
    # 200 MB were asked for; while the client doesn't read, only what fits
    # in owt's window and the sockets' buffers has been produced.
    paused_at = int(produced.read_text())
    assert paused_at < 40
    for chunk in chunks:
        total += len(chunk)
    assert total == 200 * 1024 * 1024
    assert int(produced.read_text()) == 200


def test_ten_megabyte_response(two_workers):
    code = nonce("def run():\n    return b'x' * (10 * 1024 * 1024)\n")
    r = two_workers.get(code)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert len(r.content) == 10 * 1024 * 1024


def test_the_request_reaches_the_worker_whole(two_workers):
    code = textwrap.dedent(
        """
        import os
        from flask import request
        def run():
            return {
                "pid": os.getpid(),
                "path": request.path,
                "query": request.args.to_dict(),
                "form": request.form.to_dict(),
                "files": {k: [f.filename, f.read().decode()] for k, f in request.files.items()},
                "header": request.headers.get("X-Thing"),
                "remote": request.remote_addr,
            }
        """
    )
    r = requests.post(
        two_workers.url + "/up/load?a=1&b=2",
        data={"code": code, "x": "y"},
        files={"f": ("a.txt", b"hello")},
        headers={"X-Thing": "thing"},
        timeout=30,
    )
    body = r.json()
    assert body["pid"] != two_workers.proc.pid
    assert body["path"] == "/up/load"
    assert body["query"] == {"a": "1", "b": "2"}
    assert body["form"]["x"] == "y"
    assert body["files"] == {"f": ["a.txt", "hello"]}
    assert body["header"] == "thing"
    assert body["remote"] == "127.0.0.1"


def test_the_front_never_runs_adaptor_code(two_workers):
    r = two_workers.post(PID)
    assert int(r.text) in {w["pid"] for w in workers(two_workers)}
    assert int(r.text) != two_workers.proc.pid


# -- shutdown ----------------------------------------------------------------


def test_sigterm_stops_every_worker_and_what_they_started(tmp_path):
    spawner = textwrap.dedent(
        """
        import subprocess
        def run():
            return str(subprocess.Popen(["sleep", "300"]).pid)
        """
    )
    with running_owt(*PROCESS, "--workers", "2") as server:
        listed = wait_for_workers(server, 2)
        worker_pids = {w["pid"] for w in listed}
        grandchild = int(server.post(spawner).text)
        assert pid_exists(grandchild)
        groups = {server.proc.pid, *worker_pids}
        assert set(processes_in_groups(groups)) >= worker_pids | {grandchild}
        # SIGTERM to owt alone, not to its process group.
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=15)
        wait_for(lambda: not processes_in_groups(groups), 10)
        assert not any(pid_exists(pid) for pid in worker_pids | {grandchild})


def test_killed_front_takes_its_workers_with_it():
    with running_owt(*PROCESS, "--workers", "2") as server:
        worker_pids = {w["pid"] for w in wait_for_workers(server, 2)}
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=15)
        wait_for(lambda: not any(pid_exists(p) for p in worker_pids), 10)


def test_many_concurrent_requests_across_workers_all_answer(two_workers):
    code = nonce("import time\ndef run(i):\n    time.sleep(0.2)\n    return i\n")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda i: two_workers.post(code, {"i": i}).text, range(48))
        )
    assert results == [str(i) for i in range(48)]


# -- arguments ---------------------------------------------------------------


def test_kwargs_expressions_are_evaluated_in_a_worker_not_the_front(two_workers):
    code = "def run(pid):\n    return str(pid)\n"
    kwargs = "{'pid': __import__('os').getpid()}"
    r = requests.post(
        two_workers.url, json={"code": code, "kwargs": kwargs}, timeout=30
    )
    assert r.status_code == 200
    assert int(r.text) in {w["pid"] for w in workers(two_workers)}


def test_a_kwargs_expression_that_ends_its_process_ends_only_a_worker(two_workers):
    code = "def run(**kwargs):\n    return 'unreachable'\n"
    kwargs = f"{{'x': __import__('os')._exit(7), 'n': {uuid.uuid4().int}}}"
    r = requests.post(
        two_workers.url, json={"code": code, "kwargs": kwargs}, timeout=30
    )
    assert r.status_code == 502
    assert "exited with code 7" in r.json()["message"]
    assert two_workers.alive()
    wait_for_workers(two_workers, 2)


def test_kwargs_that_fail_to_evaluate_are_still_a_400(two_workers):
    code = "def run(**kwargs):\n    return 'unreachable'\n"
    r = requests.post(
        two_workers.url, json={"code": code, "kwargs": "{'x': 1 / 0}"}, timeout=30
    )
    assert r.status_code == 400
    assert r.json()["error"] == "bad_encoding"
    assert "ZeroDivisionError" in r.json()["message"]


# -- options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--worker-env", "NOEQUALS"), "NAME=VALUE"),
        (("--workers", "1", "--worker-env", "A=1", "--worker-env", "A=2"), "one per"),
        (("--workers", "0"), "--workers"),
    ],
    ids=["not-name-value", "more-envs-than-workers", "zero-workers"],
)
def test_bad_process_options_are_refused(args, needle):
    result = subprocess.run(
        [sys.executable, "-m", "owt", "serve", *PROCESS, *args, "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert needle in result.stderr

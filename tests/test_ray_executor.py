"""``--executor ray``: adaptors on the slots of a real local Ray cluster.

A real Ray head (token auth, no dashboard) starts once for the module; owt
front ends connect to it over loopback. The slots are named actors, so two
front ends share them; what the process executor promises (streaming, time
limits, cancelling, crashes as 502) holds here too.
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import subprocess
import sys
import time

import numpy
import pytest
import requests

from tests.owtserver import fields
from tests.owtserver import running_owt
from tests.rayhead import running_ray_head
from tests.redisserver import running_redis

RAY = ("--executor", "ray", "--slots", "2", "--timeout", "3", "--grace", "1")
PID = "import os\ndef run():\n    return str(os.getpid())\n"


@pytest.fixture(scope="module")
def ray_env():
    with running_ray_head() as env:
        yield env


@pytest.fixture(scope="module")
def front(ray_env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("ray-front")
    with running_owt(*RAY, env=ray_env, log_dir=logs, start_seconds=60) as server:
        yield server


def slots(server):
    return requests.get(server.url + "/_owt/workers", timeout=10).json()["workers"]


def wait_until_ready(server, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described = slots(server)
        if all(s["state"] == "ready" and s.get("pid") for s in described):
            return described
        time.sleep(0.2)
    raise AssertionError(f"slots not ready: {described}")


def test_an_adaptor_answers_from_a_slot_process_not_the_front(front):
    answer = front.post(
        "def run(name):\n    return f'Hello, {name}!'\n", {"name": "ray"}
    )
    assert (answer.status_code, answer.text) == (200, "Hello, ray!")
    pid = int(front.post(PID).text)
    assert pid != front.proc.pid and pid in {s["pid"] for s in slots(front)}


def test_workers_lists_each_slot_with_node_resources_and_warm_code(front):
    front.post(PID)
    described = wait_until_ready(front)
    assert [s["name"] for s in described] == ["owt-slot-0", "owt-slot-1"]
    for slot in described:
        assert slot["node_id"] and slot["node_ip"]
        assert slot["resources"] == {"num_cpus": 0}
    warm = {d for s in described for d in s["warm"]}
    from owt.execute import code_digest

    assert code_digest(PID) in warm


def test_a_stream_arrives_chunk_by_chunk(front):
    code = (
        "import time\n"
        "def events():\n"
        "    for i in range(4):\n"
        "        yield f'data: {i}\\n\\n'\n"
        "        time.sleep(0.4)\n"
        "def run():\n"
        "    return events(), {'Content-Type': 'text/event-stream'}\n"
    )
    started = time.monotonic()
    seen = []
    with front.post(code, stream=True) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                seen.append((line.decode(), time.monotonic() - started))
    assert [text for text, _ in seen] == [f"data: {i}" for i in range(4)]
    assert seen[0][1] < 1.0 < seen[-1][1]


def test_request_path_headers_body_and_expression_kwargs_reach_the_slot(front):
    code = (
        "import os\n"
        "def run(request, pid):\n"
        "    return {'path': request.path, 'who': request.headers.get('X-Who'),\n"
        "            'body': len(request.get_data()), 'same': pid == os.getpid()}\n"
    )
    expression = "{'pid': __import__('os').getpid()}"
    body = {
        "code": code,
        "kwargs_b64": base64.b64encode(expression.encode()).decode(),
    }
    answer = requests.post(
        front.url + "/some/path", json=body, headers={"X-Who": "me"}, timeout=30
    )
    data = answer.json()
    assert data["path"] == "/some/path" and data["who"] == "me"
    assert data["body"] == len(json.dumps(body)) and data["same"] is True


def test_past_the_time_limit_504_and_a_slot_still_busy_is_replaced(front):
    wait_until_ready(front)
    before = {s["index"]: s["pid"] for s in slots(front)}
    started = time.monotonic()
    answer = front.post("import time\ndef run():\n    time.sleep(30)\n", timeout=30)
    assert answer.status_code == 504 and answer.json()["error"] == "timeout"
    assert 2.5 < time.monotonic() - started < 5
    after = wait_until_ready(front)
    replaced = [s for s in after if s["pid"] != before[s["index"]]]
    assert len(replaced) == 1 and replaced[0]["restarts"] >= 1
    assert front.post("def run():\n    return 'fine'\n").text == "fine"


def test_a_request_timeout_field_only_lowers_the_limit(front):
    started = time.monotonic()
    code = "import time\ndef run():\n    time.sleep(30)\n"
    # (the field is named like requests' own timeout, so it is sent by hand)
    answer = requests.post(front.url, json=fields(code, None, timeout=1), timeout=30)
    assert answer.status_code == 504
    assert time.monotonic() - started < 2.5
    wait_until_ready(front)


def test_delete_cancels_a_running_request_with_409(front):
    wait_until_ready(front)
    code = "import time\ndef run():\n    time.sleep(30)\n"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(front.post, code, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            busy = [s for s in slots(front) if s.get("running")]
            if busy:
                break
            time.sleep(0.1)
        request_id = busy[0]["running"]
        cancel = requests.delete(f"{front.url}/_owt/requests/{request_id}", timeout=10)
        assert cancel.json() == {"request_id": request_id, "cancelled": True}
        answer = pending.result(timeout=10)
    assert answer.status_code == 409 and answer.json()["error"] == "cancelled"
    wait_until_ready(front)


def test_delete_stops_a_stream_that_never_pauses(front):
    # Chunks always waiting to be read must not hide the cancel.
    code = (
        "import time\n"
        "def run():\n"
        "    for i in range(100000):\n"
        "        time.sleep(0.001)\n"
        "        yield f'{i}\\n'\n"
    )
    wait_until_ready(front)
    started = time.monotonic()
    with front.post(code, stream=True, timeout=60) as response:
        lines = response.iter_lines()
        next(lines)
        running = [s["running"] for s in slots(front) if s.get("running")]
        cancel = requests.delete(f"{front.url}/_owt/requests/{running[0]}", timeout=10)
        assert cancel.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in lines:
                pass
    assert time.monotonic() - started < 20
    wait_until_ready(front)


def test_a_client_that_leaves_stops_its_stream(front, tmp_path):
    marks = tmp_path / "marks"
    code = (
        "import time\n"
        "def run(path):\n"
        "    for i in range(100):\n"
        "        open(path, 'a').write('.')\n"
        "        yield f'{i}\\n'\n"
        "        time.sleep(0.1)\n"
    )
    with front.post(code, {"path": str(marks)}, stream=True) as response:
        next(response.iter_content(1))
    time.sleep(1.5)
    written = marks.read_text()
    time.sleep(1)
    assert marks.read_text() == written and len(written) < 40
    wait_until_ready(front)


def test_a_slot_that_crashes_gives_502_and_is_restarted(front):
    wait_until_ready(front)
    answer = front.post("import os\ndef run():\n    os._exit(3)\n", timeout=30)
    assert answer.status_code == 502 and answer.json()["error"] == "worker_died"
    wait_until_ready(front)
    assert front.post("def run():\n    return 'alive'\n").text == "alive"


def test_bad_slot_resources_are_refused_at_start():
    result = subprocess.run(
        [sys.executable, "-m", "owt", "serve", "--executor", "ray",
         "--slot-resources", "{gpus: 1}", "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--slot-resources must be a JSON object" in result.stderr


def test_two_front_ends_share_slots_warm_code_and_a_redis_cache(ray_env, tmp_path):
    # The deployment the docs describe: front ends behind a load balancer,
    # one Ray cluster, one Redis.
    loads = tmp_path / "loads"
    code = (
        f"open({str(loads)!r}, 'a').write('loaded\\n')\n"
        "import os, time\n"
        "def run(x):\n"
        "    time.sleep(0.5)\n"
        "    return f'{x} {os.getpid()} {time.time_ns()}'\n"
    )
    with running_redis(tmp_path) as redis_server:
        extra = ("--slots", "1", "--cache-url", redis_server.url)
        args = ("--executor", "ray", *extra)
        with (
            running_owt(*args, env=ray_env, log_dir=tmp_path / "a") as a,
            running_owt(*args, env=ray_env, log_dir=tmp_path / "b") as b,
        ):
            first = a.post(code, {"x": 1})
            second = b.post(code, {"x": 2})
            assert first.text.split()[1] == second.text.split()[1]  # one slot
            assert loads.read_text() == "loaded\n"  # warm across front ends
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                both = list(
                    pool.map(lambda f: f.post(code, {"x": 3}, use_cache=True), [a, b])
                )
            assert both[0].text == both[1].text
            assert sorted(r.headers["X-Owt-Cache"] for r in both) == ["hit", "miss"]
            pin = a.post(code, {"x": 4}, path="/favicon.ico", use_cache=True, pin=True)
            assert requests.get(b.url + "/favicon.ico", timeout=10).text == pin.text


def test_the_slots_live_on_the_cluster_not_in_the_front(ray_env, tmp_path):
    # Named and detached: a front end that stops leaves them for the others.
    with running_owt(*RAY, env=ray_env, log_dir=tmp_path) as one:
        pid = one.post(PID).text
    with running_owt(*RAY, env=ray_env, log_dir=tmp_path) as two:
        assert pid in {str(s["pid"]) for s in wait_until_ready(two)}


def test_slot_resources_go_to_ray_and_are_listed(ray_env, tmp_path):
    # A GPU can't exist here; the resource spec is Ray's, whatever it asks.
    env = {**ray_env, "OWT_SLOT_RESOURCES": '{"num_cpus": 1}'}
    # Slots 0 and 1 exist already (shared, named): slot 2 is made now.
    args = ("--executor", "ray", "--slots", "3")
    with running_owt(*args, env=env, log_dir=tmp_path) as server:
        assert server.post(PID).status_code == 200
        described = wait_until_ready(server)
        assert described[2]["resources"] == {"num_cpus": 1}
        assert described[0]["resources"] == {"num_cpus": 0}


def test_a_slot_sends_an_array_as_the_client_accepts(front):
    code = "import numpy as np\ndef run():\n    return np.arange(6, dtype=np.int16).reshape(2, 3)\n"
    as_json = front.post(code)
    assert (as_json.headers["Content-Type"], as_json.json()) == (
        "application/json",
        [[0, 1, 2], [3, 4, 5]],
    )
    as_npy = front.post(code, headers={"Accept": "application/x-npy"})
    assert as_npy.headers["Content-Type"] == "application/x-npy"
    assert as_npy.headers["Vary"] == "Accept"
    array = numpy.load(io.BytesIO(as_npy.content), allow_pickle=False)
    assert (array.dtype, array.shape) == (numpy.dtype("int16"), (2, 3))

"""The spec's owt-in-owt bootstrap, as the spec writes it (issue 13): set
``args.port``, start ``main`` in a ``multiprocessing.Process``, call the new
port at once, then stop it from another process. It must work every time,
also on a busy machine, and leave the outer owt serving."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import requests

from tests.examples.conftest import port_is_free
from tests.owtserver import b64
from tests.owtserver import running_owt

ECHO_PY = (
    "from owt.server import Server\n\n\n"
    "def run(name=None):\n"
    '    return f"Hello, {name}, from {Server.sing().address}:{Server.sing().port}!"\n'
)

# The spec's adaptor, with $URL filled in as its shell function does.
SPEC_BOOTSTRAP = """def run(**kwargs):
  payload_code_b64 = kwargs['payload_code_b64']
  payload_kwargs_b64 = kwargs['payload_kwargs_b64']
  _globals = {'__name__': __name__+'_new',
              'new_port': args.port + 1}
  _locals = {}
  print('going one level down to port %s' % _globals['new_port'])

  exec('''
print('One level deeper, importing owt')
from owt.server import *
from multiprocessing import Process
args.port = new_port
server_thread = Process(target=main)
''', _globals, _locals)

  def kill():
    import time
    # time.sleep(1)
    print('Killing server on %s' % args.port)
    _locals['server_thread'].terminate()
    print('Killed server on %d' % args.port)

  from multiprocessing import Process
  from flask import request
  import requests
  import urllib

  _locals['server_thread'].start()
  bootstrapped_url = f"http://localhost:{_globals['new_port']}/{request.path}?code_b64={urllib.parse.quote_plus(payload_code_b64)}&kwargs_b64={urllib.parse.quote_plus(payload_kwargs_b64)}"
  print(bootstrapped_url)
  resp = requests.get(bootstrapped_url).content
  Process(target=kill).start()
  return resp
"""

BUSY_LOOP = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def busy_cpus(count: int):
    """``count`` processes spinning on the CPU until the block ends."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait(timeout=10)


def wait_until_free(port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert port_is_free(port), f"the inner owt still holds port {port}"


def test_spec_bootstrap_works_twenty_times_on_a_busy_machine(tmp_path):
    runs = 20
    with running_owt(log_dir=tmp_path) as server, busy_cpus(2):
        inner_port = server.port + 1  # args.port + 1, args being the adaptor's copy
        for run in range(1, runs + 1):
            name = f"owt-inside-owt-{run}"
            kwargs = {
                "payload_code_b64": b64(ECHO_PY),
                "payload_kwargs_b64": b64(json.dumps({"name": name})),
            }
            response = requests.get(
                server.url,
                params={
                    "code_b64": b64(SPEC_BOOTSTRAP),
                    "kwargs_b64": b64(json.dumps(kwargs)),
                },
                timeout=120,
            )
            assert response.status_code == 200, (run, response.text)
            assert response.text == f"Hello, {name}, from 127.0.0.1:{inner_port}!"
            wait_until_free(inner_port)
        # The outer owt kept its worker and still serves.
        assert server.post("def run():\n    return 'still here'\n").text == "still here"
    assert "Unexpected exit" not in server.output()


def test_terminating_an_adaptors_child_process_leaves_its_worker_alone(tmp_path):
    # A child forked from owt's worker shares its signal wake-up pipe unless
    # owt stops that: its SIGTERM would then stop the worker itself.
    code = (
        "import os, time\n"
        "from multiprocessing import Process\n"
        "def run():\n"
        "    child = Process(target=time.sleep, args=(30,))\n"
        "    child.start()\n"
        "    child.terminate()\n"
        "    child.join(10)\n"
        "    return os.getpid()\n"
    )
    with running_owt(log_dir=tmp_path) as server:
        first = server.post(code).text
        time.sleep(0.5)
        second = server.post(code).text
        assert first == second
        assert "Unexpected exit" not in server.output()

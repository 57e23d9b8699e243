"""summat pipes through a real ``owt serve`` over HTTP (the session fixture
``owt_server`` runs it from the repository root)."""

import base64
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.summat.tinywheel import build_wheel
from tests.summat.tinywheel import unique_name

REPO = Path(__file__).resolve().parents[2]
SIMPLE = REPO / "example" / "summat" / "simple.sh"

# The spec's tl;dr output from its first line up to the end of the heredoc:
# our simple.sh differs only before it (a #! line) and after it (no `jo`).
SPEC_MIDDLE = (
    "# EXAMPLE/SUMMAT/SIMPLE.SH\\N\\NURL=\"$1\"\\NREAD -R -D \\'\\' CODE << EOF"
    "\\NFROM OWT IMPORT SUMMAT AS S\\N\\NRUN = (\\N    S.PIPE()"
    "\\N    .TO(S.LOADFILE(ROOT_DIR=\\'./EXAMPLE/SUMMAT\\'))"
    "\\N    .TO(S.NAMEOUTPUT(NAME=\\'BUF\\'))\\N    .TO(S.BUFFERSINK())"
    "\\N    .F(LAMBDA AB: (STR(AB[0]).UPPER(), AB[1]))\\N    .DONE()\\N)\\NEOF\\N\\N"
)


def error_message(response):
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["type"] == "PipeError"
    return body["message"]


# -- the README's tl;dr example ------------------------------------------------


def test_tldr_example_script_returns_its_own_text_uppercased(owt_server):
    done = subprocess.run(
        ["bash", str(SIMPLE), owt_server.url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    expected = str(SIMPLE.read_bytes()).upper()
    assert done.stdout == expected
    assert done.stdout.startswith("B'#!/USR/BIN/ENV BASH\\N" + SPEC_MIDDLE)
    assert done.stdout.endswith('"$URL"\\N\'')


def test_tldr_pipe_sends_the_guessed_content_type(owt_server):
    code = (
        "from owt import summat as s\n\n"
        "run = (\n"
        "    s.pipe()\n"
        "    .to(s.LoadFile(root_dir='./example/summat'))\n"
        "    .to(s.NameOutput(name='buf'))\n"
        "    .to(s.BufferSink())\n"
        "    .done()\n"
        ")\n"
    )
    r = owt_server.post(code, {"path": "simple.sh"})
    assert r.status_code == 200
    assert r.content == SIMPLE.read_bytes()
    assert r.headers["Content-Type"] in ("text/x-sh", "application/x-sh")


# -- the three code forms ----------------------------------------------------------


def test_module_form_with_done(owt_server):
    code = (
        "run = pipe().kwargs(name='world').f(lambda name: f'Hello, {name}!').done()\n"
    )
    assert owt_server.post(code, {"name": "owt"}).text == "Hello, owt!"


def test_bare_pipe_expression(owt_server):
    code = "pipe().kwargs(name='world').f(lambda name: f'Hello, {name}!')"
    assert owt_server.post(code, {}).text == "Hello, world!"


def test_terse_chain_without_pipe(owt_server):
    r = owt_server.get("path().f(lambda p: p[0])", None, path="/one/two/three")
    assert (r.status_code, r.text) == (200, "one")


def test_terse_chain_may_start_with_a_name_that_shadows_a_builtin(owt_server):
    r = owt_server.post("map(lambda x: x * 2)", {"__last__": [1, 2, 3]})
    assert r.json() == [2, 4, 6]
    r = owt_server.post(
        "open(root_dir='example/summat').bytes().f(len)", {"path": "simple.sh"}
    )
    assert r.text == str(len(SIMPLE.read_bytes()))


def test_builtins_still_work_in_module_code_next_to_summat_names(owt_server):
    code = (
        "def run(xs):\n"
        "    return pipe().const(list(map(str, xs))).f(lambda v: ','.join(v))()\n"
    )
    assert owt_server.post(code, {"xs": [1, 2]}).text == "1,2"


# -- request sources ---------------------------------------------------------------


def test_path_driven_pipe(owt_server):
    r = owt_server.get("path()", None, path="/one/two/three")
    assert r.json() == ["one", "two", "three"]
    r = owt_server.post("path().last()", {}, path="/files/report.txt")
    assert r.text == "report.txt"


def test_query_source(owt_server):
    r = owt_server.get("query().get('q')", None, path="/search", q="cats")
    assert r.text == "cats"
    r = owt_server.get("query()", None, q="a", n="1")
    assert r.json() == {"q": "a", "n": "1"}


def test_json_source(owt_server):
    r = owt_server.post("json().get('prompt').f(str.upper)", None, prompt="hi there")
    assert r.text == "HI THERE"


def test_last_in_kwargs_becomes_the_last_value(owt_server):
    r = owt_server.post(
        "pipe().importing('math').f(lambda x, math: math.factorial(x))",
        {"__last__": 5},
    )
    assert r.text == "120"


# -- control, defaults ---------------------------------------------------------------


def test_cond(owt_server):
    code = "kwarg('n').f(lambda n: n > 10).cond(const('big'), const('small'))"
    assert owt_server.post(code, {"n": 11}).text == "big"
    assert owt_server.post(code, {"n": 1}).text == "small"


def test_fork(owt_server):
    code = "kwarg('x').fork(lambda x: x + 1, pipe().f(lambda x, k: x * k)).cast(list)"
    assert owt_server.post(code, {"x": 3, "k": 10}).json() == [4, 30]


def test_fork_gives_a_tuple_as_the_spec_does(owt_server):
    code = "pipe().path().last().fork(pipe().f(len), pipe().const('right')).cast(str)"
    assert owt_server.post(code, path="/test").text == "(4, 'right')"


def test_importing_makes_the_module_visible_to_later_lambdas(owt_server):
    code = (
        "run = pipe().importing('json').path()"
        ".f(lambda p: json.dumps(p)).f(lambda x: json.loads(x)).last().done()"
    )
    assert owt_server.post(code, path="/some/path").text == "path"
    code = (
        "importing('colorsys').const((1.0, 0.0, 0.0))"
        ".f(lambda rgb: colorsys.rgb_to_hsv(*rgb)).cast(list)"
    )
    assert owt_server.post(code).json() == [0.0, 1.0, 1.0]


def test_a_terse_chain_may_go_on_over_lines_starting_with_a_dot(owt_server):
    code = "path()\n.last()\n.f(lambda p: p.upper())"
    assert owt_server.post(code, path="/a/b/shout").text == "SHOUT"
    broken = owt_server.post("path()\n.last(\n.f(str)", path="/x")
    assert broken.status_code == 400
    assert broken.json()["error"] == "syntax_error"


def test_kwargs_defaults_overridden_by_request_kwargs(owt_server):
    code = "kwargs(greeting='Hello', name='world').f(lambda greeting, name: f'{greeting}, {name}!')"
    assert owt_server.post(code, {}).text == "Hello, world!"
    assert owt_server.post(code, {"name": "owt"}).text == "Hello, owt!"
    r = owt_server.get(code, {"greeting": "Ey up", "name": "owt"})
    assert r.text == "Ey up, owt!"


# -- environment -----------------------------------------------------------------------


def test_importing(owt_server):
    code = "pipe().importing('statistics as st').f(lambda xs, st: st.median(xs))"
    assert owt_server.post(code, {"__last__": [3, 1, 2]}).text == "2"


@pytest.fixture
def tiny_wheel(tmp_path, owt_server):
    name = unique_name()
    wheel = build_wheel(
        tmp_path, name, f"def hello():\n    return 'hello from {name}'\n"
    )
    yield name, wheel
    subprocess.run(
        # owt_server runs on this same interpreter.
        [sys.executable, "-m", "pip", "uninstall", "-y", "-q", name],
        capture_output=True,
        timeout=120,
    )


def test_installing_a_local_package_then_using_it(owt_server, tiny_wheel):
    name, wheel = tiny_wheel
    code = (
        f"pipe().installing({str(wheel)!r}, '--no-index')"
        f".importing({name!r}).f(lambda {name}: {name}.hello())"
    )
    before = owt_server.post(f"pipe().importing({name!r})", {})
    assert "ModuleNotFoundError" in error_message(before)
    r = owt_server.post(code, {})
    assert (r.status_code, r.text) == (200, f"hello from {name}")
    # The package stays installed for later requests with other code.
    r = owt_server.post(f"importing({name!r}).f(lambda {name}: {name}.hello())", {})
    assert r.text == f"hello from {name}"


def test_a_failed_install_reports_pips_output(owt_server, tmp_path):
    missing = tmp_path / f"nothing-{uuid.uuid4().hex[:6]}.whl"
    r = owt_server.post(
        f"installing({str(missing)!r}, '--no-index').const('unreached')", {}
    )
    message = error_message(r)
    assert "step 1 (installing(" in message
    assert f"pip install {missing} --no-index failed (exit 1)" in message
    assert "does not exist" in message or "not a valid wheel" in message


def test_shell(owt_server):
    assert (
        owt_server.post("kwarg('cmd').shell()", {"cmd": "echo $((6 * 7))"}).text
        == "42\n"
    )


# -- files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../pyproject.toml", "/etc/passwd", "../summat/../../README.org"]
)
def test_load_file_refuses_to_leave_its_root(owt_server, name):
    code = "open(root_dir='example/summat')"
    message = error_message(owt_server.post(code, {"path": name}))
    assert "step 1 (open(root_dir='example/summat'))" in message
    assert f"{name!r} is outside root_dir 'example/summat'" in message


def test_load_file_from_path_segments(owt_server):
    code = "path().open(root_dir='example').name('buf').buffer_sink()"
    r = owt_server.get(code, None, path="/summat/simple.sh")
    assert r.content == SIMPLE.read_bytes()


# -- errors -------------------------------------------------------------------------------


def test_a_block_error_names_its_step(owt_server):
    r = owt_server.post("pipe().kwargs(a=1).input().get('extra')", {"b": 2})
    assert error_message(r).endswith("step 3 (get('extra')): KeyError: 'extra'")
    assert "KeyError" in r.json()["traceback"]
    # and the server keeps serving
    assert owt_server.post("const('still here')", {}).text == "still here"


# -- web ----------------------------------------------------------------------------------


def test_sse_stream(owt_server):
    code = (
        "def numbers(n):\n"
        "    for i in range(n):\n"
        "        yield {'i': i}\n\n"
        "run = pipe().kwarg('n').f(numbers).sse().done()\n"
    )
    r = owt_server.post(code, {"n": 3}, stream=True)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = [line for line in r.iter_lines(decode_unicode=True) if line]
    assert events == [
        'data: {"i": 0}',
        'data: {"i": 1}',
        'data: {"i": 2}',
        "data: [DONE]",
    ]


def test_render_a_page(owt_server):
    code = "query().render('<h1>Hello, {{ last.name }}!</h1>')"
    r = owt_server.get(code, None, name="<owt>")
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text == "<h1>Hello, &lt;owt&gt;!</h1>"


def test_header_and_content_type(owt_server):
    code = "kwarg('rows').f(lambda rows: '\\n'.join(rows)).content_type('text/csv').header('X-Rows', 'yes')"
    r = owt_server.post(code, {"rows": ["a,b", "1,2"]})
    assert r.text == "a,b\n1,2"
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["X-Rows"] == "yes"


def test_b64decode_binary_input(owt_server):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    code = "kwarg('image').b64decode().content_type('image/png')"
    r = owt_server.post(code, {"image": base64.b64encode(png).decode()})
    assert r.headers["Content-Type"] == "image/png"
    assert r.content == png


def test_sse_by_get_is_readable_by_an_event_source_client(owt_server):
    # What a browser EventSource does: GET with everything in the query.
    r = requests.get(
        owt_server.url + "/events",
        params={
            "code_b64": base64.b64encode(b"const(['a', 'b']).sse()").decode(),
        },
        headers={"Accept": "text/event-stream"},
        timeout=30,
    )
    assert r.text == "data: a\n\ndata: b\n\ndata: [DONE]\n\n"

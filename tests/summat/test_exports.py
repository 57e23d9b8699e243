"""What summat gives adaptors: __all__, STARTERS, and the import rules."""

import builtins
import inspect
import subprocess
import sys

import pytest

import owt
from owt import summat
from owt.summat import Pipe

PIPE_METHODS = sorted(
    name
    for name, member in vars(Pipe).items()
    if callable(member)
    and not name.startswith("_")
    and name not in {"step", "done", "labelled"}
)


def test_nothing_in_all_shadows_a_builtin_or_a_stdlib_module():
    bad = [
        n
        for n in summat.__all__
        if hasattr(builtins, n) or n in sys.stdlib_module_names
    ]
    assert bad == []


def test_all_names_exist_and_owt_reexports_them():
    for name in summat.__all__:
        assert getattr(summat, name) is getattr(owt, name)
    assert set(summat.__all__) <= set(owt.__all__)
    for required in (
        "pipe",
        "Pipe",
        "PipeError",
        "LoadFile",
        "NameOutput",
        "BufferSink",
    ):
        assert required in summat.__all__


def test_every_pipe_method_is_a_starter():
    assert sorted(set(summat.STARTERS) - {"pipe"}) == PIPE_METHODS


@pytest.mark.parametrize("name", PIPE_METHODS)
def test_a_starter_has_its_methods_signature_without_self(name):
    method = inspect.signature(getattr(Pipe, name))
    start = inspect.signature(summat.STARTERS[name])
    assert list(start.parameters) == list(method.parameters)[1:]


def test_every_safe_starter_is_exported():
    safe = {
        n
        for n in summat.STARTERS
        if not hasattr(builtins, n) and n not in sys.stdlib_module_names
    }
    assert safe <= set(summat.__all__)
    assert {"open", "map", "input", "bytes", "exec", "json"} & set(
        summat.__all__
    ) == set()


def test_starters_begin_a_pipe_with_that_block():
    S = summat.STARTERS
    assert S["const"]([1, 2]).map(lambda x: x + 1)() == [2, 3]
    assert S["map"](str)(__last__=[1]) == ["1"]
    assert S["bytes"]()(__last__="a") == b"a"
    assert S["input"]()(a=1) == {"a": 1}
    assert S["f"](lambda name: name)(name="n") == "n"
    assert S["to"](summat.Const(1))() == 1
    assert S["pipe"]()(__last__=2) == 2
    assert repr(S["get"]("k")) == "pipe().get('k')"


def test_star_import_gives_a_working_namespace():
    ns = {}
    exec("from owt import *\nrun = pipe().kwarg('n').f(lambda x: x * 2).done()", ns)
    assert ns["run"](n=4) == 8
    exec("from owt import *\np = const([1, 2, 3]).foldl1(lambda a, b: a + b)", ns)
    assert ns["p"]() == 6
    # Builtins are untouched by the star import.
    exec("from owt import *\nb = bytes(2); m = list(map(str, [1]))", ns)
    assert ns["b"] == b"\x00\x00" and ns["m"] == ["1"]


def test_importing_summat_imports_neither_flask_nor_jinja():
    code = (
        "import sys, owt.summat as s\n"
        "s.pipe().const(1).f(str).sse()()\n"
        "print(sorted(m for m in ('flask', 'jinja2', 'werkzeug') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"

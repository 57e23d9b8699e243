"""owt.execute: loading adaptor code and calling its entrypoint, in process."""

from __future__ import annotations

import hashlib
import sys
import threading
import time

import flask
import pytest

from owt import execute
from owt.errors import AdaptorError
from owt.errors import AdaptorSyntaxError
from owt.errors import ArgumentsMismatch
from owt.errors import BadRequest
from owt.errors import EntrypointNotFound

try:
    from owt.options import ServeOptions
except ImportError:  # before the options moved out of owt.runtime
    from owt.runtime import ServeOptions  # type: ignore[no-redef]

COUNTER = "loads = globals().get('loads', 0) + 1\n"


def load(source: str, options: object = None) -> execute.Adaptor:
    """A fresh adaptor for ``source`` (uncached: each call runs its top level)."""
    return execute.load_adaptor(
        source, execute.code_digest(source), options or ServeOptions()
    )


def call(
    source: str, arguments: object = None, request: object = None, fn_name: str = "run"
):
    """What calling ``fn_name`` of ``source`` with ``arguments`` returns."""
    plan = load(source).plan(fn_name)
    return execute.call_entrypoint(
        plan, {} if arguments is None else arguments, request
    )


# --- code_digest ----------------------------------------------------------------------


def test_code_digest_is_the_sha256_of_the_utf8_source():
    assert execute.code_digest("") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    source = "def run(): return 'é'"
    assert execute.code_digest(source) == execute.code_digest(str(source))
    assert execute.code_digest(source) == hashlib.sha256(source.encode()).hexdigest()


def test_code_digest_differs_for_different_code():
    assert execute.code_digest("def run(): return 1") != execute.code_digest(
        "def run(): return 2"
    )
    # Whitespace is part of the code.
    assert execute.code_digest("x = 1") != execute.code_digest("x = 1\n")


# --- the forms of code ------------------------------------------------------------------


def test_a_module_defining_run_with_helpers_and_imports():
    source = "import math\n\ndef helper(x):\n    return math.sqrt(x)\n\ndef run(x):\n    return helper(x)\n"
    assert call(source, {"x": 16}) == 4.0


def test_fn_name_picks_another_function():
    source = "def run():\n    return 'run'\n\ndef other(a):\n    return a * 2\n"
    assert call(source, {"a": 21}, fn_name="other") == 42


def test_a_single_expression_is_the_function():
    assert call("lambda name: name.upper()", {"name": "owt"}) == "OWT"


def test_a_single_expression_that_is_not_callable_is_a_400():
    with pytest.raises(BadRequest) as caught:
        load("1 + 1")
    assert caught.value.status == 400
    assert caught.value.message == (
        "The adaptor is a single expression, so it must evaluate to a function "
        "or a pipe; it evaluated to int '2'."
    )


def test_a_terse_chain_on_one_line():
    assert call("f(lambda x: x * 2).f(lambda x: x + 1)", {"__last__": 5}) == 11


def test_a_terse_chain_over_lines_starting_with_a_dot():
    source = "f(lambda x: x * 2)\n    .f(lambda x: x + 1)  # then add one\n.f(str)"
    assert call(source, {"__last__": 5}) == "11"


def test_terse_starters_shadow_builtins_only_in_the_chain():
    # map as a starter inside the terse expression...
    assert call("map(lambda x: x + 1)", {"__last__": [1, 2]}) == [2, 3]
    # ...while a module's own code still has the builtin map.
    module = "def run(xs):\n    return list(map(str, xs))\n"
    assert call(module, {"xs": [1, 2]}) == ["1", "2"]


def test_adaptors_see_args_request_and_pipe():
    options = ServeOptions()
    source = "def run():\n    return args, request, pipe\n"
    adaptor = load(source, options)
    got_args, got_request, got_pipe = execute.call_entrypoint(
        adaptor.plan("run"), {}, None
    )
    assert got_args is options
    assert got_request is flask.request
    assert callable(got_pipe)


# --- syntax errors ----------------------------------------------------------------------


def test_a_syntax_error_is_a_400_with_its_line_and_column():
    source = "def run():\n    return (1 +\n\nx = 2\n"
    with pytest.raises(AdaptorSyntaxError) as caught:
        load(source)
    error = caught.value
    assert (error.status, error.kind) == (400, "syntax_error")
    assert error.message.startswith("The adaptor code does not compile: ")
    assert error.details["line"] == 2
    assert (
        f"(line {error.details['line']}, column {error.details['column']})"
        in error.message
    )
    assert error.details["text"] == "    return (1 +"


def test_a_broken_dot_line_reports_the_original_error():
    with pytest.raises(AdaptorSyntaxError) as caught:
        load("path()\n.f(")
    assert (caught.value.details["line"], caught.value.details["text"]) == (2, ".f(")


def test_a_null_byte_is_a_syntax_error_not_a_crash():
    with pytest.raises(AdaptorSyntaxError, match="does not compile"):
        load("def run():\n    return 1\0\n")


# --- the entrypoint -----------------------------------------------------------------------


def test_a_missing_entrypoint_lists_what_the_adaptor_defines():
    source = "import os\nfrom os.path import join as _join\n\ndef helper():\n    pass\n\ndef other():\n    pass\n\nclass Thing:\n    pass\n"
    with pytest.raises(EntrypointNotFound) as caught:
        load(source).plan("run")
    error = caught.value
    assert (error.status, error.kind) == (400, "entrypoint_not_found")
    assert (
        error.message
        == "The adaptor has no function named 'run'. It defines: helper, other."
    )
    assert error.details == {"fn_name": "run"}


def test_a_missing_entrypoint_with_no_functions_says_to_define_run():
    with pytest.raises(EntrypointNotFound) as caught:
        load("x = 1\n").plan("run")
    assert caught.value.message == (
        "The adaptor has no function named 'run'. It defines no functions; define 'def run(...)'."
    )


@pytest.mark.parametrize(
    "fn_name", ["x", "pipe", "print", "__import__", "Server", "__name__"]
)
def test_only_the_adaptors_own_functions_are_entrypoints(fn_name):
    with pytest.raises(EntrypointNotFound, match=f"no function named '{fn_name}'"):
        load("x = 1\ndef run():\n    return 1\n").plan(fn_name)


def test_owts_own_functions_are_not_entrypoints_even_when_imported():
    source = "from owt.execute import load_adaptor as boot\ndef run():\n    return 1\n"
    with pytest.raises(EntrypointNotFound, match="no function named 'boot'"):
        load(source).plan("boot")


def test_a_plan_is_worked_out_once():
    adaptor = load("def run():\n    return 1\n")
    assert adaptor.plan("run") is adaptor.plan("run")


# --- calling ---------------------------------------------------------------------------------


def test_kwargs_become_keyword_arguments():
    assert call("def run(a, b=2):\n    return [a, b]\n", {"a": 1, "b": 3}) == [1, 3]


@pytest.mark.parametrize(
    "signature",
    [
        "request, name",
        "_, name",
        "req: Request, name",
        "req: flask.Request, name",
        "request, **kwargs",
    ],
)
def test_the_request_goes_to_a_first_parameter_that_asks_for_it(signature):
    source = f"from flask import Request\nimport flask\ndef run({signature}):\n    return locals()\n"
    request = object()
    got = call(source, {"name": "owt"}, request)
    first = signature.split(",")[0].split(":")[0].strip()
    assert got[first] is request
    assert "owt" in (got.get("name"), got.get("kwargs", {}).get("name"))


def test_the_request_goes_to_a_first_parameter_with_a_quoted_annotation():
    request = object()
    source = "def run(req: 'flask.Request', name):\n    return req\n"
    assert call(source, {"name": "owt"}, request) is request


def test_adaptor_annotations_are_evaluated_as_the_adaptor_wrote_them():
    assert call("def run(x: int = 1):\n    return run.__annotations__\n") == {"x": int}


def test_the_request_is_not_passed_to_other_parameters():
    assert call("def run(name='x'):\n    return name\n", {}, object()) == "x"


def test_arguments_naming_the_request_parameter_fill_it():
    assert (
        call("def run(request):\n    return request\n", {"request": "given"}, object())
        == "given"
    )


def test_a_pipe_input_goes_to_pipes_as_last():
    assert call("identity()", 7) == 7


def test_a_non_mapping_input_goes_to_a_plain_function_positionally():
    assert call("def run(x):\n    return x + 1\n", 1) == 2


@pytest.mark.parametrize(
    ("source", "arguments", "fragment"),
    [
        (
            "def run(name):\n    return name\n",
            {},
            "missing a required argument: 'name'",
        ),
        (
            "def run(name):\n    return name\n",
            {"name": 1, "nme": 2},
            "unexpected keyword argument 'nme'",
        ),
        ("def run():\n    return 1\n", {"x": 1}, "unexpected keyword argument 'x'"),
    ],
)
def test_arguments_that_do_not_fit_are_a_400_naming_the_parameter(
    source, arguments, fragment
):
    with pytest.raises(ArgumentsMismatch) as caught:
        call(source, arguments)
    error = caught.value
    assert (error.status, error.kind) == (400, "bad_arguments")
    assert error.message.startswith("The arguments don't fit run(): ")
    assert fragment in error.message
    assert error.message.endswith("; send them in kwargs.")


def test_a_type_error_inside_the_function_stays_the_adaptors_own():
    with pytest.raises(TypeError, match="unsupported operand"):
        call("def run(a):\n    return a + 'x'\n", {"a": 1})


# --- failures ----------------------------------------------------------------------------------


def test_a_top_level_that_raises_is_an_adaptor_error_with_its_traceback():
    source = "x = 1\nraise ValueError('no model here')\n"
    with pytest.raises(AdaptorError) as caught:
        load(source)
    error = caught.value
    assert (error.status, error.kind) == (500, "adaptor_error")
    assert error.message == "ValueError while loading the adaptor: no model here"
    assert error.details["type"] == "ValueError"
    traceback = error.details["traceback"]
    assert f'File "<adaptor {execute.code_digest(source)[:12]}>", line 2' in traceback
    assert "execute.py" not in traceback  # owt's own frames are left out
    assert traceback.endswith("ValueError: no model here\n")


def test_a_top_level_failure_traceback_shows_the_adaptors_line():
    with pytest.raises(AdaptorError) as caught:
        load("x = 1\nraise ValueError('no model here')\n")
    assert "raise ValueError('no model here')" in caught.value.details["traceback"]


def test_a_failed_load_leaves_no_module_behind():
    source = "raise RuntimeError('x')\n"
    with pytest.raises(AdaptorError):
        load(source)
    assert f"owt_adaptor_{execute.code_digest(source)[:12]}" not in sys.modules


def test_adaptor_failure_describes_an_exception_from_running():
    try:
        call("def run():\n    return 1 / 0\n")
    except ZeroDivisionError as e:
        error = execute.adaptor_failure(e, "running")
    assert isinstance(error, AdaptorError)
    assert (
        error.message == "ZeroDivisionError while running the adaptor: division by zero"
    )
    assert error.details["type"] == "ZeroDivisionError"
    assert "return 1 / 0" in error.details["traceback"]
    assert error.details["traceback"].endswith("ZeroDivisionError: division by zero\n")


def test_adaptor_failure_of_an_empty_message_uses_the_type():
    error = execute.adaptor_failure(KeyError(), "running")
    assert error.message == "KeyError while running the adaptor: KeyError"


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        (
            SystemExit(3),
            "SystemExit while loading the adaptor: the adaptor called sys.exit(3); owt keeps serving",
        ),
        (
            KeyboardInterrupt(),
            "KeyboardInterrupt while loading the adaptor: the adaptor raised KeyboardInterrupt; owt keeps serving",
        ),
    ],
)
def test_an_adaptor_exiting_does_not_stop_owt(exception, message):
    error = execute.adaptor_failure(exception, "loading")
    assert error.message == message


def test_sys_exit_at_the_top_level_is_an_adaptor_error():
    with pytest.raises(AdaptorError, match=r"sys.exit\(0\)"):
        load("import sys\nsys.exit(0)\n")


# --- CodeCache -----------------------------------------------------------------------------------


def get(
    cache: execute.CodeCache, source: str, options: object = ServeOptions
) -> execute.Adaptor:
    return cache.get(source, execute.code_digest(source), options)


def test_the_cache_loads_code_once_and_keeps_it_warm():
    cache = execute.CodeCache(4)
    source = COUNTER + "def run():\n    return loads\n"
    first = get(cache, source)
    second = get(cache, source)
    assert second is first
    assert second.module is first.module  # the same namespace, top level run once
    assert execute.call_entrypoint(second.plan("run"), {}, None) == 1
    assert len(cache) == 1


def test_the_options_factory_is_called_only_on_a_load():
    made = []

    def options():
        made.append(ServeOptions())
        return made[-1]

    cache = execute.CodeCache(4)
    source = "def run():\n    return args\n"
    adaptor = get(cache, source, options)
    get(cache, source, options)
    assert len(made) == 1
    assert execute.call_entrypoint(adaptor.plan("run"), {}, None) is made[0]


def test_the_cache_keeps_the_most_recently_used_within_its_bound():
    cache = execute.CodeCache(2)
    a, b, c = (f"def run():\n    return {n!r}\n" for n in "abc")
    adaptor_a = get(cache, a)
    adaptor_b = get(cache, b)
    get(cache, a)  # a is now more recent than b
    get(cache, c)  # so b is dropped
    assert len(cache) == 2
    assert get(cache, a) is adaptor_a
    assert adaptor_b.module.__name__ not in sys.modules  # dropped from the interpreter
    assert get(cache, b) is not adaptor_b  # loaded afresh


def test_a_cache_of_size_zero_still_holds_one():
    cache = execute.CodeCache(0)
    source = "def run():\n    return 1\n"
    assert get(cache, source) is get(cache, source)
    assert len(cache) == 1


def test_failed_code_is_not_cached():
    cache = execute.CodeCache(4)
    source = "raise ValueError('first time')\n"
    for _ in range(2):
        with pytest.raises(AdaptorError, match="first time"):
            get(cache, source)
    assert len(cache) == 0


def test_two_simultaneous_first_requests_load_the_code_once():
    cache = execute.CodeCache(4)
    started, release = threading.Event(), threading.Event()
    loads: list[int] = []
    source = (
        "args['loads'].append(1)\n"
        "args['started'].set()\n"
        "args['release'].wait(5)\n"
        "def run():\n    return 1\n"
    )
    options = {"loads": loads, "started": started, "release": release}
    got: list[execute.Adaptor] = []
    threads = [
        threading.Thread(target=lambda: got.append(get(cache, source, options)))
        for _ in range(2)
    ]
    threads[0].start()
    assert started.wait(5)
    threads[1].start()
    time.sleep(0.05)  # let the second request reach the cache while the first loads
    release.set()
    for thread in threads:
        thread.join(5)
    assert loads == [1]
    assert len(got) == 2 and got[0] is got[1]

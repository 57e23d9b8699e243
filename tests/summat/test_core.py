"""The pipe engine: running, seeding, immutability, step-numbered errors."""

import pytest

from owt import summat as s
from owt.summat.core import PipeError
from owt.summat.core import State


def test_pipe_starts_from_kwargs_with_no_last_value():
    seen = {}
    s.pipe().exec(lambda value, **kw: seen.update(value=value, names=kw))(a=1, b=2)
    assert seen == {"value": None, "names": {"a": 1, "b": 2}}


def test_last_kwarg_seeds_the_value_and_is_not_a_name():
    p = s.pipe().f(lambda x, **kw: (x, kw))
    assert p(__last__=5, a=1) == (5, {"a": 1})


def test_empty_pipe_returns_the_seed():
    assert s.pipe()(__last__="x") == "x"
    assert s.pipe()() is None


def test_done_gives_a_plain_function_with_the_same_behaviour():
    p = s.pipe().kwarg("name").f(lambda n: f"Hello, {n}!")
    run = p.done()
    assert not isinstance(run, s.Pipe)
    assert run(name="owt") == p(name="owt") == "Hello, owt!"
    assert run(__last__=1, name="x") == "Hello, x!"


def test_pipes_are_immutable_so_a_prefix_can_be_shared():
    base = s.pipe().const(10)
    double = base.f(lambda x: x * 2)
    negate = base.f(lambda x: -x)
    assert (base(), double(), negate()) == (10, 20, -10)
    assert len(base) == 1 and len(double) == 2


def test_a_pipe_can_run_many_times_without_leaking_names():
    p = s.pipe().kwargs(n=0).f(lambda n: n + 1).name("n")
    assert p() == 1
    assert p() == 1
    assert p(n=5) == 6


def test_pipe_of_stages():
    p = s.pipe(s.Const(2), lambda x: x + 1, s.pipe().f(lambda x: x * 10))
    assert p() == 30


def test_error_names_the_step_and_the_call():
    p = s.pipe().input().const({"a": 1}).get("extra")
    with pytest.raises(PipeError) as info:
        p()
    assert str(info.value) == "step 3 (get('extra')): KeyError: 'extra'"
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.reason == "KeyError: 'extra'"


def test_error_in_a_class_block_names_the_class():
    p = s.pipe().to(s.Get("k"))
    with pytest.raises(PipeError, match=r"^step 1 \(Get\(key='k'\)\): TypeError"):
        p(__last__=None)


def test_error_in_a_lambda_names_the_function():
    def explode(x):
        return 1 / x

    with pytest.raises(PipeError) as info:
        s.pipe().f(explode)(__last__=0)
    assert str(info.value) == "step 1 (f(explode)): ZeroDivisionError: division by zero"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_error_inside_a_nested_pipe_gives_the_whole_path():
    inner = s.pipe().const({}).get("x")
    p = s.pipe().const(1).to(inner)
    with pytest.raises(PipeError) as info:
        p()
    assert str(info.value) == (
        "step 2 (pipe().const({}).get('x')) > step 2 (get('x')): KeyError: 'x'"
    )
    # The cause is the original error, not an intermediate PipeError.
    assert isinstance(info.value.__cause__, KeyError)


def test_pipe_error_is_a_plain_exception():
    assert issubclass(PipeError, Exception)
    assert PipeError.__module__ == "owt.summat.core"


def test_repr_reads_as_the_chain():
    p = (
        s.pipe()
        .to(s.LoadFile(root_dir="./x"))
        .to(s.NameOutput(name="buf"))
        .to(s.BufferSink())
        .f(len)
    )
    assert repr(p) == (
        "pipe().to(LoadFile(root_dir='./x')).to(NameOutput(name='buf'))"
        ".to(BufferSink(name='buf')).f(len)"
    )


def test_state_helpers_do_not_mutate():
    st = State(1, {"a": 1}, {"a": 1})
    st2 = st.with_names(b=2).with_last(3)
    assert (st.last, dict(st.names)) == (1, {"a": 1})
    assert (st2.last, dict(st2.names), dict(st2.origin)) == (
        3,
        {"a": 1, "b": 2},
        {"a": 1},
    )


def test_a_custom_block_joins_a_pipe():
    class Twice(s.ValueBlock):
        def apply(self, value):
            return value * 2

    class SetName(s.Block):
        def step(self, state):
            return state.with_names(tag="t")

    p = s.pipe().to(Twice()).to(SetName()).f(lambda x, tag: f"{tag}{x}")
    assert p(__last__=21) == "t42"

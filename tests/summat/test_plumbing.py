"""Plumbing blocks, and the rule by which f() calls a function."""

import pytest

from owt import summat as s
from owt.summat.core import PipeError


class TestF:
    def test_one_unnamed_parameter_gets_the_last_value(self):
        assert s.pipe().f(lambda ab: ab + 1)(__last__=1, ab_not=2) == 2

    def test_a_parameter_named_like_a_kwarg_gets_the_kwarg(self):
        assert s.pipe().f(lambda name: name.upper())(name="owt") == "OWT"

    def test_both_at_once(self):
        p = s.pipe().f(lambda text, sep: sep.join(text))
        assert p(__last__=["a", "b"], sep="-") == "a-b"

    def test_defaults_are_kept_when_no_kwarg_names_them(self):
        p = s.pipe().f(lambda x, n=3: x * n)
        assert p(__last__="a") == "aaa"
        assert p(__last__="a", n=2) == "aa"

    def test_var_keyword_gets_the_names(self):
        assert s.pipe().f(lambda **kw: sorted(kw))(b=1, a=2) == ["a", "b"]

    def test_no_parameters(self):
        assert s.pipe().f(lambda: 42)() == 42

    def test_builtins_without_signature_get_the_last_value(self):
        assert s.pipe().f(int)(__last__="12") == 12
        assert s.pipe().f(str.upper)(__last__="ab") == "AB"
        assert s.pipe().f(len)(__last__=[1, 2]) == 2

    def test_var_positional_gets_the_last_value(self):
        assert s.pipe().f(lambda *a: a)(__last__=1) == (1,)

    def test_a_second_required_parameter_is_an_error(self):
        with pytest.raises(PipeError, match="step 1 .*TypeError"):
            s.pipe().f(lambda a, b: a)(__last__=1)

    def test_names_pass_through(self):
        p = s.pipe().f(lambda: 1).f(lambda name: name)
        assert p(name="kept") == "kept"


def test_exec_runs_for_its_side_effect_and_passes_through():
    seen = []
    p = s.pipe().const(3).exec(lambda x, tag: seen.append((x, tag))).f(lambda x: x + 1)
    assert p(tag="t") == 4
    assert seen == [(3, "t")]


def test_const_replaces_the_value_and_keeps_names():
    assert s.pipe().const(7).f(lambda x, a: (x, a))(a=1) == (7, 1)


def test_identity():
    assert s.pipe().identity()(__last__=[1]) == [1]


def test_cast_always_gets_the_last_value_even_if_a_kwarg_shares_the_name():
    def to_int(path):
        return int(path)

    assert s.pipe().cast(to_int)(__last__="5", path="99") == 5
    assert s.pipe().f(to_int)(__last__="5", path="99") == 99


def test_clear_drops_value_and_names():
    p = s.pipe().const(1).clear().f(lambda x, **kw: (x, kw))
    assert p(a=1) == (None, {})


def test_input_starts_again_from_the_request_kwargs():
    p = s.pipe().const(1).name("extra").clear().input().f(lambda x, **kw: (x, kw))
    assert p(a=1) == ({"a": 1}, {"a": 1})


def test_kwargs_defaults_are_overridden_by_request_kwargs():
    p = (
        s.pipe()
        .kwargs(greeting="Hello", name="world")
        .f(lambda greeting, name: f"{greeting}, {name}!")
    )
    assert p() == "Hello, world!"
    assert p(name="owt") == "Hello, owt!"


def test_kwarg_takes_a_named_value():
    assert s.pipe().kwarg("a")(a=1, b=2) == 1
    assert s.pipe().kwarg("z", default=0)(a=1) == 0


def test_missing_kwarg_says_which_names_exist():
    with pytest.raises(PipeError) as info:
        s.pipe().kwarg("z")(b=1, a=2)
    assert (
        str(info.value)
        == "step 1 (kwarg('z')): no kwarg named 'z' (the pipe has: a, b)"
    )


def test_name_output_names_the_value_and_keeps_it():
    p = s.pipe().const(5).to(s.NameOutput(name="five")).f(lambda x, five: x + five)
    assert p() == 10
    assert s.pipe().const(5).name("n").f(lambda n: n)() == 5


def test_to_takes_a_function():
    assert s.pipe().to(lambda x: x * 3)(__last__=2) == 6


def test_to_refuses_other_things():
    with pytest.raises(TypeError, match="expected a block, a pipe or a function"):
        s.pipe().to(3)

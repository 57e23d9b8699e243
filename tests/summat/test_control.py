"""cond and fork."""

import pytest

from owt import summat as s
from owt.summat.core import PipeError


def test_cond_takes_the_branch_the_value_chooses():
    p = s.pipe().cond(s.pipe().const("yes"), s.pipe().const("no"))
    assert p(__last__=1) == "yes"
    assert p(__last__=[]) == "no"


def test_cond_without_else_passes_through():
    p = s.pipe().cond(lambda x: x * 2)
    assert p(__last__=3) == 6
    assert p(__last__=0) == 0


def test_cond_branch_sees_and_sets_names():
    p = s.pipe().cond(s.pipe().f(lambda a: a).name("b"), s.identity()).f(lambda b: b)
    assert p(__last__=True, a="A") == "A"


def test_fork_gives_a_tuple_pair_and_drops_branch_names():
    p = (
        s.pipe()
        .fork(s.pipe().f(lambda x: x + 1).name("tmp"), lambda x, k: x * k)
        .f(lambda pair, **kw: (pair, sorted(kw)))
    )
    assert p(__last__=3, k=2) == ((4, 6), ["k"])


def test_error_in_a_branch_names_the_branch():
    p = s.pipe().const(1).cond(s.pipe().const({}).get("x"))
    with pytest.raises(PipeError) as info:
        p()
    assert str(info.value).startswith(
        "step 2 (cond(pipe().const({}).get('x'))) > then > "
    )
    assert str(info.value).endswith("step 2 (get('x')): KeyError: 'x'")

    p = s.pipe().fork(lambda x: x, lambda x: 1 / x)
    with pytest.raises(PipeError, match=r"> right: ZeroDivisionError"):
        p(__last__=0)

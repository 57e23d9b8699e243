"""Data blocks, one by one."""

import io

import pytest

from owt import summat as s
from owt.summat.core import PipeError


def test_last_and_ix():
    assert s.pipe().last()(__last__=["a", "b", "c"]) == "c"
    assert s.pipe().ix(0)(__last__=["a", "b"]) == "a"
    assert s.pipe().ix(slice(1, None))(__last__=[1, 2, 3]) == [2, 3]


def test_get_and_its_default():
    assert s.pipe().get("a")(__last__={"a": 1}) == 1
    assert s.pipe().get("b", None)(__last__={"a": 1}) is None
    with pytest.raises(PipeError, match=r"step 1 \(get\('b'\)\): KeyError: 'b'"):
        s.pipe().get("b")(__last__={"a": 1})


def test_map_gives_a_list_and_may_use_names():
    assert s.pipe().map(lambda x: x * 2)(__last__=(1, 2)) == [2, 4]
    assert s.pipe().map(lambda x, k: x * k)(__last__=range(3), k=10) == [0, 10, 20]


def test_folds():
    assert s.pipe().foldl(lambda acc, x: acc + [x * 2], [])(__last__=[1, 2]) == [2, 4]
    assert s.pipe().foldl(lambda a, b: a - b, 0)(__last__=[1, 2, 3]) == -6
    assert s.pipe().foldl1(lambda a, b: a - b)(__last__=[1, 2, 3]) == -4
    with pytest.raises(PipeError, match=r"step 1 \(foldl1\(<lambda>\)\): TypeError"):
        s.pipe().foldl1(lambda a, b: a)(__last__=[])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("héllo", "héllo".encode()),
        (b"ab", b"ab"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"ab"), b"ab"),
        (io.BytesIO(b"xy"), b"xy"),
        (io.StringIO("xy"), b"xy"),
        ([104, 105], b"hi"),
        (iter([b"a", "b"]), b"ab"),
        (None, b""),
    ],
)
def test_bytes(value, expected):
    assert s.pipe().bytes()(__last__=value) == expected


def test_bytes_refuses_a_number():
    with pytest.raises(PipeError, match="cannot turn int into bytes"):
        s.pipe().bytes()(__last__=5)


def test_b64decode_takes_either_alphabet_without_padding():
    assert s.pipe().b64decode()(__last__="aGk=") == b"hi"
    assert s.pipe().b64decode()(__last__=b"_-8") == b"\xff\xef"
    with pytest.raises(PipeError, match="not valid base64"):
        s.pipe().b64decode()(__last__="$$$")

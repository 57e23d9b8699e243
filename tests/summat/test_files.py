"""LoadFile (with its root directory) and BufferSink."""

import mimetypes
import os
from pathlib import Path

import pytest

from owt import summat as s
from owt.summat.core import PipeError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example" / "summat"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "a.txt").write_bytes(b"alpha")
    (tmp_path / "root" / "sub" / "b.json").write_bytes(b'{"b": 1}')
    (tmp_path / "secret.txt").write_bytes(b"secret")
    return tmp_path / "root"


def test_reads_the_file_named_by_the_path_kwarg(root):
    assert s.pipe().open(root_dir=root)(path="a.txt") == b"alpha"


def test_reads_the_file_named_by_the_last_value(root):
    assert s.pipe().to(s.LoadFile(root))(__last__="sub/b.json") == b'{"b": 1}'
    assert s.pipe().to(s.LoadFile(root))(__last__=Path("a.txt")) == b"alpha"


def test_path_segments_are_joined(root):
    assert s.pipe().open(root)(__last__=["sub", "b.json"]) == b'{"b": 1}'


def test_encoding_gives_text(root):
    assert s.pipe().open(root, encoding="utf-8")(path="a.txt") == "alpha"


def test_the_name_read_is_kept_as_path(root):
    assert s.pipe().open(root).f(lambda path: path)(__last__="a.txt") == "a.txt"


@pytest.mark.parametrize(
    "name", ["../secret.txt", "sub/../../secret.txt", "/etc/passwd", "..", "sub/../.."]
)
def test_a_path_outside_the_root_is_refused(root, name):
    with pytest.raises(PipeError) as info:
        s.pipe().open(root_dir=root)(path=name)
    assert f"{name!r} is outside root_dir" in str(info.value)
    assert str(info.value).startswith("step 1 (open(root_dir=")


def test_a_symlink_out_of_the_root_is_refused(root):
    os.symlink(root.parent / "secret.txt", root / "link.txt")
    with pytest.raises(PipeError, match="outside root_dir"):
        s.pipe().open(root_dir=root)(path="link.txt")


def test_a_symlink_inside_the_root_is_allowed(root):
    os.symlink(root / "a.txt", root / "sub" / "again.txt")
    assert s.pipe().open(root_dir=root)(path="sub/again.txt") == b"alpha"


def test_without_root_dir_any_path_is_read(root):
    assert s.pipe().open()(path=str(root.parent / "secret.txt")) == b"secret"


def test_relative_root_dir_is_relative_to_the_working_directory(root, monkeypatch):
    monkeypatch.chdir(root.parent)
    assert s.pipe().open(root_dir="root")(path="a.txt") == b"alpha"
    with pytest.raises(PipeError, match="outside root_dir 'root'"):
        s.pipe().open(root_dir="root")(path="../secret.txt")


def test_missing_file_and_missing_name_are_pipe_errors(root):
    with pytest.raises(PipeError, match="FileNotFoundError"):
        s.pipe().open(root)(path="nope.txt")
    with pytest.raises(PipeError, match="no file name"):
        s.pipe().open(root)()


def test_buffer_sink_guesses_the_content_type_from_the_file_name(root):
    p = s.pipe().open(root).name("buf").buffer_sink()
    assert p(path="sub/b.json") == (b'{"b": 1}', {"Content-Type": "application/json"})
    assert p(path="a.txt") == (b"alpha", {"Content-Type": "text/plain"})


def test_buffer_sink_options(root):
    assert s.pipe().const("x").name("data").buffer_sink("data")() == (
        b"x",
        {"Content-Type": "application/octet-stream"},
    )
    assert s.pipe().const("x").name("buf").to(s.BufferSink(filename="a.png"))() == (
        b"x",
        {"Content-Type": "image/png"},
    )
    assert s.pipe().const(b"x").name("buf").buffer_sink(content_type="a/b")() == (
        b"x",
        {"Content-Type": "a/b"},
    )


def test_buffer_sink_without_a_buf_says_how_to_name_one():
    with pytest.raises(PipeError, match=r"no value named 'buf'.*NameOutput\('buf'\)"):
        s.pipe().const(b"x").buffer_sink()()


def test_the_readme_pipe_without_a_server(monkeypatch):
    # The tl;dr adaptor, run as a function from the repository root.
    monkeypatch.chdir(REPO)
    run = (
        s.pipe()
        .to(s.LoadFile(root_dir="./example/summat"))
        .to(s.NameOutput(name="buf"))
        .to(s.BufferSink())
        .f(lambda ab: (str(ab[0]).upper(), ab[1]))
        .done()
    )
    body, headers = run(path="simple.sh")
    content = (EXAMPLE / "simple.sh").read_bytes()
    assert body == str(content).upper()
    assert body.startswith("B'#!/USR/BIN/ENV BASH\\N# EXAMPLE/SUMMAT/SIMPLE.SH\\N\\N")
    # Python's table says application/x-sh; a system mime.types may differ.
    assert headers == {"Content-Type": mimetypes.guess_type("simple.sh")[0]}

"""importing, installing (a real pip install of a local wheel), shell."""

import importlib
import subprocess
import sys

import pytest

from owt import summat as s
from owt.summat import environment
from owt.summat.core import PipeError
from tests.summat.tinywheel import build_wheel
from tests.summat.tinywheel import unique_name


def test_importing_adds_modules_to_the_names():
    p = (
        s.pipe()
        .importing("math", "json as j")
        .f(lambda x, math, j: j.dumps(math.sqrt(x)))
    )
    assert p(__last__=16) == "4.0"


def test_importing_a_dotted_name_binds_the_top_package():
    p = s.pipe().importing("os.path").f(lambda os: os.path.basename("/a/b"))
    assert p() == "b"
    p = s.pipe().importing("os.path as osp").f(lambda osp: osp.basename("/a/c"))
    assert p() == "c"


def test_importing_a_missing_module_is_a_pipe_error():
    with pytest.raises(
        PipeError, match="ModuleNotFoundError: No module named 'no_such_mod_x'"
    ):
        s.pipe().importing("no_such_mod_x")()


def test_importing_refuses_a_bad_spec():
    with pytest.raises(ValueError, match="not a module to import"):
        s.importing("a b c")


def test_shell_runs_bash_and_returns_stdout():
    assert s.pipe().const("echo hi; echo there").shell()() == "hi\nthere\n"
    assert s.pipe().const("[[ 1 == 1 ]] && printf ok").shell()() == "ok"


def test_shell_failure_reports_status_and_stderr():
    with pytest.raises(PipeError) as info:
        s.pipe().const("echo oops >&2; exit 3").shell()()
    assert str(info.value) == "step 2 (shell()): command exited with status 3: oops"
    assert s.pipe().const("exit 3").shell(check=False)() == ""


def test_shell_timeout(tmp_path):
    with pytest.raises(PipeError, match="TimeoutExpired"):
        s.pipe().const("sleep 5").shell(timeout=0.3)()
    assert s.pipe().const("pwd").shell(cwd=str(tmp_path))() == f"{tmp_path}\n"


@pytest.fixture
def tiny_package(tmp_path):
    """A wheel for a module with a unique name; uninstalled afterwards."""
    name = unique_name()
    wheel = build_wheel(tmp_path, name, "def hello():\n    return 'hi from tiny'\n")
    yield name, wheel
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "-y", "-q", name],
        capture_output=True,
        timeout=120,
    )
    sys.modules.pop(name, None)
    environment._installed.discard((str(wheel), "--no-index"))


def test_installing_a_local_package_makes_it_importable(tiny_package):
    name, wheel = tiny_package
    with pytest.raises(ImportError):
        importlib.import_module(name)
    p = (
        s.pipe()
        .installing(str(wheel), "--no-index")
        .importing(name)
        .f(lambda **kw: kw[name].hello())
    )
    assert p() == "hi from tiny"


def test_installing_the_same_packages_again_does_not_run_pip(tiny_package, monkeypatch):
    name, wheel = tiny_package
    p = s.pipe().installing(str(wheel), "--no-index").const("ok")
    assert p() == "ok"
    calls = []
    monkeypatch.setattr(environment, "pip_install", lambda *a: calls.append(a))
    assert p() == "ok"
    assert calls == []


def test_a_failed_install_reports_the_end_of_pips_output(tmp_path):
    missing = str(tmp_path / "no-such-package.whl")
    with pytest.raises(PipeError) as info:
        s.pipe().installing(missing, "--no-index")()
    message = str(info.value)
    assert message.startswith("step 1 (installing('")
    assert f"): pip install {missing} --no-index failed (exit 1):\n" in message
    assert "no-such-package.whl" in message.split("\n", 1)[1]  # pip's own words

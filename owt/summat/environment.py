"""Environment blocks: import modules, pip-install packages, run shell commands.

These act on the machine owt runs on, with owt's rights: ``installing``
changes the server's Python environment for every later request.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import threading
import typing as t

from owt.summat.core import Block
from owt.summat.core import PipeError
from owt.summat.core import State
from owt.summat.core import ValueBlock

T = t.TypeVar("T")

#: How many lines of pip's or a command's output an error message keeps.
TAIL_LINES = 25


class Importing(Block[T, T]):
    """``importing('math', 'numpy as np')``: import modules and add them to
    the names, so later blocks can ask for them: ``f(lambda x, np: np.sqrt(x))``.

    ``'a.b'`` binds ``a`` (as ``import a.b`` does); ``'a.b as c'`` binds ``c``.

    The modules are also bound as globals of the code that built the pipe,
    as an ``import`` statement there would, so functions written beside it
    (``f(lambda p: json.dumps(p))``) can use them by name.
    """

    def __init__(self, *modules: str) -> None:
        self.specs = [_parse_import(m) for m in modules]
        self.builder_globals = _builder_globals()

    def step(self, state: State[T]) -> State[T]:
        loaded: dict[str, t.Any] = {}
        for module, alias in self.specs:
            imported = importlib.import_module(module)
            if alias is None:
                top = module.split(".")[0]
                loaded[top] = importlib.import_module(top)
            else:
                loaded[alias] = imported
        if self.builder_globals is not None:
            self.builder_globals.update(loaded)
        return state.with_names(**loaded)


def _builder_globals() -> dict[str, t.Any] | None:
    """The globals of the nearest caller outside ``owt.summat``."""
    frame = inspect.currentframe()
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name == "owt.summat" or name.startswith("owt.summat.")):
            return frame.f_globals
        frame = frame.f_back
    return None


def _parse_import(spec: str) -> tuple[str, str | None]:
    words = spec.split()
    if len(words) == 1:
        return words[0], None
    if len(words) == 3 and words[1] == "as":
        return words[0], words[2]
    raise ValueError(f"not a module to import: {spec!r} (try 'numpy' or 'numpy as np')")


_install_lock = threading.Lock()
_installed: set[tuple[str, ...]] = set()


class Installing(Block[T, T]):
    """``installing('pkg', ...)``: ``pip install`` into the Python running owt,
    once per server for the same arguments; the state passes through.

    Arguments go to pip as given, so options work too:
    ``installing('/tmp/mypkg', '--no-index')``. One install runs at a time.
    A failed install raises :class:`PipeError` with the end of pip's output.

    :param timeout: seconds before pip is stopped (an error).
    """

    def __init__(self, *packages: str, timeout: float = 600) -> None:
        if not packages:
            raise ValueError("installing() needs at least one package")
        self.packages = tuple(packages)
        self.timeout = timeout

    def step(self, state: State[T]) -> State[T]:
        with _install_lock:
            if self.packages not in _installed:
                pip_install(self.packages, self.timeout)
                _installed.add(self.packages)
        return state


def pip_install(args: t.Sequence[str], timeout: float) -> None:
    """Run ``python -m pip install *args`` for this interpreter.

    :raises PipeError: if pip fails or runs past ``timeout`` seconds.
    """
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    cmd += ["--no-input", *args]
    shown = " ".join(args)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PipeError(f"pip install {shown} took more than {timeout} s") from None
    if done.returncode != 0:
        tail = _tail(done.stdout + done.stderr)
        raise PipeError(f"pip install {shown} failed (exit {done.returncode}):\n{tail}")
    importlib.invalidate_caches()


class Shell(ValueBlock[str, str]):
    """``shell()``: run the last value as a ``bash -c`` command; the last value
    becomes its standard output (text, trailing newline kept).

    :param check: a non-zero exit raises :class:`PipeError` with the exit
        status and the end of standard error.
    :param timeout: seconds before the command is killed (an error).
    :param cwd: directory to run in (default: owt's working directory).
    """

    def __init__(
        self, check: bool = True, timeout: float | None = None, cwd: str | None = None
    ) -> None:
        self.check = check
        self.timeout = timeout
        self.cwd = cwd

    def apply(self, value: str) -> str:
        if not isinstance(value, str):
            raise TypeError(f"shell() runs a str command, not {type(value).__name__}")
        done = subprocess.run(
            ["bash", "-c", value],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            cwd=self.cwd,
        )
        if self.check and done.returncode != 0:
            raise PipeError(
                f"command exited with status {done.returncode}: "
                f"{_tail(done.stderr) or '(no stderr)'}"
            )
        return done.stdout


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-TAIL_LINES:])

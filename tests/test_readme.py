"""Every code block of README.org (and of any .org file under docs/) runs as printed.

Each ``#+begin_src LANG [header args]`` ... ``#+end_src`` block is one test,
named after its file and line (``L123-sh``):

- ``sh``/``bash``: ``bash -eo pipefail`` in the repository root, with this
  venv's ``bin`` first on PATH, against a real ``owt serve`` on
  127.0.0.1:9876 (the address the README's blocks use);
- ``python``: saved as a file and run by this venv's Python in the repository
  root, against that server;
- ``javascript``: written as an ``.mjs`` module next to a copy of
  ``clients/js/owt.js`` and run with ``node`` from the repository root (with
  ``--experimental-eventsource`` when the block says it needs that flag);
- ``json``: must parse.

A block must exit with status 0. Where the README shows what a block prints,
the block's standard output must contain it, line by line in order, ``...``
standing for any text within a line. Shown output is either a ``#+RESULTS:``
right after the block (``: `` lines or a ``#+begin_example``), or whole-line
comments in the block itself: ``# -> TEXT`` (``// -> TEXT`` in JavaScript).

A block whose first line is a comment naming a file of the repository
(``# example/hello.py: ...``) shows that file: its text must be the file's.

``:eval no`` in a block's header args keeps it from running. Only the
set-up commands (which CI runs itself: the install-and-serve and
install-and-test commands), commands that start a server that runs until it
is stopped, and ``pip install`` lines may carry it; a test checks that.

Blocks run in file order and may use what an earlier block made (a file
written to /tmp by one example is looked at by the next), so run the whole
module rather than a single block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.examples.conftest import port_is_free
from tests.owtserver import REPO
from tests.owtserver import OwtProcess
from tests.owtserver import running_owt

#: The port the README's blocks call, and the ports its meta examples start
#: inner servers on (one per layer, up to five).
PORT = 9876
INNER_PORTS = range(PORT + 1, PORT + 6)

#: Seconds a single block may take (the embedding examples load torch; the
#: development checks run mypy).
BLOCK_TIMEOUT = 300

#: Most ``:eval no`` blocks the README may have: the two set-up commands and
#: a few ``owt serve`` command lines.
MAX_EVAL_NO = 8

#: What an ``:eval no`` block may be: one of these must be in its text.
EVAL_NO_KINDS = ("owt serve", "pip install", "test-all.sh", "python -m owt.server")

SHELLS = ("sh", "bash", "shell")
RUNNABLE = (*SHELLS, "python", "javascript", "js", "json")


@dataclasses.dataclass
class Block:
    """One ``#+begin_src`` block of an org file."""

    path: Path
    line: int  # of the #+begin_src line, 1-based
    lang: str
    header: str
    text: str
    shown_output: list[str] | None  # from a #+RESULTS: after the block

    @property
    def id(self) -> str:
        rel = self.path.relative_to(REPO)
        where = "" if rel == Path("README.org") else f"{rel}-"
        return f"{where}L{self.line}-{self.lang}"

    @property
    def eval_no(self) -> bool:
        return re.search(r"(^|\s):eval\s+(no|never)\b", self.header) is not None

    def expected_output(self) -> list[str]:
        """What the README shows this block printing (possibly nothing)."""
        marker = "//" if self.lang in ("javascript", "js") else "#"
        inline = [
            m.group(1)
            for m in re.finditer(
                rf"^\s*{re.escape(marker)} -> (.*)$", self.text, re.MULTILINE
            )
        ]
        return inline + (self.shown_output or [])


def org_files() -> list[Path]:
    files = [REPO / "README.org"]
    docs = REPO / "docs"
    if docs.is_dir():
        files += sorted(docs.rglob("*.org"))
    return files


BEGIN = re.compile(r"^(\s*)#\+begin_src\s+(\S+)(.*)$", re.IGNORECASE)
END = re.compile(r"^\s*#\+end_src\s*$", re.IGNORECASE)


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if not begin:
            i += 1
            continue
        indent, lang, header = begin.group(1), begin.group(2).lower(), begin.group(3)
        body = []
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.name}:{i + 1}: #+begin_src without #+end_src")
        body = [b[len(indent) :] if b.startswith(indent) else b for b in body]
        blocks.append(
            Block(
                path=path,
                line=i + 1,
                lang=lang,
                header=header.strip(),
                text="\n".join(body) + "\n",
                shown_output=results_after(lines, j + 1),
            )
        )
        i = j + 1
    return blocks


def results_after(lines: list[str], start: int) -> list[str] | None:
    """The ``#+RESULTS:`` output right after a block, if there is one."""
    k = start
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines) or not re.match(r"^\s*#\+RESULTS(\[.*\])?:", lines[k], re.I):
        return None
    k += 1
    out: list[str] = []
    if k < len(lines) and re.match(r"^\s*#\+begin_example", lines[k], re.I):
        k += 1
        while k < len(lines) and not re.match(r"^\s*#\+end_example", lines[k], re.I):
            out.append(lines[k])
            k += 1
        return out
    while k < len(lines) and re.match(r"^\s*:( |$)", lines[k]):
        out.append(re.sub(r"^\s*: ?", "", lines[k]))
        k += 1
    return out


ALL_BLOCKS = [block for path in org_files() for block in parse_blocks(path)]


def test_the_readme_has_blocks_in_every_language_this_test_runs():
    langs = {block.lang for block in ALL_BLOCKS}
    assert {"sh", "python", "javascript", "json"} <= langs
    unknown = [b.id for b in ALL_BLOCKS if b.lang not in RUNNABLE]
    assert unknown == [], f"blocks in a language this test can't run: {unknown}"


def test_only_setup_and_server_blocks_are_not_evaluated():
    skipped = [b for b in ALL_BLOCKS if b.eval_no]
    assert len(skipped) <= MAX_EVAL_NO, [b.id for b in skipped]
    for block in skipped:
        assert any(kind in block.text for kind in EVAL_NO_KINDS), (
            f"{block.id} is ':eval no' but is neither a set-up command, a "
            f"server that runs until stopped, nor a pip install:\n{block.text}"
        )
    readme = [b for b in skipped if b.path.name == "README.org"]
    texts = "\n".join(b.text for b in readme)
    # The two commands a newcomer copies (and CI runs itself).
    assert "pip install -e . && owt serve" in texts
    assert "bash scripts/test-all.sh" in texts


# -- the server the blocks call ---------------------------------------------


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[OwtProcess]:
    """``owt serve`` from the repository root on 127.0.0.1:9876."""
    busy = [p for p in (PORT, *INNER_PORTS) if not port_is_free(p)]
    if busy:
        pytest.fail(
            f"the README's examples call owt on 127.0.0.1:{PORT} (and start inner "
            f"servers on {INNER_PORTS.start}-{INNER_PORTS.stop - 1}), but port(s) "
            f"{busy} are in use: stop whatever listens there (an 'owt serve' of "
            "your own?) and run the test again"
        )
    logs = tmp_path_factory.mktemp("owt-readme-logs")
    with running_owt(port=PORT, log_dir=logs) as server:
        yield server


def block_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    for name in ("OWT_ADDRESS", "OWT_PORT", "OWT_AUTH", "OWT_URL", "OWT_CALL_AUTH"):
        env.pop(name, None)
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    return env


# -- running one block ------------------------------------------------------


def run(argv: list[str], block: Block) -> subprocess.CompletedProcess[str]:
    """Run a block in a process group of its own, which is killed afterwards
    (so a timeout or a block that leaves something behind leaks nothing)."""
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=block_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        stdout, stderr = proc.communicate()
        pytest.fail(
            f"{block.id} ran longer than {BLOCK_TIMEOUT} s\n{block.text}\n"
            f"stdout so far:\n{stdout}\nstderr so far:\n{stderr}"
        )
    finally:
        kill_group(proc.pid)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_javascript(block: Block, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "the JavaScript blocks need Node.js 20 or newer"
    shutil.copy(REPO / "clients" / "js" / "owt.js", tmp_path / "owt.js")
    script = tmp_path / "block.mjs"
    script.write_text(block.text, encoding="utf-8")
    flags = (
        ["--experimental-eventsource"]
        if "--experimental-eventsource" in block.text
        else []
    )
    return run([node, *flags, str(script)], block)


def shown_file(block: Block) -> Path | None:
    """The repository file a block shows, named in its first line's comment."""
    first = block.text.splitlines()[0] if block.text.strip() else ""
    named = re.match(r"^(?:#|//)\s*([\w./-]+\.\w+)(?::|\s*$)", first)
    if not named:
        return None
    path = REPO / named.group(1)
    assert path.is_file(), (
        f"{block.id} shows {named.group(1)}, which is not in the repository: ship it"
    )
    return path


def ellipsis_pattern(line: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in line.strip().split("...")]
    return re.compile(".*?".join(parts))


def assert_prints(block: Block, stdout: str) -> None:
    """The README's shown output appears in ``stdout``, in order."""
    position = 0
    for line in block.expected_output():
        if not line.strip():
            continue
        found = ellipsis_pattern(line).search(stdout, position)
        assert found, (
            f"{block.id}: the README shows\n  {line!r}\nbut (from there on) the block "
            f"printed:\n{stdout[position:]}"
        )
        position = found.end()


def test_shown_output_is_really_compared():
    block = Block(
        path=REPO / "README.org",
        line=1,
        lang="sh",
        header="",
        text="echo hi\n# -> hi\n",
        shown_output=["Hello, ... from 127.0.0.1:9876!"],
    )
    assert block.expected_output() == ["hi", "Hello, ... from 127.0.0.1:9876!"]
    assert_prints(block, "hi\nHello, owt, from 127.0.0.1:9876!\n")
    with pytest.raises(AssertionError):
        assert_prints(block, "hi\nHello, owt, from 127.0.0.1:9877!\n")
    with pytest.raises(AssertionError):  # in order
        assert_prints(block, "Hello, owt, from 127.0.0.1:9876!\nhi\n")


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_block_runs_as_printed(
    block: Block, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if block.eval_no:
        pytest.skip(":eval no (a set-up command or a server that runs until stopped)")

    shown = shown_file(block)
    if shown is not None:
        assert block.text == shown.read_text(encoding="utf-8"), (
            f"{block.id} shows {shown.relative_to(REPO)}, but not as it is in the "
            "repository"
        )

    if block.lang == "json":
        json.loads(block.text)
        return

    request.getfixturevalue("readme_server")
    if block.lang in SHELLS:
        result = run(["bash", "-eo", "pipefail", "-c", block.text], block)
    elif block.lang == "python":
        # A file, as a reader saves it: functions sent by their source need one.
        script = tmp_path / "block.py"
        script.write_text(block.text, encoding="utf-8")
        result = run([sys.executable, str(script)], block)
    else:
        result = run_javascript(block, tmp_path)
    assert result.returncode == 0, (
        f"{block.id} exited with {result.returncode}\n--- block\n{block.text}"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    assert_prints(block, result.stdout)

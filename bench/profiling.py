"""Where owt's time goes under load: py-spy samples a running ``owt serve``.

Usage::

    python bench/profiling.py --label after                 # this checkout
    git worktree add /tmp/owt-before e397cc8
    python bench/profiling.py --label before --repo /tmp/owt-before

Starts ``owt serve`` from ``--repo`` on a free loopback port, loads it with
the echo adaptor by GET (``wrk``, 8 connections), and records the serving
process and its children with py-spy (``pip install py-spy``; it reads the
process from outside and changes nothing in it). Writes
``bench/results/profile-LABEL.txt``: the functions with the most samples
on the stack (inclusive) and at the top of it (self), owt's own functions
marked, with the requests/s the load reached while it was sampled.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import workloads as w  # noqa: E402
from load import wrk  # noqa: E402
from procs import REPO  # noqa: E402
from procs import running  # noqa: E402

RESULTS = BENCH / "results"
TOP = 30


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def record(pid: int, seconds: float, url: str) -> tuple[Path, float]:
    """Sample ``pid`` and its children while ``url`` is loaded; the folded
    stacks and the requests/s reached."""
    folded = Path(tempfile.mkstemp(prefix="owt-profile-", suffix=".txt")[1])
    spy = subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--function",
            "--nonblocking",
            "--rate",
            "250",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(folded),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # py-spy attaches
    result = wrk(url, seconds, 8)
    spy.wait(timeout=seconds + 30)
    return folded, result.rps


def summarise(
    folded: Path,
) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Samples in all, and per function: on the stack, and at its top."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def _name(frame: str) -> str:
    # "function (path/to/file.py:12)" -> "function (file.py:12)", owt marked.
    function, _, where = frame.partition(" (")
    where = where.rstrip(")")
    marker = "*" if _is_owt(where) else " "
    return f"{marker} {function} ({where.rsplit('/', 2)[-1] if where else '?'})"


def _is_owt(where: str) -> bool:
    return (
        where.startswith("owt/") or "/owt/" in where
    ) and "site-packages" not in where


def _where(frame: str) -> str:
    return frame.partition(" (")[2]


def report(label: str, repo: Path, rps: float, folded: Path) -> str:
    total, inclusive, own = summarise(folded)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        f"owt profile '{label}': commit {commit}, "
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}",
        f"echo by GET under wrk (8 connections): {rps:,.0f} requests/s while "
        f"sampled; {total:,} samples (py-spy, 250 Hz, idle threads left out)",
        "* marks owt's own functions",
        "",
        f"owt's functions with the most samples on the stack (inclusive), top {TOP}:",
    ]
    owt_frames = [(f, n) for f, n in inclusive.most_common() if _is_owt(_where(f))]
    lines += [
        f"{100 * n / total:6.1f}%  {_name(frame)}" for frame, n in owt_frames[:TOP]
    ]
    lines += ["", f"Most samples at the top of the stack (self), top {TOP}:"]
    lines += [
        f"{100 * n / total:6.1f}%  {_name(frame)}" for frame, n in own.most_common(TOP)
    ]
    owt_self = sum(n for frame, n in own.items() if _is_owt(_where(frame)))
    lines += [
        "",
        f"owt's own functions, self: {100 * owt_self / total:.1f}% of samples",
    ]
    return "\n".join(lines) + "\n"


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", required=True, help="names the result file")
    parser.add_argument("--repo", type=Path, default=REPO, help="the owt to profile")
    parser.add_argument("--seconds", type=float, default=10)
    opts = parser.parse_args(argv)
    repo = opts.repo.resolve()
    argv_ = [sys.executable, "-m", "owt", "serve"]
    with running(argv_, "/_owt/health", repo=repo) as owt:
        url = owt.url + w.ECHO_GET
        wrk(url, 1, 8)  # warm
        folded, rps = record(owt.pid, opts.seconds, url)
    text = report(opts.label, repo, rps, folded)
    folded.unlink()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"profile-{opts.label}.txt"
    out.write_text(text)
    print(text)
    print(f"written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

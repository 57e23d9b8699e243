"""A worker process: runs adaptor code for owt's HTTP front.

Started by the supervisor as ``python -m owt.executors.process.worker FD PARENT_PID``
with one end of a socket pair as file descriptor ``FD``. It reads calls (see
:mod:`owt.executors.process.protocol`), runs each one exactly as the inline executor
would, inside a Flask request context rebuilt from the HTTP request, and
sends back the whole body or the stream's chunks as they are produced.

Threads: the main thread runs calls when it is free, so that a cancelled
call there can be interrupted with SIGINT (``KeyboardInterrupt`` even inside
``time.sleep`` and C code that checks for signals); calls that arrive while
it is busy run on threads of their own and are interrupted with an
asynchronous ``KeyboardInterrupt`` instead. A reader thread takes messages
off the socket. When the front goes away the worker exits at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import socket
import sys
import threading
import typing as t

from owt import proctree
from owt.errors import ChannelClosed
from owt.errors import ProtocolError
from owt.executors.process.protocol import WINDOW_BYTES
from owt.executors.process.protocol import WINDOW_CHUNKS
from owt.executors.process.protocol import Channel
from owt.executors.process.protocol import Header

if t.TYPE_CHECKING:
    from flask import Request
    from werkzeug.wrappers import Response

    from owt.errors import OwtError
    from owt.executors.relay import StreamOutcome

log = logging.getLogger("owt")


class _Cancelled(BaseException):
    """Raised instead of starting adaptor code for a call already cancelled."""


class _Task:
    """One call running in this worker."""

    def __init__(self, request_id: str) -> None:
        self.id = request_id
        self.on_main = False
        self.thread_id = 0
        #: Guards ``in_adaptor``/``cancelled`` so an interrupt is only ever
        #: raised while adaptor code runs.
        self.lock = threading.Lock()
        self.in_adaptor = False
        self.cancelled = False
        self.interrupted = False
        self.interrupt_raised = False
        #: Stream flow control: chunks and bytes sent but not yet written
        #: to the HTTP client by the front.
        self.flow = threading.Condition()
        self.ahead_chunks = 0
        self.ahead_bytes = 0


class Worker:
    """The worker's state: its channel, its warm code and its running calls."""

    def __init__(self, channel: Channel, config: Header) -> None:
        from flask import Flask

        from owt import startup
        from owt.executors.inline import InlineExecutor
        from owt.options import ServeOptions
        from owt.runtime import Server

        self.channel = channel
        self.index = int(config.get("index", 0))
        options = ServeOptions(**config["options"])
        startup.prepare_process(
            options, log_prefix=f"worker {self.index} [{os.getpid()}] "
        )
        self.server = Server.sing()
        self.app = Flask("owt.executors.process.worker")
        self.executor = InlineExecutor(options)
        self.max_kwargs_depth = options.max_kwargs_depth
        # As in the HTTP front: an adaptor can't rebind the names owt's own
        # modules rely on (and so break later calls in this worker).
        startup.seal(_WORKER_MODULES)
        self._running: dict[int, _Task] = {}
        log.addFilter(self._quiet_cancelled)
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._main_idle = True
        self._main_task: _Task | None = None
        self._main_queue: queue.SimpleQueue[tuple[_Task, Header, bytes]] = (
            queue.SimpleQueue()
        )
        self._main_ident = threading.get_ident()
        #: Helper threads, kept for reuse: starting a thread per call costs.
        self._helper_queue: queue.SimpleQueue[tuple[_Task, Header, bytes]] = (
            queue.SimpleQueue()
        )
        self._idle_helpers = 0

    # -- the main thread -------------------------------------------------

    def serve(self) -> None:
        """Run calls until the front closes the channel (then exit)."""
        signal.signal(signal.SIGINT, self._on_sigint)
        reader = threading.Thread(target=self._read_loop, name="owt-reader")
        reader.daemon = True
        reader.start()
        self._send({"op": "ready", "pid": os.getpid()})
        while True:
            task, header, body = self._main_queue.get()
            self._main_task = task
            try:
                self._run(task, header, body)
            finally:
                self._main_task = None
                with self._lock:
                    self._main_idle = True

    def _on_sigint(self, signum: int, frame: t.Any) -> None:
        # Only an interrupt this worker asked for becomes KeyboardInterrupt,
        # and only while the cancelled call's adaptor code is running.
        task = self._main_task
        if (
            task is not None
            and task.cancelled
            and task.in_adaptor
            and not task.interrupt_raised
        ):
            task.interrupt_raised = True
            raise KeyboardInterrupt

    # -- the reader thread -----------------------------------------------

    def _read_loop(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        while True:
            try:
                header, payload = self.channel.recv()
            except (ChannelClosed, ProtocolError):
                _exit_now()
            op = header["op"]
            if op == "call":
                self._dispatch(header, payload)
            elif op == "cancel":
                self.cancel(header["id"])
            elif op == "credit":
                self._credit(header)
            elif op == "stop":
                _exit_now()

    def _dispatch(self, header: Header, body: bytes) -> None:
        task = _Task(header["id"])
        self._tasks[task.id] = task
        with self._lock:
            task.on_main = self._main_idle
            self._main_idle = False
            reuse = not task.on_main and self._idle_helpers > 0
            if reuse:
                self._idle_helpers -= 1
        if task.on_main:
            task.thread_id = self._main_ident
            self._main_queue.put((task, header, body))
            return
        self._helper_queue.put((task, header, body))
        if not reuse:
            helper = threading.Thread(target=self._helper_loop, daemon=True)
            helper.start()

    def cancel(self, request_id: str) -> None:
        """Stop a call: interrupt its adaptor code, or end its stream."""
        task = self._tasks.get(request_id)
        if task is None:
            return
        with task.lock:
            if task.cancelled:
                return
            task.cancelled = True
            if task.in_adaptor:
                task.interrupted = True
                if task.on_main:
                    signal.pthread_kill(self._main_ident, signal.SIGINT)
                else:
                    _raise_in_thread(task.thread_id, KeyboardInterrupt)
        with task.flow:
            task.flow.notify_all()

    def _credit(self, header: Header) -> None:
        task = self._tasks.get(header["id"])
        if task is None:
            return
        with task.flow:
            task.ahead_chunks -= header["chunks"]
            task.ahead_bytes -= header["bytes"]
            task.flow.notify_all()

    # -- running one call --------------------------------------------------

    def _helper_loop(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        ident = threading.get_ident()
        while True:
            task, header, body = self._helper_queue.get()
            task.thread_id = ident
            try:
                self._run(task, header, body)
            finally:
                with self._lock:
                    self._idle_helpers += 1

    def _run(self, task: _Task, header: Header, body: bytes) -> None:
        from flask import g

        from owt.executors.process.environ import rebuild_environ

        self._running[threading.get_ident()] = task
        try:
            self._follow_server(header.get("server"))
            environ = rebuild_environ(header["environ"], body)
            with self.app.request_context(environ) as context:
                g.request_id = task.id
                self._respond(task, header, context.request)
        except ChannelClosed:
            _exit_now()
        except BaseException as e:  # never let one call stop the worker
            log.exception("worker %d: call %s failed inside owt", self.index, task.id)
            with contextlib.suppress(ChannelClosed):
                self._send_failure(task, header, e)
        finally:
            self._tasks.pop(task.id, None)
            self._running.pop(threading.get_ident(), None)

    def _quiet_cancelled(self, record: logging.LogRecord) -> bool:
        # A call owt interrupted ends its stream with KeyboardInterrupt: that
        # is the cancel working, not the adaptor failing.
        task = self._running.get(threading.get_ident())
        return not (task is not None and task.cancelled and record.levelno >= 40)

    def _respond(self, task: _Task, header: Header, request: Request) -> None:
        from owt.errors import OwtError
        from owt.execute import adaptor_failure
        from owt.executors.process.environ import rebuilt_call
        from owt.executors.relay import StreamOutcome

        digest = header["digest"]
        ending = StreamOutcome()
        try:
            with self._adaptor_code(task):
                call = rebuilt_call(header, request, task.id, self.max_kwargs_depth)
                response = self.executor.run(call, ending)
        except OwtError as e:
            self._send_error(task, digest, e)
            return
        except BaseException as e:
            self._send_error(task, digest, adaptor_failure(e, "running"))
            return
        if response.is_streamed:
            self._stream(task, digest, response, ending)
            return
        try:
            data = response.get_data()
        finally:
            response.close()
        self._send(
            {
                "op": "result",
                "id": task.id,
                "status": response.status,
                "headers": response.headers.to_wsgi_list(),
                "warm": self._is_warm(digest),
            },
            data,
        )

    def _stream(
        self, task: _Task, digest: str, response: Response, ending: StreamOutcome
    ) -> None:
        self._send(
            {
                "op": "start",
                "id": task.id,
                "status": response.status,
                "headers": response.headers.to_wsgi_list(),
            }
        )
        chunks = response.iter_encoded()
        failed = False
        try:
            while self._wait_for_room(task):
                try:
                    with self._adaptor_code(task):
                        chunk = next(chunks)
                except StopIteration:
                    break
                except BaseException as e:
                    if not task.cancelled:
                        failed = True
                        log.error(
                            "worker %d: stream %s failed: %r", self.index, task.id, e
                        )
                    break
                if chunk:
                    with task.flow:
                        task.ahead_chunks += 1
                        task.ahead_bytes += len(chunk)
                    self._send({"op": "chunk", "id": task.id}, chunk)
        finally:
            try:
                # Closing runs the generator's own clean-up (its finally
                # blocks): adaptor code, so it may be interrupted too.
                with self._adaptor_code(task, closing=True):
                    response.close()
            except BaseException as e:
                if not task.cancelled:
                    log.error(
                        "worker %d: closing stream %s: %r", self.index, task.id, e
                    )
            if task.cancelled:
                log.info("worker %d: stream %s stopped", self.index, task.id)
                outcome = "closed"
            elif failed:
                outcome = "failed"
            else:
                outcome = ending.outcome or "completed"
            self._send(
                {
                    "op": "end",
                    "id": task.id,
                    "outcome": outcome,
                    "warm": self._is_warm(digest),
                }
            )

    def _wait_for_room(self, task: _Task) -> bool:
        with task.flow:
            while not task.cancelled and (
                task.ahead_chunks >= WINDOW_CHUNKS or task.ahead_bytes >= WINDOW_BYTES
            ):
                task.flow.wait()
            return not task.cancelled

    @contextlib.contextmanager
    def _adaptor_code(self, task: _Task, closing: bool = False) -> t.Iterator[None]:
        """Mark the block as adaptor code, which a cancel may interrupt."""
        with task.lock:
            if task.cancelled and not closing:
                raise _Cancelled
            task.in_adaptor = True
        try:
            yield
        finally:
            with task.lock:
                task.in_adaptor = False
                if task.interrupted and not task.on_main:
                    # An interrupt not yet raised must not leak into owt's code.
                    _raise_in_thread(task.thread_id, None)

    # -- replies -------------------------------------------------------------

    def _send(self, header: Header, payload: bytes = b"") -> None:
        self.channel.send(header, payload)

    def _send_error(self, task: _Task, digest: str, error: OwtError) -> None:
        from owt.errors import error_to_data

        self._send(
            {
                "op": "error",
                "id": task.id,
                **error_to_data(error),
                "cancelled": task.cancelled,
                "warm": self._is_warm(digest),
            }
        )

    def _send_failure(self, task: _Task, header: Header, exc: BaseException) -> None:
        from owt.errors import OwtError

        error = OwtError(
            f"the worker failed to run the call: {type(exc).__name__}: {exc}"
        )
        self._send_error(task, header.get("digest", ""), error)

    def _is_warm(self, digest: str) -> bool:
        return self.executor.is_warm(digest)

    def _follow_server(self, server: t.Any) -> None:
        # The front tells each call where it is served (its port may have
        # been chosen after the workers started), for Server.sing().
        if server:
            self.server.address, self.server.port = server[0], int(server[1])


_WORKER_MODULES = (
    "owt.executors.process.worker",
    "owt.executors.process.protocol",
    "owt.executors.process.environ",
)


def _raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Raise ``exc_type`` in another thread at its next bytecode (``None`` clears)."""
    value = ctypes.py_object(exc_type) if exc_type is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), value)


def _exit_now() -> t.NoReturn:
    # The front is gone or asked us to stop: nothing is waiting for results.
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


def _die_with_parent(parent_pid: int) -> None:
    """Have Linux kill this process when the thread that started it ends, and
    adopt this worker's orphans (so that killing its tree finds them all,
    even one an adaptor started in a session of its own)."""
    proctree.die_with_parent()
    proctree.become_subreaper()
    if os.getppid() != parent_pid:
        _exit_now()


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m owt.executors.process.worker FD PARENT_PID``."""
    argv = sys.argv[1:] if argv is None else argv
    fd, parent_pid = int(argv[0]), int(argv[1])
    _die_with_parent(parent_pid)
    channel = Channel(socket.socket(fileno=fd), trust_peer=True)
    try:
        config, _ = channel.recv()
    except (ChannelClosed, ProtocolError):
        _exit_now()
    sys.path[:] = [p for p in config.get("sys_path", sys.path) if isinstance(p, str)]
    Worker(channel, config).serve()


if __name__ == "__main__":
    main()

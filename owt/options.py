"""Every ``owt serve`` option, declared once.

Each field of :class:`ServeOptions` is one option: its name, type and
default are the field's; its help, environment variable and command-line
spelling are in :func:`option`'s metadata. The ``owt serve`` command
(:mod:`owt.cli`), the process executor's workers, ``args`` for adaptors and
``docs/options.org`` (``python -m owt.options``) are all built from it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import typing as t

import click

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 9876


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """How one option is spelled and explained beside its field."""

    help: str
    #: The environment variable that sets it ("" for none).
    env: str = ""
    #: The command-line flag, when it isn't ``--field-name``.
    flag: str = ""
    short: str = ""
    metavar: str = ""
    choices: tuple[str, ...] = ()
    #: Lowest value accepted (inclusive unless ``above``).
    minimum: float | None = None
    above: bool = False
    #: A count of repeated flags (``-vv``).
    count: bool = False
    #: Left unset on the command line, the field's default applies (its
    #: meaning is described in the help instead of shown as a value).
    unset_by_default: bool = False


def option(default: t.Any, help: str, **spec: t.Any) -> t.Any:
    """A :class:`ServeOptions` field: its default and how it is offered."""
    return dataclasses.field(
        default=default, metadata={"owt": OptionSpec(help, **spec)}
    )


@dataclasses.dataclass
class ServeOptions:
    """Everything ``owt serve`` can be told. Adaptors see a copy as ``args``."""

    address: str = option(
        DEFAULT_ADDRESS,
        "Address to listen on. Anything but loopback without --auth lets "
        "others run code on this machine (a warning is printed).",
        env="OWT_ADDRESS",
    )
    port: int = option(
        DEFAULT_PORT, "Port to listen on (0 picks a free one).", env="OWT_PORT"
    )
    auth: str | None = option(
        None,
        "Require HTTP Basic auth: the username and the hex SHA-256 of the "
        "password (see 'owt hash-password').",
        env="OWT_AUTH",
        metavar="USER:SHA256HEX",
    )
    allow_origins: tuple[str, ...] = option(
        (),
        "Let web pages of ORIGIN (e.g. http://localhost:3000) call owt; "
        "repeatable; '*' allows every origin. Without it browsers on other "
        "origins are refused.",
        env="OWT_ALLOW_ORIGIN",
        flag="--allow-origin",
        metavar="ORIGIN",
    )
    max_request_mb: float = option(
        32.0, "Largest request body accepted (413 beyond).", env="OWT_MAX_REQUEST_MB"
    )
    max_code_kb: float = option(
        1024.0, "Largest adaptor source accepted (400 beyond).", env="OWT_MAX_CODE_KB"
    )
    max_kwargs_depth: int = option(
        64,
        "Deepest nesting of lists and dicts accepted in the arguments (400 "
        "beyond; 0: no limit).",
        env="OWT_MAX_KWARGS_DEPTH",
    )
    max_concurrency: int = option(
        256,
        "Most adaptors running at once; beyond it requests get 503 with "
        "Retry-After instead of waiting. A stream counts until it ends. 0: no "
        "limit. With --executor process, the most each worker runs.",
        env="OWT_MAX_CONCURRENCY",
        minimum=0,
    )
    code_cache_size: int = option(
        256,
        "How many distinct adaptors stay loaded (warm), least recently used "
        "dropped first.",
        env="OWT_CODE_CACHE_SIZE",
    )
    cache_mb: float = option(
        512.0,
        "Bound on the response cache (use_cache and pinned responses), in MB; "
        "least recently used entries are evicted first. 0 stores nothing.",
        env="OWT_CACHE_MB",
        minimum=0,
    )
    cache_ttl: float | None = option(
        None,
        "Seconds a cached response lives. Default: the server's lifetime. "
        "Pins never expire.",
        env="OWT_CACHE_TTL",
        metavar="SECONDS",
        minimum=0,
        above=True,
    )
    cache_url: str | None = option(
        None,
        "Keep the response cache in Redis (redis://HOST:PORT/DB), shared by "
        "every front end and process using it; the password in the URL or in "
        "OWT_CACHE_PASSWORD (or REDIS_PASSWORD). Default: each process's memory.",
        env="OWT_CACHE_URL",
        metavar="URL",
    )
    adaptors_dir: str | None = option(
        None,
        "Directory keeping the adaptors registered with PUT "
        "/_owt/adaptors/NAME, one NAME.py each, across restarts. Default: "
        "$XDG_DATA_HOME/owt/adaptors (~/.local/share/owt/adaptors).",
        env="OWT_ADAPTORS_DIR",
        metavar="DIR",
    )
    processes: int = option(
        1,
        "HTTP worker processes serving requests, for deployments with many "
        "cores. Each keeps its own warm code and response cache.",
        env="OWT_PROCESSES",
        metavar="N",
        minimum=1,
    )
    header_timeout: float = option(
        10.0,
        "Seconds a client has to send a request's line and headers (from "
        "connecting, or from its previous response), and longest pause in "
        "sending a body; then the connection is closed, or the request "
        "answered 408.",
        env="OWT_HEADER_TIMEOUT",
        minimum=0,
        above=True,
    )
    hide_tracebacks: bool = option(
        False,
        "Leave adaptor tracebacks out of error responses (still logged).",
        env="OWT_HIDE_TRACEBACKS",
    )
    executor: str = option(
        "inline",
        "Where adaptors run: 'inline' in the server's threads (fastest), "
        "'process' in supervised worker processes (time limits, cancelling, "
        "crash isolation), or 'ray' on the slots of a Ray cluster (several "
        "machines and GPUs; needs owt[ray]).",
        env="OWT_EXECUTOR",
        choices=("inline", "process", "ray"),
    )
    workers: int = option(
        0,
        "Worker processes for --executor process. Default: one per "
        "--worker-env, else 1.",
        env="OWT_WORKERS",
        minimum=1,
        unset_by_default=True,
    )
    timeout: float | None = option(
        None,
        "With --executor process or ray: longest an adaptor may work before its "
        "result or next chunk; past it the client gets 504 and the call is "
        "interrupted. A request's own 'timeout' field can only lower it.",
        env="OWT_TIMEOUT",
        metavar="SECONDS",
        minimum=0,
        above=True,
    )
    grace: float = option(
        3.0,
        "With --executor process or ray: how long an interrupted adaptor may "
        "take to stop before its worker (or slot) is killed and replaced.",
        env="OWT_GRACE",
        metavar="SECONDS",
        minimum=0,
    )
    worker_env: tuple[str, ...] = option(
        (),
        "Environment of one worker, in order: the first for worker 0, the "
        "next for worker 1... (e.g. CUDA_VISIBLE_DEVICES=0). Several variables "
        "for one worker: 'A=1 B=2'.",
        env="OWT_WORKER_ENV",
        metavar="NAME=VALUE",
    )
    ray_address: str = option(
        "auto",
        "With --executor ray: the Ray cluster to connect to (HOST:PORT of its "
        "head; 'auto': the one started on this machine). Set RAY_AUTH_MODE=token "
        "and the cluster's token (RAY_AUTH_TOKEN) as its head has them.",
        env="OWT_RAY_ADDRESS",
        metavar="ADDRESS",
    )
    slots: int = option(
        1,
        "With --executor ray: Ray actors running adaptors, one request at a time "
        "each; named, so every front end on the cluster shares them.",
        env="OWT_SLOTS",
        metavar="N",
        minimum=1,
    )
    slot_resources: str = option(
        "{}",
        "With --executor ray: the Ray resources of each slot, as JSON (e.g. "
        "'{\"num_gpus\": 1}' to place each slot on a GPU).",
        env="OWT_SLOT_RESOURCES",
        metavar="JSON",
    )
    verbose: int = option(
        0,
        "-v logs each request's code too; -vv owt's debug output; -vvv the "
        "HTTP server's.",
        short="-v",
        count=True,
    )

    def copy(self) -> ServeOptions:
        """An independent copy, so an adaptor can't change the server's own."""
        return dataclasses.replace(self)

    @classmethod
    def from_env(cls) -> ServeOptions:
        """Defaults, overridden by the options' ``OWT_*`` environment variables
        (as ``owt serve`` reads them)."""
        given = {}
        for declared in declarations():
            value = os.environ.get(declared.spec.env) if declared.spec.env else None
            if value:
                # A bad value is owt serve's to report, when it reads it.
                with contextlib.suppress(click.BadParameter, ValueError):
                    given[declared.name] = declared.from_text(value)
        return cls(**given)


@dataclasses.dataclass(frozen=True)
class Declared:
    """One option as declared: its field, its type and its :class:`OptionSpec`."""

    name: str
    type: t.Any
    default: t.Any
    spec: OptionSpec

    @property
    def flag(self) -> str:
        """The long command-line flag."""
        return self.spec.flag or "--" + self.name.replace("_", "-")

    @property
    def repeatable(self) -> bool:
        """Whether the option may be given several times (a tuple field)."""
        return t.get_origin(self.type) is tuple

    @property
    def optional(self) -> bool:
        """Whether the field may be None (the option may be left out)."""
        return type(None) in t.get_args(self.type)

    @property
    def base_type(self) -> type:
        """The field's type without ``None`` or the tuple around it."""
        args = [a for a in t.get_args(self.type) if a is not type(None)]
        if self.repeatable or self.optional:
            return t.cast(type, args[0])
        return t.cast(type, self.type)

    def click_type(self) -> click.ParamType[t.Any]:
        """The type that checks and converts the option's value."""
        spec = self.spec
        if spec.choices:
            return click.Choice(spec.choices)
        base = self.base_type
        if base is int and spec.minimum is not None:
            return click.IntRange(min=int(spec.minimum), min_open=spec.above)
        if base is float and spec.minimum is not None:
            return click.FloatRange(min=spec.minimum, min_open=spec.above)
        return t.cast(click.ParamType[t.Any], click.types.convert_type(base))

    def from_text(self, text: str) -> t.Any:
        """The value of ``text`` (as in an environment variable), converted
        as the command line converts it.

        :raises click.BadParameter: for a value the option doesn't take.
        """
        if self.spec.count:
            return int(text)
        if self.base_type is bool:
            return click.BOOL.convert(text, None, None)
        param_type = self.click_type()
        if self.repeatable:
            return tuple(param_type.convert(v, None, None) for v in text.split())
        return param_type.convert(text, None, None)

    def click_option(self) -> t.Callable[[F], F]:
        """This option as a ``click.option`` decorator."""
        spec = self.spec
        names = [spec.short] if spec.short else []
        names.append(self.flag)
        extra: dict[str, t.Any] = {"help": spec.help}
        if spec.env:
            extra["envvar"] = spec.env
        if spec.metavar:
            extra["metavar"] = spec.metavar
        if spec.count:
            return click.option(*names, self.name, count=True, **extra)
        if self.base_type is bool:
            return click.option(*names, self.name, is_flag=True, **extra)
        if self.repeatable:
            return click.option(*names, self.name, multiple=True, **extra)
        unset = spec.unset_by_default or self.default is None
        return click.option(
            *names,
            self.name,
            type=self.click_type(),
            default=None if unset else self.default,
            show_default=not unset,
            **extra,
        )


@functools.cache
def declarations() -> tuple[Declared, ...]:
    """Every option, in the order ``owt serve --help`` lists them."""
    hints = t.get_type_hints(ServeOptions)
    return tuple(
        Declared(f.name, hints[f.name], f.default, f.metadata["owt"])
        for f in dataclasses.fields(ServeOptions)
    )


def serve_options(command: F) -> F:
    """Give a click command every ``owt serve`` option, in declared order."""
    for declared in reversed(declarations()):
        command = declared.click_option()(command)
    return command


def options_from_cli(given: dict[str, t.Any]) -> ServeOptions:
    """:class:`ServeOptions` from what click parsed (unset: the default)."""
    values: dict[str, t.Any] = {}
    for declared in declarations():
        value = given.get(declared.name)
        if value is None:
            continue
        values[declared.name] = tuple(value) if declared.repeatable else value
    return ServeOptions(**values)


def describe_default(declared: Declared) -> str:
    """The default as the options table shows it."""
    if declared.spec.unset_by_default or declared.default in (None, ()):
        return "-"
    if declared.spec.count or declared.base_type is bool:
        return "off" if not declared.default else str(declared.default)
    return (
        f"{declared.default:g}"
        if isinstance(declared.default, float)
        else str(declared.default)
    )


_VALUE_NAMES = {int: "N", float: "NUMBER", str: "TEXT", bool: ""}


def options_document() -> str:
    """``docs/options.org``: every ``owt serve`` option, from the declaration."""
    lines = [
        "#+title: owt serve options",
        "",
        "Every option of =owt serve=, generated from its declaration in",
        "=owt/options.py= (=python -m owt.options > docs/options.org=; a test",
        "keeps this file equal to it). Each can also be set by its environment",
        "variable. Adaptors see the options the server runs with as =args=",
        "(=from owt.server import args=).",
        "",
        "| Option | Environment | Default | Meaning |",
        "|-",
    ]
    for declared in declarations():
        value = declared.spec.metavar or _VALUE_NAMES[declared.base_type]
        if declared.spec.choices:
            value = "{" + ",".join(declared.spec.choices) + "}"
        if declared.base_type is bool or declared.spec.count:
            value = ""
        shown = f"={declared.flag} {value}=".replace(" =", "=")
        if declared.spec.short:
            shown = f"={declared.spec.short}=, {shown}"
        env = f"={declared.spec.env}=" if declared.spec.env else "-"
        help_text = declared.spec.help.replace("|", "\\vert{}")
        lines.append(
            f"| {shown} | {env} | {describe_default(declared)} | {help_text} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(options_document(), end="")

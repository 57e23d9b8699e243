"""The ``owt`` command: ``owt serve``, plus the client tools.

Thin: each command turns its options into calls on the modules that do the
work. Domain errors become ``click`` errors only here.
"""

from __future__ import annotations

import typing as t

import click

import owt
from owt.cli_tools import call_command
from owt.cli_tools import encode_command
from owt.cli_tools import hash_password_command
from owt.errors import PortUnavailable
from owt.runtime import DEFAULT_ADDRESS
from owt.runtime import DEFAULT_PORT
from owt.runtime import ServeOptions


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(owt.__version__, prog_name="owt")
def main() -> None:
    """owt: one HTTP server whose endpoints are written by the caller.

    A request carries Python adaptor code and its arguments; owt runs the
    code and answers with what it returns.

    \b
    Example:
      owt serve &
      owt call http://127.0.0.1:9876/hello example/echo/echo.py name=owt
    """


@main.command("serve")
@click.option(
    "--address",
    envvar="OWT_ADDRESS",
    default=DEFAULT_ADDRESS,
    show_default=True,
    help="Address to listen on. Anything but loopback without --auth lets "
    "others run code on this machine (a warning is printed).",
)
@click.option(
    "--port",
    envvar="OWT_PORT",
    default=DEFAULT_PORT,
    show_default=True,
    type=int,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--auth",
    envvar="OWT_AUTH",
    default=None,
    metavar="USER:SHA256HEX",
    help="Require HTTP Basic auth: the username and the hex SHA-256 of the "
    "password (see 'owt hash-password').",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    envvar="OWT_ALLOW_ORIGIN",
    metavar="ORIGIN",
    help="Let web pages of ORIGIN (e.g. http://localhost:3000) call owt; "
    "repeatable; '*' allows every origin. Without it browsers on other "
    "origins are refused.",
)
@click.option(
    "--max-request-mb",
    default=32.0,
    show_default=True,
    type=float,
    envvar="OWT_MAX_REQUEST_MB",
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--max-code-kb",
    default=1024.0,
    show_default=True,
    type=float,
    envvar="OWT_MAX_CODE_KB",
    help="Largest adaptor source accepted (400 beyond).",
)
@click.option(
    "--max-kwargs-depth",
    default=64,
    show_default=True,
    type=int,
    envvar="OWT_MAX_KWARGS_DEPTH",
    help="Deepest nesting of lists and dicts accepted in the arguments (400 "
    "beyond; 0: no limit).",
)
@click.option(
    "--max-concurrency",
    default=256,
    show_default=True,
    type=click.IntRange(min=0),
    envvar="OWT_MAX_CONCURRENCY",
    help="Most adaptors running at once; beyond it requests get 503 with "
    "Retry-After instead of waiting. A stream counts until it ends. 0: no limit.",
)
@click.option(
    "--code-cache-size",
    default=256,
    show_default=True,
    type=int,
    envvar="OWT_CODE_CACHE_SIZE",
    help="How many distinct adaptors stay loaded (warm), least recently used "
    "dropped first.",
)
@click.option(
    "--cache-mb",
    default=512.0,
    show_default=True,
    type=click.FloatRange(min=0),
    envvar="OWT_CACHE_MB",
    help="Bound on the response cache (use_cache and pinned responses), in MB; "
    "least recently used entries are evicted first. 0 stores nothing.",
)
@click.option(
    "--cache-ttl",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    envvar="OWT_CACHE_TTL",
    metavar="SECONDS",
    help="Seconds a cached response lives. Default: the server's lifetime. "
    "Pins never expire.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="OWT_PROCESSES",
    metavar="N",
    help="HTTP worker processes serving requests, for deployments with many "
    "cores. Each keeps its own warm code and response cache.",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    envvar="OWT_HEADER_TIMEOUT",
    help="Seconds a client has to send a request's line and headers (from "
    "connecting, or from its previous response), and longest pause in sending "
    "a body; then the connection is closed, or the request answered 408.",
)
@click.option(
    "--hide-tracebacks",
    is_flag=True,
    envvar="OWT_HIDE_TRACEBACKS",
    help="Leave adaptor tracebacks out of error responses (still logged).",
)
@click.option(
    "--executor",
    type=click.Choice(["inline", "process"]),
    default="inline",
    show_default=True,
    envvar="OWT_EXECUTOR",
    help="Where adaptors run: 'inline' in the server's threads (fastest), or "
    "'process' in supervised worker processes (time limits, cancelling, crash "
    "isolation).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    envvar="OWT_WORKERS",
    help="Worker processes for --executor process. Default: one per "
    "--worker-env, else 1.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    envvar="OWT_TIMEOUT",
    metavar="SECONDS",
    help="With --executor process: longest an adaptor may work before its "
    "result or next chunk; past it the client gets 504 and the call is "
    "interrupted. A request's own 'timeout' field can only lower it.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    envvar="OWT_GRACE",
    metavar="SECONDS",
    help="With --executor process: how long an interrupted adaptor may take to "
    "stop before its worker is killed and replaced.",
)
@click.option(
    "--worker-env",
    "worker_env",
    multiple=True,
    envvar="OWT_WORKER_ENV",
    metavar="NAME=VALUE",
    help="Environment of one worker, in order: the first for worker 0, the "
    "next for worker 1... (e.g. CUDA_VISIBLE_DEVICES=0). Several variables "
    "for one worker: 'A=1 B=2'.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="-v logs each request's code too; -vv owt's debug output; -vvv the "
    "HTTP server's.",
)
def serve_command(**kwargs: t.Any) -> None:
    """Start the owt server (default http://127.0.0.1:9876).

    owt runs any code it is sent, with your rights: keep it on loopback, or
    use --auth. Every option can also be set by its environment variable
    (OWT_ADDRESS, OWT_PORT, OWT_AUTH...).

    \b
    Example:
      owt serve --port 9876
      curl --json '{"code": "def run(name): return f\\"Hello, {name}!\\"",
                    "kwargs": {"name": "owt"}}' http://127.0.0.1:9876/hello
    """
    from owt import server
    from owt.security import parse_auth

    kwargs["allow_origins"] = tuple(kwargs["allow_origins"])
    if kwargs["auth"]:
        try:
            parse_auth(kwargs["auth"])
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--auth") from None
    kwargs["worker_env"] = tuple(kwargs["worker_env"])
    kwargs["workers"] = kwargs["workers"] or 0
    options = ServeOptions(**kwargs)
    _check_executor_options(options)
    # Keep ``args`` in step, so adaptors and the meta example see these.
    for name, value in vars(options).items():
        setattr(server.args, name, value)
    try:
        server.main(options)
    except PortUnavailable as e:
        raise click.ClickException(str(e)) from None


def _check_executor_options(options: ServeOptions) -> None:
    """Refuse process-executor options that can't take effect."""
    from owt.workers.config import pool_config

    if options.executor != "process":
        given = [
            flag
            for flag, value in (
                ("--timeout", options.timeout),
                ("--workers", options.workers),
                ("--worker-env", options.worker_env),
            )
            if value
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} need --executor process: an adaptor running "
                "inside the server can't be stopped or given its own environment."
            )
        return
    try:
        pool_config(options)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


main.add_command(encode_command)
main.add_command(call_command)
main.add_command(hash_password_command)

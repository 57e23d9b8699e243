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
from owt.options import ServeOptions
from owt.options import options_from_cli
from owt.options import serve_options


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
@serve_options
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
    from owt.startup import use_options

    options = options_from_cli(kwargs)
    if options.auth:
        try:
            parse_auth(options.auth)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--auth") from None
    _check_executor_options(options)
    use_options(options)  # so adaptors and the meta example see these
    try:
        server.main(options)
    except PortUnavailable as e:
        raise click.ClickException(str(e)) from None


def _check_executor_options(options: ServeOptions) -> None:
    """Refuse executor options that can't take effect."""
    from owt.executors.process.config import pool_config
    from owt.executors.ray.config import slot_config

    defaults = ServeOptions()
    process_only: list[tuple[str, object]] = [
        ("--workers", options.workers),
        ("--worker-env", options.worker_env),
    ]
    ray_only: list[tuple[str, object]] = [
        ("--slots", options.slots != defaults.slots),
        ("--slot-resources", options.slot_resources != defaults.slot_resources),
        ("--ray-address", options.ray_address != defaults.ray_address),
    ]
    given = {
        "inline": [*process_only, *ray_only, ("--timeout", options.timeout)],
        "process": ray_only,
        "ray": process_only,
    }[options.executor]
    named = [flag for flag, value in given if value]
    if named:
        raise click.UsageError(
            f"{', '.join(named)} can't be used with --executor {options.executor}: "
            "--timeout needs --executor process or ray (an adaptor running inside "
            "the server can't be stopped), --workers and --worker-env need "
            "--executor process, and --slots, --slot-resources and --ray-address "
            "need --executor ray."
        )
    try:
        if options.executor == "process":
            pool_config(options)
        elif options.executor == "ray":
            slot_config(options)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


main.add_command(encode_command)
main.add_command(call_command)
main.add_command(hash_password_command)

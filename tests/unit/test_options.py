"""owt/options.py: every owt serve option declared once, and what is built
from the declaration (the command line, the environment, the docs)."""

from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from owt.options import ServeOptions
from owt.options import declarations
from owt.options import options_document
from owt.options import options_from_cli
from owt.options import serve_options


@click.command()
@serve_options
def probe(**given):
    """Prints the options owt serve would run with."""
    click.echo(repr(options_from_cli(given)))


def parsed(*argv: str, env: dict[str, str] | None = None) -> ServeOptions:
    # The session's servers get a temporary --adaptors-dir (tests/conftest.py).
    env = {"OWT_ADAPTORS_DIR": None, **(env or {})}  # type: ignore[dict-item]
    result = CliRunner().invoke(probe, list(argv), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return eval(result.output, {"ServeOptions": ServeOptions})


def test_no_flags_give_the_declared_defaults():
    assert parsed() == ServeOptions()


def test_every_field_is_an_option_of_owt_serve():
    from owt.cli import main

    flags = {o for p in main.commands["serve"].params for o in p.opts}
    for declared in declarations():
        assert declared.flag in flags, declared.name
    assert len(declarations()) == len(dataclasses.fields(ServeOptions))


def test_flags_set_their_fields():
    options = parsed(
        "--port", "0", "--allow-origin", "http://a", "--allow-origin", "http://b",
        "--cache-ttl", "2.5", "--hide-tracebacks", "-vv", "--executor", "process",
        "--worker-env", "A=1", "--workers", "2",
    )  # fmt: skip
    assert options.port == 0
    assert options.allow_origins == ("http://a", "http://b")
    assert options.cache_ttl == 2.5
    assert options.hide_tracebacks is True
    assert options.verbose == 2
    assert (options.executor, options.worker_env, options.workers) == (
        "process",
        ("A=1",),
        2,
    )


@pytest.mark.parametrize(
    "argv,complaint",
    [
        (["--executor", "dask"], "'dask' is not one of 'inline', 'process', 'ray'"),
        (["--max-concurrency", "-1"], "-1 is not in the range x>=0"),
        (["--cache-ttl", "0"], "0.0 is not in the range x>0"),
        (["--workers", "0"], "0 is not in the range x>=1"),
        (["--port", "http"], "'http' is not a valid integer"),
    ],
)
def test_bad_values_are_refused_naming_the_option(argv, complaint):
    result = CliRunner().invoke(probe, argv)
    assert result.exit_code == 2
    assert argv[0] in result.output and complaint in result.output


def test_environment_variables_set_options_like_flags():
    env = {"OWT_PORT": "9999", "OWT_ALLOW_ORIGIN": "http://a http://b"}
    options = parsed(env=env)
    assert options.port == 9999
    assert options.allow_origins == ("http://a", "http://b")


def test_from_env_reads_the_same_variables(monkeypatch):
    monkeypatch.setenv("OWT_PORT", "9999")
    monkeypatch.setenv("OWT_HIDE_TRACEBACKS", "1")
    monkeypatch.setenv("OWT_CACHE_MB", "8")
    options = ServeOptions.from_env()
    assert (options.port, options.hide_tracebacks, options.cache_mb) == (
        9999,
        True,
        8.0,
    )


def test_from_env_leaves_a_bad_value_to_owt_serve(monkeypatch):
    # Importing owt must not fail on it; owt serve reports it when it reads it.
    monkeypatch.setenv("OWT_PORT", "not-a-port")
    assert ServeOptions.from_env().port == ServeOptions().port
    result = CliRunner().invoke(probe, [], env={"OWT_PORT": "not-a-port"})
    assert result.exit_code == 2 and "not-a-port" in result.output


def test_the_document_has_one_row_per_option_with_its_default():
    rows = [line for line in options_document().splitlines() if line.startswith("| =")]
    assert len(rows) == len(declarations())
    port = next(row for row in rows if "=--port N=" in row)
    assert "=OWT_PORT=" in port and "| 9876 |" in port


def test_copy_is_independent():
    options = ServeOptions()
    copied = options.copy()
    copied.port = 1
    assert options.port == ServeOptions().port

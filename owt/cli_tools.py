"""``owt encode``, ``owt call`` and ``owt hash-password``: calling owt from a terminal.

The commands build requests with the same functions as the Python client
(:mod:`owt.client`); ``owt.cli`` registers them on the ``owt`` group.
"""

from __future__ import annotations

import collections.abc as cabc
import json
import os
import shlex
import sys
import typing as t
import urllib.parse

import click
import requests

from owt.client import DEFAULT_URL
from owt.client import AssignmentError
from owt.client import CallOptions
from owt.client import Client
from owt.client import OwtClientError
from owt.client import Registered
from owt.client import Source
from owt.client import SSEParser
from owt.client import Target
from owt.client import Upload
from owt.client import build_fields
from owt.client import build_url
from owt.client import error_from_event
from owt.client import kwargs_text
from owt.client import media_type
from owt.client import parse_assignments
from owt.client import query_fields
from owt.codec import check_url_length
from owt.errors import UrlTooLong
from owt.security import hash_password

F = t.TypeVar("F", bound=cabc.Callable[..., t.Any])

#: Above this many bytes of JSON, ``--format curl`` sends the body from a
#: here-document: one argument to a command is limited to 128 KiB on Linux.
CURL_INLINE_LIMIT = 100_000

_HEREDOC_MARK = "OWT_REQUEST_JSON"


class RequestInputError(click.BadParameter):
    """A FILE, NAME=VALUE or --kwargs argument that cannot make a request."""


def _request_arguments(func: F) -> F:
    """The arguments and options of ``encode``: FILE is opened by click."""
    return _with_request_arguments(
        func, click.argument("file", type=click.File("rb"), metavar="FILE|-")
    )


def _call_arguments(func: F) -> F:
    """The same for ``call``, where FILE is left out with ``--adaptor`` (so
    it is opened by the command, see :func:`_open_code_file`)."""
    return _with_request_arguments(
        func, click.argument("file", required=False, metavar="FILE|-")
    )


def _with_request_arguments(func: F, file_argument: cabc.Callable[[t.Any], t.Any]) -> F:
    """The arguments and options ``encode`` and ``call`` share."""
    decorators: list[cabc.Callable[[t.Any], t.Any]] = [
        file_argument,
        click.argument("assignments", nargs=-1, metavar="[NAME=VALUE]..."),
        click.option(
            "--kwargs",
            "kwargs_expr",
            metavar="EXPR",
            help="All arguments as one JSON object or Python dict expression "
            "(the server evaluates Python). NAME=VALUE pairs are added to it.",
        ),
        click.option(
            "--fn",
            "fn_name",
            metavar="NAME",
            help="Call this function of the adaptor instead of run.",
        ),
        click.option("--cache", is_flag=True, help="Let the server cache the answer."),
        click.option(
            "--cache-kwargs",
            is_flag=True,
            help="Make the arguments part of the cache key.",
        ),
        click.option(
            "--cache-key",
            metavar="KEY",
            help="Use KEY as the cache key instead of the computed one.",
        ),
        click.option(
            "--pin",
            is_flag=True,
            help="Also answer later code-less requests to this path from the cache.",
        ),
        click.option(
            "--timeout",
            type=float,
            metavar="SECONDS",
            help="How long the adaptor may run (the server caps it).",
        ),
        click.option(
            "--get/--post",
            "use_get",
            default=False,
            help="Send the fields in a GET query string, or (default) a POST "
            "JSON body.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def read_code_file(file: t.BinaryIO) -> Source:
    """Read FILE (or stdin for ``-``) as UTF-8 adaptor source."""
    name = getattr(file, "name", "-")
    data = file.read()
    try:
        return Source(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RequestInputError(
            f"{name!r} is not UTF-8 text (byte {e.start}); adaptor code must be "
            "Python source.",
            param_hint="FILE",
        ) from None


def collect_kwargs(assignments: tuple[str, ...], kwargs_expr: str | None) -> str | None:
    """The argument text for NAME=VALUE pairs and ``--kwargs``.

    A positional argument that starts with ``{`` is read as ``--kwargs``,
    so ``owt encode adaptor.py "{'prompt': 'hi'}"`` works as the spec's
    to-do list imagines it.
    """
    pairs: list[str] = []
    for item in assignments:
        if item.lstrip().startswith("{"):
            if kwargs_expr is not None:
                raise RequestInputError(
                    f"{item!r} gives the arguments a second time; use either "
                    "--kwargs or one {...} argument.",
                    param_hint="NAME=VALUE",
                )
            kwargs_expr = item
        else:
            pairs.append(item)
    try:
        return kwargs_text(kwargs_expr, parse_assignments(pairs))
    except AssignmentError as e:
        raise RequestInputError(str(e), param_hint="NAME=VALUE") from None


def is_file_assignment(item: str) -> bool:
    """Whether ``item`` is ``NAME=@PATH``: a file to send as the argument NAME."""
    name, sep, value = item.partition("=")
    return bool(sep and name.strip() and value.startswith("@"))


def split_file_assignments(
    assignments: cabc.Iterable[str],
) -> tuple[tuple[str, ...], list[tuple[str, Upload]]]:
    """``NAME=@PATH`` items read as files (with a content type guessed from
    the name), and the other items as they are."""
    pairs: list[str] = []
    files: list[tuple[str, Upload]] = []
    for item in assignments:
        if not is_file_assignment(item):
            pairs.append(item)
            continue
        name, _, value = item.partition("=")
        path = value[1:]
        try:
            files.append((name.strip(), Upload.from_path(path)))
        except OSError as e:
            raise RequestInputError(
                f"{item!r}: cannot read the file {path!r} ({e.strerror or e}). "
                "A value starting with @ names a file to send; to send the "
                f"text itself, quote it as JSON: {name.strip()}='\"{value}\"'.",
                param_hint="NAME=VALUE",
            ) from None
    return tuple(pairs), files


def _options(
    fn_name: str | None,
    cache: bool,
    cache_kwargs: bool,
    cache_key: str | None,
    pin: bool,
    timeout: float | None,
) -> CallOptions:
    return CallOptions(
        fn_name=fn_name,
        use_cache=cache,
        cache_kwargs=cache_kwargs,
        cache_key_override=cache_key,
        pin=pin,
        timeout=timeout,
    )


def curl_command(
    url: str, fields: dict[str, t.Any], *, get: bool = False, auth: str | None = None
) -> str:
    """A curl command line, quoted for a POSIX shell, that sends ``fields``.

    :raises UrlTooLong: with ``get=True``, when the URL is too long to send.
    """
    words = ["curl", "-sS", "-N"]
    if auth:
        words += ["-u", auth]
    if get:
        check_url_length(build_url(url, fields))
        words.append("-G")
        for name, value in query_fields(fields).items():
            words += ["--data-urlencode", f"{name}={value}"]
        return _join([*words, url])
    body = json.dumps(fields)
    words += ["-H", "Content-Type: application/json"]
    if len(body) <= CURL_INLINE_LIMIT:
        return _join([*words, "--data-binary", body, url])
    command = _join([*words, "--data-binary", "@-", url])
    return f"{command} <<'{_HEREDOC_MARK}'\n{body}\n{_HEREDOC_MARK}"


def _join(words: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


ENCODE_HELP = """Print a ready-made request that runs FILE on an owt server.

FILE is the adaptor source (- reads stdin). Each NAME=VALUE becomes an
argument of the adaptor: VALUE is read as a JSON literal when it parses
(n=3, flag=true, xs=[1,2], 'who="42"') and as a string otherwise (name=owt).

\b
Formats:
  curl   a curl command line to paste into a shell (the default)
  url    a GET URL, for a browser or an <img src=...>
  json   the POST JSON body, for curl --json or any HTTP client
  query  only the query string

\b
Examples:
  owt encode adaptor.py name=owt
  owt encode adaptor.py name=owt | sh
  owt encode adaptor.py --format url --url http://127.0.0.1:9876/hello n=3
  curl --json "$(owt encode adaptor.py --format json n=3)" 127.0.0.1:9876
"""


@click.command("encode", help=ENCODE_HELP)
@_request_arguments
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["curl", "url", "json", "query"]),
    default="curl",
    show_default=True,
    help="What to print.",
)
@click.option(
    "--url",
    default=DEFAULT_URL,
    envvar="OWT_URL",
    show_default=True,
    show_envvar=True,
    help="The server (and path) the request goes to.",
)
@click.option(
    "--auth",
    metavar="USER[:PASSWORD]",
    help="Add curl's -u option (curl asks for a password left out).",
)
def encode_command(
    file: t.BinaryIO,
    assignments: tuple[str, ...],
    kwargs_expr: str | None,
    fn_name: str | None,
    cache: bool,
    cache_kwargs: bool,
    cache_key: str | None,
    pin: bool,
    timeout: float | None,
    use_get: bool,
    output_format: str,
    url: str,
    auth: str | None,
) -> None:
    """Print a ready-made request (see ENCODE_HELP)."""
    for item in assignments:
        if is_file_assignment(item):
            name, _, value = item.partition("=")
            raise RequestInputError(
                f"{item!r} is a file, and owt encode prints requests without "
                "files: send it with owt call (or curl -F). To send the text "
                f"itself, quote it as JSON: {name}='\"{value}\"'.",
                param_hint="NAME=VALUE",
            )
    source = read_code_file(file)
    options = _options(fn_name, cache, cache_kwargs, cache_key, pin, timeout)
    kwargs = collect_kwargs(assignments, kwargs_expr)
    fields = build_fields(source.text, kwargs, options)
    try:
        if output_format == "json":
            click.echo(json.dumps(fields))
        elif output_format == "url":
            click.echo(check_url_length(build_url(url, fields)))
        elif output_format == "query":
            click.echo(urllib.parse.urlencode(query_fields(fields)))
        else:
            click.echo(curl_command(url, fields, get=use_get, auth=auth))
    except UrlTooLong as e:
        raise click.ClickException(e.message) from None


CALL_HELP = """Run FILE on the owt server at URL and write the answer to stdout.

The answer is written as it arrives, so a stream stays a stream, and
bytes are written as they are (redirect them to a file). NAME=VALUE
arguments work as in `owt encode`; NAME=@PATH sends the file at PATH as
the argument NAME (a multipart POST; quote a text starting with @ as
JSON: 'who="@me"'). --adaptor NAME calls an adaptor registered on the
server instead of FILE. The code's SHA-256 goes first and the code only
when the server doesn't hold it (--no-hash sends the code each time).
When the server answers with an error, its message and the adaptor's
traceback go to stderr and the exit status is 1.

\b
Examples:
  owt call http://127.0.0.1:9876 adaptor.py name=owt
  echo 'def run(): return "hi"' | owt call http://127.0.0.1:9876 -
  owt call http://127.0.0.1:9876/tts.wav tts.py text=Hello > hello.wav
  owt call http://127.0.0.1:9876 thumb.py image=@photo.jpg > thumb.png
  owt call http://127.0.0.1:9876 --adaptor thumb image=@photo.jpg > thumb.png
  owt call --auth me http://127.0.0.1:9876 adaptor.py   # asks for the password
"""


@click.command("call", help=CALL_HELP)
@click.argument("url")
@_call_arguments
@click.option(
    "--adaptor",
    metavar="NAME",
    help="Call the adaptor registered on the server as NAME (give no FILE).",
)
@click.option(
    "--hash/--no-hash",
    "send_hash",
    default=True,
    help="Send the code's SHA-256 first and the code only when the server "
    "asks for it (the default), or the code every time.",
)
@click.option(
    "--auth",
    metavar="USER[:PASSWORD]",
    envvar="OWT_CALL_AUTH",
    show_envvar=True,
    help="Basic-auth credentials; the password is asked for if left out.",
)
def call_command(
    url: str,
    file: str | None,
    assignments: tuple[str, ...],
    kwargs_expr: str | None,
    fn_name: str | None,
    cache: bool,
    cache_kwargs: bool,
    cache_key: str | None,
    pin: bool,
    timeout: float | None,
    use_get: bool,
    adaptor: str | None,
    send_hash: bool,
    auth: str | None,
) -> None:
    """Send the request and stream the answer (see CALL_HELP)."""
    target: Target
    if adaptor is not None:
        if file is not None:
            if "=" not in file and not file.lstrip().startswith("{"):
                raise click.UsageError(
                    f"--adaptor {adaptor} calls a registered adaptor: give no "
                    f"FILE ({file!r}), only NAME=VALUE arguments."
                )
            assignments = (file, *assignments)
        target = Registered(adaptor)
    elif file is None:
        raise click.UsageError("give the adaptor's FILE (- for stdin), or --adaptor.")
    else:
        target = read_code_file(_open_code_file(file))
    pairs, files = split_file_assignments(assignments)
    if files and use_get:
        raise click.UsageError(
            f"{files[0][0]!r} is a file, which only a POST can carry: drop --get."
        )
    kwargs = collect_kwargs(pairs, kwargs_expr)
    options = _options(fn_name, cache, cache_kwargs, cache_key, pin, timeout)
    if auth is not None and ":" not in auth:
        auth = auth + ":" + click.prompt(f"Password for {auth}", hide_input=True)
    client = Client(url, auth, options=options, send_hash=send_hash)
    try:
        response = client.send(
            target,
            kwargs,
            method="GET" if use_get else "POST",
            stream=True,
            files=files,
        )
    except OwtClientError as e:
        _fail(e.describe())
    except UrlTooLong as e:
        _fail(f"owt: {e.message}")
    except requests.RequestException as e:
        _fail(f"owt: could not reach {url}: {e}")
    _copy_to_stdout(response)


def _open_code_file(file: str) -> t.BinaryIO:
    """FILE opened as click opens it for ``encode`` (``-`` is stdin)."""
    context = click.get_current_context()
    param = next(p for p in context.command.params if p.name == "file")
    return t.cast(t.BinaryIO, click.File("rb").convert(file, param, context))


def _copy_to_stdout(response: requests.Response) -> None:
    """Write the body as it arrives; report an SSE ``error`` event or a cut stream."""
    out = sys.stdout.buffer
    parser = SSEParser() if media_type(response)[0] == "text/event-stream" else None
    error: OwtClientError | None = None
    with response:
        try:
            for chunk in response.iter_content(chunk_size=None):
                if not chunk:
                    continue
                out.write(chunk)
                out.flush()
                for event in parser.feed(chunk) if parser else ():
                    error = error or error_from_event(event, response.status_code)
        except BrokenPipeError:
            _silence_stdout()
            return
        except requests.RequestException as e:
            _fail(f"owt: the answer broke off: {e}")
    if error is not None:
        _fail(error.describe())


def _silence_stdout() -> None:
    # The reader went away (`owt call ... | head`): stop quietly, and keep
    # Python from failing again when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _fail(message: str) -> t.NoReturn:
    click.echo(message, err=True)
    raise SystemExit(1)


HASH_HELP = """Print the USERNAME:SHA256 value that `owt serve --auth` takes.

The password is asked for (twice) at a terminal, or read from the first
line of stdin otherwise. Only the hash is printed: keep the password to
give to clients.

\b
Examples:
  owt hash-password me
  owt serve --auth "$(owt hash-password me)"
  printf '%s\\n' "$PASSWORD" | owt hash-password me
"""


@click.command("hash-password", help=HASH_HELP)
@click.argument("username", required=False)
def hash_password_command(username: str | None) -> None:
    """Print ``username:sha256hex(password)`` (see HASH_HELP)."""
    interactive = _stdin_is_tty()
    if username is None:
        if not interactive:
            raise click.UsageError("give USERNAME when the password comes from stdin.")
        username = str(click.prompt("Username"))
    if not username or ":" in username:
        raise click.BadParameter(
            f"{username!r} cannot be a basic-auth user name (it must be "
            "non-empty and have no colon).",
            param_hint="USERNAME",
        )
    if interactive:
        password = str(
            click.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("the password is empty.")
    click.echo(f"{username}:{hash_password(password)}")


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False

"""Log lines that text from a request can't forge.

Adaptor error messages, tracebacks and paths come from callers. A message
holding ``"\\n2026-01-01 00:00:00,000 INFO GET /x status=200"`` must not read
as a second log line: :class:`OneRecordFormatter` indents every line after a
record's first and escapes other control characters, so each record starts
exactly one line at the left margin.
"""

from __future__ import annotations

import logging

#: Put before each continuation line of a record.
CONTINUATION = "    | "


def printable(text: str) -> str:
    """``text`` with every control character (line breaks too) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _escape_line(line: str) -> str:
    return (
        line
        if line.isprintable()
        else "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)
    )


class OneRecordFormatter(logging.Formatter):
    """A formatter whose output starts a line only once per record."""

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then indent continuation lines and escape the rest."""
        text = super().format(record)
        lines = text.replace("\r\n", "\n").split("\n")
        first, rest = _escape_line(lines[0]), [_escape_line(x) for x in lines[1:]]
        return "\n".join([first, *(CONTINUATION + line for line in rest)])


def configure(level: int, fmt: str) -> None:
    """Send the root logger's records to stderr through the safe formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneRecordFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def configure_logging(verbose: int, prefix: str = "") -> None:
    """One line per request at the default level; more with ``-vv``/``-vvv``.

    ``prefix`` goes before each message (a worker process names itself).
    """
    level = logging.DEBUG if verbose >= 2 else logging.INFO
    configure(level, f"%(asctime)s %(levelname)s {prefix}%(message)s")
    logging.getLogger("werkzeug").setLevel(
        logging.DEBUG if verbose >= 3 else logging.WARNING
    )

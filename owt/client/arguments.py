"""Arguments as ``owt call`` takes them: ``NAME=VALUE`` items and ``--kwargs`` text.

:func:`parse_assignments` reads ``NAME=VALUE`` items (each value JSON when it
parses, else a string); :func:`kwargs_text` combines them with a ``--kwargs``
expression into the text sent as ``kwargs_b64``.
"""

from __future__ import annotations

import collections.abc as cabc
import json
import math
import typing as t

from owt.errors import AssignmentError


def parse_value(text: str) -> t.Any:
    """Read a command-line value: a JSON literal when it parses, else the string.

    ``3`` is an int, ``true`` a bool, ``[1,2]`` a list, ``"3"`` the string
    ``3``; ``hello`` (not JSON) stays the string ``hello``. ``NaN`` and
    ``Infinity`` stay strings, as JSON proper has no such numbers.
    """

    def refuse(name: str) -> t.NoReturn:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        return text


def parse_assignment(item: str) -> tuple[str, t.Any]:
    """Split ``NAME=VALUE`` at the first ``=`` and read VALUE with :func:`parse_value`.

    :raises AssignmentError: when there is no ``=`` or the name is empty.
    """
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise AssignmentError(
            f"expected NAME=VALUE, got {item!r} (for example n=3 or name=owt)."
        )
    return name.strip(), parse_value(value)


def parse_assignments(items: cabc.Iterable[str]) -> dict[str, t.Any]:
    """Read ``NAME=VALUE`` items into a dict; a later name wins."""
    return dict(parse_assignment(item) for item in items)


def kwargs_text(expr: str | None, assigned: dict[str, t.Any]) -> str | None:
    """Combine a ``--kwargs`` expression with ``NAME=VALUE`` arguments.

    Returns the text to send as ``kwargs_b64`` (JSON when possible), or
    ``None`` when there are no arguments at all. A Python expression that
    is not JSON is left for the server to evaluate; assignments are merged
    into it with ``{**(expr), 'name': value}`` so the server still does the
    evaluating.
    """
    if expr is None or not expr.strip():
        return json.dumps(assigned, ensure_ascii=False) if assigned else None
    try:
        parsed = json.loads(expr)
    except ValueError:
        parsed = None
    else:
        if not assigned:
            return expr
        if isinstance(parsed, dict):
            return json.dumps({**parsed, **assigned}, ensure_ascii=False)
    if not assigned:
        return expr
    return "{**(" + expr.strip() + "), " + _python_dict_items(assigned) + "}"


def _python_dict_items(values: dict[str, t.Any]) -> str:
    for value in values.values():
        _check_finite(value)
    return ", ".join(f"{key!r}: {value!r}" for key, value in values.items())


def _check_finite(value: t.Any) -> None:
    # repr(float('inf')) is not a Python literal; parse_value never makes one.
    if isinstance(value, float) and not math.isfinite(value):
        raise AssignmentError(f"{value!r} cannot be sent as a Python literal.")
    if isinstance(value, list):
        for item in value:
            _check_finite(item)
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)

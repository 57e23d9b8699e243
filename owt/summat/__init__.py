"""owt.summat: composable pipe blocks for writing adaptors in a line.

(Placeholder: the full library lands with the summat issue.)
"""

from __future__ import annotations

import typing as t

__all__: list[str] = []

#: Names that start a pipe in the terse form (``path().f(...)``), including
#: those that would shadow builtins (``open``, ``map``...). Only used when
#: evaluating a one-expression adaptor, never injected into module code.
STARTERS: dict[str, t.Callable[..., t.Any]] = {}

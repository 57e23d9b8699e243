"""owt: serve owt yer fancy on t'fly.

One HTTP server whose endpoints are written by the caller: a request carries
Python adaptor code and its arguments, owt runs it and returns the result.

``from owt import *`` gives the pipe builder and the summat blocks.
"""

from __future__ import annotations

from owt.summat import *  # noqa: F403
from owt.summat import __all__ as _summat_all

__version__ = "0.2.0"

__all__ = [*_summat_all]

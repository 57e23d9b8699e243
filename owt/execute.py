"""Load adaptor code into a module of its own and call its entrypoint.

No Flask here: the caller passes the request object in. Loading compiles the
source under a real file name (so tracebacks show adaptor lines), runs its top
level once in a fresh module namespace, and keeps the result warm in a bounded
:class:`CodeCache` keyed by the source's SHA-256. A model loaded at the top
level of an adaptor is therefore loaded once and reused by later requests.

Three forms of code are accepted:

1. a module that defines ``run`` (or the requested ``fn_name``);
2. a single expression evaluating to a callable or a pipe;
3. a terse pipe chain with its leading ``pipe()`` left out, such as
   ``path().f(lambda p: p[0])``.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc as cabc
import dataclasses
import functools
import hashlib
import inspect
import linecache
import os
import sys
import threading
import traceback
import types
import typing as t

import cachetools

from owt import summat
from owt.errors import AdaptorError
from owt.errors import AdaptorSyntaxError
from owt.errors import ArgumentsMismatch
from owt.errors import BadRequest
from owt.errors import EntrypointNotFound

_OWT_DIR = os.path.dirname(os.path.abspath(__file__))


def code_digest(source: str) -> str:
    """The SHA-256 hex digest that names a piece of adaptor code."""
    if len(source) <= _REMEMBERED_DIGEST_CHARS:
        return _remembered_digest(source)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


#: Digests of sources up to this long are remembered: the same adaptor is
#: sent again and again.
_REMEMBERED_DIGEST_CHARS = 16 * 1024


@functools.lru_cache(maxsize=256)
def _remembered_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class CallPlan:
    """How to call one entrypoint, worked out once per adaptor and name."""

    function: cabc.Callable[..., t.Any]
    #: Name of a leading positional parameter that receives the request
    #: when the kwargs don't fill it (``def run(request, **kwargs)``).
    request_param: str | None
    #: Whether a non-dict input can be passed as ``__last__=value``.
    takes_last_keyword: bool
    #: The keyword names it takes, or None when it takes any (``**kwargs``,
    #: or a signature that can't be read).
    keywords: frozenset[str] | None = None

    def takes(self, name: str) -> bool:
        """Whether ``name`` can be passed to it as a keyword argument."""
        return self.keywords is None or name in self.keywords


class Adaptor:
    """One loaded piece of adaptor code: its module and entrypoints."""

    def __init__(self, digest: str, module: types.ModuleType, seeds: dict[str, t.Any]):
        self.digest = digest
        self.module = module
        self._seeds = seeds
        self._plans: dict[str, CallPlan] = {}

    @property
    def filename(self) -> str:
        return self.module.__file__ or "<adaptor>"

    def plan(self, fn_name: str) -> CallPlan:
        """The call plan for ``fn_name``, which the adaptor itself must define.

        :raises EntrypointNotFound: if there is no such function of the
            adaptor's own (owt's seeded names and dunders don't count).
        """
        plan = self._plans.get(fn_name)
        if plan is None:
            plan = self._plans[fn_name] = self._make_plan(fn_name)
        return plan

    def _make_plan(self, fn_name: str) -> CallPlan:
        namespace = vars(self.module)
        target = namespace.get(fn_name, None)
        own = (
            fn_name in namespace
            and not fn_name.startswith("__")
            and self._seeds.get(fn_name, _MISSING) is not target
            and not is_owt_internal(target)
        )
        if not own or not callable(target):
            defined = sorted(
                name
                for name, value in namespace.items()
                if callable(value)
                and not name.startswith("_")
                and self._seeds.get(name, _MISSING) is not value
                and not isinstance(value, type | types.ModuleType)
                and not is_owt_internal(value)
            )
            hint = (
                f"It defines: {', '.join(defined)}."
                if defined
                else "It defines no functions; define 'def run(...)'."
            )
            raise EntrypointNotFound(
                f"The adaptor has no function named {fn_name!r}. {hint}",
                fn_name=fn_name,
            )
        return _plan_for(target)


_MISSING = object()


def is_owt_internal(value: t.Any) -> bool:
    """Whether ``value`` is a function or class of owt's server itself.

    ``from owt.server import *`` brings ``main`` and ``create_app`` into an
    adaptor; ``fn_name=main`` must not start a second server. Ready-made
    adaptors and blocks (``owt.lib``, ``owt.summat``) stay callable.
    """
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return False
    module = getattr(value, "__module__", None) or ""
    if module.startswith(("owt.lib", "owt.summat")):
        return False
    return module == "__main__" or module == "owt" or module.startswith("owt.")


def _plan_for(function: cabc.Callable[..., t.Any]) -> CallPlan:
    # A pipe is a callable object taking ``**kwargs``: the general rule fits.
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return CallPlan(function, None, False)
    request_param = None
    if params:
        first = params[0]
        positional = (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)
        if first.kind in positional and _takes_the_request(first):
            request_param = first.name
    takes_last = any(p.kind is p.VAR_KEYWORD or p.name == "__last__" for p in params)
    keywords = None
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        by_keyword = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )
        keywords = frozenset(p.name for p in params if p.kind in by_keyword)
    return CallPlan(function, request_param, takes_last, keywords)


#: First parameter names that receive the request: ``request`` as the spec
#: writes ``run(request, **kwargs)``, and ``_`` as in its ``run(_, prompt)``.
REQUEST_PARAMETER_NAMES = frozenset({"request", "_"})


def _takes_the_request(parameter: inspect.Parameter) -> bool:
    """Whether the first parameter is the request: by its name, or annotated
    as a Flask (Werkzeug) request."""
    if parameter.name in REQUEST_PARAMETER_NAMES:
        return True
    annotation = parameter.annotation
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == "Request"
    from werkzeug.wrappers import Request

    return isinstance(annotation, type) and issubclass(annotation, Request)


def call_entrypoint(plan: CallPlan, arguments: t.Any, request: t.Any) -> t.Any:
    """Call an entrypoint with decoded arguments.

    A dict becomes keyword arguments; if the function's first positional
    parameter is left unfilled by them, it receives ``request``. Any other
    value is the pipe input: passed as ``__last__=value`` to functions that
    take it (pipes, ``**kwargs``), else as the single positional argument.
    """
    function = plan.function
    if isinstance(arguments, dict):
        if plan.request_param is not None and plan.request_param not in arguments:
            return _call_checked(function, request, **arguments)
        return _call_checked(function, **arguments)
    if plan.takes_last_keyword:
        return function(__last__=arguments)
    return function(arguments)


def _call_checked(
    function: cabc.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any
) -> t.Any:
    """Call ``function``; arguments that don't fit its signature are a 400.

    Only when the call raises ``TypeError`` is the signature consulted, so
    a ``TypeError`` from inside the function stays the adaptor's own error.
    """
    try:
        return function(*args, **kwargs)
    except TypeError as error:
        try:
            inspect.signature(function).bind(*args, **kwargs)
        except TypeError as mismatch:
            raise ArgumentsMismatch(
                f"The arguments don't fit {_name_of(function)}: {mismatch}; send "
                "them in kwargs.",
            ) from None
        except ValueError:
            pass  # no signature to check against
        raise error


def _name_of(function: t.Any) -> str:
    name = getattr(function, "__name__", None) or type(function).__name__
    return f"{name}()"


def base_globals() -> dict[str, t.Any]:
    """Names every adaptor module starts with (``from owt import *`` and more)."""
    from flask import request

    from owt.runtime import Server

    seeds: dict[str, t.Any] = {name: getattr(summat, name) for name in summat.__all__}
    seeds["request"] = request
    seeds["Server"] = Server
    return seeds


def load_adaptor(source: str, digest: str, options_copy: t.Any) -> Adaptor:
    """Compile ``source`` and run its top level in a fresh module.

    :raises AdaptorSyntaxError: if it does not compile (with line and column).
    :raises AdaptorError: if its top level raises.
    :raises BadRequest: if a one-expression adaptor is not a callable.
    """
    name = f"owt_adaptor_{digest[:12]}"
    filename = f"<adaptor {digest[:12]}>"
    tree, code = compile_adaptor(source, filename)
    _remember_source(filename, source)

    module = types.ModuleType(name)
    module.__file__ = filename
    seeds = base_globals()
    seeds["args"] = options_copy
    namespace = vars(module)
    namespace.update(seeds)
    namespace["__builtins__"] = builtins
    sys.modules[name] = module
    try:
        if _is_single_expression(tree):
            namespace["run"] = _evaluate_expression(tree, filename, namespace)
        else:
            exec(code, namespace)
    except AdaptorSyntaxError:
        forget(name, filename)
        raise
    except BadRequest:
        forget(name, filename)
        raise
    except BaseException as e:
        failure = adaptor_failure(e, "loading")  # while its lines are known
        forget(name, filename)
        raise failure from None
    return Adaptor(digest, module, seeds)


def compile_adaptor(
    source: str, filename: str = "<adaptor>"
) -> tuple[ast.Module, types.CodeType]:
    """Parse and compile ``source`` without running it.

    :raises AdaptorSyntaxError: if it does not compile (with line and column).
    """
    try:
        tree = _parse(source, filename)
        # dont_inherit: the adaptor gets only the __future__ imports it writes.
        code = compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise AdaptorSyntaxError(
            f"The adaptor code does not compile: {e.msg} (line {e.lineno}, "
            f"column {e.offset}).",
            line=e.lineno,
            column=e.offset,
            text=(e.text or "").rstrip("\n"),
        ) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise AdaptorSyntaxError(f"The adaptor code does not compile: {e}.") from None
    return tree, code


def _parse(source: str, filename: str) -> ast.Module:
    """Parse ``source``; a terse chain may go on over lines that start with ``.``.

    ``path()\n.last()`` is not Python on its own; in parentheses it is one
    expression, so that is tried when the plain parse fails on such lines.
    """
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as original:
        lines = source.strip().splitlines()
        if not any(line.lstrip().startswith(".") for line in lines[1:]):
            raise
        try:
            wrapped = ast.parse(f"({source}\n)", filename=filename)
        except SyntaxError:
            raise original from None
        if not _is_single_expression(wrapped):
            raise
        return wrapped


def _is_single_expression(tree: ast.Module) -> bool:
    return len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)


def _chain_root(node: ast.expr) -> str | None:
    """The name a call chain starts from: ``path`` in ``path().f(g)``."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _evaluate_expression(
    tree: ast.Module, filename: str, namespace: dict[str, t.Any]
) -> t.Any:
    expr = t.cast(ast.Expr, tree.body[0]).value
    code = compile(ast.Expression(expr), filename, "eval", dont_inherit=True)
    scope = namespace
    if _chain_root(expr) in summat.STARTERS:
        # The terse form: pipe methods used as starters. They may shadow
        # builtins (open, map...), so they live only in this expression.
        scope = {**namespace, **summat.STARTERS}
    value = eval(code, scope)
    if callable(value):
        return value
    raise BadRequest(
        "The adaptor is a single expression, so it must evaluate to a function "
        f"or a pipe; it evaluated to {type(value).__name__} {_short(value)!r}.",
    )


def _short(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _remember_source(filename: str, source: str) -> None:
    # Lets tracebacks and inspect.getsource show the adaptor's lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def forget(module_name: str, filename: str) -> None:
    """Drop an adaptor's module and source lines from the interpreter."""
    sys.modules.pop(module_name, None)
    linecache.cache.pop(filename, None)


def adaptor_failure(exc: BaseException, phase: str) -> AdaptorError:
    """Describe an exception raised by adaptor code, traceback included."""
    tb = exc.__traceback__
    # Skip owt's own frames above the adaptor's (a pipe's frames below stay).
    while (
        tb is not None and os.path.dirname(tb.tb_frame.f_code.co_filename) == _OWT_DIR
    ):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, SystemExit):
        message = f"the adaptor called sys.exit({exc.code!r}); owt keeps serving"
    elif isinstance(exc, KeyboardInterrupt):
        message = "the adaptor raised KeyboardInterrupt; owt keeps serving"
    return AdaptorError(
        f"{type(exc).__name__} while {phase} the adaptor: {message}",
        type=type(exc).__name__,
        traceback="".join(lines),
    )


class _EvictingCache(cachetools.LRUCache[str, Adaptor]):
    def popitem(self) -> tuple[str, Adaptor]:
        key, adaptor = super().popitem()
        forget(adaptor.module.__name__, adaptor.filename)
        return key, adaptor


class CodeCache:
    """Loaded adaptors by code digest: bounded (LRU) and thread-safe.

    Two simultaneous first requests with the same code run its top level
    once: the second waits for the first to finish loading.
    """

    def __init__(self, maxsize: int) -> None:
        self._cache = _EvictingCache(maxsize=max(1, maxsize))
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, source: str, digest: str, options_copy: t.Any) -> Adaptor:
        """The warm adaptor for ``source``, loading it on first use.

        ``options_copy`` is what the adaptor sees as ``args``, or a function
        that makes it: called only on a load, so a warm call copies nothing.
        """
        with self._lock:
            adaptor = self._cache.get(digest)
            if adaptor is not None:
                return adaptor
            load_lock = self._loading.setdefault(digest, threading.Lock())
        with load_lock:
            with self._lock:
                adaptor = self._cache.get(digest)
            if adaptor is not None:
                return adaptor
            try:
                if callable(options_copy):
                    options_copy = options_copy()
                adaptor = load_adaptor(source, digest, options_copy)
                with self._lock:
                    self._cache[digest] = adaptor
                return adaptor
            finally:
                with self._lock:
                    self._loading.pop(digest, None)

    def digests(self) -> list[str]:
        """The digests of the loaded adaptors."""
        with self._lock:
            return list(self._cache)

    def __contains__(self, digest: object) -> bool:
        with self._lock:
            return digest in self._cache

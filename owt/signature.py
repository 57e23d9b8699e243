"""Read an adaptor's entrypoint signature from its source, without running it.

The registry lists each adaptor's ``run`` signature and ``/_owt/openapi.json``
describes its parameters; both come from the syntax tree, so describing an
adaptor never executes its top level (which may load a model, or worse).
"""

from __future__ import annotations

import ast
import dataclasses
import typing as t

#: A parameter without a default.
REQUIRED: t.Final = object()


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter of an entrypoint, as written in the source."""

    name: str
    #: The annotation's source text ("" when there is none).
    annotation: str = ""
    #: The default's value when it is a literal, :data:`REQUIRED` without
    #: one, or its source text (a ``str``) in ``default_text`` otherwise.
    default: t.Any = REQUIRED
    default_text: str = ""
    #: ``positional``, ``keyword``, ``var_positional`` or ``var_keyword``.
    kind: str = "keyword"

    @property
    def required(self) -> bool:
        """Whether a call must give it."""
        return self.default is REQUIRED and self.kind in ("positional", "keyword")


@dataclasses.dataclass(frozen=True)
class Signature:
    """An entrypoint's parameters, its return annotation and its docstring."""

    name: str
    parameters: tuple[Parameter, ...]
    returns: str = ""
    doc: str = ""

    def __str__(self) -> str:
        parts = [_render(p) for p in self.parameters]
        arrow = f" -> {self.returns}" if self.returns else ""
        return f"{self.name}({', '.join(parts)}){arrow}"


def _render(parameter: Parameter) -> str:
    prefix = {"var_positional": "*", "var_keyword": "**"}.get(parameter.kind, "")
    text = prefix + parameter.name
    if parameter.annotation:
        text += f": {parameter.annotation}"
    if parameter.default is not REQUIRED:
        shown = parameter.default_text or repr(parameter.default)
        text += f" = {shown}" if parameter.annotation else f"={shown}"
    return text


def read_signature(source: str, fn_name: str = "run") -> Signature | None:
    """The signature of the top-level function ``fn_name`` in ``source``, or
    None when the source doesn't parse or defines no such function (an
    adaptor that is one expression, or builds ``run`` at run time)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == fn_name:
                found = node  # the last definition wins, as when it runs
    if found is None:
        return None
    return Signature(
        name=found.name,
        parameters=tuple(_parameters(found.args)),
        returns=ast.unparse(found.returns) if found.returns else "",
        doc=ast.get_docstring(found) or "",
    )


def _parameters(args: ast.arguments) -> t.Iterator[Parameter]:
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults, strict=True):
        yield _parameter(arg, default, "positional")
    if args.vararg:
        yield _parameter(args.vararg, None, "var_positional")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        yield _parameter(arg, default, "keyword")
    if args.kwarg:
        yield _parameter(args.kwarg, None, "var_keyword")


def _parameter(arg: ast.arg, default: ast.expr | None, kind: str) -> Parameter:
    annotation = ast.unparse(arg.annotation) if arg.annotation else ""
    if default is None:
        return Parameter(arg.arg, annotation, kind=kind)
    text = ast.unparse(default)
    try:
        value = ast.literal_eval(default)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Parameter(arg.arg, annotation, text, text, kind)
    return Parameter(arg.arg, annotation, value, "", kind)

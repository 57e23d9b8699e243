"""Which entry a request reads and writes: the cache key and the pin."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing as t

from owt.response import NPY
from owt.response import wants_npy

if t.TYPE_CHECKING:
    from owt.request import Call


@dataclasses.dataclass(frozen=True)
class CachePlan:
    """What one request asks of the cache.

    :param key: the entry to read and write, or None without ``use_cache``.
    :param pin_path: the bare path to pin the response to, if ``pin``.
    """

    key: str | None
    pin_path: str | None = None


def plan_for(call: Call) -> CachePlan:
    """The cache plan for ``call`` (at ``call.path``).

    The key is the path, the code's digest and the entrypoint name, plus the
    decoded kwargs in canonical form when ``cache_kwargs`` is set (so key
    order does not matter). ``cache_key_override`` replaces all of that, so
    different codes or paths can share an entry on purpose.

    Either way, a request whose ``Accept`` prefers ``.npy`` to JSON (see
    :func:`owt.response.wants_npy`) adds that to the key: an array result is
    sent in the representation asked for, so a client that asks for one
    must never be answered from the other's entry.
    """
    key = None
    if call.use_cache:
        if call.cache_key_override is not None:
            material: list[t.Any] = ["override", call.cache_key_override]
        else:
            kwargs = canonical(call.arguments) if call.cache_kwargs else None
            material = ["call", call.path, call.digest, call.fn_name, kwargs]
            if call.form_key is not None:
                material.append(call.form_key)
        if call.http is not None and wants_npy(call.http.accept_mimetypes):
            material.append(NPY)
        text = json.dumps(material, separators=(",", ":"), ensure_ascii=False)
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return CachePlan(key, call.path if call.pin else None)


def canonical(value: t.Any) -> t.Any:
    """A JSON-able form of decoded kwargs that is the same for equal values.

    Dict items and set members are sorted; containers are tagged with their
    type, so a tuple and a list of the same items stay different keys.
    """
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, dict):
        items = [[canonical(k), canonical(v)] for k, v in value.items()]
        return ["dict", sorted(items, key=_sort_key)]
    if isinstance(value, list | tuple):
        return [type(value).__name__, [canonical(v) for v in value]]
    if isinstance(value, set | frozenset):
        return ["set", sorted((canonical(v) for v in value), key=_sort_key)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    return ["repr", type(value).__qualname__, repr(value)]


def _sort_key(item: t.Any) -> str:
    return json.dumps(item, separators=(",", ":"))

"""The response cache: adaptor responses kept and answered again.

A request asks for it with ``use_cache`` (and ``cache_kwargs``,
``cache_key_override``, ``pin``); see :func:`~owt.cache.keys.plan_for` for
the keys and :mod:`owt.cache.respond` for what is stored and when.

Pinned entries answer requests that carry no code at all (a browser fetching
``/favicon.ico``). They are never evicted and never expire.

Entries live in a store: this process's memory by default
(:mod:`owt.cache.memory`), or Redis, shared by every front end, with
``--cache-url`` (:mod:`owt.cache.redis_store`).

Usage::

    cache = ResponseCache(max_bytes=512 * MB, ttl=None)
    answer = cache.respond(call, executor.run)  # answer.response, answer.state
"""

from owt.cache.entry import CACHE_HEADER
from owt.cache.entry import ENTRY_OVERHEAD
from owt.cache.entry import MB
from owt.cache.entry import CachedResponse
from owt.cache.entry import CacheState
from owt.cache.entry import StreamEnd
from owt.cache.entry import storable_headers
from owt.cache.keys import CachePlan
from owt.cache.keys import canonical
from owt.cache.keys import plan_for
from owt.cache.memory import MemoryStore
from owt.cache.respond import Answer
from owt.cache.respond import ResponseCache
from owt.cache.respond import Runner
from owt.cache.respond import StreamRecorder
from owt.cache.respond import StreamWatcher

__all__ = [
    "CACHE_HEADER",
    "ENTRY_OVERHEAD",
    "MB",
    "Answer",
    "CachePlan",
    "CacheState",
    "CachedResponse",
    "MemoryStore",
    "ResponseCache",
    "Runner",
    "StreamEnd",
    "StreamRecorder",
    "StreamWatcher",
    "canonical",
    "plan_for",
    "storable_headers",
]

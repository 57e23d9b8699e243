"""The collaborators one owt app is built with, kept in ``app.extensions``."""

from __future__ import annotations

import dataclasses
import time
import typing as t

from flask import Flask
from flask import current_app

from owt.cache import MB
from owt.cache import MemoryStore
from owt.cache import ResponseCache
from owt.cache.store import CacheStore
from owt.executors import Executor
from owt.executors import create_executor
from owt.limits import ConcurrencyLimit
from owt.options import ServeOptions
from owt.security import AccessPolicy
from owt.security import is_loopback

EXTENSION_KEY = "owt"


@dataclasses.dataclass
class Owt:
    """What the routes and hooks need: options, checks, cache and executor."""

    options: ServeOptions
    policy: AccessPolicy
    cache: ResponseCache
    executor: Executor
    #: ``--max-concurrency`` across the server (inline) or none (each
    #: process-executor worker bounds its own).
    running: ConcurrencyLimit
    started: float = dataclasses.field(default_factory=time.time)

    @classmethod
    def from_options(cls, options: ServeOptions) -> Owt:
        """Build every collaborator from the server's options."""
        in_front = options.executor != "process"
        return cls(
            options=options,
            policy=AccessPolicy(
                options.auth, options.allow_origins, is_loopback(options.address)
            ),
            cache=ResponseCache(store=create_store(options)),
            executor=create_executor(options),
            running=ConcurrencyLimit(options.max_concurrency if in_front else 0),
        )

    @property
    def max_code_bytes(self) -> int:
        """``--max-code-kb`` in bytes."""
        return int(self.options.max_code_kb * 1024)

    def install(self, app: Flask) -> None:
        """Make this the collaborators of ``app``."""
        app.extensions[EXTENSION_KEY] = self


def create_store(options: ServeOptions) -> CacheStore:
    """The response cache's store: Redis with ``--cache-url``, else memory."""
    max_bytes = int(options.cache_mb * MB)
    if options.cache_url:
        from owt.cache.redis_store import RedisStore

        return RedisStore(options.cache_url, max_bytes, options.cache_ttl)
    return MemoryStore(max_bytes, options.cache_ttl)


def current_owt() -> Owt:
    """The collaborators of the app handling the current request."""
    return t.cast(Owt, current_app.extensions[EXTENSION_KEY])

"""The collaborators one owt app is built with, kept in ``app.extensions``."""

from __future__ import annotations

import dataclasses
import time
import typing as t
from pathlib import Path

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
from owt.registry import AdaptorRegistry
from owt.registry import KnownCode
from owt.registry import default_adaptors_dir
from owt.security import AccessPolicy
from owt.security import is_loopback

EXTENSION_KEY = "owt"
#: How much recently sent code is kept for calls by ``code_sha256``: at most
#: this many bytes, and four times ``--code-cache-size`` adaptors (at least
#: :data:`KNOWN_CODE_LEAST`).
KNOWN_CODE_BYTES = 64 * MB
KNOWN_CODE_LEAST = 1024


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
    #: Named adaptors (``PUT /_owt/adaptors/NAME``).
    registry: AdaptorRegistry
    #: Code this server was sent, by digest, for ``code_sha256`` calls.
    known_code: KnownCode
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
            registry=AdaptorRegistry(
                Path(options.adaptors_dir or default_adaptors_dir())
            ),
            known_code=KnownCode(
                KNOWN_CODE_BYTES, max(4 * options.code_cache_size, KNOWN_CODE_LEAST)
            ),
        )

    @property
    def max_code_bytes(self) -> int:
        """``--max-code-kb`` in bytes."""
        return int(self.options.max_code_kb * 1024)

    def by_digest(self, digest: str) -> str | None:
        """Code this server holds with SHA-256 ``digest`` (sent recently, or
        registered), for a ``code_sha256`` call."""
        source = self.known_code.get(digest)
        if source is None:
            source = self.registry.source_with_digest(digest)
        return source

    def by_name(self, name: str) -> str:
        """The code registered as ``name``, for an ``adaptor`` call.

        :raises UnknownAdaptor: when there is none.
        """
        return self.registry.get(name).source

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

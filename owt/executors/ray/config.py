"""The Ray executor's settings, read from the server's options."""

from __future__ import annotations

import dataclasses
import json
import socket
import typing as t

if t.TYPE_CHECKING:
    from owt.options import ServeOptions

#: The Ray namespace owt's slots are named in (``owt-slot-0``...).
NAMESPACE = "owt"
#: Actor options owt sets itself; --slot-resources may not.
_RESERVED = frozenset(
    {"name", "namespace", "lifetime", "max_restarts", "max_task_retries"}
)
#: What --slot-resources may set (Ray's resource options of an actor).
_RESOURCE_KEYS = frozenset(
    {"num_cpus", "num_gpus", "memory", "resources", "accelerator_type"}
)


@dataclasses.dataclass(frozen=True)
class SlotConfig:
    """What the Ray executor needs to know, checked once at start."""

    address: str
    slots: int
    resources: dict[str, t.Any]
    timeout: float | None
    grace: float


def slot_config(options: ServeOptions) -> SlotConfig:
    """Read the Ray executor's settings from ``options``.

    :raises ValueError: for a bad ``--slot-resources`` or ``--slots``.
    """
    try:
        resources = json.loads(options.slot_resources or "{}")
    except ValueError as e:
        raise ValueError(f"--slot-resources must be a JSON object: {e}.") from None
    if not isinstance(resources, dict):
        raise ValueError(
            '--slot-resources must be a JSON object, e.g. {"num_gpus": 1}.'
        )
    unknown = sorted(set(resources) - _RESOURCE_KEYS)
    if unknown:
        raise ValueError(
            f"--slot-resources can't set {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(_RESOURCE_KEYS))}."
        )
    if options.slots < 1:
        raise ValueError("--slots must be at least 1.")
    check_reachable(options.ray_address)
    return SlotConfig(
        address=options.ray_address,
        slots=options.slots,
        # A slot waits for work most of the time: it reserves no CPU unless
        # told to, so N slots fit on any cluster.
        resources={"num_cpus": 0, **resources},
        timeout=options.timeout,
        grace=options.grace,
    )


def check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` nothing answers on (Ray itself would retry for
    minutes); ``auto`` is Ray's to find.

    :raises ValueError: naming the address.
    """
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return
    except ValueError:
        raise ValueError(
            f"--ray-address must be HOST:PORT (or auto), not {address!r}."
        ) from None
    except OSError as e:
        raise ValueError(
            f"No Ray cluster answers at {address} ({e.strerror or e}); start its "
            "head first (ray start --head ...)."
        ) from None

"""How the browser tests start Debian's Chromium under Playwright.

Playwright's own browser download can't work on these machines, so every
browser test drives ``/usr/bin/chromium`` (installed by scripts/test-all.sh)
with the flags that keep it from reaching for the network at start.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_args(*extra: str) -> list[str]:
    """The standard flags, plus those a test needs."""
    return [*CHROMIUM_FLAGS, *extra]

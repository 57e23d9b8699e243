"""Stand-in for Suno's bark package (tests only; see ../README.md)."""

import json
import os

STANDIN = True


def log_call(name, **details):
    path = os.environ.get("BARK_STANDIN_LOG")
    if path:
        with open(path, "a") as log:
            log.write(json.dumps({"fn": name, **details}) + "\n")

# example/favicon/favicon.py: the site's icon, for owt to pin at /favicon.ico
import pathlib


def run():
    icon = pathlib.Path("example/favicon/favicon.png").read_bytes()
    return icon, {"Content-Type": "image/png"}

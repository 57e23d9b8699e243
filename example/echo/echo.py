# example/echo/echo.py: greet someone, and say which owt server answered.

from owt.server import Server


def run(name=None):
    here = Server.sing()
    return f"Hello, {name}, from {here.address}:{here.port}!"

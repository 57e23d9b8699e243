# owt/playground/examples/echo.py: the arguments back, and how they came

from flask import Request


def run(request: Request, **kwargs: object) -> dict[str, object]:
    return {"kwargs": kwargs, "method": request.method, "path": request.path}

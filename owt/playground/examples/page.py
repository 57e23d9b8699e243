# owt/playground/examples/page.py: a returned str is sent as text/html

import html


def run(title: str = "Shopping", items: list[str] | None = None) -> str:
    entries = "".join(f"<li>{html.escape(item)}</li>" for item in items or [])
    return f"<h1>{html.escape(title)}</h1><ul>{entries}</ul>"

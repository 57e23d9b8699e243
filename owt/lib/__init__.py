"""Ready-made adaptors and the helpers adaptors import.

Each adaptor module here (``bark``, ``espeak``, ``embed``) is also a file you
can send as ``code_b64``: its ``run`` is the entrypoint. See ``README.md``.
"""

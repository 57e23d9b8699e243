"""Supervised worker processes for adaptor code (``--executor process``).

- :mod:`.supervisor`: the process executor (routing, time limits,
  cancelling), in the HTTP front.
- :mod:`.slot`: one worker process, restarted when it dies.
- :mod:`.worker`: the worker process itself.
- :mod:`.protocol`: the messages between them.
- :mod:`.environ`: the HTTP request carried into a worker.
- :mod:`.config`: the pool's settings, read from the server's options.
"""

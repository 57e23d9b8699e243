"""Supervised worker processes for adaptor code (``--executor process``).

- :mod:`owt.workers.executor`: the executor seam the server uses.
- :mod:`owt.workers.supervisor`: the process executor (routing, time
  limits, cancelling, the response cache in front).
- :mod:`owt.workers.slot`: one worker process, restarted when it dies.
- :mod:`owt.workers.worker`: the worker process itself.
- :mod:`owt.workers.protocol`: the messages between them.
- :mod:`owt.workers.environ`: the HTTP request carried into a worker.
"""

"""The Ray executor (``--executor ray``): adaptors on the slots of a Ray cluster.

- :mod:`.executor`: in the HTTP front: routing to slots, time limits,
  cancelling, crashed slots;
- :mod:`.slot`: the Ray actor that runs adaptor code, one call at a time;
- :mod:`.config`: its settings, read from the server's options.
"""

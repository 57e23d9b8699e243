"""owt's routes: the adaptor blueprint (every path) and the admin blueprint
(``/_owt/*``)."""

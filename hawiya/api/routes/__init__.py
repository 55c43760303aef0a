"""One router per service; :mod:`hawiya.api.app` registers them from ``ROUTERS``."""

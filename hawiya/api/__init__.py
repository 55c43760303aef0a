"""REST API (FastAPI): thin routers over the service functions, auth on every route."""

"""Bounded requests and hardened responses, as two pure ASGI middlewares.

:class:`BodyLimit` refuses a request body over its limit with 413 while the body streams in:
a declared ``Content-Length`` over the limit is answered before a byte of the body is read,
and a body without one (chunked) is counted as it arrives and cut off at the first chunk
past the limit, so an oversized body is never held in memory. The limits are 1 MiB for
JSON and form bodies and 64 MiB for ``multipart/form-data`` (the uploads themselves are
bounded one by one by :data:`hawiya.imaging.MAX_FILE_BYTES`); the settings' ``api`` section
sets others (``api.max_body_bytes``, ``api.max_multipart_bytes``).

:class:`SecurityHeaders` adds the security headers to every answer. The content security
policy is ``default-src 'self'`` except on the interactive documentation (``/docs`` and
``/redoc``), whose pages load Swagger UI and ReDoc from a CDN and run an inline script.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
MAX_MULTIPART_BYTES = 64 * 1024 * 1024
def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 ``too_large`` for a request body over the limit of its kind, checked on the
    declared length first and then on the bytes as they stream in."""

    def __init__(self, app: ASGIApp, max_body_bytes: int | None = None,
                 max_multipart_bytes: int | None = None) -> None:
        self.app = app
        self.max_body = max_body_bytes or MAX_BODY_BYTES
        self.max_multipart = max_multipart_bytes or MAX_MULTIPART_BYTES

    def limit_for(self, scope: Scope) -> int:
        ctype = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        return self.max_multipart if ctype == b"multipart/form-data" else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server refuses a malformed length itself
            if too_large:
                await self._refuse(send, limit)
                return

        received = 0
        exceeded = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:  # the app asks again after the refusal: the request is over
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:  # whatever the app made of the cut-off body,
                return                        # the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = json.dumps({"error": "too_large",
                           "message": f"request body too large: limit {limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
# Swagger UI and ReDoc as FastAPI serves them: scripts and styles from jsDelivr, an inline
# start-up script, ReDoc's fonts from Google and its web worker from a blob, the favicon.
DOCS_CSP = ("default-src 'self'; "
            "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
            "https://fonts.googleapis.com; "
            "font-src 'self' data: https://fonts.gstatic.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000; includeSubDomains"


def _is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)


def _over_https(scope: Scope) -> bool:
    """The request came over https: directly, or as a trusted proxy says (uvicorn's
    ``--proxy-headers`` rewrites the scheme from ``X-Forwarded-Proto`` for trusted hosts)."""
    return scope.get("scheme") in ("https", "wss")


class SecurityHeaders:
    """Content-Security-Policy, X-Frame-Options, Referrer-Policy, X-Content-Type-Options on
    every answer, and Strict-Transport-Security on answers over https."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"content-security-policy",
                  (DOCS_CSP if _is_docs(scope.get("path", "")) else CSP).encode()),
                 (b"x-frame-options", b"DENY"),
                 (b"referrer-policy", b"no-referrer"),
                 (b"x-content-type-options", b"nosniff")]
        if _over_https(scope):
            extra.append((b"strict-transport-security", HSTS.encode()))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ())
                           if k.lower() not in names]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)

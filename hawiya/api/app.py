"""FastAPI application factory: routers, error mapping, platform lifecycle."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hawiya import __version__
from hawiya.api.limits import BodyLimit, SecurityHeaders
from hawiya.api.refusals import audit_refusal
from hawiya.api.routes import (
    adjudication,
    audit,
    auth,
    documents,
    elections,
    identity,
    sightings,
    vehicles,
    watchlist,
)
from hawiya.app import build_platform
from hawiya.errors import HawiyaError
from hawiya.platform import Platform

# One router per service, in the order of the OpenAPI document: a new service is one line.
ROUTERS = (
    auth.router,
    identity.router,
    adjudication.router,
    documents.router,
    watchlist.router,
    elections.router,
    vehicles.router,
    sightings.router,
    audit.router,
)


def create_app(platform: Platform | None = None) -> FastAPI:
    platform = platform or build_platform()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if platform.galleries is not None:
            platform.galleries.save_all()

    app = FastAPI(title="Hawiya", version=__version__, lifespan=lifespan,
                  description="National biometric identity platform. Log in at POST "
                              "/auth/token, then send `Authorization: Bearer <token>`.")
    app.state.platform = platform
    # Outermost last: the security headers also go on the body limit's 413.
    app.add_middleware(BodyLimit, max_body_bytes=platform.settings.api.max_body_bytes,
                       max_multipart_bytes=platform.settings.api.max_multipart_bytes)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(HawiyaError)
    async def hawiya_error(request: Request, exc: HawiyaError) -> JSONResponse:
        await audit_refusal(request, exc.http_status, exc.code, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return JSONResponse({"error": code, "message": str(exc.detail)},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}"
                   for e in exc.errors()]
        await audit_refusal(request, 422, "invalid_input", "; ".join(reasons))
        return JSONResponse({"error": "invalid_input", "message": "request is malformed",
                             "reasons": reasons}, status_code=422)

    for router in ROUTERS:
        app.include_router(router)
    return app

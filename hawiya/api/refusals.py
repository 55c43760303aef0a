"""Every refused API request is audited: who (the logged-in account, or the client address),
what they asked for (method, route, the person, document or election in its path), and why
(status, error code, message). Successes are audited by the services; refusals are caught
here, in one place, so no route can forget one."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from hawiya import audit

MESSAGE_MAX = 300  # an audit record stays small whatever the request carried
UNAUDITED = (401,)  # anonymous noise
SELF_AUDITED = ("/auth/token",)  # failed and throttled logins are audited by the auth service


def _actor(request: Request) -> str:
    user = getattr(request.state, "user", None)
    if user is not None:
        return user.username
    client = request.client.host if request.client else "unknown"
    return f"anonymous@{client}"


def _subject(request: Request) -> str | None:
    params = request.path_params
    for key in ("person_key", "number", "code", "case_id", "username", "job_id"):
        if key in params:
            return str(params[key])[:128]
    return None


def _record(platform, actor: str, subject: str | None, details: dict) -> None:
    with platform.transaction() as session:
        audit.append(session, actor, "request.refused", subject, details)


async def audit_refusal(request: Request, status: int, code: str, message: str) -> None:
    if status in UNAUDITED or status < 400:
        return
    route = request.scope.get("route")
    if getattr(route, "path", None) in SELF_AUDITED:
        return
    details = {"method": request.method, "route": getattr(route, "path", request.url.path),
               "status": status, "error": code, "message": message[:MESSAGE_MAX],
               "client": request.client.host if request.client else None}
    await run_in_threadpool(_record, request.app.state.platform, _actor(request),
                            _subject(request), details)

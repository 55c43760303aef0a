"""Log in (bearer tokens), who am I, and user administration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from hawiya import auth
from hawiya.api.deps import current_user, get_platform, require
from hawiya.api.schemas.auth import (
    AccountState,
    PasswordChanged,
    RoleChanged,
    Token,
    UserInfo,
    UserList,
)
from hawiya.api.schemas.common import errors
from hawiya.errors import TooManyAttempts
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(tags=["auth"])


class NewUser(BaseModel):
    username: str
    password: str
    role: str
    station_code: str | None = None


_LOGIN_ERRORS = errors(401, 422, 429, descriptions={401: "Wrong username or password"})
_LOGIN_ERRORS[429]["headers"] = {"Retry-After": {
    "description": "seconds to wait before trying again", "schema": {"type": "integer"}}}


@router.post("/auth/token", summary="Exchange username and password for a bearer token",
             description="Failed log-ins are throttled per account and per client address: "
                         "after a few failures each further try must wait (429, "
                         "`Retry-After`), and more failures lock the account for a while, "
                         "during which even the right password is refused.",
             response_model=Token, responses=_LOGIN_ERRORS)
def login(request: Request, username: str = Form(...), password: str = Form(...),
          platform: Platform = Depends(get_platform)):
    address = request.client.host if request.client else "unknown"
    with platform.transaction() as session:  # commits the attempt even when refused
        outcome = auth.login(session, username, password, client_address=address,
                             settings=platform.settings.auth)
    if isinstance(outcome.error, TooManyAttempts):
        return JSONResponse(outcome.error.to_dict(), status_code=outcome.error.http_status,
                            headers={"Retry-After": str(outcome.error.retry_after)})
    if outcome.error is not None:
        raise outcome.error
    return outcome.token


class PasswordChange(BaseModel):
    old_password: str
    new_password: str


class PasswordReset(BaseModel):
    new_password: str


@router.post("/auth/password", summary="Change my password (all my tokens are revoked)",
             response_model=PasswordChanged,
             responses=errors(401, 403, 422, descriptions={
                 401: "Missing or invalid token, or the current password is wrong"}))
def change_password(body: PasswordChange, user: User = Depends(current_user),
                    platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        auth.set_password(session, user.username, body.new_password, actor=user.username,
                          old_password=body.old_password)
    return {"username": user.username, "changed": True}


@router.get("/users", summary="List operator accounts (admin)", response_model=UserList,
            responses=errors(401, 403))
def list_users(user: User = Depends(require()),
               platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return {"users": auth.list_users(session)}


@router.post("/users/{username}/password", summary="Reset a user's password (admin)",
             response_model=PasswordChanged, responses=errors(401, 403, 404, 422))
def reset_password(username: str, body: PasswordReset, user: User = Depends(require()),
                   platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        auth.set_password(session, username, body.new_password, actor=user.username)
    return {"username": username, "changed": True}


@router.post("/users/{username}/disable", summary="Disable an account, revoking its tokens",
             response_model=AccountState, responses=errors(401, 403, 404, 409, 422, descriptions={
                 409: "The account is the last active admin"}))
def disable(username: str, user: User = Depends(require()),
            platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        auth.set_active(session, username, False, actor=user.username)
    return {"username": username, "active": False}


@router.post("/users/{username}/enable", summary="Re-enable an account (admin)",
             response_model=AccountState, responses=errors(401, 403, 404, 422))
def enable(username: str, user: User = Depends(require()),
           platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        auth.set_active(session, username, True, actor=user.username)
    return {"username": username, "active": True}


class RoleChange(BaseModel):
    role: str
    station_code: str | None = None


@router.post("/users/{username}/role", summary="Change a user's role or station (admin)",
             description="A polling clerk may be bound to a station; other roles are not. "
                         "A role change revokes the user's tokens.",
             response_model=RoleChanged, responses=errors(401, 403, 404, 409, 422, descriptions={
                 404: "No such user or polling station (station_code)",
                 409: "The account is the last active admin (it cannot be demoted)"}))
def change_role(username: str, body: RoleChange, user: User = Depends(require()),
                platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return auth.set_role(session, username, body.role, actor=user.username,
                             station_code=body.station_code)


@router.get("/auth/me", summary="The logged-in user", response_model=UserInfo,
            responses=errors(401, 403))
def me(user: User = Depends(current_user)) -> dict:
    return {"username": user.username, "role": user.role, "station_code": user.station_code}


@router.post("/users", status_code=201, summary="Create a user (admin)",
             response_model=UserInfo, responses=errors(401, 403, 404, 409, 422, descriptions={
                 404: "No such polling station (station_code)"}))
def create_user(body: NewUser, user: User = Depends(require()),
                platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        new = auth.create_user(session, body.username, body.password, body.role,
                               actor=user.username, station_code=body.station_code)
        return {"username": new.username, "role": new.role,
                "station_code": new.station_code}

"""Log in (bearer tokens), who am I, and user administration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form
from pydantic import BaseModel

from hawiya import audit, auth
from hawiya.api.deps import current_user, get_platform, require
from hawiya.api.schemas.auth import AccountState, PasswordChanged, Token, UserInfo, UserList
from hawiya.api.schemas.common import errors
from hawiya.errors import AuthError
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(tags=["auth"])


class NewUser(BaseModel):
    username: str
    password: str
    role: str
    station_code: str | None = None


@router.post("/auth/token", summary="Exchange username and password for a bearer token",
             response_model=Token,
             responses=errors(401, 422, descriptions={401: "Wrong username or password"}))
def login(username: str = Form(...), password: str = Form(...),
          platform: Platform = Depends(get_platform)) -> dict:
    try:
        with platform.transaction() as session:
            return auth.issue_token(session, username, password,
                                    platform.settings.auth.token_ttl_hours)
    except AuthError:
        with platform.transaction() as session:  # the refusal is audited on its own
            audit.append(session, username[:100], "auth.login_failed", username[:100], {})
        raise


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
             response_model=AccountState, responses=errors(401, 403, 404, 422))
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

"""Log in (bearer tokens), who am I, and user administration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form
from pydantic import BaseModel

from hawiya import auth
from hawiya.api.deps import current_user, get_platform, require
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(tags=["auth"])


class NewUser(BaseModel):
    username: str
    password: str
    role: str
    station_code: str | None = None


@router.post("/auth/token", summary="Exchange username and password for a bearer token")
def login(username: str = Form(...), password: str = Form(...),
          platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return auth.issue_token(session, username, password,
                                platform.settings.token_ttl_hours)


@router.get("/auth/me", summary="The logged-in user")
def me(user: User = Depends(current_user)) -> dict:
    return {"username": user.username, "role": user.role, "station_code": user.station_code}


@router.post("/users", status_code=201, summary="Create a user (admin)")
def create_user(body: NewUser, user: User = Depends(require()),
                platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        new = auth.create_user(session, body.username, body.password, body.role,
                               actor=user.username, station_code=body.station_code)
        return {"username": new.username, "role": new.role,
                "station_code": new.station_code}

"""Responses of log-in and user administration (:mod:`hawiya.auth`)."""

from __future__ import annotations

from pydantic import Field

from hawiya.api.schemas.common import Schema


class Token(Schema):
    access_token: str = Field(description="send as `Authorization: Bearer <token>`")
    token_type: str = Field(description="always 'bearer'")
    role: str
    expires_at: str = Field(description="ISO 8601 date-time")


class UserInfo(Schema):
    """Who a user is (``GET /auth/me``, ``POST /users``)."""

    username: str
    role: str
    station_code: str | None = Field(description="the station a polling clerk is bound to")


class RoleChanged(UserInfo):
    """A user's new role and station (``POST /users/{username}/role``)."""

    tokens_revoked: bool = Field(description="true when the role changed: the user's "
                                             "tokens were revoked and it must log in again")


class UserAccount(UserInfo):
    active: bool


class UserList(Schema):
    users: list[UserAccount]


class PasswordChanged(Schema):
    username: str
    changed: bool


class AccountState(Schema):
    username: str
    active: bool

"""Shared API dependencies: the platform, the current user, role checks, bounded uploads."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hawiya import auth
from hawiya.errors import AuthError, InvalidImage
from hawiya.imaging import MAX_FILE_BYTES
from hawiya.platform import Platform
from hawiya.registry.models import User

bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/token")


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


def current_user(request: Request,
                 creds: HTTPAuthorizationCredentials | None = Depends(bearer),
                 platform: Platform = Depends(get_platform)) -> User:
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthError("missing bearer token; get one from POST /auth/token")
    with platform.transaction() as session:
        user = auth.user_for_token(session, creds.credentials)
        session.expunge(user)
    request.state.user = user  # who a refusal is audited against
    return user


def require(*roles: str) -> Callable[..., User]:
    """Dependency: the current user, who must hold one of ``roles`` (admin always may)."""

    def dependency(user: User = Depends(current_user)) -> User:
        auth.require_role(user, *roles)
        return user

    return dependency


def read_upload(upload: UploadFile, what: str = "image") -> bytes:
    data = upload.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidImage(f"{what} larger than {MAX_FILE_BYTES // 2**20} MiB")
    if not data:
        raise InvalidImage(f"{what} is empty")
    return data

"""Users, roles and bearer tokens.

Passwords are hashed with scrypt (stdlib); tokens are random and stored only as SHA-256
digests, so a database leak reveals neither. Role checks live here so the API and any other
interface ask the same question the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hawiya import audit
from hawiya.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from hawiya.registry.models import ROLES, ApiToken, User, utcnow

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,100}$")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32,
                                **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def create_user(session: Session, username: str, password: str, role: str,
                actor: str = "system", station_code: str | None = None) -> User:
    if not USERNAME_RE.match(username or ""):
        raise InvalidInput("username must be 3-100 letters, digits or _.@-")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    _check_password_strength(password)
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} already exists")
    if station_code and role != "polling_clerk":
        raise InvalidInput("only a polling_clerk account is bound to a station")
    if station_code:
        from hawiya.registry.models import Station

        if not session.scalar(select(Station.id).where(Station.code == station_code)):
            raise NotFound(f"no polling station {station_code!r}")
    user = User(username=username, password_hash=hash_password(password), role=role,
                station_code=station_code or None)
    session.add(user)
    session.flush()
    audit.append(session, actor, "user.create", username,
                 {"role": role, "station": station_code})
    return user


def bootstrap_admin(session: Session, password: str | None = None) -> str | None:
    """Create the first admin when there are no users; returns its password (shown once)."""
    if session.scalar(select(func.count(User.id))):
        return None
    password = password or secrets.token_urlsafe(12)
    create_user(session, "admin", password, "admin", actor="bootstrap")
    return password


def issue_token(session: Session, username: str, password: str, ttl_hours: int = 12) -> dict:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not check_password(password, user.password_hash):
        raise AuthError("wrong username or password")
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(hours=ttl_hours)
    session.add(ApiToken(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                         user_id=user.id, expires_at=expires))
    audit.append(session, user.username, "auth.login", user.username, {})
    return {"access_token": token, "token_type": "bearer", "role": user.role,
            "expires_at": expires.isoformat()}


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(select(ApiToken).where(
        ApiToken.token_hash == hashlib.sha256((token or "").encode()).hexdigest()))
    if row is None or row.revoked:
        raise AuthError("invalid or revoked token")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
        tzinfo=dt.UTC)
    if expires < utcnow():
        raise AuthError("token expired; log in again")
    if not row.user.active:
        raise AuthError("user disabled")
    return row.user


def require_role(user: User, *roles: str) -> None:
    if user.role != "admin" and user.role not in roles:
        raise Forbidden(f"role {user.role!r} may not do this; needs one of: "
                        f"{', '.join(('admin',) + roles)}")


def _check_password_strength(password: str) -> None:
    if len(password or "") < 10:
        raise InvalidInput("password must be at least 10 characters")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _revoke_tokens(session: Session, user: User) -> None:
    for tok in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                      ApiToken.revoked.is_(False))):
        tok.revoked = True


def set_password(session: Session, username: str, new_password: str, *, actor: str,
                 old_password: str | None = None) -> None:
    """Change a password (the user's own, with the old one; or an admin reset). Every
    token of the user is revoked, so other sessions must log in again."""
    user = _user(session, username)
    if old_password is not None and not check_password(old_password, user.password_hash):
        raise AuthError("current password is wrong")
    _check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    _revoke_tokens(session, user)
    audit.append(session, actor, "user.password", username, {})


def set_active(session: Session, username: str, active: bool, *, actor: str) -> None:
    """Disable (revoking its tokens) or re-enable an account."""
    user = _user(session, username)
    user.active = bool(active)
    if not active:
        _revoke_tokens(session, user)
    audit.append(session, actor, "user.enable" if active else "user.disable", username, {})


def list_users(session: Session) -> list[dict]:
    return [{"username": u.username, "role": u.role, "station_code": u.station_code,
             "active": u.active} for u in session.scalars(select(User).order_by(User.id))]

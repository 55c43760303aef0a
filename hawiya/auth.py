"""Users, roles and bearer tokens.

Passwords are hashed with scrypt (stdlib); tokens are random and stored only as SHA-256
digests, so a database leak reveals neither. Role checks live here so the API and any other
interface ask the same question the same way.

Log-ins are throttled per account and per client address (:func:`login`): every try is a
``login_attempts`` row, so all server workers see the same counts. After
``auth.max_failures`` failures within ``auth.failure_window_minutes`` each further try must
wait a delay that doubles per failure; at ``auth.lock_after_failures`` the account is locked
for ``auth.lock_minutes`` and even the right password is refused. Refused tries do not
check the password and do not count as failures. The last active admin can be neither
disabled nor demoted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import os
import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from hawiya import audit
from hawiya.config import AuthSettings
from hawiya.errors import (
    AuthError,
    Conflict,
    Forbidden,
    HawiyaError,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from hawiya.registry.models import ROLES, ApiToken, LoginAttempt, User, utcnow

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


@dataclass
class LoginOutcome:
    """What :func:`login` decided: a token, or the error to answer with. A refusal is
    returned, not raised, so that the caller commits the attempt and its audit records."""

    token: dict | None = None
    error: HawiyaError | None = None


def login(session: Session, username: str, password: str, *, client_address: str,
          settings: AuthSettings | None = None) -> LoginOutcome:
    """One log-in try from ``client_address``, throttled per account and per address.

    Every failure, refusal and lock is recorded and audited (actor: the username tried;
    details: client address and reason). The caller must commit even when ``error`` is
    set, then answer with it."""
    policy = settings or AuthSettings()
    username = (username or "")[:100]
    address = (client_address or "unknown")[:64]
    now = utcnow()
    _serialise(session, username)
    _prune(session, now, policy)

    refusal = _refusal(session, username, address, now, policy)
    if refusal is not None:
        reason, scope, retry_after = refusal
        audit.append(session, username, "auth.login_refused", username,
                     {"client_address": address, "reason": reason, "scope": scope,
                      "retry_after": retry_after})
        what = "this account" if scope == "account" else "this client address"
        message = (f"{what} is temporarily locked after repeated failed log-ins"
                   if reason == "locked" else f"too many failed log-ins for {what}")
        return LoginOutcome(error=TooManyAttempts(
            f"{message}; try again in {retry_after} s", retry_after=retry_after))

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password(password, _dummy_hash())  # the same work as for a real account
        reason = "unknown user"
    elif not check_password(password, user.password_hash):
        reason = "wrong password"
    elif not user.active:
        reason = "user disabled"
    else:
        reason = None
    if reason is not None:
        session.add(LoginAttempt(username=username, client_address=address,
                                 outcome="failure", created_at=now))
        session.flush()
        audit.append(session, username, "auth.login_failed", username,
                     {"client_address": address, "reason": reason})
        _lock_if_due(session, username, address, now, policy)
        return LoginOutcome(error=AuthError("wrong username or password"))

    session.add(LoginAttempt(username=username, client_address=address, outcome="success",
                             created_at=now))
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=policy.token_ttl_hours)
    session.add(ApiToken(token_hash=_token_hash(token),
                         user_id=user.id, expires_at=expires))
    audit.append(session, user.username, "auth.login", user.username,
                 {"client_address": address})
    return LoginOutcome(token={"access_token": token, "token_type": "bearer",
                               "role": user.role, "expires_at": expires.isoformat()})


def issue_token(session: Session, username: str, password: str, ttl_hours: int = 12, *,
                client_address: str = "local", settings: AuthSettings | None = None) -> dict:
    """:func:`login` that raises its refusal (the attempt's records then roll back with
    the caller's transaction: interfaces facing the network use :func:`login`)."""
    policy = settings or AuthSettings(token_ttl_hours=ttl_hours)
    outcome = login(session, username, password, client_address=client_address,
                    settings=policy)
    if outcome.error is not None:
        raise outcome.error
    return outcome.token


# -- throttling ------------------------------------------------------------------------
# Advisory lock keys (PostgreSQL): one account's tries are decided one at a time; one
# transaction at a time prunes old rows.
_PG_LOGIN_ACCOUNT_LOCK = 0x4C4F47
_PG_LOGIN_PRUNE_LOCK = 0x4C4F48


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _serialise(session: Session, username: str) -> None:
    """Two workers deciding tries of one account at once could both let a guess through."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(:u))"),
                        {"k": _PG_LOGIN_ACCOUNT_LOCK, "u": username})


def _prune(session: Session, now: dt.datetime, policy: AuthSettings) -> None:
    """Drop rows that no longer count (older than the failure window and any lock)."""
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_LOGIN_PRUNE_LOCK}):
        return  # another transaction is pruning
    keep = max(policy.failure_window_minutes, policy.lock_minutes)
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.created_at < now - dt.timedelta(minutes=keep)))


def _failures(session: Session, column, value: str, since: dt.datetime
              ) -> tuple[int, dt.datetime | None]:
    n, last = session.execute(select(func.count(LoginAttempt.id),
                                     func.max(LoginAttempt.created_at)).where(
        column == value, LoginAttempt.outcome == "failure",
        LoginAttempt.created_at > since)).one()
    return n, (_aware(last) if last is not None else None)


def _scopes(session: Session, username: str, address: str, now: dt.datetime,
            policy: AuthSettings) -> list[tuple[str, object, str, int, int, int]]:
    """Per scope: (scope, column, value, failures, threshold, lock_at) — an account's
    failures count since its last success, an address's all within the window."""
    since = now - dt.timedelta(minutes=policy.failure_window_minutes)
    last_ok = session.scalar(select(func.max(LoginAttempt.created_at)).where(
        LoginAttempt.username == username, LoginAttempt.outcome == "success",
        LoginAttempt.created_at > since))
    account_since = max(since, _aware(last_ok)) if last_ok is not None else since
    extra = policy.lock_after_failures - policy.max_failures
    return [("account", LoginAttempt.username, username, account_since,
             policy.max_failures, policy.lock_after_failures),
            ("address", LoginAttempt.client_address, address, since,
             policy.address_max_failures, policy.address_max_failures + extra)]


def _refusal(session: Session, username: str, address: str, now: dt.datetime,
             policy: AuthSettings) -> tuple[str, str, int] | None:
    """Why this try may not go ahead now: (reason, scope, retry_after seconds), the longest
    wait of the account's and the address's, or None."""
    found = []
    for scope, column, value, since, threshold, _ in _scopes(session, username, address,
                                                             now, policy):
        locked = session.scalar(select(func.max(LoginAttempt.locked_until)).where(
            column == value, LoginAttempt.outcome == f"lock_{scope}"))
        if locked is not None and _aware(locked) > now:
            found.append(("locked", scope, _seconds(_aware(locked) - now)))
            continue
        n, last = _failures(session, column, value, since)
        if n >= threshold and last is not None:
            wait = min(policy.delay_seconds * 2.0 ** min(n - threshold, 40),
                       policy.lock_minutes * 60)
            until = last + dt.timedelta(seconds=wait)
            if until > now:
                found.append(("throttled", scope, _seconds(until - now)))
    return max(found, key=lambda f: f[2]) if found else None


def _lock_if_due(session: Session, username: str, address: str, now: dt.datetime,
                 policy: AuthSettings) -> None:
    """After a failure: lock the account and/or address that reached its lock count."""
    until = now + dt.timedelta(minutes=policy.lock_minutes)
    for scope, column, value, since, _, lock_at in _scopes(session, username, address, now,
                                                           policy):
        n, _ = _failures(session, column, value, since)
        if n >= lock_at:
            session.add(LoginAttempt(username=username, client_address=address,
                                     outcome=f"lock_{scope}", locked_until=until,
                                     created_at=now))
            audit.append(session, username, "auth.locked", value if scope == "address"
                         else username, {"client_address": address, "scope": scope,
                                         "reason": f"{n} failed log-ins",
                                         "locked_until": until.isoformat()})


def _seconds(delta: dt.timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _token_row(session: Session, token: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))


def user_for_token(session: Session, token: str) -> User:
    row = _token_row(session, token)
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


def revoke_token(session: Session, token: str, *, client_address: str) -> str | None:
    """Log one token out (audited); the username it belonged to, or None when it was
    unknown or revoked already."""
    row = _token_row(session, token)
    if row is None or row.revoked:
        return None
    row.revoked = True
    audit.append(session, row.user.username, "auth.logout", row.user.username,
                 {"client_address": client_address})
    return row.user.username


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


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    """Refuse to leave no active admin (recovering would need shell access)."""
    if user.role != "admin" or not user.active:
        return
    # FOR UPDATE (PostgreSQL): two admins disabling each other at once are decided in turn.
    admins = set(session.scalars(select(User.id).where(
        User.role == "admin", User.active.is_(True)).with_for_update()))
    if not admins - {user.id}:
        raise Conflict(f"{user.username!r} is the last active admin; {doing} it would leave "
                       "no one able to administer accounts (create or enable another admin "
                       "first)", reason="last_active_admin")


def set_active(session: Session, username: str, active: bool, *, actor: str) -> None:
    """Disable (revoking its tokens) or re-enable an account. The last active admin cannot
    be disabled (Conflict)."""
    user = _user(session, username)
    if not active:
        _keep_an_admin(session, user, "disabling")
    user.active = bool(active)
    if not active:
        _revoke_tokens(session, user)
    audit.append(session, actor, "user.enable" if active else "user.disable", username, {})


def set_role(session: Session, username: str, role: str, *, actor: str,
             station_code: str | None = None) -> dict:
    """Give a user a role and (polling clerks only) a station. A role change revokes the
    user's tokens; the last active admin cannot be demoted (Conflict)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    station_code = station_code or None
    if station_code and role != "polling_clerk":
        raise InvalidInput("only a polling_clerk account is bound to a station")
    user = _user(session, username)
    if station_code:
        from hawiya.registry.models import Station

        if not session.scalar(select(Station.id).where(Station.code == station_code)):
            raise NotFound(f"no polling station {station_code!r}")
    if role != "admin":
        _keep_an_admin(session, user, "demoting")
    before = {"role": user.role, "station": user.station_code}
    revoke = role != user.role
    user.role, user.station_code = role, station_code
    if revoke:
        _revoke_tokens(session, user)
    audit.append(session, actor, "user.role", username,
                 {"from": before, "to": {"role": role, "station": station_code},
                  "tokens_revoked": revoke})
    return {"username": user.username, "role": role, "station_code": station_code,
            "tokens_revoked": revoke}


def list_users(session: Session) -> list[dict]:
    return [{"username": u.username, "role": u.role, "station_code": u.station_code,
             "active": u.active} for u in session.scalars(select(User).order_by(User.id))]

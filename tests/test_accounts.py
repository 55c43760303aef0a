"""Accounts: log-in throttling per account and per client address (delays, temporary
locks, audit), the last active admin kept, and role changes (API, service and CLI)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hawiya import audit, auth
from hawiya.api.app import create_app
from hawiya.app import build_platform
from hawiya.config import AuthSettings, load_settings
from hawiya.errors import AuthError, Conflict, TooManyAttempts
from hawiya.registry.models import AuditRecord, District, PollingCentre, Station

ADMIN_PW = "admin-password-1"
USER_PW = "user-password-1"
# Small numbers so that a test reaches every stage quickly.
POLICY = AuthSettings(max_failures=3, lock_after_failures=5, delay_seconds=10,
                      failure_window_minutes=15, lock_minutes=15, address_max_failures=100)


class Clock:
    """Stands in for ``hawiya.auth.utcnow``: time moves only when a test says so."""

    def __init__(self):
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(auth, "utcnow", c)
    return c


def _try(platform, username, password, address="10.0.0.1", policy=POLICY):
    """One log-in, committed as the API commits it; returns the token or the error."""
    with platform.transaction() as s:
        outcome = auth.login(s, username, password, client_address=address, settings=policy)
    return outcome.error or outcome.token


def _audit(platform, action):
    with platform.transaction() as s:
        rows = s.scalars(select(AuditRecord).where(AuditRecord.action == action)
                         .order_by(AuditRecord.seq))
        return [(r.actor, r.subject, json.loads(r.details)) for r in rows]


def _users(platform, *specs):
    with platform.transaction() as s:
        auth.bootstrap_admin(s, ADMIN_PW)
        for name, role in specs:
            auth.create_user(s, name, USER_PW, role)


# -- throttling (service, both databases) ------------------------------------------------
def test_account_delays_double_then_lock_refuses_even_the_right_password(platform, clock):
    _users(platform, ("clerk1", "verifier"))
    for _ in range(3):
        assert isinstance(_try(platform, "clerk1", "wrong-password"), AuthError)

    refused = _try(platform, "clerk1", USER_PW)  # right password, but too soon
    assert isinstance(refused, TooManyAttempts) and refused.retry_after == 10
    assert refused.to_dict() == {"error": "too_many_attempts", "message": refused.message,
                                 "details": {"retry_after": 10}}
    clock.advance(seconds=9)
    assert _try(platform, "clerk1", USER_PW).retry_after == 1
    clock.advance(seconds=1)
    assert isinstance(_try(platform, "clerk1", "wrong-password"), AuthError)  # 4th failure
    assert _try(platform, "clerk1", USER_PW).retry_after == 20  # doubled
    clock.advance(seconds=20)
    assert isinstance(_try(platform, "clerk1", "wrong-password"), AuthError)  # 5th: lock

    locked = _try(platform, "clerk1", USER_PW)
    assert isinstance(locked, TooManyAttempts) and locked.retry_after == 15 * 60
    assert "locked" in locked.message
    clock.advance(minutes=14, seconds=59)
    assert _try(platform, "clerk1", USER_PW, address="10.9.9.9").retry_after == 1
    clock.advance(seconds=1)
    assert isinstance(_try(platform, "clerk1", USER_PW), dict)  # lock over
    # A success starts the account's count again.
    assert isinstance(_try(platform, "clerk1", "wrong-password"), AuthError)
    assert isinstance(_try(platform, "clerk1", USER_PW), dict)

    failed = _audit(platform, "auth.login_failed")
    assert len(failed) == 6
    assert all(actor == "clerk1" and details == {"client_address": "10.0.0.1",
                                                 "reason": "wrong password"}
               for actor, _, details in failed)
    refusals = _audit(platform, "auth.login_refused")
    assert [d["reason"] for _, _, d in refusals] == ["throttled"] * 3 + ["locked"] * 2
    assert refusals[-1][2]["client_address"] == "10.9.9.9"
    assert all(d["scope"] == "account" and d["retry_after"] >= 1 for _, _, d in refusals)
    ((actor, subject, details),) = _audit(platform, "auth.locked")
    assert (actor, subject, details["scope"]) == ("clerk1", "clerk1", "account")
    assert details["client_address"] == "10.0.0.1" and details["reason"] == "5 failed log-ins"
    with platform.transaction() as s:
        assert audit.verify_chain(s)["ok"] is True


def test_failures_outside_the_window_no_longer_count(platform, clock):
    _users(platform, ("clerk1", "verifier"))
    for _ in range(3):
        _try(platform, "clerk1", "wrong-password")
    assert isinstance(_try(platform, "clerk1", USER_PW), TooManyAttempts)
    clock.advance(minutes=15, seconds=1)
    for _ in range(2):  # the window has passed: three fresh failures are allowed again
        assert isinstance(_try(platform, "clerk1", "wrong-password"), AuthError)
    assert isinstance(_try(platform, "clerk1", USER_PW), dict)


def test_unknown_accounts_are_throttled_like_real_ones(platform, clock):
    _users(platform)
    for _ in range(3):
        assert isinstance(_try(platform, "nobody", "wrong-password"), AuthError)
    assert isinstance(_try(platform, "nobody", "wrong-password"), TooManyAttempts)
    (first, *_) = _audit(platform, "auth.login_failed")
    assert first[2]["reason"] == "unknown user"


def test_one_address_trying_many_accounts_is_throttled(platform, clock):
    _users(platform, ("clerk1", "verifier"))
    policy = POLICY.model_copy(update={"address_max_failures": 4})
    for n in range(4):  # one failure each on four different accounts
        assert isinstance(_try(platform, f"user{n}", "wrong", "10.6.6.6", policy), AuthError)
    refused = _try(platform, "clerk1", USER_PW, "10.6.6.6", policy)
    assert isinstance(refused, TooManyAttempts) and refused.retry_after == 10
    assert isinstance(_try(platform, "clerk1", USER_PW, "10.0.0.2", policy), dict)
    (*_, (_, _, details)) = _audit(platform, "auth.login_refused")
    assert details["scope"] == "address" and details["client_address"] == "10.6.6.6"

    # Two more failures from the address (after the delays) lock it: 4 + (5 - 3).
    clock.advance(seconds=10)
    _try(platform, "user5", "wrong", "10.6.6.6", policy)
    clock.advance(seconds=20)
    _try(platform, "user6", "wrong", "10.6.6.6", policy)
    locked = _try(platform, "admin", ADMIN_PW, "10.6.6.6", policy)
    assert isinstance(locked, TooManyAttempts) and locked.retry_after == 15 * 60
    (*_, (_, subject, details)) = _audit(platform, "auth.locked")
    assert subject == "10.6.6.6" and details["scope"] == "address"
    assert isinstance(_try(platform, "admin", ADMIN_PW, "10.0.0.3", policy), dict)


# -- the API -----------------------------------------------------------------------------
@pytest.fixture
def api_platform(tmp_path):
    p = build_platform(load_settings(tmp_path / "data", auth={
        "max_failures": 3, "lock_after_failures": 5, "delay_seconds": 30,
        "address_max_failures": 6}))
    p.init()
    with p.transaction() as s:
        auth.bootstrap_admin(s, ADMIN_PW)
    yield p
    p.engine.dispose()


@pytest.fixture
def client(api_platform):
    with TestClient(create_app(api_platform)) as c:
        yield c


def _token(client, username="admin", password=ADMIN_PW):
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_testers_twelve_wrong_passwords_then_the_right_one(sqlite_platform):
    """Default settings: five failures answer 401, then every try is 429 (not checked)."""
    with sqlite_platform.transaction() as s:
        auth.bootstrap_admin(s, ADMIN_PW)
    with TestClient(create_app(sqlite_platform)) as client:
        codes = [client.post("/auth/token", data={"username": "admin", "password": "nope"}
                             ).status_code for _ in range(12)]
        assert codes == [401] * 5 + [429] * 7
        r = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
        assert r.status_code == 429
        assert r.json()["error"] == "too_many_attempts"
        assert int(r.headers["Retry-After"]) == r.json()["details"]["retry_after"] >= 1


def test_throttled_login_answers_429_with_retry_after(client, api_platform):
    for _ in range(3):
        r = client.post("/auth/token", data={"username": "admin", "password": "nope"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == "too_many_attempts"
    assert body["details"] == {"retry_after": int(r.headers["Retry-After"])}
    assert 1 <= body["details"]["retry_after"] <= 30
    refused = _audit(api_platform, "auth.login_refused")
    assert refused[-1][2]["client_address"] == "testclient"

    # Another client address is throttled on this account too (per account)...
    app = client.app
    with TestClient(app, client=("192.0.2.7", 4000)) as other:
        r = other.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
        assert r.status_code == 429
        # ...but its other accounts are not; then this address's own failures count.
        r = other.post("/auth/token", data={"username": "ghost", "password": "nope"})
        assert r.status_code == 401


def test_address_throttling_over_the_api(client):
    for n in range(6):
        r = client.post("/auth/token", data={"username": f"ghost{n}", "password": "nope"})
        assert r.status_code == 401
    r = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 429 and "client address" in r.json()["message"]
    with TestClient(client.app, client=("192.0.2.8", 4000)) as other:
        assert other.post("/auth/token", data={"username": "admin", "password": ADMIN_PW}
                          ).status_code == 200


def test_token_route_declares_429(client):
    op = client.get("/openapi.json").json()["paths"]["/auth/token"]["post"]
    assert {"401", "422", "429"} <= set(op["responses"])
    assert "Retry-After" in op["responses"]["429"]["headers"]


# -- the last active admin -----------------------------------------------------------------
def test_last_admin_cannot_be_disabled_or_demoted(platform):
    _users(platform, ("admin2", "admin"))
    with platform.transaction() as s:
        auth.set_active(s, "admin2", False, actor="admin")  # another admin: allowed
    for change in (lambda s: auth.set_active(s, "admin", False, actor="admin"),
                   lambda s: auth.set_role(s, "admin", "auditor", actor="admin")):
        with pytest.raises(Conflict, match="last active admin"), platform.transaction() as s:
            change(s)
    with platform.transaction() as s:
        auth.set_active(s, "admin2", True, actor="admin")
        auth.set_role(s, "admin", "auditor", actor="admin2")  # admin2 remains
        with pytest.raises(Conflict):
            auth.set_active(s, "admin2", False, actor="admin2")
    with platform.transaction() as s:
        users = {u["username"]: u for u in auth.list_users(s)}
    assert users["admin"]["role"] == "auditor" and users["admin2"]["active"] is True


def test_last_admin_over_the_api(client):
    admin = _token(client)
    r = client.post("/users/admin/disable", headers=admin)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict" and "last active admin" in r.json()["message"]
    r = client.post("/users/admin/role", json={"role": "verifier"}, headers=admin)
    assert r.status_code == 409 and "last active admin" in r.json()["message"]
    assert client.get("/auth/me", headers=admin).json()["role"] == "admin"  # unchanged

    r = client.post("/users", json={"username": "admin2", "password": USER_PW,
                                    "role": "admin"}, headers=admin)
    assert r.status_code == 201
    assert client.post("/users/admin/disable", headers=admin).status_code == 200
    assert client.get("/auth/me", headers=admin).status_code == 401  # its tokens revoked


# -- role changes --------------------------------------------------------------------------
def _station(platform, code="S1"):
    with platform.transaction() as s:
        d = District(code="D1", name="North")
        s.add(d)
        s.flush()
        c = PollingCentre(code="C1", name="Centre", district_id=d.id)
        s.add(c)
        s.flush()
        s.add(Station(code=code, name="Station", centre_id=c.id, public_key="-"))


def test_role_change_revokes_tokens_and_is_audited(client, api_platform):
    admin = _token(client)
    r = client.post("/users", json={"username": "clerk1", "password": USER_PW,
                                    "role": "verifier"}, headers=admin)
    assert r.status_code == 201
    clerk = _token(client, "clerk1", USER_PW)
    _station(api_platform)

    assert client.post("/users/clerk1/role", json={"role": "auditor"},
                       headers=clerk).status_code == 403  # admin only
    r = client.post("/users/clerk1/role", json={"role": "polling_clerk",
                                                "station_code": "S1"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "clerk1", "role": "polling_clerk", "station_code": "S1",
                        "tokens_revoked": True}
    assert client.get("/auth/me", headers=clerk).status_code == 401
    clerk = _token(client, "clerk1", USER_PW)
    assert client.get("/auth/me", headers=clerk).json() == {
        "username": "clerk1", "role": "polling_clerk", "station_code": "S1"}

    # Same role, no station: the tokens stay valid.
    r = client.post("/users/clerk1/role", json={"role": "polling_clerk"}, headers=admin)
    assert r.status_code == 200 and r.json()["tokens_revoked"] is False
    assert client.get("/auth/me", headers=clerk).json()["station_code"] is None

    for body, status in (({"role": "wizard"}, 422),
                         ({"role": "verifier", "station_code": "S1"}, 422),
                         ({"role": "polling_clerk", "station_code": "S9"}, 404)):
        r = client.post("/users/clerk1/role", json=body, headers=admin)
        assert r.status_code == status, (body, r.text)
    assert client.post("/users/nobody/role", json={"role": "auditor"},
                       headers=admin).status_code == 404

    changes = _audit(api_platform, "user.role")
    assert changes[0] == ("admin", "clerk1", {
        "from": {"role": "verifier", "station": None},
        "to": {"role": "polling_clerk", "station": "S1"}, "tokens_revoked": True})
    assert len(changes) == 2


def test_cli_role_and_last_admin(tmp_path, monkeypatch):
    from hawiya.cli import app

    data = tmp_path / "data"
    monkeypatch.setenv("HAWIYA_DATA_DIR", str(data))
    monkeypatch.setenv("HAWIYA_ADMIN_PASSWORD", ADMIN_PW)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, list(args))

    assert run("init").exit_code == 0, run("init").output
    r = run("users", "create", "clerk1", "verifier", "--password", USER_PW)
    assert r.exit_code == 0, r.output
    r = run("users", "role", "clerk1", "auditor", "--operator", "ops", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {
        "username": "clerk1", "role": "auditor", "station_code": None,
        "tokens_revoked": True}

    r = run("users", "disable", "admin", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout.strip().splitlines()[-1])["error"] == "conflict"
    r = run("users", "role", "admin", "verifier", "--json")
    assert r.exit_code == 1 and "last active admin" in r.output
    r = run("users", "role", "clerk1", "wizard")
    assert r.exit_code == 2

"""Bounded input: request bodies refused with 413 while they stream in, every stored or
audited text field refused over its length (API and services), security headers on every
answer."""

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hawiya import auth
from hawiya.api.app import create_app
from hawiya.api.limits import MAX_BODY_BYTES, BodyLimit
from hawiya.credentials import desk, documents
from hawiya.credentials.qr_text import MAX_QR_TEXT
from hawiya.elections import geography
from hawiya.errors import InvalidInput
from hawiya.limits import CODE_MAX, LOCATION_MAX, NAME_MAX, REASON_MAX
from hawiya.registry.models import AuditRecord, BorderCrossing, District, Election
from tests.conftest import ADMIN_PW

LIMIT_MSG = f"limit {MAX_BODY_BYTES} bytes"


@pytest.fixture
def admin(client):
    r = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _chunks(data: bytes, size: int = 64 * 1024):
    """A body without Content-Length (httpx sends a generator chunked)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _too_large(r, limit=MAX_BODY_BYTES):
    assert r.status_code == 413, r.text[:200]
    assert r.json() == {"error": "too_large",
                        "message": f"request body too large: limit {limit} bytes"}


# -- request body size -----------------------------------------------------------------

def test_oversized_json_body_with_content_length(client, admin):
    body = json.dumps({"code": "E1", "name": "x" * MAX_BODY_BYTES,
                       "election_date": "2026-12-01"}).encode()
    r = client.post("/elections", content=body, headers={
        **admin, "content-type": "application/json"})
    _too_large(r)
    # refused before authentication: nobody may make the server read it
    _too_large(client.post("/elections", content=body,
                           headers={"content-type": "application/json"}))


def test_oversized_json_body_chunked(client, admin):
    body = json.dumps({"code": "E1", "name": "x" * MAX_BODY_BYTES,
                       "election_date": "2026-12-01"}).encode()
    r = client.post("/elections", content=_chunks(body), headers={
        **admin, "content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    _too_large(r)
    assert client.get("/elections/E1/turnout", headers=admin).status_code == 404


def test_oversized_urlencoded_form(client, admin):
    body = b"location=" + b"x" * MAX_BODY_BYTES
    headers = {**admin, "content-type": "application/x-www-form-urlencoded"}
    _too_large(client.post("/border/check", content=body, headers=headers))
    _too_large(client.post("/border/check", content=_chunks(body), headers=headers))


def test_oversized_multipart_body(sqlite_platform):
    limit = 2 * 1024 * 1024
    sqlite_platform.settings.api.max_multipart_bytes = limit  # config: api.max_multipart_bytes
    with sqlite_platform.transaction() as s:
        auth.bootstrap_admin(s, ADMIN_PW)
    with TestClient(create_app(sqlite_platform)) as client:
        files = {"face": ("f.jpg", b"\xff" * (limit + 1), "image/jpeg")}
        r = client.post("/border/check", data={"location": "Port 3"}, files=files)
        _too_large(r, limit)
        # the same body streamed without a length is cut off at the limit too
        req = client.build_request("POST", "/border/check", data={"location": "Port 3"},
                                   files=files)
        raw = req.read()
        r = client.post("/border/check", content=_chunks(raw),
                        headers={"content-type": req.headers["content-type"]})
        _too_large(r, limit)
        # under the multipart limit (though over the JSON one) it reaches the route
        small = {"face": ("f.jpg", b"\xff" * (MAX_BODY_BYTES + 10), "image/jpeg")}
        r = client.post("/border/check", data={"location": "Port 3"}, files=small)
        assert r.status_code == 401, r.text


def test_small_bodies_pass(client, admin):
    r = client.post("/elections", json={"code": "E1", "name": "Local",
                                        "election_date": "2026-12-01"}, headers=admin)
    assert r.status_code == 201, r.text
    r = client.post("/districts", content=_chunks(json.dumps(
        {"code": "D1", "name": "North"}).encode(), 4),
        headers={**admin, "content-type": "application/json"})
    assert r.status_code == 201, r.text


def test_body_limit_counts_streamed_bytes():
    """The middleware alone: no Content-Length, the body arrives in chunks, and the app
    never sees a byte past the limit."""
    seen = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [{"type": "http.request", "body": b"x" * 40, "more_body": True}
              for _ in range(100)]
    pulled = []

    async def receive():
        pulled.append(1)
        return chunks[len(pulled) - 1]

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(BodyLimit(app, max_body_bytes=100)(scope, receive, send))
    assert sent[0]["status"] == 413 and len(pulled) == 3 and sum(seen) == 80
    assert json.loads(sent[1]["body"])["message"].endswith("limit 100 bytes")


# -- field lengths over the API ----------------------------------------------------------

def _refused(r, field, limit):
    assert r.status_code == 422, r.text[:300]
    reasons = " ".join(r.json().get("reasons", [])) + r.json()["message"]
    assert field in reasons and str(limit) in reasons, reasons
    assert len(r.content) < 2000  # the over-long value is not echoed back


ELECTION = {"code": "E1", "name": "Local", "election_date": "2026-12-01"}


@pytest.mark.parametrize("url, body, field, limit", [
    ("/elections", dict(ELECTION, name="n" * (NAME_MAX + 1)), "name", NAME_MAX),
    ("/elections", dict(ELECTION, code="C" * (CODE_MAX + 1)), "code", CODE_MAX),
    ("/districts", {"code": "D1", "name": "n" * (NAME_MAX + 1)}, "name", NAME_MAX),
    ("/districts", {"code": "D" * (CODE_MAX + 1)}, "code", CODE_MAX),
    ("/centres", {"code": "C1", "name": "n" * (NAME_MAX + 1), "parent": "D1"}, "name",
     NAME_MAX),
    ("/centres", {"code": "C1", "parent": "D" * (CODE_MAX + 1)}, "parent", CODE_MAX),
    ("/stations", {"code": "S1", "name": "n" * (NAME_MAX + 1), "parent": "C1"}, "name",
     NAME_MAX),
    ("/documents/HABCDEFGH/status", {"status": "lost", "reason": "r" * (REASON_MAX + 1)},
     "reason", REASON_MAX),
])
def test_json_fields_are_bounded(client, admin, url, body, field, limit):
    _refused(client.post(url, json=body, headers=admin), field, limit)


@pytest.mark.parametrize("url, form, field, limit", [
    ("/border/check", {"location": "l" * (LOCATION_MAX + 1), "qr": "HW1:x"}, "location",
     LOCATION_MAX),
    ("/border/check", {"location": "Port 3", "qr": "q" * (MAX_QR_TEXT + 1)}, "qr",
     MAX_QR_TEXT),
    ("/documents/verify", {"mrz": "M" * 1025}, "mrz", 1024),
    ("/elections/E1/check-in", {"station": "S" * (CODE_MAX + 1), "voter_number": "1"},
     "station", CODE_MAX),
    ("/elections/E1/check-in", {"station": "S1", "voter_number": "9" * (CODE_MAX + 1)},
     "voter_number", CODE_MAX),
])
def test_form_fields_are_bounded(client, admin, url, form, field, limit):
    _refused(client.post(url, data=form, headers=admin), field, limit)


def test_fields_at_the_limit_are_taken(client, admin):
    r = client.post("/elections", json=dict(ELECTION, name="n" * NAME_MAX,
                                            code="C" * CODE_MAX), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "n" * NAME_MAX
    r = client.post("/districts", json={"code": "D1", "name": "d" * NAME_MAX}, headers=admin)
    assert r.status_code == 201, r.text


# -- field lengths in the services (the CLI's path) ---------------------------------------

def _counts(platform):
    with platform.transaction() as s:
        return [s.query(m).count() for m in (AuditRecord, Election, District, BorderCrossing)]


def test_services_refuse_over_long_fields(sqlite_platform):
    p = sqlite_platform
    before = _counts(p)
    calls = [
        (lambda: geography.create_election(p, "E1", "n" * (NAME_MAX + 1), "2026-12-01",
                                           actor="t"), "election name", NAME_MAX),
        (lambda: geography.add_district(p, "D1", "n" * (NAME_MAX + 1), actor="t"),
         "district name", NAME_MAX),
        (lambda: geography.add_centre(p, "C1", "n" * (NAME_MAX + 1), "D1", actor="t"),
         "centre name", NAME_MAX),
        (lambda: geography.add_centre(p, "C1", "", "D" * (CODE_MAX + 1), actor="t"),
         "district code", CODE_MAX),
        (lambda: geography.add_station(p, "S1", "n" * (NAME_MAX + 1), "C1", actor="t"),
         "station name", NAME_MAX),
        (lambda: geography.add_district(p, "D" * (CODE_MAX + 1), "x", actor="t"),
         "district code", CODE_MAX),
        (lambda: documents.set_status(p, "HABCDEFGH", "lost", actor="t",
                                      reason="r" * (REASON_MAX + 1)), "reason", REASON_MAX),
        (lambda: desk.border_check(p, location="l" * (LOCATION_MAX + 1), actor="t",
                                        qr_text="HW1:x"), "location", LOCATION_MAX),
    ]
    for call, field, limit in calls:
        with pytest.raises(InvalidInput) as err:
            call()
        assert field in err.value.message and str(limit) in err.value.message, err.value
        assert err.value.details["max_length"] == limit
    assert _counts(p) == before  # nothing stored, nothing audited


def test_cli_refuses_an_over_long_election_name(sqlite_platform):
    from hawiya.cli import app

    data_dir = sqlite_platform.settings.data_dir
    r = CliRunner().invoke(app, ["election", "create", "E1", "--name", "n" * (NAME_MAX + 1),
                                 "--date", "2026-12-01", "--data-dir", str(data_dir),
                                 "--json"])
    assert r.exit_code != 0
    err = json.loads(r.stdout.strip().splitlines()[-1])
    assert err["error"] == "invalid_input"
    assert "election name" in err["message"] and str(NAME_MAX) in err["message"]
    r = CliRunner().invoke(app, ["election", "create", "E1", "--name", "n" * NAME_MAX,
                                 "--date", "2026-12-01", "--data-dir", str(data_dir),
                                 "--json"])
    assert r.exit_code == 0, r.stdout


# -- security headers -------------------------------------------------------------------

SECURITY = {"x-frame-options": "DENY", "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff"}


def _secured(r):
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (name, dict(r.headers))
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_security_headers_on_every_answer(client, admin):
    answers = [client.get("/auth/me", headers=admin),  # 200
               client.get("/auth/me"),  # 401
               client.get("/nope", headers=admin),  # 404
               client.post("/elections", json={}, headers=admin),  # 422
               client.post("/elections", content=b"x" * (MAX_BODY_BYTES + 1),
                           headers={"content-type": "application/json"}),  # 413
               client.get("/openapi.json")]
    assert [r.status_code for r in answers] == [200, 401, 404, 422, 413, 200]
    for r in answers:
        _secured(r)
        assert "cdn.jsdelivr.net" not in r.headers["content-security-policy"]
        assert "strict-transport-security" not in r.headers  # plain http


def test_docs_csp_allows_only_what_the_docs_need(client):
    for url in ("/docs", "/redoc"):
        r = client.get(url)
        assert r.status_code == 200
        _secured(r)
        csp = r.headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in csp and "'unsafe-inline'" in csp
    r = client.get("/docs/oauth2-redirect")
    assert "cdn.jsdelivr.net" in r.headers["content-security-policy"]
    r = client.get("/docsx")
    assert "cdn.jsdelivr.net" not in r.headers["content-security-policy"]


def test_hsts_over_https(sqlite_platform):
    with TestClient(create_app(sqlite_platform), base_url="https://testserver") as c:
        r = c.get("/auth/me")
        assert r.headers["strict-transport-security"].startswith("max-age=")
        _secured(r)

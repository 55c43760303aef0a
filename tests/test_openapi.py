"""The OpenAPI document is complete enough to generate a client from: every operation has
a typed success body and typed errors, and real answers fit the declared models (FastAPI
validates each body against its response model: a mismatch would be a 500)."""

import pytest
from pydantic import TypeAdapter

from hawiya.api.schemas.common import ErrorBody
from hawiya.elections.offline import OfflineStation
from hawiya.registry.models import Job
from tests.conftest import ADMIN_PW, yale

ERROR_REF = "#/components/schemas/ErrorBody"
# Operations whose success body is a file, not JSON: (method, path) -> media types.
FILES = {
    ("get", "/documents/{number}/card"): {"image/png", "application/pdf"},
    ("post", "/documents/{number}/card"): {"image/png", "application/pdf"},
    ("get", "/sightings/{sighting_id}/image"): {"image/jpeg", "image/png", "image/webp"},
    ("get", "/vehicle-alerts/stream"): {"text/event-stream"},
    ("get", "/credentials/revocation-list"): {"application/cose"},
    ("get", "/elections/{code}/roll.csv"): {"text/plain"},
    ("get", "/adjudication/cases/{case_id}/captures/{template_id}"): {
        "image/jpeg", "image/png", "image/tiff", "application/octet-stream"},
    ("get", "/elections/{code}/stations/{station}/list.pdf"): {"application/pdf"},
}


@pytest.fixture
def schema(client):
    return client.get("/openapi.json").json()


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            yield method, path, op


def _login(client, username="admin", password=ADMIN_PW):
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _face(subject, cond):
    return ("face", (f"{subject}.jpg", yale(subject, cond).read_bytes(), "image/jpeg"))


def test_every_success_body_is_a_component(schema):
    components = schema["components"]["schemas"]
    ops = list(_operations(schema))
    assert len(ops) >= 39
    for method, path, op in ops:
        ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert len(ok) == 1, (method, path, list(op["responses"]))
        (content,) = [r.get("content", {}) for r in ok.values()]
        if (method, path) in FILES:
            assert set(content) == FILES[method, path], (method, path, content)
            assert all(c["schema"].get("type") == "string" for c in content.values())
            continue
        assert list(content) == ["application/json"], (method, path, content)
        ref = content["application/json"]["schema"].get("$ref", "")
        assert ref.startswith("#/components/schemas/"), (method, path, content)
        assert ref.rsplit("/", 1)[1] in components


def test_every_error_is_the_error_body(schema):
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, op in _operations(schema):
        codes = set(op["responses"])
        errors = {c: r for c, r in op["responses"].items() if c.startswith("4")}
        for code, r in errors.items():
            assert r["description"], (method, path, code)
            assert r["content"] == {"application/json": {"schema": {"$ref": ERROR_REF}}}, \
                (method, path, code, r)
        if (method, path) != ("post", "/auth/token"):
            assert {"401", "403"} <= codes, (method, path, codes)
        if "{" in path:
            assert "404" in codes, (method, path, codes)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in codes, (method, path, codes)
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            assert {"400", "413", "422"} <= codes, (method, path, codes)


def test_error_answers_fit_the_error_body(client):
    body = TypeAdapter(ErrorBody)
    admin = _login(client)
    for r in (client.get("/auth/me"),  # 401
              client.post("/auth/token", data={"username": "admin"}),  # 422 validation
              client.get("/persons/P0123456789ABCDE", headers=admin),  # 404
              client.get("/nope", headers=admin)):  # 404 (no route)
        assert r.status_code in (401, 404, 422), r.text
        body.validate_python(r.json())


def test_real_answers_fit_their_models(client, sqlite_platform):
    # Every call below is validated on output against its response model (a mismatch is a
    # 500), so the status codes are the assertion.
    admin = _login(client)
    assert client.get("/auth/me", headers=admin).status_code == 200
    assert client.get("/users", headers=admin).status_code == 200

    form = {"name": "Amal Haddad", "date_of_birth": "1980-01-01", "sex": "F",
            "district": "D1", "request_id": "openapi-1"}
    r = client.post("/persons", data=form, files=[_face(1, "normal")], headers=admin)
    assert r.status_code == 201, r.text
    amal = r.json()
    assert "replayed" not in amal  # bodies keep exactly the service's keys
    r = client.post("/persons", data=form, files=[_face(1, "normal")], headers=admin)
    assert r.status_code == 201 and r.json()["replayed"] is True
    r = client.post("/identify", data={"top": "3"}, files=[_face(1, "sad")], headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["person_id"] == amal["person_id"]
    assert set(r.json()) >= {"candidates", "threshold", "modalities", "probe_quality",
                             "gallery_size", "scope", "target_fpir", "decidable"}
    assert r.json()["gallery_size"] == 1 and r.json()["scope"] is None
    r = client.post(f"/persons/{amal['person_id']}/verify", files=[_face(1, "sad")],
                    headers=admin)
    assert r.status_code == 200 and r.json()["match"] is True
    assert client.get("/persons", headers=admin).status_code == 200
    assert client.get(f"/persons/{amal['person_id']}", headers=admin).status_code == 200
    assert client.get("/adjudication/cases", headers=admin).status_code == 200

    with sqlite_platform.transaction() as s:
        job = Job(kind="enroll-batch", total=2, done=1, created_by="admin",
                  summary={"folder": "x", "enrolled": 1})
        s.add(job)
        s.flush()
        job_id = job.id
    assert client.get(f"/jobs/{job_id}", headers=admin).status_code == 200

    card = client.post("/documents", json={"person_id": amal["person_id"]}, headers=admin)
    assert card.status_code == 201, card.text
    number = card.json()["document_number"]
    r = client.post("/documents/verify", data={"qr": card.json()["qr_text"]}, headers=admin)
    assert r.status_code == 200 and r.json()["verdict"] == "valid", r.text
    r = client.post(f"/documents/{number}/status", json={"status": "lost"}, headers=admin)
    assert r.status_code == 200
    r = client.post("/border/check", data={"location": "Port 3",
                                           "qr": card.json()["qr_text"]}, headers=admin)
    assert r.status_code == 200 and r.json()["alert"] is True
    assert client.get("/credentials/keyset", headers=admin).status_code == 200

    for url, body in (("/elections", {"code": "E1", "name": "Local",
                                      "election_date": "2026-12-01"}),
                      ("/districts", {"code": "D1", "name": "North"}),
                      ("/centres", {"code": "C1", "parent": "D1"})):
        assert client.post(url, json=body, headers=admin).status_code == 201
    station = client.post("/stations", json={"code": "S1", "parent": "C1"}, headers=admin)
    assert station.status_code == 201
    assert client.post("/elections/E1/roll/build", headers=admin).status_code == 200
    assert client.get("/elections/E1/exclusions", headers=admin).status_code == 200
    r = client.get("/elections/E1/roll.csv", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("voter_number,person_id,name")
    assert client.post("/elections/E1/roll/freeze", headers=admin).status_code == 200
    package = client.get("/elections/E1/stations/S1/package", headers=admin)
    assert package.status_code == 200
    voter = package.json()["roll"][0]["voter_number"]

    outcomes = []
    for _ in range(2):  # checked_in, then already_checked_in
        r = client.post("/elections/E1/check-in", data={
            "station": "S1", "voter_number": voter, "require_biometric": "false"},
            headers=admin)
        assert r.status_code == 200, r.text
        outcomes.append(r.json()["outcome"])
    assert outcomes == ["checked_in", "already_checked_in"]
    assert "offline" not in r.json()  # only the fields of this outcome

    device = OfflineStation(package.json(), station.json()["station_private_key"])
    device.check_in(voter, clerk="clerk1")
    r = client.post("/elections/E1/sync", json=device.export_log(), headers=admin)
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    forged = dict(device.export_log(), head="0" * 64)
    r = client.post("/elections/E1/sync", json=forged, headers=admin)
    assert r.status_code == 200 and r.json()["accepted"] is False, r.text

    assert client.get("/elections/E1/turnout", headers=admin).status_code == 200
    r = client.get("/elections/E1/audit-report", headers=admin)
    assert r.status_code == 200 and r.json()["audit_chain"]["ok"] is True
    r = client.get("/audit/verify", headers=admin)
    assert r.status_code == 200 and "reason" not in r.json()
    assert client.get("/audit/records?limit=5", headers=admin).status_code == 200

    r = client.post("/auth/password", json={"old_password": ADMIN_PW,
                                            "new_password": "admin-password-2"},
                    headers=admin)
    assert r.status_code == 200


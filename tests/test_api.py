"""The REST API end to end: auth and roles on every route, multipart enroll/verify/identify,
bad input as 4xx JSON."""

import re

from tests.conftest import ADMIN_PW, yale


def _token(client, username="admin", password=ADMIN_PW):
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _user(client, admin, name, role):
    r = client.post("/users", json={"username": name, "password": "pass-" + name * 2,
                                    "role": role}, headers=admin)
    assert r.status_code == 201, r.text
    return _token(client, name, "pass-" + name * 2)


def _face(subject, cond):
    return ("face", (f"{subject}.jpg", yale(subject, cond).read_bytes(), "image/jpeg"))


def test_every_route_needs_a_token(client):
    schema = client.get("/openapi.json").json()
    for path, methods in schema["paths"].items():
        if path == "/auth/token":
            continue
        for method in methods:
            url = re.sub(r"\{[a-z_]+\}", "1", path)
            r = client.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"] == "unauthorized"


def test_wrong_password_and_bad_token(client):
    r = client.post("/auth/token", data={"username": "admin", "password": "nope"})
    assert r.status_code == 401
    r = client.get("/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_roles_are_enforced(client):
    admin = _token(client)
    auditor = _user(client, admin, "auditor1", "auditor")
    verifier = _user(client, admin, "verifier1", "verifier")
    r = client.post("/persons", data={"name": "X"}, files=[_face(1, "normal")], headers=auditor)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.get("/audit/verify", headers=verifier).status_code == 403
    assert client.get("/audit/verify", headers=auditor).json()["ok"] is True
    assert client.post("/users", json={"username": "zzz", "password": "x" * 12,
                                       "role": "admin"}, headers=auditor).status_code == 403


def test_enroll_verify_identify_adjudicate_over_http(client):
    admin = _token(client)
    officer = _user(client, admin, "officer1", "enrollment_officer")
    verifier = _user(client, admin, "verifier1", "verifier")
    adjudicator = _user(client, admin, "adjud1", "adjudicator")

    r = client.post("/persons", data={"name": "Amal", "reference_id": "REF-1",
                                      "request_id": "r-1"},
                    files=[_face(1, "normal"), _face(1, "glasses")], headers=officer)
    assert r.status_code == 201, r.text
    amal = r.json()
    assert amal["status"] == "enrolled" and amal["templates"] == 2
    again = client.post("/persons", data={"name": "Amal", "reference_id": "REF-1",
                                          "request_id": "r-1"},
                        files=[_face(1, "normal"), _face(1, "glasses")], headers=officer).json()
    assert again["person_id"] == amal["person_id"] and again["replayed"] is True
    other = client.post("/persons", data={"name": "Amal", "request_id": "r-1"},
                        files=[_face(1, "normal")], headers=officer)
    assert other.status_code == 409

    r = client.post("/persons/REF-1/verify", files=[_face(1, "sad")], headers=verifier)
    assert r.status_code == 200 and r.json()["match"] is True
    r = client.post(f"/persons/{amal['person_id']}/verify", files=[_face(2, "sad")],
                    headers=verifier)
    assert r.json()["match"] is False

    dup = client.post("/persons", data={"name": "Not Amal"}, files=[_face(1, "happy")],
                      headers=officer).json()
    assert dup["status"] == "potential_duplicate"
    r = client.post("/identify", data={"top": "3"}, files=[_face(1, "sleepy")],
                    headers=verifier)
    assert r.json()["candidates"][0]["person_id"] in (amal["person_id"], dup["person_id"])
    cases = client.get("/adjudication/cases", headers=adjudicator).json()["cases"]
    assert cases[0]["person"]["person_id"] == dup["person_id"]
    r = client.post(f"/adjudication/cases/{cases[0]['case_id']}/decision",
                    json={"decision": "duplicate"}, headers=adjudicator)
    assert r.status_code == 200 and r.json()["person"]["status"] == "merged"
    assert client.get(f"/persons/{dup['person_id']}", headers=officer).json()["merged_into"] \
        == amal["person_id"]


def test_bad_input_is_a_clear_4xx(client):
    admin = _token(client)
    r = client.post("/persons", data={"name": "X"},
                    files=[("face", ("x.jpg", b"not an image", "image/jpeg"))], headers=admin)
    assert r.status_code == 422 and r.json()["error"] == "invalid_image"
    r = client.post("/persons", data={"name": "X"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"] == "invalid_input"
    r = client.post("/persons/P0123456789ABCDE/verify", files=[_face(1, "sad")], headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.post("/persons/bad%20id/verify", files=[_face(1, "sad")], headers=admin)
    assert r.status_code == 422
    assert client.get("/persons", headers=admin).json()["persons"] == []


def test_iris_over_http(client):
    from tests.conftest import casia

    admin = _token(client)
    files = [("iris_left", ("l.jpg", casia(70, 1, 1).read_bytes(), "image/jpeg")),
             ("iris_right", ("r.jpg", casia(71, 1, 1).read_bytes(), "image/jpeg"))]
    r = client.post("/persons", data={"name": "Eyes Only"}, files=files, headers=admin)
    assert r.status_code == 201, r.text
    pid = r.json()["person_id"]
    probe = [("iris_right", ("p.jpg", casia(71, 2, 1).read_bytes(), "image/jpeg"))]
    r = client.post(f"/persons/{pid}/verify", files=probe, headers=admin)
    assert r.status_code == 200 and r.json()["match"] is True
    wrong = [("iris_left", ("p.jpg", casia(71, 2, 1).read_bytes(), "image/jpeg"))]
    r = client.post(f"/persons/{pid}/verify", files=wrong, headers=admin)
    assert r.status_code == 422 and "wrong eye label" in r.json()["message"]
    r = client.post(f"/persons/{pid}/verify", headers=admin)
    assert r.status_code == 422 and "at least one biometric" in r.json()["message"]


def test_election_flow_over_http(client):
    admin = _token(client)
    eadmin = _user(client, admin, "eadmin1", "election_admin")
    observer = _user(client, admin, "observer1", "observer")
    officer = _user(client, admin, "officer1", "enrollment_officer")
    for subject in (1, 2):
        r = client.post("/persons", data={"name": f"V{subject}", "date_of_birth": "1980-01-01",
                                          "district": "D1"},
                        files=[_face(subject, "normal")], headers=officer)
        assert r.status_code == 201, r.text
    assert client.post("/elections", json={"code": "E1", "name": "Local",
                                           "election_date": "2026-12-01"},
                       headers=eadmin).status_code == 201
    client.post("/districts", json={"code": "D1", "name": "North"}, headers=eadmin)
    client.post("/centres", json={"code": "C1", "parent": "D1"}, headers=eadmin)
    st = client.post("/stations", json={"code": "S1", "parent": "C1"}, headers=eadmin).json()
    assert "PRIVATE KEY" in st["station_private_key"]
    assert client.post("/elections/E1/roll/build", headers=eadmin).json()["voters"] == 2
    assert client.post("/elections/E1/roll/freeze", headers=eadmin).json()["status"] == "frozen"
    r = client.post("/users", json={"username": "clerk1", "password": "pass-clerk1clerk1",
                                    "role": "polling_clerk", "station_code": "S1"},
                    headers=admin)
    assert r.status_code == 201
    clerk = _token(client, "clerk1", "pass-clerk1clerk1")
    r = client.post("/elections/E1/check-in", data={"station": "S1"},
                    files=[_face(2, "sad")], headers=clerk)
    assert r.status_code == 200 and r.json()["outcome"] == "checked_in", r.text
    r = client.post("/elections/E1/check-in", data={"station": "S1",
                                                    "voter_number": r.json()["voter_number"]},
                    files=[_face(2, "sleepy")], headers=clerk)
    assert r.json()["outcome"] == "already_checked_in"
    r = client.post("/elections/E1/check-in", data={"station": "S9"},
                    files=[_face(2, "sad")], headers=clerk)
    assert r.status_code == 403  # bound to S1
    r = client.post("/elections/E1/check-in", data={"station": "S1", "voter_number": "E1-1",
                                                    "require_biometric": "false"},
                    headers=clerk)
    assert r.status_code == 403
    t = client.get("/elections/E1/turnout", headers=observer).json()
    assert (t["roll"], t["checked_in"]) == (2, 1)
    rep = client.get("/elections/E1/audit-report", headers=observer).json()
    assert rep["roll"]["signature_valid"] and rep["audit_chain"]["ok"]
    assert client.post("/elections/E1/roll/build", headers=observer).status_code == 403


def test_documents_over_http(client):
    admin = _token(client)
    verifier = _user(client, admin, "border1", "verifier")
    r = client.post("/persons", data={"name": "Amal Haddad", "date_of_birth": "1990-04-12",
                                      "sex": "F"}, files=[_face(1, "normal")], headers=admin)
    pid = r.json()["person_id"]
    card = client.post("/documents", json={"person_id": pid}, headers=admin).json()
    png = client.get(f"/documents/{card['document_number']}/card", headers=admin)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    r = client.post("/documents/verify", data={"mrz": "\n".join(card["mrz"])},
                    files=[("qr_image", ("card.png", png.content, "image/png")),
                           _face(1, "sad")], headers=verifier)
    assert r.status_code == 200 and r.json()["verdict"] == "valid", r.json()["reasons"]
    client.post(f"/documents/{card['document_number']}/status",
                json={"status": "lost"}, headers=admin)
    r = client.post("/border/check", data={"location": "Port 3", "qr": card["qr_text"]},
                    headers=verifier).json()
    assert r["verdict"] == "invalid" and r["alert"] is True
    assert client.post("/documents", json={"person_id": pid}, headers=verifier).status_code \
        == 403
    ks = client.get("/credentials/keyset", headers=verifier).json()
    assert ks["keys"][0]["status"] == "active"
    rl = client.get("/credentials/revocation-list", headers=verifier)
    assert rl.status_code == 200 and len(rl.content) > 50


def test_accounts_and_error_shapes(client):
    admin = _token(client)
    clerk_bad = client.post("/users", json={"username": "clerkx", "password": "x" * 12,
                                            "role": "polling_clerk", "station_code": "NOPE"},
                            headers=admin)
    assert clerk_bad.status_code == 404
    user = _user(client, admin, "verifier9", "verifier")
    r = client.post("/auth/password", json={"old_password": "wrong-one-1",
                                            "new_password": "y" * 12}, headers=user)
    assert r.status_code == 401
    r = client.post("/auth/password", json={"old_password": "pass-" + "verifier9" * 2,
                                            "new_password": "y" * 12}, headers=user)
    assert r.status_code == 200
    assert client.get("/auth/me", headers=user).status_code == 401  # tokens revoked
    fresh = _token(client, "verifier9", "y" * 12)
    assert client.post("/users/verifier9/disable", headers=admin).status_code == 200
    assert client.get("/auth/me", headers=fresh).status_code == 401
    bad = client.post("/auth/token", data={"username": "verifier9", "password": "y" * 12})
    assert bad.status_code == 401
    users = client.get("/users", headers=admin).json()["users"]
    assert {"username": "verifier9", "role": "verifier", "station_code": None,
            "active": False} in users
    r = client.get("/nope", headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.post("/persons", data={"name": "X"},
                    files=[("face", ("x.jpg", b"GIF89a-not-really", "image/jpeg"))],
                    headers=admin)
    assert r.status_code == 422 and "BytesIO" not in r.json()["message"]


def test_adjudication_case_evidence_and_four_eyes(client):
    admin = _token(client)
    officer = _user(client, admin, "officer", "enrollment_officer")
    adj1 = _user(client, admin, "adjone", "adjudicator")
    adj2 = _user(client, admin, "adjtwo", "adjudicator")
    auditor = _user(client, admin, "audit", "auditor")
    first = client.post("/persons", data={"name": "First"}, files=[_face(4, "normal")],
                        headers=officer).json()
    held = client.post("/persons", data={"name": "Second"}, files=[_face(4, "happy")],
                       headers=officer).json()
    assert held["status"] == "potential_duplicate" and held["search"]["gallery_size"] == 1
    case = client.get(f"/adjudication/cases/{held['case_id']}", headers=adj1)
    assert case.status_code == 200, case.text
    detail = case.json()
    assert detail["enrolled_by"] == "officer"
    assert detail["matches"][0]["person"]["person_id"] == first["person_id"]
    url = detail["probe"]["captures"][0]["url"]
    assert client.get(url, headers=auditor).status_code == 403
    image = client.get(url, headers=adj1)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == yale(4, "happy").read_bytes()
    decide = f"/adjudication/cases/{held['case_id']}/decision"
    r = client.post(decide, json={"decision": "distinct"}, headers=adj1)
    assert r.status_code == 422 and "written reason" in r.json()["message"]
    r = client.post(decide, json={"decision": "distinct", "note": "x" * 5000}, headers=adj1)
    assert r.status_code == 422
    r = client.post(decide, json={"decision": "distinct", "note": "twins"}, headers=adj1)
    assert r.status_code == 200 and r.json()["awaiting_confirmation"] is True
    r = client.post(decide, json={"decision": "distinct"}, headers=adj1)
    assert r.status_code == 409
    r = client.post(decide, json={"decision": "distinct"}, headers=adj2)
    assert r.status_code == 200 and r.json()["person"]["status"] == "active"


def test_refused_requests_are_audited(client, sqlite_platform):
    """Every refusal is in the audit log with who, what and why."""
    from hawiya import audit

    admin = _token(client)
    verifier = _user(client, admin, "verifier1", "verifier")
    r = client.post("/persons", data={"name": "Nope"}, files=[_face(2, "normal")],
                    headers=verifier)
    assert r.status_code == 403
    r = client.post("/persons/P0123456789ABCDE/verify", files=[_face(2, "sad")],
                    headers=verifier)
    assert r.status_code == 404
    with sqlite_platform.transaction() as s:
        refused = [x for x in audit.records(s, 1000) if x["action"] == "request.refused"]
        assert audit.verify_chain(s)["ok"]
    assert [(x["actor"], x["details"]["status"]) for x in refused] == [
        ("verifier1", 403), ("verifier1", 404)]
    assert refused[0]["details"]["route"] == "/persons"
    assert refused[1]["subject"] == "P0123456789ABCDE"


def test_withdraw_an_unused_election(client):
    admin = _token(client)
    r = client.post("/elections", json={"code": "TMP", "name": "Typo",
                                        "election_date": "2030-01-01"},
                    headers=admin)
    assert r.status_code == 201, r.text
    r = client.post("/elections/TMP/roll/freeze", headers=admin)
    assert r.status_code == 409 and "empty" in r.json()["message"]
    r = client.delete("/elections/TMP", headers=admin)
    assert r.status_code == 200 and r.json()["withdrawn"] is True
    assert client.delete("/elections/TMP", headers=admin).status_code == 404

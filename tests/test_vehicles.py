"""Vehicle registry and signed e-plates: VINs, owners, plates per country, history, audit;
e-plate credentials on a tag and a QR, verified offline and against the registry; the API
with its roles and the CLI's --json contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hawiya import audit
from hawiya.credentials import documents, keys, revocation, signed
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.registry.models import INACTIVE, AuditRecord, Person, Vehicle
from hawiya.vehicles import eplate, registry, vin
from tests.api_accounts import account, login

HONDA = "1HGCM82633A004352"      # North-American VIN, check digit 3
CLASSIC = "1M8GDM9AXKP042788"    # check digit X
EUROPE = "WVWZZZ1JZXW000001"     # character 9 is the maker's: not checked
TODAY = dt.date(2026, 6, 1)


def _person(platform, name="Amal Haddad", status="active") -> str:
    with platform.transaction() as s:
        p = Person(name=name, status=status)
        s.add(p)
        s.flush()
        return p.person_id


def _count(platform, model) -> int:
    with platform.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _register(platform, owner, vin_text=HONDA, **kw):
    args = {"make": "Honda", "model": "Accord", "colour": "silver", "vehicle_class": "M1",
            "actor": "registrar", **kw}
    return registry.register(platform, vin_text=vin_text, owner_person=owner, **args)


def _actions(platform, subject):
    with platform.transaction() as s:
        return [(r.action, json.loads(r.details)) for r in s.scalars(
            select(AuditRecord).where(AuditRecord.subject == subject)
            .order_by(AuditRecord.seq))]


# =========================================================================== VIN

def test_vin_check_digit_region_manufacturer_and_year():
    info = vin.parse(HONDA.lower() + " ")
    assert info.vin == HONDA and info.check_digit == "valid"
    assert info.region == "North America" and info.manufacturer == "Honda (USA)"
    assert info.model_year == 2003
    assert vin.parse(CLASSIC).check_digit == "valid" and vin.check_digit(CLASSIC) == "X"
    europe = vin.parse(EUROPE)
    assert europe.check_digit == "not_checked" and europe.region == "Europe"
    assert europe.manufacturer == "Volkswagen (Germany)" and europe.model_year is None


@pytest.mark.parametrize("text, reason", [
    ("1HGCM82643A004352", "check digit"),         # 9th character altered
    ("1HGCM82633A00435", "17 characters"),
    ("1HGCM8263OA004352", "I, O and Q"),
    ("1HGCM82633A00435!", "only digits"),
    ("", "17 characters"),
])
def test_malformed_vins_are_refused_with_the_reason(text, reason):
    with pytest.raises(InvalidInput) as err:
        vin.parse(text)
    assert reason in err.value.message


@settings(max_examples=200, deadline=None)
@given(st.text(vin.VIN_CHARS, min_size=16, max_size=16), st.integers(0, 16),
       st.sampled_from(vin.VIN_CHARS))
def test_check_digit_catches_every_single_substitution(body, position, replacement):
    """Weights are 1-10 and 11 is prime: changing one character to one of another value
    (anywhere but the check digit itself) always changes the sum modulo 11."""
    draft = "1" + body[1:8] + "0" + body[8:]
    good = draft[:8] + vin.check_digit(draft) + draft[9:]
    assert vin.problems(good) == []
    if position == 8 or vin._VALUES[good[position]] == vin._VALUES[replacement] or \
            (position == 0 and replacement not in "12345"):
        return
    bad = good[:position] + replacement + good[position + 1:]
    assert any("check digit" in p for p in vin.problems(bad))


# =========================================================================== registry

def test_register_transfer_deregister_with_history_and_audit(platform):
    amal, omar = _person(platform), _person(platform, "Omar Salem")
    v = _register(platform, amal, plate="5-1234567")
    assert v["plate"] == "51234567" and v["plate_country"] == "LY"
    assert v["owner"] == {"kind": "person", "person_id": amal, "name": "Amal Haddad"}
    assert v["manufacturer"] == "Honda (USA)" and v["year"] == 2003
    assert registry.find(platform, "5-1234567")["vin"] == HONDA

    moved = registry.transfer(platform, HONDA, to_person=omar, reason="sold", actor="reg2")
    assert moved["previous_owner"] == amal and moved["owner"]["person_id"] == omar
    with pytest.raises(Conflict):
        registry.transfer(platform, HONDA, to_person=omar, actor="reg2")
    assert registry.list_vehicles(platform, owner=omar)[0]["vin"] == HONDA
    assert registry.list_vehicles(platform, owner=amal) == []

    registry.assign_plate(platform, HONDA, "12 345", actor="reg")
    gone = registry.deregister(platform, HONDA, reason="scrapped", actor="reg")
    assert gone["plate_released"] == "12345" and gone["status"] == "deregistered"
    detail = registry.find(platform, HONDA)
    assert detail["plate"] is None and detail["status"] == "deregistered"
    assert [(p["plate"], p["end_reason"], p["current"]) for p in detail["plates"]] == [
        ("51234567", "replaced", False), ("12345", "deregistered", False)]
    with pytest.raises(Conflict):
        registry.transfer(platform, HONDA, to_person=amal, actor="reg")
    with pytest.raises(NotFound):
        registry.find(platform, "12345")
    acts = _actions(platform, HONDA)
    assert [a for a, _ in acts] == ["vehicle.register", "vehicle.plate_assign",
                                    "vehicle.transfer", "vehicle.plate_assign",
                                    "vehicle.deregister"]
    assert acts[2][1] == {"from": amal, "to": omar, "reason": "sold"}
    with platform.transaction() as s:
        assert audit.verify_chain(s)["ok"] is True
    # A released plate goes to another vehicle; an organisation may own one.
    other = registry.register(platform, vin_text=EUROPE, make="Volkswagen", model="Golf",
                              colour="blue", vehicle_class="m1", year=1999,
                              owner_organisation="Tripoli Taxi Co", plate="12-345",
                              actor="reg")
    assert other["owner"] == {"kind": "organisation", "person_id": None,
                              "name": "Tripoli Taxi Co"} and other["plate"] == "12345"


def test_bad_input_writes_nothing(platform):
    amal = _person(platform)
    _register(platform, amal, plate="5-1234567")
    before = (_count(platform, Vehicle), _count(platform, AuditRecord))
    cases = [
        (Conflict, dict(vin_text=HONDA)),                                  # duplicate VIN
        (InvalidInput, dict(vin_text="1HGCM82643A004352")),                # check digit
        (InvalidInput, dict(vin_text=CLASSIC, plate="ABC-1234")),          # not a LY plate
        (Conflict, dict(vin_text=CLASSIC, plate="5 1234567")),             # plate taken
        (NotFound, dict(vin_text=CLASSIC, owner="P0123456789ABCDE")),      # no such person
        (InvalidInput, dict(vin_text=CLASSIC, vehicle_class="SUV")),
        (InvalidInput, dict(vin_text=CLASSIC, year=1700)),
        (InvalidInput, dict(vin_text=CLASSIC, plate="AB1", plate_country="ZZ")),
    ]
    for error, kw in cases:
        owner = kw.pop("owner", amal)
        with pytest.raises(error):
            _register(platform, owner, **kw)
    with pytest.raises(InvalidInput, match="exactly one"):
        registry.register(platform, vin_text=CLASSIC, make="A", model="B", colour="C",
                          vehicle_class="M1", owner_person=amal, owner_organisation="X",
                          actor="reg")
    with pytest.raises(Conflict, match="active"):
        _register(platform, _person(platform, "Gone", INACTIVE), vin_text=CLASSIC)
    with pytest.raises(NotFound):
        registry.assign_plate(platform, CLASSIC, "7-7777", actor="reg")
    with pytest.raises(Conflict):
        registry.assign_plate(platform, HONDA, "5-1234567", actor="reg")
    assert (_count(platform, Vehicle), _count(platform, AuditRecord)) == before


def test_plate_formats_per_country(platform):
    amal = _person(platform)
    br = _register(platform, amal, plate="ABC1D23", plate_country="br")
    assert (br["plate"], br["plate_country"]) == ("ABC1D23", "BR")     # Mercosur
    moved = registry.assign_plate(platform, HONDA, "ABC-1234", country="BR", actor="reg")
    assert moved["previous_plate"] == "ABC1D23" and moved["plate"] == "ABC1234"
    with pytest.raises(InvalidInput, match="fits no BR format"):
        registry.assign_plate(platform, HONDA, "AB-12345", country="BR", actor="reg")
    # The same text may be a plate in two countries: plates are unique per country.
    registry.register(platform, vin_text=CLASSIC, make="MCI", model="Coach", colour="grey",
                      vehicle_class="M3", owner_person=amal, plate="ABC-1234",
                      plate_country="US-NY", actor="reg")
    assert registry.find(platform, "ABC1234", country="US-NY")["vin"] == CLASSIC
    assert registry.find(platform, "ABC1234", country="BR")["vin"] == HONDA


# =========================================================================== e-plates

@pytest.fixture
def signer(tmp_path):
    keys.create_key(tmp_path / "issuer", "Ed25519")
    return keys.active_key(tmp_path / "issuer"), keys.KeySet.from_folder(tmp_path / "issuer")


FIELDS = {"serial": "EPABCDEFGH", "plate": "51234567", "country": "LY", "vin": HONDA,
          "vehicle_class": "M1", "issued_on": TODAY, "expires_on": dt.date(2031, 6, 1)}


@pytest.mark.parametrize("algorithm", ["Ed25519", "ES256"])
def test_the_largest_eplate_fits_the_tag_budget(tmp_path, algorithm):
    keys.create_key(tmp_path / algorithm, algorithm)
    key = keys.active_key(tmp_path / algorithm)
    assert len(eplate.issue(FIELDS, key)) <= 150
    largest = dict(FIELDS, plate="W" * 16, country="US-CA", vehicle_class="ABCDEFGH")
    cose = eplate.issue(largest, key)
    assert len(cose) <= eplate.TAG_USER_MEMORY_BYTES == 256
    assert len(eplate.tag_image(cose)) % 2 == 0
    assert len(eplate.encode_qr_text(cose)) <= eplate.MAX_QR_TEXT


def test_eplate_verifies_from_tag_and_qr(signer):
    key, keyset = signer
    cose = eplate.issue(FIELDS, key)
    image = eplate.tag_image(cose)
    for presented in (cose, image, image + bytes(200), image.hex(),
                      " ".join(f"{b:02X}" for b in image), eplate.encode_qr_text(cose)):
        v = eplate.verify(presented, keyset, today=TODAY, vin=HONDA, revoked=[])
        assert v.valid, v.reason
    assert v.source == "qr" and v.payload["plate"] == "51234567"
    assert v.payload["vin_digest"] == eplate.vin_digest(HONDA).hex()
    assert eplate.verify(cose, keyset, today=dt.date(2032, 1, 1)).check("not_expired").status \
        == "fail"
    other = eplate.verify(cose, keyset, today=TODAY, vin=CLASSIC)
    assert not other.valid and other.check("vin_matches").status == "fail"
    entries = [{"document_number": "EPABCDEFGH", "status": "stolen", "since": "2026-05-01"}]
    for revoked in (entries, eplate.revocation_index(entries)):
        listed = eplate.verify(cose, keyset, today=TODAY, revoked=revoked)
        assert "stolen since 2026-05-01" in listed.check("not_revoked").reason


def test_forged_and_garbage_tags_are_invalid_verdicts(signer, tmp_path):
    key, keyset = signer
    cose = eplate.issue(FIELDS, key)
    flipped = bytearray(cose)
    flipped[40] ^= 1
    keys.create_key(tmp_path / "rogue")
    rogue = eplate.issue(FIELDS, keys.active_key(tmp_path / "rogue"))
    cases = {
        bytes(flipped): "signature", rogue: "key_known", b"": "format",
        bytes(64): "format", cose + b"\x01\x00": "format", "HP1:%%%": "format",
        "not hex at all": "format", "HW1:6BFOXN*TS0BI$ZD": "format", 12345: "format",
        "ab" * 5000: "format",
    }
    for presented, failed in cases.items():
        v = eplate.verify(presented, keyset, today=TODAY)
        assert not v.valid and v.reason.startswith(failed + ":"), (presented, v.reason)
        assert all(c.status in ("pass", "fail", "skipped") for c in v.checks)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400),
                 st.binary(max_size=300).map(lambda b: eplate.QR_PREFIX + b.hex().upper())))
def test_random_input_never_raises(data):
    v = eplate.verify(data, {"format": "hawiya-keyset", "version": 1, "keys": []})
    assert v.valid is False and v.reason


def test_cards_and_eplates_never_verify_as_each_other(signer):
    key, keyset = signer
    card = signed.issue({"document_number": "HABCDEFGH", "document_type": "ID",
                         "surname": "Haddad", "given_names": "Amal",
                         "date_of_birth": "1990-04-12", "sex": "F", "nationality": "LBY",
                         "issuing_authority": "Civil Registry", "issue_date": TODAY,
                         "expiry_date": dt.date(2036, 6, 1), "face_digest": bytes(32)}, key)
    plate = eplate.issue(FIELDS, key)
    as_plate = eplate.verify(card, keyset, today=TODAY)
    assert not as_plate.valid and as_plate.check("signature").status == "fail"
    assert "ID-card" in eplate.verify(signed.encode_qr_text(card), keyset).reason
    as_card = signed.verify(plate, keyset, today=TODAY)
    assert not as_card.valid and as_card.check("signature").status == "fail"


def test_eplate_lifecycle_and_revocation_list(platform):
    amal = _person(platform)
    _register(platform, amal, plate="5-1234567")
    first = registry.issue_eplate(platform, "5-1234567", actor="reg")
    assert first["tag_bytes"] <= first["tag_budget_bytes"] == 256
    assert first["qr_text"].startswith("HP1:") and first["serial"].startswith("EP")
    ok = registry.check_eplate(platform, first["tag_hex"], vin_text=HONDA)
    assert ok["valid"] and ok["vehicle"]["vin"] == HONDA, ok["reason"]
    second = registry.issue_eplate(platform, "51234567", actor="reg")
    assert second["supersedes"] == [first["serial"]]
    old = registry.check_eplate(platform, first["qr_text"])
    assert not old["valid"] and "superseded" in old["reason"]
    changed = registry.set_eplate_status(platform, "5-1234567", "stolen", reason="reported",
                                         actor="police")
    assert changed == {"serial": second["serial"], "plate": "51234567", "country": "LY",
                       "status": "stolen", "previous": "valid"}
    stolen = registry.check_eplate(platform, second["qr_text"])
    assert stolen["verdict"] == "invalid" and stolen["alert"] is True
    with pytest.raises(InvalidInput):
        registry.set_eplate_status(platform, "5-1234567", "superseded", actor="reg")
    with pytest.raises(NotFound):
        registry.set_eplate_status(platform, "9-9999", "revoked", actor="reg")
    with pytest.raises(NotFound):
        registry.issue_eplate(platform, "9-9999", actor="reg")

    keyset = keys.KeySet.from_folder(platform.issuer_keys)
    good, entries, _ = revocation.verify_revocation_list(documents.revocation_list(platform),
                                                         keyset)
    assert good and {e["document_number"]: e["status"] for e in entries} == {
        first["serial"]: "superseded", second["serial"]: "stolen"}
    offline = eplate.verify(second["qr_text"], keyset, revoked=entries)
    assert not offline.valid and offline.check("not_revoked").status == "fail"

    registry.set_eplate_status(platform, "51234567", "valid", actor="reg")
    assert registry.check_eplate(platform, second["qr_text"])["valid"]
    registry.deregister(platform, HONDA, reason="exported", actor="reg")
    gone = registry.check_eplate(platform, second["qr_text"])
    assert not gone["valid"] and {c["name"]: c["status"] for c in gone["checks"]}[
        "vehicle_registered"] == "fail"
    assert [a for a, _ in _actions(platform, second["serial"])] == [
        "eplate.issue", "eplate.stolen", "eplate.reinstate", "eplate.revoked"]
    with pytest.raises(Conflict):
        registry.set_eplate_status(platform, "51234567", "valid", actor="reg")


# =========================================================================== API

def test_vehicles_over_http_with_roles(client, sqlite_platform):
    admin = login(client)
    registrar = account(client, admin, "registrar1", "vehicle_registrar")
    officer = account(client, admin, "officer1", "traffic_officer")
    auditor = account(client, admin, "auditor1", "auditor")
    verifier = account(client, admin, "verifier1", "verifier")
    owner = _person(sqlite_platform)
    body = {"vin": HONDA, "make": "Honda", "model": "Accord", "colour": "silver",
            "vehicle_class": "M1", "owner_person": owner, "plate": "5-1234567"}
    assert client.post("/vehicles", json=body, headers=officer).status_code == 403
    r = client.post("/vehicles", json=body, headers=registrar)
    assert r.status_code == 201 and r.json()["plate"] == "51234567", r.text
    assert client.post("/vehicles", json=body, headers=registrar).status_code == 409
    bad = client.post("/vehicles", json={**body, "vin": "1HGCM82643A004352"},
                      headers=registrar)
    assert bad.status_code == 422 and "check digit" in bad.json()["message"]
    assert client.get(f"/vehicles/{HONDA}", headers=auditor).status_code == 200
    assert client.get("/vehicles/5-1234567", headers=officer).json()["vin"] == HONDA
    assert client.get("/vehicles", headers=auditor).json()["vehicles"][0]["vin"] == HONDA
    assert client.get("/vehicles/7-7777", headers=officer).status_code == 404
    assert client.get("/vehicles", headers=verifier).status_code == 403

    assert client.post("/plates/51234567/eplate", headers=officer).status_code == 403
    issued = client.post("/plates/51234567/eplate", headers=registrar)
    assert issued.status_code == 201, issued.text
    qr = issued.json()["qr_text"]
    v = client.post("/plates/verify", json={"qr": qr, "vin": HONDA}, headers=officer).json()
    assert v["verdict"] == "valid" and v["vehicle"]["make"] == "Honda", v["reason"]
    v = client.post("/plates/verify", json={"tag_hex": "00ff" * 8}, headers=officer).json()
    assert v["verdict"] == "invalid" and v["checks"][0]["status"] == "fail"
    assert client.post("/plates/verify", json={}, headers=officer).status_code == 422
    assert client.post("/plates/verify", json={"qr": qr}, headers=auditor).status_code == 403
    r = client.post("/plates/51234567/status", json={"status": "revoked"}, headers=registrar)
    assert r.status_code == 200 and r.json()["previous"] == "valid"
    assert client.post("/plates/verify", json={"qr": qr},
                       headers=officer).json()["verdict"] == "invalid"
    assert client.post("/plates/7-7777/eplate", headers=registrar).status_code == 404

    other = _person(sqlite_platform, "Omar Salem")
    r = client.post(f"/vehicles/{HONDA}/transfer", json={"to_person": other},
                    headers=registrar)
    assert r.status_code == 200 and r.json()["previous_owner"] == owner
    r = client.post(f"/vehicles/{HONDA}/plate", json={"plate": "ABC1D23", "country": "BR"},
                    headers=registrar)
    assert r.status_code == 200 and r.json()["country"] == "BR"
    r = client.post(f"/vehicles/{HONDA}/deregister", json={"reason": "scrapped"},
                    headers=auditor)
    assert r.status_code == 403
    r = client.post(f"/vehicles/{HONDA}/deregister", json={"reason": "scrapped"},
                    headers=registrar)
    assert r.status_code == 200 and r.json()["plate_released"] == "ABC1D23"


# =========================================================================== CLI

def test_cli_json_contract(sqlite_platform, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hawiya.cli import app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    data = str(sqlite_platform.settings.data_dir)
    owner = _person(sqlite_platform)
    runner = CliRunner()

    def run(*args, code=0):
        r = runner.invoke(app, [*args, "--data-dir", data, "--json"])
        assert r.exit_code == code, r.output
        return json.loads(r.stdout.strip().splitlines()[-1])

    v = run("vehicle", "register", HONDA, "--make", "Honda", "--model", "Accord", "--colour",
            "silver", "--class", "M1", "--owner", owner, "--plate", "5-1234567")
    assert v["vin"] == HONDA and v["plate"] == "51234567"
    assert run("vehicle", "register", HONDA, "--make", "Honda", "--model", "Accord",
               "--colour", "silver", "--class", "M1", "--owner", owner,
               code=1)["error"] == "conflict"
    bad = run("vehicle", "register", "1HGCM82643A004352", "--make", "H", "--model", "A",
              "--colour", "c", "--class", "M1", "--owner", owner, code=2)
    assert bad["error"] == "invalid_input" and "check digit" in bad["message"]
    assert run("vehicle", "show", "51234567")["vin"] == HONDA
    assert run("vehicle", "list")["vehicles"][0]["vin"] == HONDA
    tag_file = tmp_path / "tag.bin"
    issued = run("plate", "issue", "5-1234567", "--tag-out", str(tag_file))
    assert tag_file.read_bytes().hex() == issued["tag_hex"]
    assert run("plate", "verify", "--qr", issued["qr_text"])["verdict"] == "valid"
    assert run("plate", "verify", "--tag-file", str(tag_file), "--vin", HONDA)["valid"]
    assert run("plate", "verify", "--tag-hex", "zz", code=1)["checks"][0]["status"] == "fail"
    keyset = tmp_path / "keyset.json"
    keyset.write_text(json.dumps(keys.public_keyset(sqlite_platform.issuer_keys)))
    assert run("plate", "verify", "--qr", issued["qr_text"], "--keyset", str(keyset))["valid"]
    assert run("plate", "status", "51234567", "stolen")["status"] == "stolen"
    listed = tmp_path / "revoked.cose"
    listed.write_bytes(documents.revocation_list(sqlite_platform))
    offline = run("plate", "verify", "--tag-hex", issued["tag_hex"], "--keyset", str(keyset),
                  "--revocation-list", str(listed), code=1)
    assert offline["alert"] is True and "stolen" in offline["reason"]
    assert run("vehicle", "transfer", HONDA, "--to-organisation", "Taxi Co")[
        "owner"]["kind"] == "organisation"
    assert run("vehicle", "assign-plate", HONDA, "ABC1D23", "--country", "BR")["plate"] == \
        "ABC1D23"
    assert run("vehicle", "deregister", HONDA, "--reason", "scrapped")["status"] == \
        "deregistered"
    assert run("plate", "status", "7-7777", "revoked", code=1)["error"] == "not_found"

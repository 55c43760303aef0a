"""Elections end to end on both databases: roll rules, freeze, check-in outcomes, no double
check-in under concurrency, offline station logs, turnout and the audit report."""

import threading

import pytest
from sqlalchemy import func, select, text

from hawiya.elections import geography, offline, roll, turnout
from hawiya.errors import Conflict, InvalidInput
from hawiya.identity.persons import Demographics
from hawiya.registry.models import CheckIn
from tests import calls as service
from tests.conftest import yale

ADMIN = "eadmin"


@pytest.fixture
def election(platform):
    """Two districts, three stations, six registrants of whom three are eligible."""
    geography.create_election(platform, "GE26", "General election", "2026-12-01",
                              actor=ADMIN)
    geography.add_district(platform, "D1", "North", actor=ADMIN)
    geography.add_district(platform, "D2", "South", actor=ADMIN)
    geography.add_centre(platform, "C1", "School 1", "D1", actor=ADMIN)
    geography.add_centre(platform, "C2", "School 2", "D2", actor=ADMIN)
    keys = {}
    for code, centre in (("S1", "C1"), ("S2", "C1"), ("S3", "C2")):
        keys[code] = geography.add_station(platform, code, code, centre,
                                           actor=ADMIN)["station_private_key"]
    people = {}
    for subject, dob, district in ((1, "1980-01-01", "D1"), (2, "1990-05-05", "D1"),
                                   (3, "1970-03-03", "D2"), (7, "2015-01-01", "D1"),
                                   (5, "1985-01-01", None), (8, "1985-01-01", "D9")):
        demo = Demographics.parse(f"Voter {'ABCDEFGHIJ'[subject]}", date_of_birth=dob,
                                  district=district)
        people[subject] = service.enroll(platform, faces=[yale(subject, "normal")],
                                         demographics=demo, actor="officer")["person_id"]
    held = service.enroll(platform, faces=[yale(1, "happy")], actor="officer",
                          demographics=Demographics.parse("Dup", date_of_birth="1980-01-01",
                                                          district="D1"))
    assert held["status"] == "potential_duplicate"
    built = roll.build_roll(platform, "GE26", actor=ADMIN)
    assert built["voters"] == 3
    assert built["excluded"] == {"under_age": 1, "no_district": 1, "unknown_district": 1,
                                 "pending_adjudication": 1}
    frozen = roll.freeze_roll(platform, "GE26", actor=ADMIN)
    with platform.transaction() as s:
        numbers = dict(s.execute(text(
            "SELECT p.person_id, r.voter_number FROM roll_entries r JOIN persons p "
            "ON p.id = r.person_db_id")).all())
        stations = dict(s.execute(text(
            "SELECT r.voter_number, st.code FROM roll_entries r JOIN stations st "
            "ON st.id = r.station_id")).all())
    return {"people": people, "voter": {k: numbers.get(v) for k, v in people.items()},
            "station_of": stations, "keys": keys, "frozen": frozen}


def test_roll_is_frozen_signed_and_listed(platform, election):
    with pytest.raises(Conflict):
        roll.build_roll(platform, "GE26", actor=ADMIN)
    rules = {e["rule"] for e in roll.exclusions(platform, "GE26")}
    assert rules == {"under_age", "no_district", "unknown_district", "pending_adjudication"}
    csv_text = roll.export_csv(platform, "GE26")
    assert csv_text.count("\n") == 4 and "GE26-00000001" in csv_text
    report = turnout.audit_report(platform, "GE26")
    assert report["roll"]["signature_valid"] and report["roll"]["unchanged_since_freeze"]
    # Editing the frozen roll behind the system's back is visible in the audit report.
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE roll_entries SET voter_number = 'GE26-99999999' "
                          "WHERE voter_number = 'GE26-00000001'"))
    assert turnout.audit_report(platform, "GE26")["roll"]["unchanged_since_freeze"] is False


def test_check_in_outcomes(platform, election):
    v1 = election["voter"][1]
    s1 = election["station_of"][v1]
    other = "S2" if s1 == "S1" else "S1"
    ok = service.check_in(platform, "GE26", s1, clerk="clerk1", voter_number=v1,
                          face=yale(1, "sad"))
    assert ok["outcome"] == "checked_in" and ok["score"] >= 0.9
    again = service.check_in(platform, "GE26", s1, clerk="clerk1", voter_number=v1,
                             face=yale(1, "sleepy"))
    assert again["outcome"] == "already_checked_in" and again["first_station"] == s1
    v2 = election["voter"][2]
    s2 = election["station_of"][v2]
    wrong = "S1" if s2 != "S1" else "S2"
    res = service.check_in(platform, "GE26", wrong, clerk="c", voter_number=v2,
                           face=yale(2, "sad"))
    assert res["outcome"] == "wrong_station" and res["assigned_station"] == s2
    res = service.check_in(platform, "GE26", s2, clerk="c", voter_number=v2,
                           face=yale(3, "sad"))
    assert res["outcome"] == "verification_failed"
    res = service.check_in(platform, "GE26", other, clerk="c", voter_number="GE26-00009999",
                           face=yale(2, "sad"))
    assert res["outcome"] == "not_on_roll"
    # Found by face alone, within the roll.
    res = service.check_in(platform, "GE26", "S3", clerk="c", face=yale(3, "sad"))
    assert res["outcome"] == "checked_in" and res["person_id"] == election["people"][3]
    # Someone registered but not on the roll (under age) is not on the roll.
    res = service.check_in(platform, "GE26", "S1", clerk="c", face=yale(7, "sad"))
    assert res["outcome"] == "not_on_roll"
    with pytest.raises(InvalidInput):
        service.check_in(platform, "GE26", s2, clerk="c", voter_number=v2)
    t = turnout.turnout(platform, "GE26")
    assert (t["roll"], t["checked_in"]) == (3, 2)
    assert t["district"]["D2"]["turnout"] == 1.0


def test_no_double_check_in_under_concurrency(platform, election):
    v2 = election["voter"][2]
    s2 = election["station_of"][v2]
    results = []

    def go():
        results.append(service.check_in(platform, "GE26", s2, clerk="c", voter_number=v2,
                                        require_biometric=False)["outcome"])

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("checked_in") == 1 and results.count("already_checked_in") == 7
    with platform.transaction() as s:
        assert s.scalar(select(func.count(CheckIn.id))) == 1


def test_offline_station_sync_and_tampering(platform, election):
    v1, v2 = election["voter"][1], election["voter"][2]
    st = election["station_of"][v1]
    pkg = offline.station_package(platform, "GE26", st)
    device = offline.OfflineStation(pkg, election["keys"][st])
    assert device.check_in(v1, "clerk9")["outcome"] == "checked_in"
    assert device.check_in(v1, "clerk9")["outcome"] == "already_checked_in"
    if election["station_of"][v2] == st:
        device.check_in(v2, "clerk9")
    log = device.export_log()

    forged = dict(log, records=[dict(r) for r in log["records"]])
    forged["records"][0]["clerk"] = "someone else"
    res = offline.sync_station_log(platform, forged, actor="central")
    assert res["accepted"] is False and "chain" in res["reason"]
    bad_sig = dict(log, signature=log["signature"][:-4] + "AAA=")
    assert offline.sync_station_log(platform, bad_sig, actor="central")["accepted"] is False

    # The same voter also checked in online at the same station: a double check-in.
    online = service.check_in(platform, "GE26", st, clerk="c", voter_number=v1,
                              require_biometric=False)
    assert online["outcome"] == "checked_in"
    res = offline.sync_station_log(platform, log, actor="central")
    assert res["accepted"] is True
    assert [a["kind"] for a in res["anomalies"]] == ["double_check_in"]
    again = offline.sync_station_log(platform, log, actor="central")
    assert again["accepted"] is True
    kinds = [a["kind"] for a in turnout.audit_report(platform, "GE26")["anomalies"]]
    assert kinds.count("log_tampered") == 2 and "double_check_in" in kinds


def test_check_in_with_id_card_qr(platform, election):
    from hawiya.credentials import documents

    card = documents.issue_card(platform, election["people"][3], actor="issuer")
    res = service.check_in(platform, "GE26", "S3", clerk="c", qr_text=card["qr_text"],
                           face=yale(3, "sad"))
    assert res["outcome"] == "checked_in" and res["method"] == "qr"
    with pytest.raises(InvalidInput, match="QR refused"):
        service.check_in(platform, "GE26", "S3", clerk="c", qr_text="HW1:broken",
                         face=yale(3, "sad"))


def test_printable_station_list(platform, election):
    from hawiya.elections.printing import station_list_pdf

    st = election["station_of"][election["voter"][1]]
    pdf = station_list_pdf(platform, "GE26", st)
    assert pdf.startswith(b"%PDF") and b"/Count 1" in pdf


def test_never_enrolled_face_is_not_checked_in_as_someone_else(platform, election):
    """The reported case: a face of someone never enrolled, at the station of an enrolled
    voter, must not check that voter in (1:N threshold by roll size, not the 1:1 one)."""
    v3 = election["voter"][3]
    station = election["station_of"][v3]
    for stranger in (14, 15, 13):  # never enrolled in this registry
        res = service.check_in(platform, "GE26", station, clerk="c", face=yale(stranger, "sad"))
        assert res["outcome"] in ("not_on_roll", "not_identified"), res
        assert res.get("person_id") is None and "FPIR" in res["reason"]
    # The real voter still checks in, and the clerk sees a name and a portrait to confirm.
    res = service.check_in(platform, "GE26", station, clerk="c", face=yale(3, "sad"))
    assert res["outcome"] == "checked_in" and res["name"] == "Voter D"
    assert res["portrait"].startswith("data:image/jpeg;base64,")


def test_already_checked_in_comes_before_wrong_station(platform, election):
    v1 = election["voter"][1]
    s1 = election["station_of"][v1]
    other = "S2" if s1 == "S1" else "S1"
    first = service.check_in(platform, "GE26", s1, clerk="c", voter_number=v1,
                             face=yale(1, "sad"))
    assert first["outcome"] == "checked_in"
    again = service.check_in(platform, "GE26", other, clerk="c", voter_number=v1,
                             face=yale(1, "sad"))
    assert again["outcome"] == "already_checked_in" and again["first_station"] == s1
    assert again["first_checked_at"] == first["checked_at"]


def test_undecidable_search_names_nobody(platform, election):
    """When the captured modality cannot reach the target FPIR at the roll's size, the
    answer says so instead of naming someone."""
    platform.settings.identity.target_fpir.check_in = 1e-9
    v3 = election["voter"][3]
    res = service.check_in(platform, "GE26", election["station_of"][v3], clerk="c",
                           face=yale(3, "sad"))
    assert res["outcome"] == "not_identified" and res.get("person_id") is None
    assert "cannot single out" in res["reason"] and "add iris or finger" in res["reason"]


def test_online_double_check_in_is_an_anomaly_and_empty_roll_cannot_freeze(platform, election):
    v1 = election["voter"][1]
    s1 = election["station_of"][v1]
    other = "S2" if s1 == "S1" else "S1"
    service.check_in(platform, "GE26", s1, clerk="c", voter_number=v1, face=yale(1, "sad"))
    again = service.check_in(platform, "GE26", other, clerk="c2", voter_number=v1,
                             face=yale(1, "sad"))
    assert again["outcome"] == "already_checked_in"
    found = [a for a in turnout.audit_report(platform, "GE26")["anomalies"]
             if a["kind"] == "double_check_in"]
    assert len(found) == 1 and found[0]["details"]["second_station"] == other
    # An empty roll cannot be frozen; an unused election can be withdrawn (and reused).
    geography.create_election(platform, "EMPTY", "Empty", "2030-01-01", actor=ADMIN)
    with pytest.raises(Conflict, match="empty"):
        roll.freeze_roll(platform, "EMPTY", actor=ADMIN)
    assert roll.withdraw_election(platform, "EMPTY", actor=ADMIN)["withdrawn"]
    geography.create_election(platform, "EMPTY", "Empty again", "2030-01-01", actor=ADMIN)
    with pytest.raises(Conflict, match="check-ins"):
        roll.withdraw_election(platform, "GE26", actor=ADMIN)


def test_refused_check_in_attempts_are_audited(platform, election):
    from hawiya import audit

    v2 = election["voter"][2]
    with pytest.raises(InvalidInput):
        service.check_in(platform, "GE26", election["station_of"][v2], clerk="clerk7",
                         voter_number=v2)  # no biometric capture
    with pytest.raises(InvalidInput, match="QR refused"):
        service.check_in(platform, "GE26", "S3", clerk="clerk7", qr_text="HW1:forged",
                         face=yale(3, "sad"))
    with platform.transaction() as s:
        refused = [r for r in audit.records(s, 1000) if r["action"] == "election.check_in"
                   and r["details"]["outcome"] == "refused"]
    assert [r["actor"] for r in refused] == ["clerk7", "clerk7"]
    assert "biometric verification is required" in refused[0]["details"]["reason"]

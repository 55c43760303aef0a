"""Foreign documents at the desk, the watch list, structured names, card portraits and
re-issue."""

import datetime as dt

import pytest

from hawiya.credentials import cards, desk, documents, keys, mrz, revocation, watchlist
from hawiya.credentials.icao_codes import check_code, code_name
from hawiya.errors import Conflict, InvalidInput
from hawiya.identity.names import PersonName
from hawiya.identity.persons import Demographics
from tests import calls as service
from tests.conftest import casia, yale

TODAY = dt.date(2026, 11, 30)


def _checks(result):
    return {c["name"]: c for c in result["checks"]}


def _foreign_mrz(state="FRA", number="12AB34567", expiry="2031-05-01", birth="1985-02-03"):
    return mrz.build_td3(document_number=number, issuing_state=state, nationality=state,
                         date_of_birth=birth, sex="M", date_of_expiry=expiry,
                         surname="Dupont", given_names="Jean Pierre", today=TODAY)


# -- names ----------------------------------------------------------------------------------
def test_a_one_field_name_is_kept_whole_never_split():
    name = PersonName.parse("محمد عبد الله")
    assert name.given_name == "محمد عبد الله" and name.family_name is None
    assert name.mrz_identifiers() == ("محمد عبد الله", "")


def test_name_parts_build_the_icao_identifiers():
    name = PersonName.parse(given_name="محمد", father_name="علي", grandfather_name="حسن",
                            family_name="عبد الله")
    assert name.full == "محمد علي حسن عبد الله"
    assert name.mrz_identifiers() == ("عبد الله", "محمد علي حسن")
    line = mrz.format_name(*name.mrz_identifiers(), width=30)
    family = mrz.format_name("عبد الله", width=30).rstrip("<")
    assert line.startswith(family + "<<") and "<" in family   # two words, kept in order


@pytest.mark.parametrize("kwargs, reason", [
    ({}, "name is required"),
    ({"father_name": "Ali"}, "given name or a family name"),
    ({"name": "Amal Haddad", "given_name": "Amal", "family_name": "Saleh"}, "differs"),
    ({"given_name": "x" * 101}, "longer than 100"),
])
def test_bad_names_are_refused(kwargs, reason):
    with pytest.raises(InvalidInput, match=reason):
        PersonName.parse(**kwargs)


# -- cards: names, portraits, re-issue --------------------------------------------------------
@pytest.fixture
def holder(platform):
    demo = Demographics.parse(None, date_of_birth="1990-04-12", sex="F",
                              given_name="Amal", father_name="Omar",
                              grandfather_name="Salem", family_name="Haddad")
    return service.enroll(platform, faces=[yale(1, "normal")], demographics=demo,
                          actor="officer")["person_id"]


def test_the_card_mrz_uses_the_family_name(platform, holder):
    card = documents.issue_card(platform, holder, actor="issuer")
    assert card["mrz"][2].startswith("HADDAD<<AMAL<OMAR<SALEM")


def test_reissue_supersedes_the_previous_card(platform, holder):
    first = documents.issue_card(platform, holder, actor="issuer")
    second = documents.issue_card(platform, holder, actor="issuer")
    assert second["supersedes"] == [first["document_number"]]
    old = desk.verify_document(platform, qr_text=first["qr_text"], actor="desk")
    assert old["verdict"] == "invalid"
    assert "superseded" in _checks(old)["not_revoked"]["reason"]
    assert second["document_number"] in _checks(old)["not_revoked"]["reason"]
    new = desk.verify_document(platform, qr_text=second["qr_text"], actor="desk")
    assert new["verdict"] == "valid" and new["assurance"] == "hawiya_credential_verified"
    ok, entries, why = revocation.verify_revocation_list(
        documents.revocation_list(platform), keys.KeySet.from_folder(platform.issuer_keys))
    assert ok, why
    assert {"document_number": first["document_number"], "status": "superseded"}.items() \
        <= next(e for e in entries if e["document_number"] == first["document_number"]).items()
    with pytest.raises(Conflict, match="superseded"):
        documents.set_status(platform, first["document_number"], "valid", actor="issuer")
    with pytest.raises(InvalidInput, match="only by issuing"):
        documents.set_status(platform, second["document_number"], "superseded", actor="x")


def test_card_prints_the_enrolment_portrait_by_default(sqlite_platform, monkeypatch):
    platform = sqlite_platform
    demo = Demographics.parse("Amal Haddad", date_of_birth="1990-04-12", sex="F")
    pid = service.enroll(platform, faces=[yale(1, "normal")], demographics=demo,
                         actor="officer")["person_id"]
    card = documents.issue_card(platform, pid, actor="issuer")
    seen = {}
    real = cards.render_card

    def spy(fields, photo, *args, **kwargs):
        seen["photo"] = photo
        return real(fields, photo, *args, **kwargs)

    monkeypatch.setattr(cards, "render_card", spy)
    documents.render(platform, card["document_number"], "png")
    assert seen["photo"] is not None and seen["photo"].ndim == 3
    # A portrait given at print time must be the holder's face.
    documents.render(platform, card["document_number"], "png", yale(1, "happy"),
                     actor="issuer")
    with pytest.raises(InvalidInput, match="does not match"):
        documents.render(platform, card["document_number"], "png", yale(2, "normal"),
                         actor="issuer")
    with pytest.raises(InvalidInput, match="portrait refused"):
        documents.render(platform, card["document_number"], "png", casia(1, 1, 1),
                         actor="issuer")


# -- foreign documents ------------------------------------------------------------------------
def test_a_foreign_passport_is_valid_but_not_cryptographically_verified(platform):
    res = desk.verify_document(platform, mrz_text=_foreign_mrz(), actor="desk", today=TODAY)
    assert res["verdict"] == "valid", res["reasons"]
    assert res["foreign"] and res["issuing_state"] == "FRA"
    assert res["assurance"] == "foreign_not_cryptographically_verified"
    assert "not cryptographically verified" in res["summary"]
    c = _checks(res)
    for name in ("mrz_valid", "issuing_state_known", "nationality_known", "dates_plausible",
                 "document_not_expired", "not_on_watch_list"):
        assert c[name]["status"] == "pass", c[name]
    assert c["chip_passive_authentication"]["status"] == "skipped"
    assert "document_known" not in c   # our registry has no say on a foreign document


def test_an_expired_foreign_passport_fails_its_expiry_check(platform):
    res = desk.verify_document(platform, mrz_text=_foreign_mrz(expiry="2020-01-01"),
                               actor="desk", today=TODAY)
    assert res["verdict"] == "invalid" and res["assurance"] is None
    assert _checks(res)["document_not_expired"]["status"] == "fail"
    assert "2020-01-01" in _checks(res)["document_not_expired"]["reason"]


def test_the_icao_specimen_fails_expiry_as_well_as_the_registry(platform):
    specimen = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    res = desk.verify_document(platform, mrz_text=specimen, actor="desk", today=TODAY)
    c = _checks(res)
    assert c["document_not_expired"]["status"] == "fail"
    assert c["document_known"]["status"] == "fail"


def test_codes_outside_the_icao_list_fail():
    assert code_name("D") == "Germany" and code_name("LBY") and code_name("XXA")
    assert check_code("ZZZ", "issuer", own_state="LBY")[0] is False
    assert check_code("UTO", "issuer", own_state="LBY") == (
        False, "UTO is ICAO's specimen code (Utopia), not a state")
    assert check_code("XXA", "issuer", own_state="LBY")[0] is False      # stateless: no issuer
    assert check_code("XXA", "nationality", own_state="LBY")[0] is True


def test_an_unknown_state_code_fails(platform):
    text = _foreign_mrz(state="ZZZ")
    res = desk.verify_document(platform, mrz_text=text, actor="desk", today=TODAY)
    assert _checks(res)["issuing_state_known"]["status"] == "fail"
    assert res["verdict"] == "invalid"


# -- the watch list ---------------------------------------------------------------------------
SLTD = ("document_number,document_type,issuing_state,status,reported_on\n"
        "12AB34567,P,FRA,stolen,2026-10-01\n"
        "X1234567,P,D,lost,\n")


def test_watch_list_import_raises_the_alert_and_logs_the_crossing(platform):
    res = watchlist.import_csv(platform, SLTD, source="SLTD test", actor="admin")
    assert res == {"rows": 2, "added": 2, "updated": 0, "source": "SLTD test"}
    again = watchlist.import_csv(platform, SLTD, source="SLTD test 2", actor="admin")
    assert again["updated"] == 2 and again["added"] == 0
    hit = desk.border_check(platform, mrz_text=_foreign_mrz(), location="Ras Ajdir",
                            direction="in", actor="officer", today=TODAY)
    assert hit["verdict"] == "invalid" and hit["alert"] is True
    assert "stolen" in hit["alert_reason"] and "FRA" in hit["alert_reason"]
    clean = desk.border_check(platform, mrz_text=_foreign_mrz(number="99ZZ11111"),
                              location="Ras Ajdir", actor="officer", today=TODAY)
    assert clean["verdict"] == "valid" and clean["alert"] is False
    log = desk.crossings(platform, location="Ras Ajdir")
    assert [c["alert"] for c in log] == [False, True]
    assert log[1]["issuing_state"] == "FRA" and log[0]["assurance"] == \
        "foreign_not_cryptographically_verified"
    removed = watchlist.remove(platform, "FRA", "12AB34567", actor="admin",
                               reason="recovered")
    assert removed["removed"] is True
    assert watchlist.list_entries(platform, issuing_state="FRA") == []


@pytest.mark.parametrize("csv_text, reason", [
    ("number,type\n1,P\n", "lacks column"),
    ("document_number,document_type,issuing_state,status\nAB1,P,ZZZ,stolen\n", "ICAO"),
    ("document_number,document_type,issuing_state,status\nAB1,P,FRA,misplaced\n", "status"),
    ("document_number,document_type,issuing_state,status\nAB 1!,P,FRA,lost\n", "letters"),
    ("document_number,document_type,issuing_state,status\nAB1,P,FRA,lost\nAB1,P,FRA,lost\n",
     "repeats line 3"),
    ("document_number,document_type,issuing_state,status\n", "no rows"),
])
def test_a_bad_watch_list_writes_nothing(sqlite_platform, csv_text, reason):
    good = "document_number,document_type,issuing_state,status\nGOOD1,P,FRA,lost\n"
    with pytest.raises(InvalidInput, match=reason):
        watchlist.import_csv(sqlite_platform, good + csv_text.split("\n", 1)[1]
                             if "lacks" not in reason and "no rows" not in reason
                             else csv_text, source="feed", actor="admin")
    assert watchlist.list_entries(sqlite_platform) == []

"""Issue ID cards and verify documents check by check; revocation; border check."""

import datetime as dt

import pytest

from hawiya.credentials import desk, documents, keys, revocation, signed
from hawiya.credentials.cards import read_qr
from hawiya.errors import Conflict, InvalidInput
from hawiya.identity.persons import Demographics
from tests import calls as service
from tests.conftest import yale


@pytest.fixture
def holder(platform):
    demo = Demographics.parse("Amal Haddad", date_of_birth="1990-04-12", sex="F",
                              district="D1")
    return service.enroll(platform, faces=[yale(1, "normal")], demographics=demo,
                          actor="officer")["person_id"]


def _status(result, name):
    return next(c["status"] for c in result["checks"] if c["name"] == name)


def test_issue_and_verify_a_card(platform, holder):
    card = documents.issue_card(platform, holder, actor="issuer")
    assert len(card["mrz"]) == 3 and card["qr_text"].startswith("HW1:")
    res = desk.verify_document(platform, qr_text=card["qr_text"],
                                    mrz_text="\n".join(card["mrz"]), face=yale(1, "sad"),
                                    actor="desk")
    assert res["verdict"] == "valid", res["reasons"]
    names = {c["name"] for c in res["checks"]}
    assert {"signature", "not_expired", "mrz_valid", "mrz_matches_credential",
            "document_known", "not_revoked", "holder_active", "face_template_on_record",
            "face_match"} <= names
    # Someone else's face with this card.
    res = desk.verify_document(platform, qr_text=card["qr_text"], face=yale(2, "sad"),
                                    actor="desk")
    assert res["verdict"] == "invalid" and _status(res, "face_match") == "fail"


def test_forged_and_mismatched_documents(platform, holder):
    card = documents.issue_card(platform, holder, actor="issuer")
    # An MRZ from another document next to this QR.
    other = documents.issue_card(platform, holder, actor="issuer")
    res = desk.verify_document(platform, qr_text=card["qr_text"],
                                    mrz_text="\n".join(other["mrz"]), actor="desk")
    assert _status(res, "mrz_matches_credential") == "fail"
    # A credential signed by a key the registry does not know.
    rogue = keys.create_key(platform.settings.data_dir / "rogue")
    cose = signed.issue({"document_number": card["document_number"], "document_type": "ID",
                         "surname": "X", "given_names": "", "date_of_birth": "1990-04-12",
                         "sex": "F", "nationality": "UTO", "issuing_authority": "Fake",
                         "issue_date": dt.date.today(),
                         "expiry_date": dt.date.today() + dt.timedelta(days=365),
                         "face_digest": b"\0" * 32},
                        keys.active_key(platform.settings.data_dir / "rogue"))
    res = desk.verify_document(platform, qr_text=signed.encode_qr_text(cose),
                                    actor="desk")
    assert res["verdict"] == "invalid" and _status(res, "key_known") == "fail"
    assert rogue
    # Garbage never raises.
    res = desk.verify_document(platform, qr_text="HW1:%%%garbage", actor="desk")
    assert res["verdict"] == "invalid" and _status(res, "format") == "fail"
    bad_mrz = "\n".join(card["mrz"]).replace("<", "0", 1)
    res = desk.verify_document(platform, mrz_text=bad_mrz, actor="desk")
    assert res["verdict"] == "invalid"


def test_revoke_report_reinstate_and_border(platform, holder):
    card = documents.issue_card(platform, holder, actor="issuer")
    number = card["document_number"]
    documents.set_status(platform, number, "stolen", actor="police", reason="reported")
    res = desk.border_check(platform, qr_text=card["qr_text"], location="Airport T1",
                                 direction="in", actor="border1")
    assert res["verdict"] == "invalid" and res["alert"] is True and res["crossing_id"]
    rl = documents.revocation_list(platform)
    ok, entries, _ = revocation.verify_revocation_list(
        rl, keys.KeySet.from_folder(platform.issuer_keys))
    assert ok and revocation.is_revoked(entries, number)["status"] == "stolen"
    documents.set_status(platform, number, "valid", actor="police", reason="found")
    res = desk.border_check(platform, qr_text=card["qr_text"], location="Airport T1",
                                 actor="border1")
    assert res["verdict"] == "valid" and res["alert"] is False
    with pytest.raises(InvalidInput):
        documents.set_status(platform, number, "destroyed", actor="x")


def test_card_renders_and_reads_back(platform, holder):
    card = documents.issue_card(platform, holder, actor="issuer")
    png = documents.render(platform, card["document_number"], "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    qr = read_qr(png)
    assert qr == card["qr_text"]
    res = desk.verify_document(platform, qr_text=qr, mrz_image=png, actor="desk")
    assert res["verdict"] == "valid", res["reasons"]
    assert documents.render(platform, card["document_number"], "pdf")[:4] == b"%PDF"


def test_no_card_for_held_people(platform, holder):
    dup = service.enroll(platform, faces=[yale(1, "happy")], actor="officer",
                         demographics=Demographics.parse("Twin", date_of_birth="1990-01-01"))
    with pytest.raises(Conflict):
        documents.issue_card(platform, dup["person_id"], actor="issuer")
    nodob = service.enroll(platform, faces=[yale(2, "normal")], actor="officer",
                           demographics=Demographics.parse("No Birthday"))
    with pytest.raises(InvalidInput, match="date of birth"):
        documents.issue_card(platform, nodob["person_id"], actor="issuer")

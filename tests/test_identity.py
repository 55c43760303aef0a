"""Enroll / dedup / verify / identify / adjudicate on real face images, on both databases."""

import numpy as np
import pytest
from sqlalchemy import func, select, text

from hawiya import audit
from hawiya.app import build_platform
from hawiya.errors import (
    Conflict,
    Forbidden,
    InvalidImage,
    InvalidInput,
    NotFound,
    QualityRejected,
)
from hawiya.identity import templates as service_templates
from hawiya.identity.persons import Demographics
from hawiya.registry.models import BiometricTemplate, Person
from tests import calls as service
from tests.conftest import yale

ACTOR = "officer1"


def _enroll(p, subject, cond, name=None, **kw):
    demo = Demographics.parse(name or f"Subject {subject}", kw.pop("reference_id", None))
    return service.enroll(p, faces=[yale(subject, cond)], demographics=demo, actor=ACTOR, **kw)


def _count(p, model):
    with p.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_enroll_dedup_verify_identify(platform):
    a = _enroll(platform, 1, "normal", reference_id="MOSIP-001")
    assert a["status"] == "enrolled" and a["candidates"] == []
    b = _enroll(platform, 2, "normal")
    assert b["status"] == "enrolled"

    # The same person again under another name is held with a candidate list.
    dup = _enroll(platform, 1, "happy", name="Someone Else")
    assert dup["status"] == "potential_duplicate"
    assert dup["candidates"][0]["person_id"] == a["person_id"]
    assert dup["candidates"][0]["score"] >= platform.settings.dedup_threshold("face")

    genuine = service.verify(platform, a["person_id"], yale(1, "sad"), actor=ACTOR)
    assert genuine["match"] is True and genuine["score"] >= genuine["threshold"]
    by_ref = service.verify(platform, "MOSIP-001", yale(1, "sad"), actor=ACTOR)
    assert by_ref["person_id"] == a["person_id"]
    impostor = service.verify(platform, a["person_id"], yale(2, "sad"), actor=ACTOR)
    assert impostor["match"] is False and impostor["score"] < impostor["threshold"]

    found = service.identify(platform, yale(2, "sleepy"), actor=ACTOR, top=3)
    assert found["candidates"][0]["person_id"] == b["person_id"]
    only_a = service.identify(platform, yale(2, "sleepy"), actor=ACTOR, top=3,
                              restrict_to=[a["person_id"]])
    assert {c["person_id"] for c in only_a["candidates"]} <= {a["person_id"]}

    with platform.transaction() as s:
        chain = audit.verify_chain(s)
        actions = [r["action"] for r in audit.records(s, 100)]
    assert chain["ok"] and actions.count("person.enroll") == 3
    assert "person.verify" in actions and "person.identify" in actions


def test_templates_are_encrypted_at_rest(platform):
    r = _enroll(platform, 3, "normal")
    with platform.transaction() as s:
        blob = s.scalar(select(BiometricTemplate.encrypted))
    assert not blob.startswith(b"HWYT") and b"dlib" not in blob
    assert service.get_person(platform, r["person_id"])["templates"][0]["modality"] == "face"


def test_same_request_id_returns_same_result_and_writes_once(platform):
    first = _enroll(platform, 4, "normal", request_id="req-42")
    again = _enroll(platform, 4, "normal", request_id="req-42")
    assert again["person_id"] == first["person_id"] and again["replayed"] is True
    assert _count(platform, Person) == 1


def test_bad_input_writes_nothing(platform, tmp_path):
    _enroll(platform, 5, "normal")
    before = (_count(platform, Person), _count(platform, BiometricTemplate))
    notimg = tmp_path / "x.jpg"
    notimg.write_text("not an image")
    blank = tmp_path / "blank.png"
    from PIL import Image
    Image.fromarray(np.full((240, 320, 3), 127, np.uint8)).save(blank)
    for bad, err in [(notimg, InvalidImage), (blank, QualityRejected)]:
        with pytest.raises(err):
            service.enroll(platform, faces=[bad], demographics=Demographics.parse("X"),
                           actor=ACTOR)
    with pytest.raises(InvalidInput):
        Demographics.parse("")
    with pytest.raises(InvalidInput):
        Demographics.parse("X", date_of_birth="2001-02-30")
    assert (_count(platform, Person), _count(platform, BiometricTemplate)) == before
    with pytest.raises(NotFound):
        service.verify(platform, "P0123456789ABCDE", yale(5, "sad"), actor=ACTOR)
    with pytest.raises(InvalidInput):
        service.verify(platform, "bad id with spaces", yale(5, "sad"), actor=ACTOR)
    with pytest.raises(InvalidInput):
        service.identify(platform, yale(5, "sad"), actor=ACTOR, top=0)


def test_reference_id_is_unique(platform):
    _enroll(platform, 6, "normal", reference_id="REF-6")
    with pytest.raises(Conflict):
        _enroll(platform, 7, "normal", reference_id="REF-6")


def test_adjudication_distinct_and_duplicate(platform):
    a = _enroll(platform, 8, "normal")
    held = _enroll(platform, 8, "happy", name="Twin?")
    held2 = _enroll(platform, 8, "sad", name="Fraud?")
    cases = service.list_cases(platform)
    assert {c["person"]["person_id"] for c in cases} == {held["person_id"], held2["person_id"]}
    # Same face at high evidence: "distinct" needs a reason and a second adjudicator.
    with pytest.raises(InvalidInput, match="written reason"):
        service.decide_case(platform, held["case_id"], "distinct", actor="adj1")
    with pytest.raises(Forbidden, match="cannot adjudicate"):
        service.decide_case(platform, held["case_id"], "distinct", actor=ACTOR, note="x")
    proposed = service.decide_case(platform, held["case_id"], "distinct", actor="adj1",
                                   note="twin brother, birth certificates seen")
    assert proposed["awaiting_confirmation"] and proposed["person"]["status"] == \
        "potential_duplicate"
    with pytest.raises(Conflict, match="second adjudicator"):
        service.decide_case(platform, held["case_id"], "distinct", actor="adj1")
    d1 = service.decide_case(platform, held["case_id"], "distinct", actor="adj2")
    assert d1["person"]["status"] == "active" and d1["decided_by"] == "adj2"
    assert d1["proposed_by"] == "adj1" and d1["note"].startswith("twin")
    d2 = service.decide_case(platform, held2["case_id"], "duplicate", actor="adj1",
                             duplicate_of=a["person_id"])
    assert d2["person"]["status"] == "merged" and d2["person"]["merged_into"] == a["person_id"]
    with pytest.raises(Conflict):
        service.decide_case(platform, held2["case_id"], "distinct", actor="adj1")
    # The merged record's templates left the gallery.
    found = service.identify(platform, yale(8, "sleepy"), actor=ACTOR, top=5)
    assert held2["person_id"] not in {c["person_id"] for c in found["candidates"]}
    with pytest.raises(Conflict):
        service.verify(platform, held2["person_id"], yale(8, "sleepy"), actor=ACTOR)


def test_gallery_is_rebuilt_from_the_registry(platform):
    a = _enroll(platform, 9, "normal")
    platform.galleries.save_all()
    # Snapshots are encrypted at rest: the enrolled embedding's bytes are not in the file.
    (snapshot,) = platform.settings.gallery_dir.glob("face-*.snapshot")
    with platform.transaction() as s:
        row = s.scalar(select(BiometricTemplate))
        vector = service_templates.decrypt_template(platform, row, a["person_id"]).data
    assert vector[:64] not in snapshot.read_bytes()
    # A fresh process: loads the snapshot (fingerprint matches).
    fresh = build_platform(platform.settings)
    assert len(fresh.galleries.get("face")) == 1
    # Snapshot gone and registry changed behind its back: rebuilt from templates.
    for f in platform.settings.gallery_dir.iterdir():
        f.unlink()
    _enroll(platform, 10, "normal")
    again = build_platform(platform.settings)
    assert len(again.galleries.get("face")) == 2
    # A running process notices another writer's enrollment.
    _enroll(again, 11, "normal")
    assert len(fresh.galleries.get("face")) == 3
    hit = service.identify(fresh, yale(11, "sad"), actor=ACTOR, top=1)
    assert hit["candidates"][0]["name"] == "Subject 11"
    assert a["person_id"]
    fresh.engine.dispose(), again.engine.dispose()


def test_audit_detects_tampering_with_identity_records(platform):
    _enroll(platform, 12, "normal")
    service.verify(platform, _enroll(platform, 13, "normal")["person_id"], yale(13, "sad"),
                   actor=ACTOR)
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"))
    with platform.transaction() as s:
        assert audit.verify_chain(s)["first_bad"] == 2


def test_dedup_race_between_processes(platform):
    """Another process enrolls the same person between this process's gallery sync and its
    commit: the enrollment lock sees the newer template, re-syncs and holds the duplicate."""
    other = build_platform(platform.settings)
    first = {}
    real_get = platform.galleries.get

    def get_then_race(modality):
        gallery = real_get(modality)
        if not first:
            first.update(_enroll(other, 14, "normal", name="Via other process"))
        return gallery

    platform.galleries.get = get_then_race
    second = _enroll(platform, 14, "happy", name="Same person")
    assert first["status"] == "enrolled"
    assert second["status"] == "potential_duplicate"
    assert second["candidates"][0]["person_id"] == first["person_id"]
    other.engine.dispose()


def test_review_fixes_identity(platform):
    # Two different people's faces in one enrollment are refused.
    with pytest.raises(InvalidInput, match="same person"):
        service.enroll(platform, faces=[yale(11, "normal"), yale(12, "normal")],
                       demographics=Demographics.parse("Two"), actor=ACTOR)
    # A request id reused for another submission is a conflict, not a silent replay.
    _enroll(platform, 2, "normal", request_id="req-1")
    with pytest.raises(Conflict, match="different submission"):
        _enroll(platform, 3, "normal", request_id="req-1")
    # Merging into a record that is itself pending is refused; no merge chains.
    a = _enroll(platform, 9, "normal")
    held = _enroll(platform, 9, "happy", name="Held")
    held2 = _enroll(platform, 9, "sad", name="Held too")
    assert {c["person_id"] for c in held2["candidates"]} == {a["person_id"], held["person_id"]}
    with pytest.raises(Conflict, match="active record"):
        service.decide_case(platform, held2["case_id"], "duplicate", actor="adj",
                            duplicate_of=held["person_id"])
    res = service.decide_case(platform, held2["case_id"], "duplicate", actor="adj")
    assert res["person"]["merged_into"] == a["person_id"]


def test_case_detail_shows_captures_side_by_side_and_views_are_audited(platform):
    from hawiya import audit as audit_log
    from hawiya.identity import adjudication

    a = _enroll(platform, 9, "normal")
    held = _enroll(platform, 9, "happy", name="Again?")
    detail = adjudication.get_case(platform, held["case_id"]).to_json()
    assert detail["probe"]["person"]["person_id"] == held["person_id"]
    assert detail["matches"][0]["person"]["person_id"] == a["person_id"]
    assert detail["matches"][0]["modalities"]["face"]["evidence"] > 0
    assert detail["probe"]["portrait"].startswith("data:image/jpeg")
    # The held enrolment's capture is kept for the adjudicator (raw images are off here).
    (probe_capture,) = detail["probe"]["captures"]
    tid = int(probe_capture["url"].rsplit("/", 1)[1])
    image = adjudication.case_capture(platform, held["case_id"], tid, actor="adj1")
    assert image == yale(9, "happy").read_bytes()
    with pytest.raises(NotFound):
        adjudication.case_capture(platform, held["case_id"], tid + 999, actor="adj1")
    with platform.transaction() as s:
        assert audit_log.records(s, 1000)[-1]["action"] == "case.view_capture"
    # Deciding discards the capture (the deployment does not keep raw captures).
    service.decide_case(platform, held["case_id"], "duplicate", actor="adj1")
    assert adjudication.get_case(platform, held["case_id"]).probe.captures == []


def test_dedup_threshold_follows_gallery_size(platform):
    """The reported case: distinct people were held as duplicates in a 10-person gallery
    because de-duplication reused a 1:1 threshold (subject06 vs subject04 at 0.9317)."""
    for subject in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11):
        assert _enroll(platform, subject, "normal")["status"] == "enrolled"
    six = _enroll(platform, 6, "normal", name="Subject 6")
    assert six["status"] == "enrolled", six["candidates"]
    assert six["search"]["gallery_size"] == 10 and six["search"]["target_fpir"] == 0.01
    # A real duplicate among the same ten is still held for a human.
    again = _enroll(platform, 4, "happy", name="Subject 4 again")
    assert again["status"] == "potential_duplicate"


def test_search_bad_input_is_a_clear_error(platform):
    from hawiya.errors import InvalidInput as Invalid

    _enroll(platform, 1, "normal")
    with pytest.raises(NotFound, match="no election"):
        service.identify(platform, yale(1, "sad"), actor=ACTOR, scope="election:NOPE")
    with pytest.raises(Invalid, match="unknown scope kind"):
        service.identify(platform, yale(1, "sad"), actor=ACTOR, scope="planet:earth")
    with pytest.raises(Invalid, match="at least one biometric capture"):
        service.identify(platform, None, actor=ACTOR)

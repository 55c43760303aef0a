"""Iris in the identity service: enroll with eye positions, verify, identify, dedup, fusion
and the eye-label checks (face from Yale, eyes from CASIA V1: one synthetic person = one Yale
subject + two CASIA eyes)."""

import numpy as np
import pytest
from PIL import Image

from hawiya.errors import InvalidInput, NotFound, QualityRejected
from hawiya.identity.persons import Demographics
from tests import calls as service
from tests.conftest import casia, yale

ACTOR = "officer1"


def _person(p, subject, left_eye, right_eye, name="Iris Person"):
    return service.enroll(p, demographics=Demographics.parse(name), actor=ACTOR,
                          faces=[yale(subject, "normal")],
                          irises=[("left-iris", casia(left_eye, 1, 1)),
                                  ("right-iris", casia(right_eye, 1, 1))])


def test_iris_enroll_verify_identify_and_fusion(platform):
    a = _person(platform, 1, 10, 11)
    assert a["status"] == "enrolled" and a["templates"] == 3
    assert a["modalities"] == ["face", "iris"]
    b = _person(platform, 2, 20, 21, name="Other")
    assert b["status"] == "enrolled"

    v = service.verify(platform, a["person_id"], actor=ACTOR,
                       irises=[("left-iris", casia(10, 2, 1))])
    assert v["match"] is True and v["score_kind"] == "iris"
    assert v["score"] >= v["threshold"]
    imp = service.verify(platform, a["person_id"], actor=ACTOR,
                         irises=[("left-iris", casia(20, 2, 1))])
    assert imp["match"] is False

    fused = service.verify(platform, a["person_id"], yale(1, "sad"), actor=ACTOR,
                           irises=[("right-iris", casia(11, 2, 2))])
    assert fused["score_kind"] == "fused-evidence" and fused["match"] is True
    assert set(fused["modalities"]) == {"face", "iris"}

    hit = service.identify(platform, actor=ACTOR, top=2, irises=[("unknown", casia(21, 2, 3))])
    assert hit["candidates"][0]["person_id"] == b["person_id"]
    assert hit["candidates"][0]["match"] is True


def test_iris_dedup_catches_a_new_face_with_a_known_eye(platform):
    a = _person(platform, 3, 30, 31)
    dup = service.enroll(platform, demographics=Demographics.parse("New Face"), actor=ACTOR,
                         faces=[yale(4, "normal")], irises=[("left-iris", casia(30, 2, 2))])
    assert dup["status"] == "potential_duplicate"
    cand = dup["candidates"][0]
    assert cand["person_id"] == a["person_id"]
    assert cand["modalities"]["iris"]["match"] is True


def test_eye_label_checks(platform):
    a = _person(platform, 5, 40, 41)
    with pytest.raises(InvalidInput, match="wrong eye label"):
        service.verify(platform, a["person_id"], actor=ACTOR,
                       irises=[("left-iris", casia(41, 2, 1))])
    with pytest.raises(InvalidInput, match="same eye"):
        service.enroll(platform, demographics=Demographics.parse("Twice"), actor=ACTOR,
                       irises=[("left-iris", casia(50, 1, 1)), ("right-iris", casia(50, 1, 2))])
    face_only = service.enroll(platform, demographics=Demographics.parse("Face only"),
                               actor=ACTOR, faces=[yale(6, "normal")])
    with pytest.raises(NotFound, match="no enrolled"):
        service.verify(platform, face_only["person_id"], actor=ACTOR,
                       irises=[("left-iris", casia(60, 1, 1))])


def test_unusable_iris_stores_nothing(platform, tmp_path):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((280, 320), 128, np.uint8)).save(blank)
    with pytest.raises(QualityRejected):
        service.enroll(platform, demographics=Demographics.parse("X"), actor=ACTOR,
                       faces=[yale(7, "normal")], irises=[("left-iris", blank)])
    assert service.list_persons(platform) == []
    with pytest.raises(InvalidInput, match="position"):
        service.enroll(platform, demographics=Demographics.parse("X"), actor=ACTOR,
                       irises=[("middle-iris", casia(10, 1, 1))])

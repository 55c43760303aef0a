"""Fingerprints in the identity service: enroll with positions, verify, identify, dedup,
and the gallery's pre-filter + full match path (FVC2002 DB1_B images)."""

import pytest

from hawiya.errors import InvalidInput, NotFound
from hawiya.identity.persons import Demographics
from hawiya.search.finger_gallery import FingerGallery
from tests import calls as service
from tests.conftest import SHARED

FVC = SHARED / "finger" / "fvc2002" / "DB1_B"
ACTOR = "officer1"


def fvc(finger: int, impression: int):
    path = FVC / f"{finger}_{impression}.tif"
    if not path.exists():
        pytest.skip("shared FVC2002 data not available")
    return path


def test_finger_enroll_verify_identify_dedup(platform):
    a = service.enroll(platform, demographics=Demographics.parse("Ten Print"), actor=ACTOR,
                       fingers=[("right-index", fvc(101, 1)), ("right-thumb", fvc(102, 1))])
    assert a["status"] == "enrolled" and a["modalities"] == ["finger"]
    b = service.enroll(platform, demographics=Demographics.parse("Other"), actor=ACTOR,
                       fingers=[("right-index", fvc(103, 1))])
    assert b["status"] == "enrolled"
    v = service.verify(platform, a["person_id"], actor=ACTOR,
                       fingers=[("right-index", fvc(101, 3))])
    assert v["match"] is True and v["score_kind"] == "finger"
    imp = service.verify(platform, a["person_id"], actor=ACTOR,
                         fingers=[("right-index", fvc(104, 3))])
    assert imp["match"] is False
    with pytest.raises(NotFound, match="no enrolled left-little"):
        service.verify(platform, a["person_id"], actor=ACTOR,
                       fingers=[("left-little", fvc(101, 3))])
    # One finger's calibration only vouches for FMR 1e-3: at FPIR 1e-3 it cannot single out
    # one of two people (three templates); the search says so and names nobody.
    hit = service.identify(platform, actor=ACTOR, top=2, fingers=[("unknown", fvc(103, 5))])
    assert not hit["decidable"] and hit["candidates"] == [] and "add" in hit["reason"]
    platform.settings.identity.target_fpir.identify = 1e-2
    hit = service.identify(platform, actor=ACTOR, top=2, fingers=[("unknown", fvc(103, 5))])
    assert hit["decidable"] and hit["candidates"][0]["person_id"] == b["person_id"]
    dup = service.enroll(platform, demographics=Demographics.parse("Again"), actor=ACTOR,
                         fingers=[("right-thumb", fvc(102, 4))])
    assert dup["status"] == "potential_duplicate"
    assert dup["candidates"][0]["person_id"] == a["person_id"]
    with pytest.raises(InvalidInput, match="finger position"):
        service.enroll(platform, demographics=Demographics.parse("X"), actor=ACTOR,
                       fingers=[("sixth-finger", fvc(105, 1))])
    # The same finger sent as two fingers is refused, and nothing is written.
    with pytest.raises(InvalidInput, match="same finger"):
        service.enroll(platform, demographics=Demographics.parse("Y"), actor=ACTOR,
                       fingers=[("left-index", fvc(106, 1)), ("left-middle", fvc(106, 2))])
    assert "Y" not in {p["name"] for p in service.list_persons(platform)}


def test_finger_gallery_prefilter_restrict_and_snapshot(tmp_path):
    from hawiya.biometrics.finger import get_finger_engine
    from hawiya.imaging import load_image

    engine = get_finger_engine()
    ts = {f: engine.extract(load_image(fvc(f, 1))) for f in (101, 102, 103, 104)}
    g = FingerGallery(engine, shortlist=2)
    g.add([1, 2, 3, 4], [ts[101], ts[102], ts[103], ts[104]])
    probe = engine.extract(load_image(fvc(103, 2)))
    assert g.search(probe, 1)[0][0] == 3
    assert {i for i, _ in g.search(probe, 4, restrict_to=[1, 2])} <= {1, 2}
    g.remove([3])
    assert 3 not in {i for i, _ in g.search(probe, 4)} and len(g) == 3
    g.save(tmp_path / "f.npz")
    back = FingerGallery.load(tmp_path / "f.npz")
    back.shortlist = g.shortlist
    assert len(back) == 3 and back.search(probe, 3) == g.search(probe, 3)

"""Finger engine: templates, matching invariances, quality rejections, contactless, accuracy."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hawiya.biometrics import finger_match as fm
from hawiya.biometrics.finger import (
    ALGORITHM,
    THRESHOLD_FMR_1E3,
    FingerEngine,
    decode_payload,
    encode_payload,
    get_finger_engine,
)
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, QualityRejected, TemplateMismatch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "finger" / "fvc2002"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared FVC2002 data not present")


def _img(db: str, finger: int, imp: int) -> np.ndarray:
    from hawiya.imaging import load_image

    return load_image(DATA / db / f"{finger}_{imp}.tif", mode="L")


@pytest.fixture(scope="module")
def engine() -> FingerEngine:
    return get_finger_engine()


@pytest.fixture(scope="module")
def db1(engine):
    if not DATA.is_dir():
        pytest.skip("shared FVC2002 data not present")
    return {(f, i): engine.extract(_img("DB1_B", f, i)) for f in (101, 102) for i in (1, 2, 3)}


def _random_minutiae(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(20, 300, n), rng.uniform(20, 380, n),
                            rng.uniform(0, 2 * np.pi, n), rng.integers(0, 2, n),
                            rng.uniform(0.5, 1, n)])


def test_payload_round_trip():
    m = _random_minutiae(30)
    back, head = decode_payload(encode_payload(m, 320, 400))
    assert head["width"] == 320 and head["height"] == 400 and head["ppi"] == 500
    assert np.allclose(back[:, :2], m[:, :2], atol=0.125)
    assert np.allclose(np.angle(np.exp(1j * (back[:, 2] - m[:, 2]))), 0, atol=1e-3)
    assert np.array_equal(back[:, 3], m[:, 3])
    with pytest.raises(InvalidInput):
        decode_payload(encode_payload(m, 320, 400)[:-1])


def test_template_round_trip_and_compatibility(engine):
    t = engine.from_minutiae(_random_minutiae(25), 320, 400, position="left-index")
    back = Template.from_bytes(t.to_bytes())
    assert back == t and back.algorithm == ALGORITHM
    assert engine.compare(t, back) > 0.9
    iris = Template(modality="iris", algorithm="x", version=1, data=b"")
    with pytest.raises(TemplateMismatch):
        engine.compare(t, iris)


def test_rotated_translated_minutiae_match(engine):
    m = _random_minutiae(40, seed=3)
    a = np.deg2rad(50)
    c, s = np.cos(a), np.sin(a)
    r = m.copy()
    r[:, 0] = c * m[:, 0] - s * m[:, 1] + 250
    r[:, 1] = s * m[:, 0] + c * m[:, 1] + 30
    r[:, 2] = np.mod(m[:, 2] + a, 2 * np.pi)
    ta = engine.from_minutiae(m, 400, 400)
    tb = engine.from_minutiae(r[5:], 800, 800)  # some minutiae missing too
    other = engine.from_minutiae(_random_minutiae(40, seed=4), 400, 400)
    assert engine.compare(ta, tb) > 0.6
    assert engine.compare(ta, other) < THRESHOLD_FMR_1E3


def test_index_vector_invariant():
    m = _random_minutiae(40, seed=5)
    a = np.deg2rad(-70)
    r = m.copy()
    r[:, 0] = np.cos(a) * m[:, 0] - np.sin(a) * m[:, 1] + 100
    r[:, 1] = np.sin(a) * m[:, 0] + np.cos(a) * m[:, 1] + 300
    r[:, 2] = np.mod(m[:, 2] + a, 2 * np.pi)
    v1, v2 = fm.index_vector(m), fm.index_vector(r)
    v3 = fm.index_vector(_random_minutiae(40, seed=6))
    assert float(v1 @ v2) > 0.95 > float(v1 @ v3)


@pytest.mark.parametrize("image,reason", [
    (np.full((300, 300), 200, np.uint8), "blank_image"),
    (np.random.default_rng(0).integers(0, 256, (300, 300)).astype(np.uint8), None),
    (np.full((40, 40), 10, np.uint8) + np.eye(40, dtype=np.uint8) * 200, "image_too_small"),
])
def test_bad_images_rejected(engine, image, reason):
    with pytest.raises(QualityRejected) as exc:
        engine.extract(image)
    assert exc.value.reasons
    if reason:
        assert reason in exc.value.reasons
    rep = engine.assess(image)
    assert not rep.ok and rep.reasons


def test_bad_arguments(engine):
    with pytest.raises(InvalidInput):
        engine.extract(np.zeros((300, 300), np.uint8), position="left-toe")
    with pytest.raises(QualityRejected) as exc:
        engine.extract(np.zeros((300, 300), np.uint8) + 100, ppi=100)
    assert "unsupported_resolution" in exc.value.reasons


@needs_data
def test_self_and_genuine_vs_impostor(engine, db1):
    a = db1[(101, 1)]
    assert a.quality > 30 and a.meta["minutiae"] >= 12
    assert engine.compare(a, a) > 0.8
    gen = [engine.compare(db1[(f, 1)], db1[(f, i)]) for f in (101, 102) for i in (2, 3)]
    imp = [engine.compare(db1[(101, i)], db1[(102, j)]) for i in (1, 2, 3) for j in (1, 2, 3)]
    assert min(gen) > max(imp)
    assert max(imp) < THRESHOLD_FMR_1E3 < min(gen)
    many = engine.compare_many(a, [db1[(101, 2)], db1[(102, 1)]])
    assert many[0] == pytest.approx(gen[0]) and many[1] < many[0]


@needs_data
def test_rotated_image_still_matches(engine, db1):
    img = _img("DB1_B", 101, 2)
    h, w = img.shape
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    rot[:, 2] += (20, -15)
    moved = cv2.warpAffine(img, rot, (w, h), borderValue=255)
    t = engine.extract(moved)
    assert engine.compare(db1[(101, 1)], t) > THRESHOLD_FMR_1E3
    assert engine.compare(db1[(101, 2)], t) > 0.3


def synthetic_photo(grey: np.ndarray, factor: float = 2.5, seed: int = 0) -> np.ndarray:
    """A contact image made to look like a phone photo of a finger (ridges bright)."""
    rng = np.random.default_rng(seed)
    g = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    g = cv2.GaussianBlur(g, (0, 0), 1.0 * factor / 2)
    h, w = g.shape
    fw = int(round(18 / 25.4 * 500 * factor))  # an 18 mm wide finger
    H, W = max(h, int(fw * 1.4)) + 200, max(w, fw) + 300
    canvas = np.zeros((H, W, 3), np.float32)
    canvas[:] = (60, 70, 90)  # bluish background
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (W // 2, H // 2), (fw // 2, int(fw * 0.7)), 0, 0, 360, 1, -1)
    tex = np.full((H, W), 128, np.float32)
    y0, x0 = (H - h) // 2, (W - w) // 2
    tex[y0:y0 + h, x0:x0 + w] = 255.0 - g  # inverted: ridges bright
    shade = 0.72 + 0.28 * tex / 255.0
    skin = np.array((224, 172, 140), np.float32)
    canvas[mask.astype(bool)] = (skin[None, :] * shade[mask.astype(bool)][:, None])
    canvas += rng.normal(0, 2.0, canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)


@needs_data
def test_contactless_synthetic_photo_matches_contact_mate(engine, db1):
    photo = synthetic_photo(_img("DB1_B", 101, 2))
    rep = engine.assess(photo)
    assert rep.ok, rep
    assert rep.metrics["source"] == "contactless" and rep.metrics["inverted"]
    assert 1000 < rep.metrics["estimated_ppi"] < 1500  # 500 ppi x 2.5
    t = engine.extract(photo, source="contactless")
    assert t.meta["source"] == "contactless"
    assert engine.compare(db1[(101, 1)], t) > THRESHOLD_FMR_1E3
    assert engine.compare(db1[(102, 1)], t) < THRESHOLD_FMR_1E3
    # no finger in a photo of a wall
    wall = np.random.default_rng(1).integers(0, 60, (600, 600, 3)).astype(np.uint8)
    wall += np.array((40, 90, 160), np.uint8)
    with pytest.raises(QualityRejected) as exc:
        engine.extract(wall, source="contactless")
    assert "no_finger_found" in exc.value.reasons


@needs_data
def test_iso_templates_match(engine):
    a = engine.from_iso((DATA / "DB1_B" / "101_1.iso").read_bytes())
    b = engine.from_iso((DATA / "DB1_B" / "101_2.iso").read_bytes())
    c = engine.from_iso((DATA / "DB1_B" / "102_1.iso").read_bytes())
    assert engine.compare(a, b) > engine.compare(a, c)
    back = engine.from_iso(engine.to_iso(a))
    assert np.allclose(engine.minutiae(back)[:, :2], engine.minutiae(a)[:, :2], atol=0.5)


@needs_data
def test_small_real_accuracy_db1(engine, tmp_path):
    """DB1_B fingers 101-105, all 8 impressions: 140 genuine, 640 impostor pairs."""
    from hawiya.eval.runner import run_eval

    samples = [(DATA / "DB1_B" / f"{f}_{i}.tif", f"DB1-{f}") for f in range(101, 106)
               for i in range(1, 9)]
    r = run_eval(engine, samples=samples, out_dir=tmp_path, name="finger-db1-small",
                 progress=False)
    assert r["failed_to_enrol"] == 0
    assert r["genuine"] == 140 and r["impostor"] == 640
    assert r["eer"] <= 0.03, r["eer"]
    assert r["fnmr_at_fmr"]["0.01"] <= 0.05

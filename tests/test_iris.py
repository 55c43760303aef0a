"""Iris engine: template codec, matcher maths, segmentation on synthetic eyes, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hawiya.biometrics.iris import (
    ALGORITHM,
    IrisEngine,
    decode_payload,
    encode_payload,
    get_iris_engine,
    template_code,
)
from hawiya.biometrics.iris_encoding import IrisCode
from hawiya.biometrics.iris_matching import (
    MatchConfig,
    pack_bits,
    score_reference,
    scores_packed,
    shifted_probe,
    unpack_bits,
)
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, QualityRejected, TemplateMismatch


def synthetic_eye(seed: int = 0, *, pupil=(165, 142, 34), iris=(160, 140, 92),
                  specular: bool = True, rotate: float = 0.0) -> np.ndarray:
    """A drawn NIR-like eye: skin, sclera, textured iris, dark pupil, bright highlight."""
    rng = np.random.default_rng(seed)
    h, w = 280, 320
    img = np.full((h, w), 150, np.uint8)
    cv2.ellipse(img, (160, 140), (150, 95), 0, 0, 360, 205, -1)  # sclera inside the lids
    # iris texture: smooth random pattern with radial streaks, fixed per seed
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rad = np.hypot(xx - iris[0], yy - iris[1])
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3.0)
    tex = 110 + 10 * fine / (fine.std() + 1e-6) + 10 * coarse / (coarse.std() + 1e-6) \
        - 0.1 * (rad - iris[2] / 2)
    inside = rad <= iris[2]
    img[inside] = np.clip(tex[inside], 60, 170).astype(np.uint8)
    cv2.circle(img, pupil[:2], pupil[2], 28, -1)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    if specular:
        cv2.circle(img, (pupil[0] + 12, pupil[1] - 10), 6, 255, -1)
        cv2.circle(img, (pupil[0] - 15, pupil[1] + 8), 3, 250, -1)
    if rotate:
        m = cv2.getRotationMatrix2D((float(iris[0]), float(iris[1])), rotate, 1.0)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    return img


@pytest.fixture(scope="module")
def engine() -> IrisEngine:
    return get_iris_engine()


@pytest.fixture(scope="module")
def eye_template(engine):
    return engine.extract(synthetic_eye(1), position="left-iris")


def random_code(rng, planes=4, rings=8, positions=128, valid=0.7) -> IrisCode:
    return IrisCode(rng.random((planes, rings, positions)) < 0.5,
                    rng.random((rings, positions)) < valid)


# --------------------------------------------------------------------------- template


def test_template_round_trip(engine, eye_template):
    t = eye_template
    assert (t.modality, t.algorithm, t.version, t.position) == ("iris", ALGORITHM, 1,
                                                                 "left-iris")
    t2 = Template.from_bytes(t.to_bytes())
    assert t2 == t
    code = template_code(t2)
    assert code.code.shape == (4, 8, 128) and code.mask.shape == (8, 128)
    assert encode_payload(code) == t.data
    assert len(t.data) == 16 + 8 * 5 * 16
    assert engine.compare(t, t2) == 1.0


def test_payload_rejects_garbage():
    with pytest.raises(InvalidInput):
        decode_payload(b"nonsense")
    good = encode_payload(random_code(np.random.default_rng(0)))
    with pytest.raises(InvalidInput):
        decode_payload(good[:-8])


def test_incompatible_templates_refused(engine, eye_template):
    other = Template(modality="iris", algorithm=ALGORITHM, version=99, data=eye_template.data)
    with pytest.raises(TemplateMismatch):
        engine.compare(eye_template, other)


# --------------------------------------------------------------------------- matcher


def test_self_comparison_is_maximum(engine, eye_template):
    other = engine.extract(synthetic_eye(2))
    s_self = engine.compare(eye_template, eye_template)
    assert s_self == 1.0
    assert engine.compare(eye_template, other) < s_self


def test_circular_shift_of_code_still_matches():
    rng = np.random.default_rng(3)
    cfg = MatchConfig(max_shift=8, n_ref=2048, min_overlap=256)
    a = random_code(rng)
    for shift in (-8, -3, 5, 8):
        assert score_reference(a.rolled(shift).code, a.rolled(shift).mask, a.code, a.mask,
                               cfg) == 1.0
    # beyond the shift range it is an impostor-like score
    far = a.rolled(30)
    assert score_reference(far.code, far.mask, a.code, a.mask, cfg) < 0.6


def test_masked_bits_are_ignored():
    rng = np.random.default_rng(4)
    cfg = MatchConfig(max_shift=4, n_ref=2048, min_overlap=256)
    a, b = random_code(rng), random_code(rng)
    before = score_reference(a.code, a.mask, b.code, b.mask, cfg)
    flipped = a.code.copy()
    flipped[:, ~a.mask] ^= True  # change only bits that a's mask excludes
    assert score_reference(flipped, a.mask, b.code, b.mask, cfg) == before
    pc, pm = shifted_probe(flipped, a.mask, cfg.shifts)
    got = scores_packed(pc, pm, pack_bits(b.code)[None], pack_bits(b.mask)[None], cfg)
    assert got[0] == pytest.approx(before, abs=1e-12)
    # a code equal to b wherever a is valid but garbage elsewhere matches b perfectly
    c = np.where(a.mask[None], b.code, ~b.code)
    assert score_reference(c, a.mask, b.code, np.ones_like(b.mask), cfg) == 1.0


def test_minimum_overlap_gives_non_match():
    rng = np.random.default_rng(5)
    cfg = MatchConfig(max_shift=2, n_ref=2048, min_overlap=256)
    a = random_code(rng)
    b = IrisCode(a.code.copy(), np.zeros_like(a.mask))
    b.mask[:, :60] = True  # identical code, valid only in columns 0-59
    a_mask = np.zeros_like(a.mask)
    a_mask[:, 64:120] = True  # disjoint from b's valid columns even after +-2 shifts
    assert score_reference(a.code, a_mask, b.code, b.mask, cfg) == 0.0
    pc, pm = shifted_probe(a.code, a_mask, cfg.shifts)
    assert scores_packed(pc, pm, pack_bits(b.code)[None], pack_bits(b.mask)[None], cfg)[0] == 0
    # identical codes with a small common patch: below the minimum overlap -> non-match
    small = np.zeros_like(a.mask)
    small[:2, :100] = True  # 200 positions < 256
    assert score_reference(a.code, small, a.code, small, cfg) == 0.0


def test_bit_count_normalisation_pulls_small_overlaps_to_chance():
    rng = np.random.default_rng(6)
    cfg = MatchConfig(max_shift=0, n_ref=2048, min_overlap=64)
    a = random_code(rng, valid=1.0)
    b = IrisCode(a.code.copy(), a.mask.copy())
    b.code[:, :, ::4] ^= True  # 25% disagreement
    big = score_reference(a.code, a.mask, b.code, b.mask, cfg)
    small_mask = np.zeros_like(a.mask)
    small_mask[:1] = True
    small = score_reference(a.code, small_mask, b.code, small_mask, cfg)
    assert small < big  # same raw HD, fewer bits -> less confident


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_popcount_matcher_equals_naive_reference(backend):
    from hawiya.biometrics import iris_matching

    if backend == "numba" and not iris_matching.have_numba():
        pytest.skip("numba not installed")
    rng = np.random.default_rng(7)
    cfg = MatchConfig(max_shift=5, n_ref=2048, min_overlap=256)
    probe = random_code(rng, valid=0.6)
    gallery = [random_code(rng, valid=v) for v in rng.uniform(0.2, 0.9, 40)]
    gallery += [probe.rolled(3), IrisCode(probe.code, probe.mask)]
    gc = np.stack([pack_bits(g.code) for g in gallery])
    gm = np.stack([pack_bits(g.mask) for g in gallery])
    pc, pm = shifted_probe(probe.code, probe.mask, cfg.shifts)
    got = scores_packed(pc, pm, gc, gm, cfg, backend=backend)
    want = [score_reference(probe.code, probe.mask, g.code, g.mask, cfg) for g in gallery]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[-1] == 1.0 and got[-2] == 1.0
    assert np.all(got[:-2] < 0.65)
    # two planes (one filter) too
    p2 = IrisCode(probe.code[:2], probe.mask)
    g2 = [IrisCode(g.code[:2], g.mask) for g in gallery]
    pc, pm = shifted_probe(p2.code, p2.mask, cfg.shifts)
    got = scores_packed(pc, pm, np.stack([pack_bits(g.code) for g in g2]), gm, cfg,
                        backend=backend)
    want = [score_reference(p2.code, p2.mask, g.code, g.mask, cfg) for g in g2]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_pack_unpack_round_trip():
    rng = np.random.default_rng(8)
    bits = rng.random((3, 8, 128)) < 0.5
    assert np.array_equal(unpack_bits(pack_bits(bits), 8, 128), bits)


def test_compare_many_matches_compare(engine, eye_template):
    others = [engine.extract(synthetic_eye(s)) for s in (1, 2, 3)]
    many = engine.compare_many(eye_template, others)
    one = [engine.compare(eye_template, o) for o in others]
    np.testing.assert_allclose(many, one, atol=1e-12)
    assert many[0] == 1.0 and many[1] < 0.62 and many[2] < 0.62
    assert engine.compare_many(eye_template, []).shape == (0,)


# --------------------------------------------------------------------------- segmentation


def test_specular_highlight_in_pupil_still_segments(engine):
    img = synthetic_eye(11, pupil=(170, 146, 30), specular=True)
    a = engine.analyse(np.dstack([img] * 3))  # RGB input as load_image gives it
    assert a.report.ok, a.report.reasons
    p, i = a.segmentation.pupil, a.segmentation.iris
    assert abs(p.x - 170) <= 2 and abs(p.y - 146) <= 2 and abs(p.r - 30) <= 2
    assert abs(i.x - 160) <= 4 and abs(i.y - 140) <= 4 and abs(i.r - 92) <= 4
    assert a.segmentation.noise.any()  # the highlight was found and masked
    m = a.report.metrics
    for key in ("usable_iris_fraction", "pupil_iris_ratio", "focus", "occlusion",
                "gaze_offset"):
        assert key in m
    assert m["gaze_offset"] > 0.05  # pupil drawn off the iris centre


def test_rotated_eye_image_still_matches(engine, eye_template):
    rot = engine.extract(synthetic_eye(1, rotate=12.0))
    other = engine.extract(synthetic_eye(5))
    assert engine.compare(eye_template, rot) > 0.75
    assert engine.compare(eye_template, other) < 0.62


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", ["blank", "tiny", "noise", "blurred"])
def test_bad_input_is_rejected_with_a_reason(engine, name):
    rng = np.random.default_rng(9)
    img = {
        "blank": np.full((280, 320, 3), 128, np.uint8),
        "tiny": np.full((40, 30), 90, np.uint8),
        "noise": rng.integers(0, 256, (280, 320, 3)).astype(np.uint8),
        "blurred": cv2.GaussianBlur(synthetic_eye(1), (0, 0), 8),
    }[name]
    with pytest.raises(QualityRejected) as exc:
        engine.extract(img)
    assert exc.value.reasons
    report = engine.assess(img)
    assert not report.ok and report.reasons


def test_bad_position_and_dtype(engine):
    with pytest.raises(InvalidInput):
        engine.extract(synthetic_eye(1), position="left-thumb")
    with pytest.raises(QualityRejected):
        engine.extract(np.zeros((10, 10, 10, 3), np.uint8))


def test_extract_batch_keeps_order_and_per_item_errors(engine):
    imgs = [synthetic_eye(1), np.full((280, 320), 0, np.uint8), synthetic_eye(2)]
    out = engine.extract_batch(imgs, workers=1)
    assert isinstance(out[0], Template) and isinstance(out[2], Template)
    assert isinstance(out[1], QualityRejected)
    assert engine.compare(out[0], engine.extract(imgs[0])) == 1.0

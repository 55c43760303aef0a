"""Pins the FMR/FNMR/EER/DET definitions in hawiya.eval.metrics on scores with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from hawiya.errors import InvalidInput
from hawiya.eval.metrics import (
    det_curve,
    eer,
    evaluate_scores,
    fmr_key,
    fnmr_at_fmr,
    plot_det,
    probit,
    threshold_at_fmr,
)


def brute_rates(gen, imp, t):
    gen, imp = np.asarray(gen, float), np.asarray(imp, float)
    return float(np.mean(imp >= t)), float(np.mean(gen < t))


def test_fmr_key_format():
    assert [fmr_key(t) for t in (1e-2, 1e-3, 1e-4, 1e-5, 0.05)] == [
        "0.01", "0.001", "0.0001", "0.00001", "0.05"]


def test_perfectly_separated_gives_zero_eer():
    rng = np.random.default_rng(0)
    gen = rng.uniform(0.7, 1.0, 500)
    imp = rng.uniform(0.0, 0.5, 5000)
    r = eer(gen, imp)
    assert r.eer == 0.0
    assert r.fmr == 0.0 and r.fnmr == 0.0
    assert imp.max() < r.threshold <= gen.min()
    pts = fnmr_at_fmr(gen, imp, (1e-2, 1e-3))
    assert all(p.fnmr == 0.0 and p.fmr <= p.target_fmr for p in pts)


def test_identical_distributions_give_half():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20_000)
    y = rng.normal(size=20_000)
    assert abs(eer(x, y).eer - 0.5) < 0.02
    # Exactly the same values: every score ties, the crossing is exactly 0.5.
    assert eer(x, x.copy()).eer == pytest.approx(0.5)


def test_single_tie_is_split_evenly():
    r = eer([0.5], [0.5])
    assert r.eer == pytest.approx(0.5)
    assert r.low <= r.eer <= r.high


def test_hand_computed_crossing_on_an_operating_point():
    # t=0.7: FMR = 1/3 (0.7), FNMR = 1/3 (0.6) -> FMR == FNMR exactly.
    r = eer([0.6, 0.8, 0.9], [0.1, 0.3, 0.7])
    assert r.eer == pytest.approx(1 / 3)
    assert r.threshold == pytest.approx(0.7)
    assert r.low == r.high == pytest.approx(1 / 3)


def test_hand_computed_interpolated_crossing():
    # t=0.6: (FMR 2/3, FNMR 1/2); t=0.7: (FMR 1/3, FNMR 1/2). FNMR - FMR goes -1/6 -> +1/6,
    # so the crossing is halfway: FMR = 1/2 = FNMR.
    r = eer([0.5, 0.9], [0.2, 0.6, 0.7])
    assert r.eer == pytest.approx(0.5)
    assert r.threshold == pytest.approx(0.6)  # nearer point; lower one on a tie
    assert (r.fmr, r.fnmr) == pytest.approx((2 / 3, 1 / 2))
    # FVC interval from the point with the smaller FMR + FNMR (t=0.7: 1/3 + 1/2).
    assert (r.low, r.high) == pytest.approx((1 / 3, 1 / 2))


def test_ties_between_genuine_and_impostor():
    # Genuine and impostor share the score 0.5: one diagonal step of the curve.
    gen = [0.5, 0.5, 0.9, 0.9]
    imp = [0.1, 0.1, 0.5, 0.5]
    # t=0.5: FMR 1/2, FNMR 0 -> t=0.9: FMR 0, FNMR 1/2. Crossing halfway: 1/4.
    r = eer(gen, imp)
    assert r.eer == pytest.approx(0.25)
    curve = det_curve(gen, imp)
    np.testing.assert_allclose(curve.thresholds[:-1], [0.1, 0.5, 0.9])
    np.testing.assert_allclose(curve.fmr, [1, 0.5, 0, 0])
    np.testing.assert_allclose(curve.fnmr, [0, 0, 0.5, 1])


def test_eer_matches_brute_force_curve():
    rng = np.random.default_rng(2)
    gen = np.round(rng.normal(2.0, 1.0, 300), 1)  # rounding makes many ties
    imp = np.round(rng.normal(0.0, 1.0, 3000), 1)
    r = eer(gen, imp)
    c = det_curve(gen, imp)
    for t, f, n in zip(c.thresholds[::7], c.fmr[::7], c.fnmr[::7], strict=True):
        assert (f, n) == pytest.approx(brute_rates(gen, imp, t))
    d = c.fnmr - c.fmr
    i = np.flatnonzero(d <= 0)[-1]
    a = -d[i] / (d[i + 1] - d[i])
    assert r.eer == pytest.approx(c.fmr[i] + a * (c.fmr[i + 1] - c.fmr[i]))
    assert r.low <= r.eer <= r.high


def test_fnmr_at_fmr_uses_lowest_threshold_with_fmr_under_target():
    gen = np.array([0.2, 0.45, 0.55, 0.65, 0.8])
    imp = np.linspace(0.0, 0.99, 100)  # 0.00, 0.01, ..., 0.99
    (p,) = fnmr_at_fmr(gen, imp, [0.05])
    # At most 5 impostors accepted: 0.95..0.99. The 6th highest (0.94) must be rejected,
    # so the lowest threshold is the next score above it: 0.95.
    assert p.threshold == pytest.approx(0.95)
    assert p.fmr == pytest.approx(0.05)
    assert p.fnmr == pytest.approx(1.0)  # every genuine score is below 0.95
    assert p.reliable
    (q,) = fnmr_at_fmr(gen, imp, [0.6])
    # 60 accepted -> 0.40..0.99; reject 0.39; the next score above 0.39 is 0.40.
    assert q.threshold == pytest.approx(0.40)
    assert (q.fmr, q.fnmr) == pytest.approx((0.6, 0.2))
    # A genuine score between impostor scores is a lower threshold with the same FMR.
    (r,) = fnmr_at_fmr([0.945, 0.99], imp, [0.05])
    assert r.threshold == pytest.approx(0.945)
    assert (r.fmr, r.fnmr) == pytest.approx((0.05, 0.0))
    assert threshold_at_fmr(imp, 0.05) == pytest.approx(0.95)


def test_fnmr_at_fmr_brute_force():
    rng = np.random.default_rng(3)
    gen = rng.normal(1.5, 1, 2000)
    imp = rng.normal(0, 1, 20_000)
    for p in fnmr_at_fmr(gen, imp, (1e-1, 1e-2, 1e-3, 1e-4)):
        f, n = brute_rates(gen, imp, p.threshold)
        assert (p.fmr, p.fnmr) == pytest.approx((f, n))
        assert p.fmr <= p.target_fmr
        # Any lower candidate threshold breaks the target.
        cand = np.concatenate([gen, imp])
        lower = cand[cand < p.threshold].max()
        assert brute_rates(gen, imp, lower)[0] > p.target_fmr
    assert threshold_at_fmr(imp, 1e-3) <= np.sort(imp)[-20]


def test_small_impostor_count_is_flagged_not_hidden():
    rng = np.random.default_rng(4)
    pts = fnmr_at_fmr(rng.normal(2, 1, 100), rng.normal(0, 1, 500), (1e-2, 1e-3, 1e-4))
    assert [p.reliable for p in pts] == [True, False, False]
    assert pts[2].fmr == 0.0 and 0.0 <= pts[2].fnmr <= 1.0


def test_bad_scores_rejected():
    with pytest.raises(InvalidInput):
        eer([], [0.1])
    with pytest.raises(InvalidInput):
        eer([0.1, np.nan], [0.1])
    with pytest.raises(InvalidInput):
        fnmr_at_fmr([0.1], [0.2], [1.5])


def test_evaluate_scores_dict_keys():
    rng = np.random.default_rng(5)
    d = evaluate_scores(rng.normal(2, 1, 200), rng.normal(0, 1, 20_000)).to_dict()
    assert set(d["fnmr_at_fmr"]) == {"0.01", "0.001", "0.0001"}
    assert d["genuine"] == 200 and d["impostor"] == 20_000
    assert 0.0 < d["eer"] < 0.5
    assert d["genuine_scores"]["count"] == 200


def test_probit_matches_known_quantiles():
    np.testing.assert_allclose(probit([0.5, 0.975, 0.025, 1e-4, 0.8413447460685429]),
                               [0.0, 1.959964, -1.959964, -3.719016, 1.0], atol=1e-5)


@pytest.mark.parametrize("scale", ["normal", "log"])
def test_det_plot_is_a_png(tmp_path, scale):
    rng = np.random.default_rng(6)
    gen, imp = rng.normal(2, 1, 1000), rng.normal(0, 1, 50_000)
    out = plot_det(det_curve(gen, imp, max_points=2000), tmp_path / "sub" / "det.png",
                   eer=eer(gen, imp), scale=scale, title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 300


def test_thinned_curve_keeps_exact_points():
    rng = np.random.default_rng(7)
    gen, imp = rng.normal(2, 1, 5000), rng.normal(0, 1, 100_000)
    c = det_curve(gen, imp, max_points=1000)
    assert len(c) < 3000
    assert np.all(np.diff(c.thresholds) > 0)
    for t, f, n in zip(c.thresholds[::50], c.fmr[::50], c.fnmr[::50], strict=True):
        assert (f, n) == pytest.approx(brute_rates(gen, imp, t))

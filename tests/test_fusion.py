import math

import numpy as np
import pytest

from hawiya.biometrics.fusion import MAX_EVIDENCE, Calibration, evidence_for_fmr, fuse
from hawiya.config import DEFAULT_MODALITIES


def test_evidence_is_minus_log10_fmr_at_the_calibration_points():
    cal = Calibration(((0.5, 0.84), (1e-2, 0.937), (1e-3, 0.95)))
    for fmr, thr in cal.points:
        assert cal.evidence(thr) == pytest.approx(-math.log10(fmr))
    scores = np.linspace(-1, 1, 201)
    ev = cal.evidence(scores)
    assert np.all(np.diff(ev) >= 0) and ev.min() == 0.0
    assert cal.evidence(1.0) > 3.0  # extrapolated past the last point with its slope
    assert cal.evidence(10.0) == MAX_EVIDENCE  # and clamped


def test_bad_calibrations_are_refused():
    with pytest.raises(ValueError):
        Calibration(((0.5, 0.8),))
    with pytest.raises(ValueError):
        Calibration(((1e-2, 0.8), (1e-1, 0.9)))  # FMR must fall as the threshold rises


def test_fusion_adds_evidence_and_shipped_calibrations_are_valid():
    assert fuse({"face": 2.0, "iris": 4.0}) == 6.0
    assert evidence_for_fmr(1e-4) == pytest.approx(4.0)
    for points in (m["calibration"] for m in DEFAULT_MODALITIES.values()):
        Calibration(points)

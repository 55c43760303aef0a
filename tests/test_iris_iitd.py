"""Real-data check on IIT Delhi iris images, a second NIR camera with highlights in the pupil
and lids over the iris (skipped when the shared data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hawiya.biometrics.iris import get_iris_engine
from hawiya.biometrics.template import Template
from hawiya.eval.metrics import evaluate_scores
from hawiya.imaging import load_image

IITD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iris" / "iitd"
EYES = 20  # the first 20 eye folders: 100 images


@pytest.mark.slow
def test_iitd_subset_accuracy():
    if not IITD.is_dir():
        pytest.skip("shared IITD data not available")
    eyes = sorted(p for p in IITD.iterdir() if p.is_dir())[:EYES]
    files = [f for e in eyes for f in sorted(e.glob("*.bmp"))]
    if len(files) < 5 * EYES:
        pytest.skip("IITD subset incomplete")
    eng = get_iris_engine()
    out = eng.extract_batch([load_image(f) for f in files], workers=1)
    ok = [i for i, t in enumerate(out) if isinstance(t, Template)]
    # measured: no failure to enrol on these 100 images (1 of 250 on the whole set, a closed eye)
    assert len(ok) >= len(files) - 2, [str(files[i]) for i in range(len(files)) if i not in ok]
    labels = np.array([files[i].parent.name for i in ok])
    temps = [out[i] for i in ok]
    gen, imp = [], []
    for i in range(len(temps) - 1):
        s = eng.compare_many(temps[i], temps[i + 1:])
        same = labels[i + 1:] == labels[i]
        gen.append(s[same])
        imp.append(s[~same])
    gen, imp = np.concatenate(gen), np.concatenate(imp)
    rep = evaluate_scores(gen, imp, (1e-3,))
    # measured on all 250 images: EER 0.61% (7.2% before the pupil/eyelid fixes)
    assert rep.eer.eer <= 0.03, rep.eer.eer
    assert rep.points[0].fnmr <= 0.06
    assert np.median(gen) > 0.7 and np.median(imp) < 0.56

"""Real-data accuracy check on a CASIA V1 subset (skipped when the shared data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hawiya.biometrics.iris import get_iris_engine
from hawiya.biometrics.template import Template
from hawiya.eval.metrics import evaluate_scores
from hawiya.imaging import load_image

CASIA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iris" / "casia1"
EYES = range(1, 21)


@pytest.mark.slow
def test_casia_subset_accuracy():
    if not CASIA.is_dir():
        pytest.skip("shared CASIA V1 data not available")
    files = [f for e in EYES for f in sorted((CASIA / str(e)).glob("*.jpg"))]
    if len(files) < 100:
        pytest.skip("CASIA V1 subset incomplete")
    eng = get_iris_engine()
    out = eng.extract_batch([load_image(f) for f in files], workers=1)
    ok = [i for i, t in enumerate(out) if isinstance(t, Template)]
    assert len(ok) == len(files), [str(files[i]) for i in range(len(files)) if i not in ok]
    labels = np.array([f.parent.name for f in files])
    gen, imp = [], []
    for i in range(len(files) - 1):
        s = eng.compare_many(out[i], out[i + 1:])
        same = labels[i + 1:] == labels[i]
        gen.append(s[same])
        imp.append(s[~same])
    gen, imp = np.concatenate(gen), np.concatenate(imp)
    assert gen.size == 20 * 21 and imp.size == 140 * 139 // 2 - 420
    rep = evaluate_scores(gen, imp, (1e-3,))
    # measured: EER 0.76%, FNMR@FMR1e-3 1.43% on these 20 eyes (0.76% EER on all 108)
    assert rep.eer.eer <= 0.02, rep.eer.eer
    assert rep.points[0].fnmr <= 0.04
    assert np.median(gen) > 0.75 and np.median(imp) < 0.56
    assert imp.max() < 0.66  # no impostor near the recommended threshold

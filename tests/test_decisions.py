"""The 1:N rule: evidence needed by gallery size, the fused (Fisher) correction, caps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hawiya.identity.decisions import fused_evidence_needed


def test_single_modality_needs_log10_of_comparisons_over_fmr():
    assert fused_evidence_needed([4.0], [1], 1e-3) == pytest.approx(3.0)
    assert fused_evidence_needed([4.0], [10], 1e-3) == pytest.approx(4.0)
    assert fused_evidence_needed([4.0], [1], 1e-5) is None  # beyond what was calibrated


def test_fused_needs_more_than_the_plain_sum_as_fisher_says():
    """Uncapped, two exactly calibrated modalities: P(X1 + X2 >= s) = 10^-s (1 + s ln 10)."""
    fmr = 1e-6
    exact = next(s / 1000 for s in range(6000, 9000)
                 if 10 ** (-s / 1000) * (1 + s / 1000 * math.log(10)) <= fmr)
    got = fused_evidence_needed([12.0, 12.0], [1, 1], fmr)
    assert got > 6.0 and got == pytest.approx(exact, abs=0.02)


def test_caps_make_a_search_undecidable():
    """Capped evidence cannot exceed the sum of caps; beyond it nothing is decidable, and
    within it the bar stays above the plain sum log10(1/FMR)."""
    assert fused_evidence_needed([4.0, 4.0], [1, 1], 1e-9) is None
    capped = fused_evidence_needed([4.0, 4.0], [1, 1], 1e-6)
    free = fused_evidence_needed([12.0, 12.0], [1, 1], 1e-6)
    assert 6.0 < capped <= 8.0 and capped <= free


def test_model_matches_simulation():
    """Monte Carlo of capped, calibrated evidence: the rule's bar keeps the rate."""
    rng = np.random.default_rng(0)
    n = 2_000_000
    caps, fmr = [4.0, 3.0], 1e-4
    bar = fused_evidence_needed(caps, [1, 1], fmr)
    total = sum(np.minimum(-np.log10(rng.random(n)), c) for c in caps)
    assert np.mean(total >= bar) <= fmr * 1.3

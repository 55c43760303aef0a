"""Score normalisation and multimodal fusion.

Raw scores of different modalities live on different scales (a face cosine of 0.94 and an
iris score of 0.63 mean similar things), so each is first mapped to *evidence*: minus log10
of the false-match rate at that score, read off a calibration table of (FMR, threshold)
points measured with ``hawiya eval``. Evidence is linear in the score between table points
and extrapolated with the last slope beyond them, clamped to [0, MAX_EVIDENCE]. Evidence from
independent modalities adds (their false-match rates multiply), so a fused decision at target
FMR F accepts when the sum reaches -log10(F). Every decision keeps the per-modality scores,
thresholds and evidence, so an adjudicator sees why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_EVIDENCE = 12.0


@dataclass(frozen=True)
class Calibration:
    """(fmr, threshold) points for one modality, from an evaluation run."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        pts = sorted(self.points, key=lambda p: p[1])
        if len(pts) < 2 or any(not 0 < f < 1 for f, _ in pts):
            raise ValueError("a calibration needs two or more points with 0 < FMR < 1")
        ev = [-math.log10(f) for f, _ in pts]
        if any(b <= a for a, b in zip(ev, ev[1:], strict=False)):
            raise ValueError("FMR must fall as the threshold rises")
        object.__setattr__(self, "points", tuple(pts))

    def evidence(self, score: float | np.ndarray) -> np.ndarray | float:
        thr = np.array([t for _, t in self.points])
        ev = np.array([-math.log10(f) for f, _ in self.points])
        s = np.asarray(score, dtype=np.float64)
        out = np.interp(s, thr, ev)
        lo_slope = (ev[1] - ev[0]) / (thr[1] - thr[0])
        hi_slope = (ev[-1] - ev[-2]) / (thr[-1] - thr[-2])
        out = np.where(s < thr[0], ev[0] + (s - thr[0]) * lo_slope, out)
        out = np.where(s > thr[-1], ev[-1] + (s - thr[-1]) * hi_slope, out)
        out = np.clip(out, 0.0, MAX_EVIDENCE)
        return float(out) if out.ndim == 0 else out


    @property
    def max_evidence(self) -> float:
        """The strongest evidence the calibration measured (-log10 of its smallest FMR):
        beyond it the curve is extrapolated, so no decision may rely on more."""
        return max(-math.log10(f) for f, _ in self.points)

    def score_for(self, evidence: float) -> float:
        """The score at which this modality gives ``evidence`` (inverse of ``evidence``)."""
        thr = np.array([t for _, t in self.points])
        ev = np.array([-math.log10(f) for f, _ in self.points])
        if evidence <= ev[0]:
            return float(thr[0] + (evidence - ev[0]) * (thr[1] - thr[0]) / (ev[1] - ev[0]))
        if evidence >= ev[-1]:
            return float(thr[-1] + (evidence - ev[-1]) * (thr[-1] - thr[-2])
                         / (ev[-1] - ev[-2]))
        return float(np.interp(evidence, ev, thr))


def fuse(evidence: dict[str, float]) -> float:
    """Sum of per-modality evidence (independent modalities)."""
    return float(sum(evidence.values()))


def evidence_for_fmr(fmr: float) -> float:
    return -math.log10(fmr)

"""1:N decisions that hold at any gallery size.

Searching N people multiplies false matches by about N: a threshold fine for one comparison
names strangers in a search. So every search states its use's target false-positive
identification rate F (``identity.target_fpir`` in config), counts what it searched (people
N; per person and modality, comparisons m = probes x templates per person), and may
false-match any one person with probability at most F / N. One modality decides at evidence
E = log10(m·N/F), the score its calibration gives for a per-comparison FMR of F/(m·N).
Several modalities add their evidence, but a sum of several weak scores reaches a level
more easily than one score does (Fisher), so a fused decision needs the summed evidence
whose false-match probability, modelled with every modality exactly calibrated, independent
and capped, is at most F / N (:func:`fused_evidence_needed`, measured against chimeric
impostor scores by ``benchmarks/fpir.py``).

Evidence is capped at what each modality's calibration measured (``max_evidence``): when the
captured modalities cannot reach E, the search is not decidable and says so ("face alone
cannot single out one person among 250,000 at FPIR 1e-3; add iris or fingers") instead of
naming someone. De-duplication still holds the strongest candidates for a human then, at the
most evidence the calibration can vouch for, and says the decision was not decidable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from hawiya.identity.results import Decision, ModalityScore

if TYPE_CHECKING:
    from hawiya.identity.galleries import SearchSet
    from hawiya.platform import Platform



STEP = 0.005  # evidence grid of the fused model


def fused_evidence_needed(caps: Sequence[float], mults: Sequence[int], fmr: float
                          ) -> float | None:
    """The smallest summed evidence s with P(sum of X_i >= s) <= ``fmr``, where X_i is the
    best of ``mults[i]`` exactly calibrated comparisons of modality i (P(X_i >= x) =
    m_i·10^-x), capped at ``caps[i]``; None when even every cap is not enough."""
    if len(caps) == 1:
        need = math.log10(mults[0] / fmr)
        return need if need <= caps[0] + 1e-9 else None
    pmf = np.ones(1)
    for cap, m in zip(caps, mults, strict=True):
        n = max(1, round(cap / STEP))
        edges = np.arange(n + 1) * STEP
        survival = np.minimum(1.0, m * 10.0 ** -edges)
        one = np.zeros(n + 1)
        one[1:] = survival[:-1] - survival[1:]  # a bin's mass at its upper edge: cautious
        one[n] += survival[n]  # the cap's atom
        one[0] += 1.0 - survival[0]
        pmf = np.convolve(pmf, one)
    tail = np.cumsum(pmf[::-1])[::-1]  # P(sum >= k·STEP)
    ok = np.flatnonzero(tail <= fmr * (1 + 1e-9))
    return float(ok[0] * STEP) if ok.size else None


@dataclass(frozen=True)
class SearchNeed:
    """What a search must show to name someone."""

    use: str
    gallery_size: int  # people searched
    target_fpir: float
    caps: dict[str, float]  # per modality: the most evidence its calibration vouches for
    mults: dict[str, int]  # per modality: comparisons per person (probes x templates)
    evidence: float  # summed evidence needed with every searched modality
    decidable: bool
    thresholds: dict[str, float]  # per modality: the score that decides on its own
    reason: str
    _needed: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def per_person_fmr(self) -> float:
        return self.target_fpir / max(self.gallery_size, 1)

    def evidence_for(self, subset: Sequence[str]) -> float | None:
        """Summed evidence needed when a candidate has scores of ``subset`` only."""
        key = tuple(sorted(subset))
        if key not in self._needed:
            self._needed[key] = fused_evidence_needed(
                [self.caps[m] for m in key], [self.mults[m] for m in key], self.per_person_fmr)
        return self._needed[key]


def search_need(platform: Platform, use: str, searched: Mapping[str, SearchSet],
                probes: Mapping[str, int]) -> SearchNeed:
    """The evidence a search of ``searched`` (modality → what was searched) with ``probes``
    (modality → probe templates) needs at its use's target FPIR."""
    settings = platform.settings
    fpir = getattr(settings.identity.target_fpir, use)
    people = max((s.people for s in searched.values()), default=0)
    mults = {m: probes.get(m, 1) * max(1, math.ceil(s.templates / max(s.people, 1)))
             for m, s in searched.items()}
    calibrations = {m: settings.calibration(m) for m in searched}
    caps = {m: c.max_evidence for m, c in calibrations.items()}
    per_person = fpir / max(people, 1)
    singles = {m: math.log10(mults[m] / per_person) for m in searched}
    fused = (fused_evidence_needed([caps[m] for m in sorted(searched)],
                                   [mults[m] for m in sorted(searched)], per_person)
             if searched else None)
    decidable = fused is not None or not searched
    evidence = fused if fused is not None else sum(caps.values())
    names = " + ".join(sorted(searched))
    if not searched:
        reason = (f"nobody is enrolled with {' + '.join(sorted(probes)) or 'these captures'} "
                  "in what was searched")
    elif decidable:
        reason = (f"{names} among {people:,} people at FPIR {fpir:g}: evidence ≥ "
                  f"{evidence:.2f} (at most {per_person:.1e} false-match chance per person)")
    else:
        reason = (f"{names} alone cannot single out one person among {people:,} at FPIR "
                  f"{fpir:g}: the calibration vouches for evidence {sum(caps.values()):.2f}, "
                  f"not enough for a {per_person:.1e} false-match chance per person; add "
                  f"{_suggest(platform, searched)}")
    return SearchNeed(use=use, gallery_size=people, target_fpir=fpir, caps=caps, mults=mults,
                      evidence=round(evidence, 3), decidable=decidable,
                      thresholds={m: round(c.score_for(min(singles[m], caps[m])), 6)
                                  for m, c in calibrations.items()},
                      reason=reason)


def _suggest(platform: Platform, searched: Mapping[str, SearchSet]) -> str:
    from hawiya.biometrics import modalities

    others = [m for m in modalities.enabled(platform.settings) if m not in searched]
    return " or ".join(others) if others else "another capture"


def candidate_decision(platform: Platform, scores: Mapping[str, float], need: SearchNeed
                       ) -> Decision:
    """Whether one candidate meets the search's need (per-modality evidence capped at what
    its calibration measured; several modalities by the fused rule)."""
    settings = platform.settings
    per, total = {}, 0.0
    for modality, score in scores.items():
        cal = settings.calibration(modality)
        ev = min(float(cal.evidence(score)), cal.max_evidence)
        total += ev
        threshold = need.thresholds.get(modality, cal.score_for(cal.max_evidence))
        per[modality] = ModalityScore(score=round(float(score), 6), threshold=threshold,
                                      match=bool(score >= threshold), evidence=round(ev, 3))
    subset = [m for m in per if m in need.caps]
    needed = need.evidence_for(subset) if subset else None
    if len(per) == 1:
        (modality, d), = per.items()
        met = d.match and needed is not None
        score, threshold, kind = d.score, d.threshold, modality
    else:
        reach = sum(need.caps.get(m, 0.0) for m in subset)
        bar = needed if needed is not None else reach
        met = needed is not None and total >= needed - 1e-9
        score, threshold, kind = round(total, 3), round(bar, 3), "fused-evidence"
    if need.use == "dedup":  # a human decides: hold the strongest even when not decidable
        match = met or any(d.match for d in per.values()) or (
            needed is None and len(per) > 1 and total >= threshold - 1e-9)
    else:
        match = met
    verdict = "≥" if score >= threshold else "<"
    reason = (f"{kind} {'evidence' if len(per) > 1 else 'score'} {score:.4f} {verdict} "
              f"{threshold:.4f} needed ({need.reason})")
    return Decision(match=bool(match), score=score, threshold=threshold, score_kind=kind,
                    modalities=per, reason=reason)

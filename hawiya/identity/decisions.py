"""1:N decisions that hold at any gallery size.

Searching N people multiplies false matches by about N: a threshold fine for one comparison
names strangers in a search. So every search states its use's target false-positive
identification rate F (``identity.target_fpir`` in config), counts what it searched (people
N, and comparisons per person c: probes x templates per person), and needs per-comparison
evidence E = log10(N·c) - log10(F), i.e. a false-match rate of F / (N·c). One modality
decides at the score its calibration gives for E; several add their evidence.

Evidence is capped at what each modality's calibration measured (``max_evidence``): when the
captured modalities cannot reach E, the search is not decidable and says so ("face alone
cannot single out one person among 250,000 at FPIR 1e-3; add iris or fingers") instead of
naming someone. De-duplication still holds the strongest candidates for a human then, at the
most evidence the calibration can vouch for, and says the decision was not decidable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hawiya.identity.results import Decision, ModalityScore

if TYPE_CHECKING:
    from hawiya.identity.galleries import SearchSet
    from hawiya.platform import Platform

USES = ("identify", "check_in", "dedup")


@dataclass(frozen=True)
class SearchNeed:
    """What a search must show to name someone."""

    use: str
    gallery_size: int  # people searched
    comparisons: int  # per person: probes x templates per person (largest modality)
    target_fpir: float
    evidence: float  # needed, -log10 of the per-comparison FMR
    decidable: bool
    thresholds: dict[str, float]  # per-modality score at the needed evidence
    reason: str


def search_need(platform: Platform, use: str, searched: Mapping[str, SearchSet],
                probes: Mapping[str, int]) -> SearchNeed:
    """The evidence a search of ``searched`` (modality → what was searched) with ``probes``
    (modality → probe templates) needs at its use's target FPIR."""
    settings = platform.settings
    fpir = getattr(settings.identity.target_fpir, use)
    people = max((s.people for s in searched.values()), default=0)
    per_person = max((probes.get(m, 1) * max(1, math.ceil(s.templates / max(s.people, 1)))
                      for m, s in searched.items()), default=1)
    need = math.log10(max(people, 1) * per_person) - math.log10(fpir)
    calibrations = {m: settings.calibration(m) for m in searched}
    reachable = sum(c.max_evidence for c in calibrations.values())
    decidable = need <= reachable + 1e-9
    used = need if decidable else reachable
    names = " + ".join(sorted(searched)) or "nothing"
    if decidable:
        reason = (f"{names} among {people:,} people at FPIR {fpir:g}: evidence ≥ {need:.2f} "
                  f"(per-comparison FMR {10 ** -need:.1e})")
    else:
        reason = (f"{names} alone cannot single out one person among {people:,} at FPIR "
                  f"{fpir:g}: it needs evidence {need:.2f} and the calibration vouches for "
                  f"{reachable:.2f}; add {_suggest(platform, searched)}")
    return SearchNeed(use=use, gallery_size=people, comparisons=per_person, target_fpir=fpir,
                      evidence=round(need, 3), decidable=decidable,
                      thresholds={m: round(c.score_for(min(used, c.max_evidence)), 6)
                                  for m, c in calibrations.items()},
                      reason=reason)


def _suggest(platform: Platform, searched: Mapping[str, SearchSet]) -> str:
    from hawiya.biometrics import modalities

    others = [m for m in modalities.enabled(platform.settings) if m not in searched]
    return " or ".join(others) if others else "another capture"


def candidate_decision(platform: Platform, scores: Mapping[str, float], need: SearchNeed
                       ) -> Decision:
    """Whether one candidate meets the search's need (per-modality evidence capped at what
    its calibration measured)."""
    settings = platform.settings
    per, total = {}, 0.0
    for modality, score in scores.items():
        cal = settings.calibration(modality)
        ev = min(float(cal.evidence(score)), cal.max_evidence)
        total += ev
        threshold = need.thresholds.get(modality, cal.score_for(cal.max_evidence))
        per[modality] = ModalityScore(score=round(float(score), 6), threshold=threshold,
                                      match=bool(score >= threshold), evidence=round(ev, 3))
    reachable = need.evidence if need.decidable else sum(
        settings.calibration(m).max_evidence for m in need.thresholds)
    fused = len(per) > 1
    met = total >= reachable - 1e-9
    if need.use == "dedup":  # a human decides: hold on any single modality's own match too
        match = met or any(d.match for d in per.values())
    else:
        match = need.decidable and met
    if len(per) == 1:
        (modality, d), = per.items()
        score, threshold, kind = d.score, d.threshold, modality
    else:
        score, threshold, kind = round(total, 3), round(reachable, 3), "fused-evidence"
    verdict = "≥" if met else "<"
    reason = (f"{kind} {'evidence' if fused else 'score'} {score:.4f} {verdict} "
              f"{threshold:.4f} needed ({need.reason})")
    return Decision(match=bool(match), score=score, threshold=threshold, score_kind=kind,
                    modalities=per, reason=reason)

"""Multimodal matching for the identity service: captures → templates → fused decisions.

A request carries captures of one or more modalities. Each is extracted by its configured
engine, searched or compared on its own, and the scores are combined per person with
:mod:`hawiya.biometrics.fusion`. With a single modality the decision is that modality's
threshold; with several it is the fused evidence against the fusion target FMR.
Thresholds and calibration are read from the settings when the decision runs. Results keep
every per-modality score and threshold. Nothing here branches on a modality's name: what
differs between modalities is in their ``ModalitySpec``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hawiya.biometrics import modalities
from hawiya.biometrics.capture import Capture, ImageInput
from hawiya.biometrics.fusion import evidence_for_fmr, fuse
from hawiya.biometrics.template import Template
from hawiya.errors import HawiyaError, InvalidInput
from hawiya.identity.decisions import (
    SearchNeed,
    candidate_decision,
    fused_evidence_needed,
    search_need,
)
from hawiya.identity.galleries import SearchSet
from hawiya.identity.results import Candidate, Decision, ModalityScore
from hawiya.imaging import load_image
from hawiya.registry.models import BiometricTemplate, Person

if TYPE_CHECKING:
    from hawiya.platform import Platform

__all__ = ["Capture", "ImageInput", "compare_captures", "compare_with_enrolled", "extract",
           "modality_decision", "search_candidates"]


def extract(platform: Platform, captures: Sequence[Capture], purpose: str = "enrol"
            ) -> list[Template]:
    """All captures to templates, or the first failure with which capture it was; then each
    modality's own consistency rules over the request (one face per person…). ``purpose``
    picks the quality policy: enrolment captures or verification/search probes."""
    captures = modalities.check_captures(captures,
                                         enabled=modalities.enabled(platform.settings))
    templates = []
    for i, cap in enumerate(captures):
        try:
            engine = platform.biometric_engine(cap.modality, purpose)
            templates.append(engine.extract(load_image(cap.image), position=cap.position))
        except HawiyaError as exc:
            if len(captures) > 1:
                exc.message = f"{cap.label} image ({i + 1} of {len(captures)}): {exc.message}"
                exc.args = (exc.message,)
            raise
    for modality in dict.fromkeys(t.modality for t in templates):
        spec = modalities.get(modality)
        same = [t for t in templates if t.modality == modality]
        if spec.check_request is not None and len(same) > 1:
            spec.check_request(platform.biometric_engine(modality), same, platform.settings)
    return templates


def modality_decision(platform: Platform, scores: Mapping[str, float]) -> Decision:
    """1:1 decision over per-modality best scores: one modality at its verify threshold;
    several at the summed evidence (each capped at its calibrated range) whose modelled
    false-match rate is the fusion target (the same Fisher rule as 1:N searches, at N = 1).
    1:N searches decide by gallery size instead: :mod:`hawiya.identity.decisions`."""
    settings = platform.settings
    per = {}
    for modality, score in scores.items():
        threshold = settings.verify_threshold(modality)
        cal = settings.calibration(modality)
        per[modality] = ModalityScore(
            score=round(float(score), 6), threshold=threshold, match=bool(score >= threshold),
            evidence=round(min(float(cal.evidence(score)), cal.max_evidence), 3))
    if len(per) == 1:
        (modality, d), = per.items()
        return Decision(match=d.match, score=d.score, threshold=d.threshold,
                        score_kind=modality, modalities=per, reason=_reason(modality, d.score,
                                                                           d.threshold))
    fused = fuse({m: d.evidence for m, d in per.items()})
    need = fused_evidence_needed([settings.calibration(m).max_evidence for m in per],
                                 [1] * len(per), settings.fusion_target_fmr)
    if need is None:  # the calibrations cannot vouch for the target: the plain bar, capped
        need = evidence_for_fmr(settings.fusion_target_fmr)
    match = fused >= need - 1e-9
    return Decision(match=bool(match), score=round(fused, 3), threshold=round(need, 3),
                    score_kind="fused-evidence", modalities=per,
                    reason=_reason("fused-evidence", fused, need))


def compare_captures(platform: Platform, reference: Capture, probe: Capture) -> Decision:
    """1:1 between two captures of one modality with no registry record (a passport chip's
    photo against the live face), decided at the modality's verification threshold."""
    if reference.modality != probe.modality:
        raise InvalidInput(f"cannot compare {reference.modality} with {probe.modality}")
    ref, = extract(platform, [reference], purpose="probe")
    live, = extract(platform, [probe], purpose="probe")
    engine = platform.biometric_engine(probe.modality)
    score = float(np.max(engine.compare_many(live, [ref])))
    return modality_decision(platform, {probe.modality: score})


def _reason(kind: str, score: float, threshold: float) -> str:
    return f"{kind} score {score:.4f} {'≥' if score >= threshold else '<'} threshold " \
           f"{threshold:.4f}"


def search_candidates(platform: Platform, galleries: Mapping[str, object], session: Session,
                      templates: Sequence[Template], k: int, use: str,
                      searched: Mapping[str, SearchSet]
                      ) -> tuple[list[Candidate], SearchNeed]:
    """Top people for the probe templates, fused across modalities, best first, each
    decided by the 1:N rule for ``use`` at the size of what was searched.

    ``galleries`` (modality → gallery) is fetched before the caller's transaction opens:
    fetching may read the registry, and SQLite allows one writer at a time. ``searched``
    (modality → SearchSet) says what each modality's search covers (a scope's template ids,
    or the whole gallery) and how many people that is."""
    probes = {m: sum(1 for t in templates if t.modality == m) for m in galleries}
    searched = {m: s for m, s in searched.items() if probes.get(m) and s.templates}
    need = search_need(platform, use, searched, probes)
    best: dict[str, dict[int, float]] = {}
    for modality, gallery in galleries.items():
        if modality not in searched or len(gallery) == 0:
            continue
        restrict_ids = searched[modality].ids
        hits = gallery.search_batch([t for t in templates if t.modality == modality],
                                    min(len(gallery), k * 4), restrict_to=restrict_ids)
        per_tpl = best.setdefault(modality, {})
        for row in hits:
            for tid, score in row:
                per_tpl[tid] = max(per_tpl.get(tid, -1.0), float(score))
    all_ids = [tid for per in best.values() for tid in per]
    if not all_ids:
        return [], need
    owners = dict(session.execute(select(BiometricTemplate.id, Person)
                                  .join(Person, Person.id == BiometricTemplate.person_db_id)
                                  .where(BiometricTemplate.id.in_(all_ids))).all())
    people: dict[str, tuple[Person, dict[str, float]]] = {}
    for modality, per in best.items():
        for tid, score in per.items():
            person = owners[tid]
            scores = people.setdefault(person.person_id, (person, {}))[1]
            scores[modality] = max(scores.get(modality, -1.0), score)
    out = []
    for person, scores in people.values():
        decision = candidate_decision(platform, scores, need)
        out.append(Candidate(person_id=person.person_id, reference_id=person.reference_id,
                             name=person.name, status=person.status, score=decision.score,
                             score_kind=decision.score_kind, match=decision.match,
                             modalities=decision.modalities))
    # Rank by evidence so people compared on different modalities sort fairly.
    out.sort(key=lambda c: -sum(d.evidence for d in c.modalities.values()) - 1e-6 * c.score)
    return out[:k], need


def compare_with_enrolled(platform: Platform, probe: Template,
                          enrolled: Sequence[Template]) -> tuple[float, str | None]:
    """Best score of a probe against a person's templates of its modality, and what is
    missing when there is nothing to compare with.

    For a modality whose positions are labels (an eye, a finger), a labelled probe counts
    only against the same position; when another position matches and the labelled one
    does not, the label is wrong and the caller is told so."""
    spec = modalities.get(probe.modality)
    engine = platform.biometric_engine(probe.modality)
    same = [t for t in enrolled if t.modality == probe.modality]
    if not spec.labelled or probe.position == "unknown":
        if not same:
            return -1.0, f"no enrolled {probe.modality}"
        return float(np.max(engine.compare_many(probe, same))), None
    labelled = [t for t in same if t.position in (probe.position, "unknown")]
    other = [t for t in same if t not in labelled]
    score = float(np.max(engine.compare_many(probe, labelled))) if labelled else -1.0
    if other and spec.detect_wrong_label:
        scores = engine.compare_many(probe, other)
        best = int(np.argmax(scores))
        threshold = platform.settings.verify_threshold(probe.modality)
        if float(scores[best]) >= threshold > score:
            raise InvalidInput(f"wrong {spec.label_noun} label: this image matches the "
                               f"enrolled {other[best].position} (score "
                               f"{float(scores[best]):.3f}), not the {probe.position}")
    if not labelled:
        return -1.0, f"no enrolled {probe.position}"
    return score, None


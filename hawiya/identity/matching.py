"""Multimodal matching for the identity service: captures → templates → fused decisions.

A request carries captures of one or more modalities (face images; left/right iris images).
Each modality is extracted by its engine, searched or compared on its own, and the scores are
combined per person with :mod:`hawiya.biometrics.fusion`. With a single modality the decision
is that modality's calibrated threshold; with several it is the fused evidence against the
platform's fusion target FMR. Results keep every per-modality score and threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hawiya.biometrics.fusion import Calibration, evidence_for_fmr, fuse
from hawiya.biometrics.template import Template
from hawiya.config import CALIBRATION
from hawiya.errors import HawiyaError, InvalidInput
from hawiya.identity.galleries import search_templates
from hawiya.imaging import load_image
from hawiya.registry.models import BiometricTemplate, Person

if TYPE_CHECKING:
    from hawiya.platform import Platform

ImageInput = bytes | str | Path
IRIS_POSITIONS = ("left-iris", "right-iris", "unknown")
MAX_CAPTURES = 16  # a face, two irises, ten fingers and some spare
CALIBRATIONS = {m: Calibration(points) for m, points in CALIBRATION.items()}


@dataclass(frozen=True)
class Capture:
    modality: str
    image: ImageInput
    position: str = "unknown"

    @property
    def label(self) -> str:
        return self.modality if self.position in ("unknown", "frontal") else self.position


def captures_from(faces: Sequence[ImageInput] = (),
                  irises: Sequence[tuple[str, ImageInput]] = (),
                  fingers: Sequence[tuple[str, ImageInput]] = ()) -> list[Capture]:
    from hawiya.biometrics.finger import POSITIONS as FINGER_POSITIONS

    caps = [Capture("face", f, "frontal") for f in faces]
    for position, image in irises:
        if position not in IRIS_POSITIONS:
            raise InvalidInput(f"iris position must be one of {', '.join(IRIS_POSITIONS)}")
        caps.append(Capture("iris", image, position))
    seen = set()
    for position, image in fingers:
        if position not in FINGER_POSITIONS:
            raise InvalidInput(f"finger position must be one of {', '.join(FINGER_POSITIONS)}")
        if position != "unknown" and position in seen:
            raise InvalidInput(f"two images for {position}")
        seen.add(position)
        caps.append(Capture("finger", image, position))
    if not caps:
        raise InvalidInput("at least one biometric capture (face, iris or finger image) is "
                           "required")
    if len(caps) > MAX_CAPTURES:
        raise InvalidInput(f"at most {MAX_CAPTURES} images per request")
    return caps


def extract(platform: Platform, captures: Sequence[Capture]) -> list[Template]:
    """All captures to templates, or the first failure with which capture it was."""
    templates = []
    for i, cap in enumerate(captures):
        try:
            engine = platform.biometric_engine(cap.modality)
            templates.append(engine.extract(load_image(cap.image), position=cap.position))
        except HawiyaError as exc:
            if len(captures) > 1:
                exc.message = f"{cap.label} image ({i + 1} of {len(captures)}): {exc.message}"
                exc.args = (exc.message,)
            raise
    _check_two_different_eyes(platform, templates)
    _check_one_face(platform, templates)
    return templates


def _check_one_face(platform: Platform, templates: Sequence[Template]) -> None:
    """Several face images in one request must show one person (else one identity would
    carry two people's faces)."""
    faces = [t for t in templates if t.modality == "face"]
    if len(faces) < 2:
        return
    engine = platform.biometric_engine("face")
    threshold = platform.settings.dedup_threshold("face")
    for i in range(1, len(faces)):
        score = float(np.min(engine.compare_many(faces[i], faces[:i])))
        if score < threshold:
            raise InvalidInput(f"face image {i + 1} does not look like the same person as the "
                               f"others (score {score:.3f} < {threshold:.3f}); enroll one "
                               "person per request")


def _check_two_different_eyes(platform: Platform, templates: Sequence[Template]) -> None:
    left = [t for t in templates if t.modality == "iris" and t.position == "left-iris"]
    right = [t for t in templates if t.modality == "iris" and t.position == "right-iris"]
    if left and right:
        engine = platform.biometric_engine("iris")
        best = float(np.max(engine.compare_many(left[0], right)))
        if best >= platform.settings.verify_threshold("iris"):
            raise InvalidInput("the left and right iris images are the same eye "
                               f"(score {best:.3f}); check the eye labels")


def modality_decision(platform: Platform, scores: dict[str, float], kind: str = "verify"
                      ) -> dict:
    """Decision over per-modality best scores: single threshold, or fused evidence."""
    settings = platform.settings
    per = {}
    for modality, score in scores.items():
        threshold = (settings.verify_threshold(modality) if kind == "verify"
                     else settings.dedup_threshold(modality))
        per[modality] = {"score": round(float(score), 6), "threshold": threshold,
                         "match": bool(score >= threshold),
                         "evidence": round(float(CALIBRATIONS[modality].evidence(score)), 3)}
    if len(per) == 1:
        (modality, d), = per.items()
        return {"match": d["match"], "score": d["score"], "threshold": d["threshold"],
                "score_kind": modality, "modalities": per}
    fused = fuse({m: d["evidence"] for m, d in per.items()})
    need = evidence_for_fmr(settings.fusion_target_fmr)
    # Dedup also flags a person that any single modality alone calls a match.
    match = fused >= need or (kind == "dedup" and any(d["match"] for d in per.values()))
    return {"match": bool(match), "score": round(fused, 3), "threshold": round(need, 3),
            "score_kind": "fused-evidence", "modalities": per}


def search_candidates(platform: Platform, galleries: dict, session: Session,
                      templates: Sequence[Template], k: int, kind: str,
                      restrict_people: Sequence[int] | None = None) -> list[dict]:
    """Top people for the probe templates, fused across modalities, best first.

    ``galleries`` (modality → gallery) is fetched before the caller's transaction opens:
    fetching may read the registry, and SQLite allows one writer at a time."""
    best: dict[str, dict[int, float]] = {}
    for modality, gallery in galleries.items():
        probes = [t for t in templates if t.modality == modality]
        if not probes or len(gallery) == 0:
            continue
        restrict_ids = None
        if restrict_people is not None:
            restrict_ids = list(session.scalars(select(BiometricTemplate.id).where(
                BiometricTemplate.person_db_id.in_(restrict_people),
                BiometricTemplate.modality == modality)))
            if not restrict_ids:
                continue
        hits = search_templates(gallery, modality, probes, min(len(gallery), k * 4),
                                restrict_to=restrict_ids)
        per_tpl = best.setdefault(modality, {})
        for row in hits:
            for tid, score in row:
                per_tpl[tid] = max(per_tpl.get(tid, -1.0), float(score))
    all_ids = [tid for per in best.values() for tid in per]
    if not all_ids:
        return []
    owners = dict(session.execute(select(BiometricTemplate.id, Person)
                                  .join(Person, Person.id == BiometricTemplate.person_db_id)
                                  .where(BiometricTemplate.id.in_(all_ids))).all())
    people: dict[str, dict] = {}
    for modality, per in best.items():
        for tid, score in per.items():
            person = owners[tid]
            entry = people.setdefault(person.person_id, {
                "person_id": person.person_id, "reference_id": person.reference_id,
                "name": person.name, "status": person.status, "scores": {}})
            entry["scores"][modality] = max(entry["scores"].get(modality, -1.0), score)
    out = []
    for entry in people.values():
        decision = modality_decision(platform, entry.pop("scores"), kind)
        entry.update(score=decision["score"], score_kind=decision["score_kind"],
                     match=decision["match"], modalities=decision["modalities"])
        out.append(entry)
    # Rank by evidence so people compared on different modalities sort fairly.
    out.sort(key=lambda c: -sum(d["evidence"] for d in c["modalities"].values())
             - 1e-6 * c["score"])
    return out[:k]


def compare_with_enrolled(platform: Platform, probe: Template,
                          enrolled: Sequence[Template]) -> tuple[float, str | None]:
    """Best score of a probe against a person's templates of its modality.

    For a labelled iris, only the same eye counts; when the other eye matches and the
    labelled one does not, the label is wrong and the caller is told so."""
    same = [t for t in enrolled if t.modality == probe.modality]
    if probe.modality == "iris" and probe.position in ("left-iris", "right-iris"):
        labelled = [t for t in same if t.position in (probe.position, "unknown")]
        other = [t for t in same if t not in labelled]
        engine = platform.biometric_engine("iris")
        score = float(np.max(engine.compare_many(probe, labelled))) if labelled else -1.0
        if other:
            other_score = float(np.max(engine.compare_many(probe, other)))
            threshold = platform.settings.verify_threshold("iris")
            if other_score >= threshold > score:
                wrong = "right" if probe.position == "left-iris" else "left"
                raise InvalidInput(f"wrong eye label: this image matches the enrolled {wrong} "
                                   f"iris (score {other_score:.3f}), not the {probe.position}")
        if not labelled:
            return -1.0, f"no enrolled {probe.position}"
        return score, None
    if probe.modality == "finger" and probe.position != "unknown":
        same = [t for t in same if t.position in (probe.position, "unknown")]
        if not same:
            return -1.0, f"no enrolled {probe.position} finger"
    if not same:
        return -1.0, f"no enrolled {probe.modality}"
    return float(np.max(platform.biometric_engine(probe.modality).compare_many(probe, same))), None

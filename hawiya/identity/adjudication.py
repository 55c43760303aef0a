"""The adjudication queue: enrolments held as potential duplicates, and a human's decision
on each (``distinct``: the person becomes active; ``duplicate``: merged into the match)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from hawiya import audit
from hawiya.biometrics import modalities
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.identity.persons import person_summary
from hawiya.identity.results import CaseSummary
from hawiya.registry.models import (
    ACTIVE,
    MERGED,
    BiometricTemplate,
    DuplicateCase,
    Person,
    utcnow,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform


def list_cases(platform: Platform, status: str = "open", limit: int = 100
               ) -> list[CaseSummary]:
    with platform.transaction() as session:
        rows = session.scalars(select(DuplicateCase).where(DuplicateCase.status == status)
                               .order_by(DuplicateCase.id).limit(limit)).all()
        return [case_summary(c) for c in rows]


def case_summary(case: DuplicateCase) -> CaseSummary:
    return CaseSummary(
        case_id=case.id, person=person_summary(case.person), candidates=case.candidates,
        status=case.status, decision=case.decision, decided_by=case.decided_by,
        decided_at=case.decided_at.isoformat() if case.decided_at else None, note=case.note)


def decide_case(platform: Platform, case_id: int, decision: str, *, actor: str,
                duplicate_of: str | None = None, note: str | None = None) -> CaseSummary:
    """``distinct``: the held person becomes active. ``duplicate``: merged into the match
    (its templates leave the gallery; the original record stays as it was)."""
    if decision not in ("distinct", "duplicate"):
        raise InvalidInput("decision must be 'distinct' or 'duplicate'")
    with platform.transaction() as session:
        case = session.get(DuplicateCase, int(case_id))
        if case is None:
            raise NotFound(f"no adjudication case {case_id}")
        if case.status != "open":
            raise Conflict(f"case {case_id} was already decided ({case.decision})")
        person = case.person
        removed: dict[tuple[str, str], list[int]] = {}
        if decision == "distinct":
            person.status = ACTIVE
        else:
            ids = [c["person_id"] for c in case.candidates]
            statuses = dict(session.execute(select(Person.person_id, Person.status)
                                            .where(Person.person_id.in_(ids))).all())
            active = [pid for pid in ids if statuses.get(pid) == ACTIVE]
            target = duplicate_of or (active[0] if active else None)
            if target is None:
                raise Conflict("no candidate of this case is active yet: decide their cases "
                               "first, or name duplicate_of")
            if target not in ids:
                raise InvalidInput("duplicate_of must be one of the case's candidates")
            if statuses.get(target) != ACTIVE:
                raise Conflict(f"{target} is {statuses.get(target)}; merge into an active "
                               "record so no chain of merges is left")
            person.status = MERGED
            person.merged_into = target
            for tid, modality, algorithm in session.execute(
                    select(BiometricTemplate.id, BiometricTemplate.modality,
                           BiometricTemplate.algorithm).where(
                        BiometricTemplate.person_db_id == person.id)):
                removed.setdefault((modality, algorithm), []).append(tid)
        case.status, case.decision, case.decided_by = "closed", decision, actor
        case.decided_at, case.note = utcnow(), note
        rec = audit.append(session, actor, "case.decide", person.person_id,
                           {"case_id": case.id, "decision": decision,
                            "merged_into": person.merged_into, "note": note})
        summary = case_summary(case)
    searched = {m: modalities.algorithm_id(platform.settings, m)
                for m in modalities.enabled(platform.settings)}
    for (modality, algorithm), ids in removed.items():
        if searched.get(modality) == algorithm:  # other algorithms are in no gallery
            platform.galleries.removed(modality, ids, rec.seq)
    return summary

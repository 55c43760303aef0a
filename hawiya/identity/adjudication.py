"""The adjudication queue: enrolments held as potential duplicates, the evidence a human
needs to decide (scores, evidence and captures side by side), and the decision
(``distinct``: the person becomes active; ``duplicate``: merged into the match).

Four eyes: a ``distinct`` against a candidate whose evidence reaches
``identity.four_eyes_evidence`` needs a written reason, and takes effect only when a second
adjudicator confirms it. Nobody adjudicates an enrolment they made. The captures of a held
enrolment are kept (encrypted) until its case is decided, then discarded unless the
deployment keeps raw captures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from hawiya import audit
from hawiya.biometrics import modalities
from hawiya.errors import Conflict, Forbidden, InvalidInput, NotFound
from hawiya.identity import templates as store
from hawiya.identity.persons import person_summary
from hawiya.identity.results import CaptureRef, CaseDetail, CaseParty, CaseSummary
from hawiya.registry.models import (
    ACTIVE,
    MERGED,
    BiometricTemplate,
    CaptureSession,
    DuplicateCase,
    Person,
    utcnow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hawiya.platform import Platform

MAX_NOTE = 2000


def list_cases(platform: Platform, status: str = "open", limit: int = 100
               ) -> list[CaseSummary]:
    with platform.transaction() as session:
        rows = session.scalars(select(DuplicateCase).where(DuplicateCase.status == status)
                               .order_by(DuplicateCase.id).limit(limit)).all()
        return [case_summary(c) for c in rows]


def _strongest(case: DuplicateCase) -> float:
    return max((sum(m.get("evidence", 0.0) for m in (c.get("modalities") or {}).values())
                for c in case.candidates), default=0.0)


def case_summary(case: DuplicateCase) -> CaseSummary:
    return CaseSummary(
        case_id=case.id, person=person_summary(case.person), candidates=case.candidates,
        status=case.status, decision=case.decision, decided_by=case.decided_by,
        decided_at=case.decided_at.isoformat() if case.decided_at else None, note=case.note,
        strongest_evidence=round(_strongest(case), 3),
        proposed_decision=case.proposed_decision, proposed_by=case.proposed_by,
        proposed_at=case.proposed_at.isoformat() if case.proposed_at else None,
        awaiting_confirmation=case.status == "open" and case.proposed_decision is not None)


def _get_case(session: Session, case_id: int) -> DuplicateCase:
    case = session.get(DuplicateCase, int(case_id))
    if case is None:
        raise NotFound(f"no adjudication case {case_id}")
    return case


def _enrolled_by(session: Session, case: DuplicateCase) -> str | None:
    return session.scalar(select(CaptureSession.operator).where(
        CaptureSession.person_db_id == case.person_db_id).order_by(CaptureSession.id).limit(1))


def _party(platform: Platform, session: Session, case_id: int, person: Person,
           found: dict | None = None) -> CaseParty:
    rows = session.scalars(select(BiometricTemplate).where(
        BiometricTemplate.person_db_id == person.id,
        BiometricTemplate.raw_image.is_not(None)).order_by(BiometricTemplate.id)).all()
    return CaseParty(
        person=person_summary(person), portrait=store.portrait_thumbnail(platform, person),
        captures=[CaptureRef(person_id=person.person_id, modality=r.modality,
                             position=r.position,
                             url=f"/adjudication/cases/{case_id}/captures/{r.id}")
                  for r in rows],
        modalities=(found or {}).get("modalities") or {},
        score=(found or {}).get("score"), score_kind=(found or {}).get("score_kind"))


def get_case(platform: Platform, case_id: int) -> CaseDetail:
    """A case with everything to decide it: per-modality scores and evidence, portraits,
    and links to the kept captures of the held person and of each candidate."""
    with platform.transaction() as session:
        case = _get_case(session, case_id)
        matches = []
        for found in case.candidates:
            person = session.scalar(select(Person).where(
                Person.person_id == found["person_id"]))
            if person is not None:
                matches.append(_party(platform, session, case.id, person, found))
        return CaseDetail(**case_summary(case).model_dump(),
                          probe=_party(platform, session, case.id, case.person),
                          matches=matches, enrolled_by=_enrolled_by(session, case),
                          four_eyes_evidence=platform.settings.identity.four_eyes_evidence)


def case_capture(platform: Platform, case_id: int, template_id: int, *, actor: str
                 ) -> bytes:
    """One kept capture of a case's held person or candidate (each view audited)."""
    with platform.transaction() as session:
        case = _get_case(session, case_id)
        row = session.get(BiometricTemplate, int(template_id))
        allowed = {case.person.person_id, *(c["person_id"] for c in case.candidates)}
        owner = row.person if row is not None else None
        if owner is None or owner.person_id not in allowed or row.raw_image is None:
            raise NotFound(f"case {case_id} has no capture {template_id}")
        image = store.decrypt_capture(platform, row, owner.person_id)
        audit.append(session, actor, "case.view_capture", owner.person_id,
                     {"case_id": case.id, "template_id": row.id, "modality": row.modality})
    return image


def decide_case(platform: Platform, case_id: int, decision: str, *, actor: str,
                duplicate_of: str | None = None, note: str | None = None) -> CaseSummary:
    """``distinct``: the held person becomes active. ``duplicate``: merged into the match
    (its templates leave the gallery; the original record stays as it was). A ``distinct``
    against strong evidence is first proposed, then confirmed by another adjudicator."""
    if decision not in ("distinct", "duplicate"):
        raise InvalidInput("decision must be 'distinct' or 'duplicate'")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"note longer than {MAX_NOTE} characters")
    with platform.transaction() as session:
        case = _get_case(session, case_id)
        if case.status != "open":
            raise Conflict(f"case {case_id} was already decided ({case.decision})")
        if _enrolled_by(session, case) == actor:
            raise Forbidden("the officer who made an enrolment cannot adjudicate it")
        strong = _strongest(case) >= platform.settings.identity.four_eyes_evidence
        if decision == "distinct" and strong:
            if case.proposed_decision is None:
                if note is None:
                    raise InvalidInput(
                        f"a 'distinct' decision against evidence {_strongest(case):.2f} "
                        "needs a written reason (note)")
                case.proposed_decision, case.proposed_by = "distinct", actor
                case.proposed_at, case.proposed_note = utcnow(), note
                audit.append(session, actor, "case.propose", case.person.person_id,
                             {"case_id": case.id, "decision": decision, "note": note})
                return case_summary(case)
            if case.proposed_by == actor:
                raise Conflict(f"case {case_id}: the confirmation must come from a second "
                               f"adjudicator, not {actor}")
            note = note or case.proposed_note
        summary, removed, head = _apply(platform, session, case, decision, actor,
                                        duplicate_of, note)
    for modality, ids in removed:  # after the commit, as every gallery update
        platform.galleries.removed(modality, ids, head)
    return summary


def _apply(platform: Platform, session: Session, case: DuplicateCase, decision: str,
           actor: str, duplicate_of: str | None, note: str | None
           ) -> tuple[CaseSummary, list[tuple[str, list[int]]], int]:
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
    if not platform.settings.keep_raw_images:  # kept only for the adjudicator
        for row in session.scalars(select(BiometricTemplate).where(
                BiometricTemplate.person_db_id == person.id)):
            row.raw_image = None
    case.status, case.decision, case.decided_by = "closed", decision, actor
    case.decided_at, case.note = utcnow(), note
    rec = audit.append(session, actor, "case.decide", person.person_id,
                       {"case_id": case.id, "decision": decision,
                        "merged_into": person.merged_into, "note": note,
                        "proposed_by": case.proposed_by})
    searched = {m: modalities.algorithm_id(platform.settings, m)
                for m in modalities.enabled(platform.settings)}
    gallery_ids = [(m, ids) for (m, a), ids in removed.items() if searched.get(m) == a]
    return case_summary(case), gallery_ids, rec.seq

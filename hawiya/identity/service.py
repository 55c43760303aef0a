"""Identity operations: enroll (with de-duplication), verify 1:1, identify 1:N, adjudicate.

Each operation validates and extracts everything first, then writes in one transaction
together with its audit record, then updates the in-memory gallery. Bad input therefore
leaves nothing half-written, and a crash between commit and gallery update is repaired by
the gallery's registry fingerprint check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hawiya import audit
from hawiya.biometrics.template import Template
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.identity import matching
from hawiya.identity.galleries import decrypt_template, template_context
from hawiya.imaging import read_bytes
from hawiya.registry.models import (
    ACTIVE,
    MERGED,
    POTENTIAL_DUPLICATE,
    BiometricTemplate,
    CaptureSession,
    DuplicateCase,
    Person,
    utcnow,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform

PERSON_ID_RE = re.compile(r"^P[0-9A-F]{15}$")
REFERENCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
MAX_FACES_PER_ENROLL = 10
MAX_TOP = 100

_PG_ENROLL_LOCK = 0x454E524C  # names the advisory lock serialising de-duplication

ImageInput = bytes | str | Path


@dataclass
class Demographics:
    name: str
    reference_id: str | None = None
    date_of_birth: dt.date | None = None
    sex: str | None = None
    district: str | None = None

    @classmethod
    def parse(cls, name: str, reference_id: str | None = None,
              date_of_birth: str | dt.date | None = None, sex: str | None = None,
              district: str | None = None) -> Demographics:
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise InvalidInput("name is required (1-200 characters)")
        if reference_id is not None and reference_id != "":
            if not REFERENCE_ID_RE.match(reference_id):
                raise InvalidInput("reference_id: 1-128 letters, digits or _.:/- ")
        else:
            reference_id = None
        if isinstance(date_of_birth, str) and date_of_birth:
            try:
                date_of_birth = dt.date.fromisoformat(date_of_birth)
            except ValueError as exc:
                raise InvalidInput("date_of_birth must be YYYY-MM-DD") from exc
        elif not date_of_birth:
            date_of_birth = None
        if date_of_birth and not dt.date(1880, 1, 1) <= date_of_birth <= dt.date.today():
            raise InvalidInput("date_of_birth is not a possible birth date")
        if sex:
            sex = sex.upper()[:1]
            if sex not in ("F", "M", "X"):
                raise InvalidInput("sex must be F, M or X")
        else:
            sex = None
        if district is not None and len(district) > 100:
            raise InvalidInput("district longer than 100 characters")
        return cls(name, reference_id, date_of_birth, sex, district or None)


# -- helpers ---------------------------------------------------------------------------------
def person_summary(person: Person) -> dict:
    return {"person_id": person.person_id, "reference_id": person.reference_id,
            "name": person.name, "status": person.status,
            "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
            "sex": person.sex, "district": person.district, "merged_into": person.merged_into,
            "created_at": person.created_at.isoformat() if person.created_at else None}


def find_person(session: Session, key: str) -> Person:
    """Look a person up by our id or by the integrator's reference id."""
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise InvalidInput("person id must be 1-128 characters")
    if not (PERSON_ID_RE.match(key) or REFERENCE_ID_RE.match(key)):
        raise InvalidInput(f"malformed person id {key!r}")
    person = session.scalar(select(Person).where(
        or_(Person.person_id == key, Person.reference_id == key)))
    if person is None:
        raise NotFound(f"no person with id {key!r}")
    return person


def _replay(session: Session, request_id: str | None, submission: str | None = None
            ) -> dict | None:
    """The stored result of an earlier request with this id; a Conflict when the id was used
    for a different submission (other person data or other images)."""
    if not request_id:
        return None
    prior = session.scalar(select(CaptureSession).where(CaptureSession.request_id == request_id))
    if prior is None:
        return None
    result = dict(prior.result)
    stored = result.pop("submission", None)
    if submission and stored and stored != submission:
        raise Conflict(f"request_id {request_id!r} was already used for a different "
                       f"submission ({result.get('person_id')}); use a new request id")
    return dict(result, replayed=True)


def submission_id(demographics: Demographics, captures: Sequence[matching.Capture],
                  blobs: Sequence[bytes] | None = None) -> str:
    """What a submission is: its person data and image bytes (idempotency is per content)."""
    blobs = blobs if blobs is not None else [read_bytes(c.image) for c in captures]
    return request_fingerprint(
        demographics.name, demographics.reference_id or "", str(demographics.date_of_birth),
        demographics.sex or "", demographics.district or "",
        *[f"{c.modality}:{c.position}" for c in captures], *blobs)


# -- operations ------------------------------------------------------------------------------
def enroll(platform: Platform, *, demographics: Demographics, actor: str,
           faces: Sequence[ImageInput] = (), irises: Sequence[tuple[str, ImageInput]] = (),
           fingers: Sequence[tuple[str, ImageInput]] = (), request_id: str | None = None,
           station: str | None = None, templates: Sequence[Template] | None = None) -> dict:
    """Quality gate → extract → 1:N dedup → commit as enrolled, or hold for adjudication.

    ``faces`` are face images; ``irises`` are ``(position, image)`` with position
    ``left-iris``, ``right-iris`` or ``unknown``; ``fingers`` are ``(position, image)`` with
    positions such as ``right-index`` (up to ten). Re-submitting the same ``request_id``
    returns the first result and writes nothing.
    """
    if request_id is not None and not REQUEST_ID_RE.match(request_id):
        raise InvalidInput("request_id: 1-128 letters, digits or _.:/-")
    captures = matching.captures_from(faces, irises, fingers)
    blobs = [read_bytes(c.image) for c in captures]  # each file read once, bounded
    captures = [dataclasses.replace(c, image=b) for c, b in zip(captures, blobs, strict=True)]
    submission = submission_id(demographics, captures, blobs)
    with platform.transaction() as session:
        replay = _replay(session, request_id, submission)
        if replay:
            return replay
    if templates is None:
        templates = matching.extract(platform, captures)
    raw = blobs if platform.settings.keep_raw_images else []
    modalities = sorted({t.modality for t in templates})
    with platform.enroll_lock:
        for _attempt in range(5):
            galleries = {m: platform.galleries.get(m) for m in modalities}
            try:
                return _enroll_locked(platform, galleries, templates, raw, modalities,
                                      demographics, actor, request_id, station, submission)
            except _StaleGallery:
                continue  # another process enrolled since the sync: sync and search again
        raise Conflict("the registry is changing too fast to de-duplicate; try again")


class _StaleGallery(Exception):
    pass


def _lock_enrollment(session: Session) -> None:
    """Serialise de-duplication across processes: an advisory lock on PostgreSQL (SQLite's
    BEGIN IMMEDIATE already holds the only write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_ENROLL_LOCK})


def _enroll_locked(platform: Platform, galleries: dict, templates: Sequence[Template],
                   raw: list[bytes], modalities: list[str], demographics: Demographics,
                   actor: str, request_id: str | None, station: str | None,
                   submission: str) -> dict:
    with platform.transaction() as session:
        _lock_enrollment(session)
        if not platform.galleries.is_current(session):
            raise _StaleGallery
        replay = _replay(session, request_id, submission)
        if replay:
            return replay
        if demographics.reference_id and session.scalar(
                select(Person.id).where(Person.reference_id == demographics.reference_id)):
            raise Conflict(f"reference_id {demographics.reference_id!r} is already enrolled")
        candidates = [c for c in matching.search_candidates(
            platform, galleries, session, templates, k=10, kind="dedup") if c["match"]]
        status = POTENTIAL_DUPLICATE if candidates else ACTIVE
        person = Person(name=demographics.name, reference_id=demographics.reference_id,
                        date_of_birth=demographics.date_of_birth, sex=demographics.sex,
                        district=demographics.district, status=status)
        session.add(person)
        session.flush()
        capture = CaptureSession(request_id=request_id or f"auto:{person.person_id}",
                                 person_db_id=person.id, operator=actor, station=station)
        session.add(capture)
        session.flush()
        rows = []
        for i, tpl in enumerate(templates):
            image = (platform.cipher.encrypt(raw[i], f"image:{person.person_id}")
                     if i < len(raw) else None)
            row = BiometricTemplate(
                person_db_id=person.id, capture_session_id=capture.id,
                modality=tpl.modality, position=tpl.position, algorithm=tpl.algorithm_id,
                quality=tpl.quality, raw_image=image,
                encrypted=platform.cipher.encrypt(
                    tpl.to_bytes(), template_context(person.person_id, tpl.modality)))
            session.add(row)
            rows.append(row)
        session.flush()
        case_id = None
        if candidates:
            case = DuplicateCase(person_db_id=person.id, candidates=candidates)
            session.add(case)
            session.flush()
            case_id = case.id
        # Contract: the enrollment outcome is "enrolled" or "potential_duplicate".
        result = {"person_id": person.person_id, "reference_id": person.reference_id,
                  "status": "enrolled" if status == ACTIVE else status,
                  "candidates": [{"person_id": c["person_id"], "score": c["score"],
                                  "score_kind": c["score_kind"],
                                  "modalities": c["modalities"]} for c in candidates],
                  "threshold": (platform.settings.dedup_threshold(modalities[0])
                                if len(modalities) == 1 else None),
                  "case_id": case_id, "templates": len(rows),
                  "modalities": modalities,
                  "quality": {f"{t.modality}:{t.position}": t.quality for t in templates},
                  "request_id": capture.request_id}
        capture.result = dict(result, submission=submission)
        rec = audit.append(session, actor, "person.enroll", person.person_id,
                           {"status": status,
                            "candidates": [{"person_id": c["person_id"],
                                            "score": c["score"]} for c in candidates],
                            "templates": len(rows), "modalities": modalities,
                            "request_id": capture.request_id, "station": station})
        head = rec.seq
    for modality in modalities:
        pairs = [(r.id, t) for r, t in zip(rows, templates, strict=True)
                 if t.modality == modality]
        platform.galleries.added(modality, [p[0] for p in pairs], [p[1] for p in pairs],
                                 head)
    return result


def enroll_safely(platform: Platform, **kwargs) -> dict:
    """``enroll`` that turns a lost idempotency race into the stored result."""
    try:
        return enroll(platform, **kwargs)
    except IntegrityError:
        with platform.transaction() as session:
            replay = _replay(session, kwargs.get("request_id"))
        if replay:
            return replay
        raise Conflict("the registry refused the enrollment (duplicate key)") from None


def verify(platform: Platform, person_key: str, face: ImageInput | None = None, *,
           actor: str, irises: Sequence[tuple[str, ImageInput]] = (),
           fingers: Sequence[tuple[str, ImageInput]] = ()) -> dict:
    """1:1: probes against the person's enrolled templates (best score per modality;
    fused when several modalities are given)."""
    with platform.transaction() as session:
        person = find_person(session, person_key)
    if person.status == MERGED:
        raise Conflict(f"{person.person_id} was merged into {person.merged_into}; "
                       "verify against that record")
    probes = matching.extract(platform, matching.captures_from([face] if face else [],
                                                               irises, fingers))
    with platform.transaction() as session:
        rows = session.scalars(select(BiometricTemplate).where(
            BiometricTemplate.person_db_id == person.id)).all()
        enrolled = [decrypt_template(platform, r, person.person_id) for r in rows]
        scores: dict[str, float] = {}
        for probe in probes:
            score, missing = matching.compare_with_enrolled(platform, probe, enrolled)
            if missing:
                raise NotFound(f"{person.person_id} has {missing}; verify with another "
                               "modality")
            scores[probe.modality] = max(scores.get(probe.modality, -1.0), score)
        decision = matching.modality_decision(platform, scores, "verify")
        match = decision["match"]
        reason = (f"{decision['score_kind']} score {decision['score']:.4f} "
                  f"{'≥' if match else '<'} threshold {decision['threshold']:.4f}")
        audit.append(session, actor, "person.verify", person.person_id,
                     {"match": match, "score": decision["score"],
                      "threshold": decision["threshold"], "kind": decision["score_kind"]})
    return {"person_id": person.person_id, "reference_id": person.reference_id,
            "status": person.status, "match": bool(match), "score": decision["score"],
            "threshold": decision["threshold"], "score_kind": decision["score_kind"],
            "modalities": decision["modalities"], "reason": reason,
            "probe_quality": {f"{t.modality}:{t.position}": t.quality for t in probes}}


def identify(platform: Platform, face: ImageInput | None = None, *, actor: str,
             top: int = 10, restrict_to: Sequence[str] | None = None,
             irises: Sequence[tuple[str, ImageInput]] = (),
             fingers: Sequence[tuple[str, ImageInput]] = ()) -> dict:
    """1:N: top candidates, optionally only among the given people (a "gallery")."""
    if not 1 <= int(top) <= MAX_TOP:
        raise InvalidInput(f"top must be between 1 and {MAX_TOP}")
    probes = matching.extract(platform, matching.captures_from([face] if face else [],
                                                               irises, fingers))
    modalities = sorted({t.modality for t in probes})
    galleries = {m: platform.galleries.get(m) for m in modalities}
    with platform.transaction() as session:
        restrict_people = None
        if restrict_to is not None:
            restrict_people = [find_person(session, key).id for key in restrict_to]
        cands = matching.search_candidates(platform, galleries, session, probes, k=int(top),
                                           kind="verify", restrict_people=restrict_people)
        audit.append(session, actor, "person.identify", None,
                     {"top": int(top), "returned": [c["person_id"] for c in cands],
                      "modalities": modalities, "restricted": restrict_to is not None})
    threshold = (platform.settings.verify_threshold(modalities[0]) if len(modalities) == 1
                 else round(matching.evidence_for_fmr(platform.settings.fusion_target_fmr), 3))
    return {"candidates": cands, "threshold": threshold, "modalities": modalities,
            "probe_quality": {f"{t.modality}:{t.position}": t.quality for t in probes}}


# -- adjudication ----------------------------------------------------------------------------
def list_cases(platform: Platform, status: str = "open", limit: int = 100) -> list[dict]:
    with platform.transaction() as session:
        rows = session.scalars(select(DuplicateCase).where(DuplicateCase.status == status)
                               .order_by(DuplicateCase.id).limit(limit)).all()
        return [case_summary(c) for c in rows]


def case_summary(case: DuplicateCase) -> dict:
    return {"case_id": case.id, "person": person_summary(case.person),
            "candidates": case.candidates, "status": case.status, "decision": case.decision,
            "decided_by": case.decided_by,
            "decided_at": case.decided_at.isoformat() if case.decided_at else None,
            "note": case.note}


def decide_case(platform: Platform, case_id: int, decision: str, *, actor: str,
                duplicate_of: str | None = None, note: str | None = None) -> dict:
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
        removed: dict[str, list[int]] = {}
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
            for tid, modality in session.execute(
                    select(BiometricTemplate.id, BiometricTemplate.modality).where(
                        BiometricTemplate.person_db_id == person.id)):
                removed.setdefault(modality, []).append(tid)
        case.status, case.decision, case.decided_by = "closed", decision, actor
        case.decided_at, case.note = utcnow(), note
        rec = audit.append(session, actor, "case.decide", person.person_id,
                           {"case_id": case.id, "decision": decision,
                            "merged_into": person.merged_into, "note": note})
        summary = case_summary(case)
    for modality, ids in removed.items():
        platform.galleries.removed(modality, ids, rec.seq)
    return summary


def list_persons(platform: Platform, status: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[dict]:
    with platform.transaction() as session:
        q = select(Person).order_by(Person.id).limit(min(int(limit), 1000)).offset(int(offset))
        if status:
            q = q.where(Person.status == status)
        return [person_summary(p) for p in session.scalars(q)]


def get_person(platform: Platform, key: str) -> dict:
    with platform.transaction() as session:
        person = find_person(session, key)
        out = person_summary(person)
        out["templates"] = [{"modality": t.modality, "position": t.position,
                             "algorithm": t.algorithm, "quality": t.quality}
                            for t in person.templates]
        return out


def request_fingerprint(*parts: bytes | str) -> str:
    """A stable request id from a submission's content (for idempotent batch re-runs)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return "sha256:" + h.hexdigest()[:40]

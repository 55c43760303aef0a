"""Identity operations: enroll (with de-duplication), verify 1:1, identify 1:N.

Each operation validates and extracts everything first, then writes in one transaction
together with its audit record, then updates the in-memory gallery. Bad input therefore
leaves nothing half-written, and a crash between commit and gallery update is repaired by
the gallery's registry fingerprint check. Captures arrive as :class:`Capture` values of any
registered modality; results leave as typed models (:mod:`hawiya.identity.results`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hawiya import audit
from hawiya.biometrics.capture import Capture
from hawiya.biometrics.template import Template
from hawiya.errors import Conflict, HawiyaError, InvalidInput, NotFound
from hawiya.identity import matching
from hawiya.identity import templates as store
from hawiya.identity.names import PersonName
from hawiya.identity.persons import Demographics, find_person
from hawiya.identity.results import (
    CandidateRef,
    EnrollResult,
    IdentifyResult,
    SearchSummary,
    VerifyResult,
)
from hawiya.imaging import read_bytes
from hawiya.registry.models import (
    ACTIVE,
    MERGED,
    POTENTIAL_DUPLICATE,
    CaptureSession,
    DuplicateCase,
    Person,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
MAX_TOP = 100

_PG_ENROLL_LOCK = 0x454E524C  # names the advisory lock serialising de-duplication


def _replay(session: Session, request_id: str | None, submission: str | None = None
            ) -> EnrollResult | None:
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
    return EnrollResult(**dict(result, replayed=True))


def submission_id(demographics: Demographics, captures: Sequence[Capture],
                  blobs: Sequence[bytes] | None = None) -> str:
    """What a submission is: its person data and image bytes (idempotency is per content)."""
    blobs = blobs if blobs is not None else [read_bytes(c.image) for c in captures]
    return request_fingerprint(
        demographics.name,
        *(demographics.name_parts.parts_key() if demographics.name_parts else ()),
        demographics.reference_id or "", str(demographics.date_of_birth),
        demographics.sex or "", demographics.district or "",
        *[f"{c.modality}:{c.position}" for c in captures], *blobs)


def request_fingerprint(*parts: bytes | str) -> str:
    """A stable request id from a submission's content (for idempotent batch re-runs)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return "sha256:" + h.hexdigest()[:40]


# -- enroll ----------------------------------------------------------------------------------
def enroll(platform: Platform, *, demographics: Demographics, captures: Sequence[Capture],
           actor: str, request_id: str | None = None, station: str | None = None,
           templates: Sequence[Template] | None = None) -> EnrollResult:
    """Quality gate → extract → 1:N dedup → commit as enrolled, or hold for adjudication.

    ``captures`` are of any registered modality (a face, labelled irises, up to ten
    fingers…). Re-submitting the same ``request_id`` returns the first result and writes
    nothing. ``templates`` (already extracted from the same captures, e.g. by a batch)
    skips extraction.
    """
    if request_id is not None and not REQUEST_ID_RE.match(request_id):
        raise InvalidInput("request_id: 1-128 letters, digits or _.:/-")
    if not captures:
        raise InvalidInput("at least one biometric capture (face, iris or finger image) is "
                           "required")
    blobs = [read_bytes(c.image) for c in captures]  # each file read once, bounded
    captures = [dataclasses.replace(c, image=b) for c, b in zip(captures, blobs, strict=True)]
    submission = submission_id(demographics, captures, blobs)
    with platform.transaction() as session:
        replay = _replay(session, request_id, submission)
        if replay:
            return replay
    if templates is None:
        templates = matching.extract(platform, captures)
    modalities = sorted({t.modality for t in templates})
    with platform.enroll_lock:
        for _attempt in range(5):
            galleries = {m: platform.galleries.get(m) for m in modalities}
            try:
                return _enroll_locked(platform, galleries, templates, blobs, modalities,
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
                   blobs: list[bytes], modalities: list[str], demographics: Demographics,
                   actor: str, request_id: str | None, station: str | None,
                   submission: str) -> EnrollResult:
    with platform.transaction() as session:
        _lock_enrollment(session)
        if not platform.galleries.is_current(session):
            raise _StaleGallery
        replay = _replay(session, request_id, submission)
        if replay:
            return replay
        for modality in modalities:
            stale = platform.galleries.stale_count(session, modality)
            if stale:
                raise Conflict(
                    f"{stale} enrolled {modality} templates were made by an earlier algorithm "
                    "and cannot be searched, so de-duplication would miss their owners; run "
                    f"`hawiya templates reextract --algorithm ID` first (see `hawiya "
                    "templates status`)")
        if demographics.reference_id and session.scalar(
                select(Person.id).where(Person.reference_id == demographics.reference_id)):
            raise Conflict(f"reference_id {demographics.reference_id!r} is already enrolled")
        searched = {m: platform.galleries.whole_set(session, m) for m in modalities}
        found, need = matching.search_candidates(platform, galleries, session, templates,
                                                 k=10, use="dedup", searched=searched)
        candidates = [CandidateRef(person_id=c.person_id, score=c.score,
                                   score_kind=c.score_kind, modalities=c.modalities)
                      for c in found if c.match]
        status = POTENTIAL_DUPLICATE if candidates else ACTIVE
        parts = demographics.name_parts or PersonName(given_name=demographics.name)
        person = Person(name=demographics.name, **parts.to_dict(),
                        reference_id=demographics.reference_id,
                        date_of_birth=demographics.date_of_birth, sex=demographics.sex,
                        district=demographics.district, status=status)
        session.add(person)
        session.flush()
        capture = CaptureSession(request_id=request_id or f"auto:{person.person_id}",
                                 person_db_id=person.id, operator=actor, station=station)
        session.add(capture)
        session.flush()
        # Captures are kept (encrypted) when configured, and always while a case is open:
        # the adjudicator compares them side by side; the decision discards them again.
        keep = platform.settings.keep_raw_images or bool(candidates)
        rows = [store.new_row(platform, person, capture.id, tpl,
                              blobs[i] if keep and i < len(blobs) else None)
                for i, tpl in enumerate(templates)]
        face = next((i for i, t in enumerate(templates)
                     if t.modality == store.PORTRAIT_MODALITY and i < len(blobs)), None)
        if face is not None:
            store.set_portrait(platform, person, blobs[face], templates[face])
        session.add_all(rows)
        session.flush()
        case_id = None
        if candidates:
            case = DuplicateCase(person_db_id=person.id,
                                 candidates=[c.to_json() for c in candidates])
            session.add(case)
            session.flush()
            case_id = case.id
        # Contract: the enrollment outcome is "enrolled" or "potential_duplicate".
        result = EnrollResult(
            person_id=person.person_id, reference_id=person.reference_id,
            status="enrolled" if status == ACTIVE else status, candidates=candidates,
            threshold=(need.thresholds.get(modalities[0]) if len(modalities) == 1 else None),
            case_id=case_id, templates=len(rows), modalities=modalities,
            quality=store.quality_summary(templates), request_id=capture.request_id,
            search=SearchSummary.of(need))
        capture.result = dict(result.to_json(), submission=submission)
        rec = audit.append(session, actor, "person.enroll", person.person_id,
                           {"status": status,
                            "candidates": [{"person_id": c.person_id, "score": c.score}
                                           for c in candidates],
                            "templates": len(rows), "modalities": modalities,
                            "request_id": capture.request_id, "station": station})
        head = rec.seq
    for modality in modalities:
        pairs = [(r.id, t) for r, t in zip(rows, templates, strict=True)
                 if t.modality == modality]
        platform.galleries.added(modality, [p[0] for p in pairs], [p[1] for p in pairs],
                                 head)
    return result


def enroll_safely(platform: Platform, **kwargs) -> EnrollResult:
    """``enroll`` that turns a lost idempotency race into the stored result."""
    try:
        return enroll(platform, **kwargs)
    except IntegrityError:
        with platform.transaction() as session:
            replay = _replay(session, kwargs.get("request_id"))
        if replay:
            return replay
        raise Conflict("the registry refused the enrollment (duplicate key)") from None


# -- verify / identify -------------------------------------------------------------------------
def verify(platform: Platform, person_key: str, captures: Sequence[Capture], *,
           actor: str) -> VerifyResult:
    """1:1: probes against the person's enrolled templates (best score per modality;
    fused when several modalities are given). A refused attempt is audited too."""
    try:
        return _verify(platform, person_key, captures, actor=actor)
    except HawiyaError as exc:
        with platform.transaction() as session:
            audit.append(session, actor, "person.verify", str(person_key)[:128],
                         {"outcome": "refused", "error": exc.code,
                          "reason": exc.message[:300]})
        raise


def _verify(platform: Platform, person_key: str, captures: Sequence[Capture], *,
            actor: str) -> VerifyResult:
    with platform.transaction() as session:
        person = find_person(session, person_key)
    if person.status == MERGED:
        raise Conflict(f"{person.person_id} was merged into {person.merged_into}; "
                       "verify against that record")
    probes = matching.extract(platform, captures, purpose="probe")
    with platform.transaction() as session:
        enrolled = store.person_templates(platform, session, person)
        scores: dict[str, float] = {}
        for probe in probes:
            score, missing = matching.compare_with_enrolled(platform, probe, enrolled)
            if missing:
                if probe.modality in store.stale_modalities(platform, session, person):
                    raise Conflict(f"{person.person_id}'s {probe.modality} templates were "
                                   "made by an earlier algorithm; re-extract them (`hawiya "
                                   "templates reextract --algorithm ID`, see `hawiya templates "
                                   "status`) or, without a kept capture, enrol them again")
                raise NotFound(f"{person.person_id} has {missing}; verify with another "
                               "modality")
            scores[probe.modality] = max(scores.get(probe.modality, -1.0), score)
        decision = matching.modality_decision(platform, scores)
        audit.append(session, actor, "person.verify", person.person_id,
                     {"match": decision.match, "score": decision.score,
                      "threshold": decision.threshold, "kind": decision.score_kind})
    return VerifyResult(**decision.model_dump(), person_id=person.person_id,
                        reference_id=person.reference_id, status=person.status,
                        probe_quality=store.quality_summary(probes))


def identify(platform: Platform, captures: Sequence[Capture], *, actor: str, top: int = 10,
             restrict_to: Sequence[str] | None = None, scope: str | None = None,
             use: str = "identify") -> IdentifyResult:
    """1:N: top candidates, optionally only among the given people (``restrict_to``, our
    ids or reference ids) or within a named scope (``election:E1``, ``station:E1/S3``).
    A candidate is a match only when the search is decidable at its size and the use's
    target FPIR (``use``: identify or check_in)."""
    if not 1 <= int(top) <= MAX_TOP:
        raise InvalidInput(f"top must be between 1 and {MAX_TOP}")
    if restrict_to is not None and scope is not None:
        raise InvalidInput("give restrict_to or scope, not both")
    probes = matching.extract(platform, captures, purpose="probe")
    modalities = sorted({t.modality for t in probes})
    galleries = {m: platform.galleries.get(m) for m in modalities}
    with platform.transaction() as session:
        if restrict_to is not None:
            searched = {m: platform.galleries.people_set(session, m, restrict_to)
                        for m in modalities}
        elif scope is not None:
            searched = {m: platform.galleries.scope_set(session, m, scope) for m in modalities}
        else:
            searched = {m: platform.galleries.whole_set(session, m) for m in modalities}
        cands, need = matching.search_candidates(platform, galleries, session, probes,
                                                 k=int(top), use=use, searched=searched)
        if not need.decidable:
            cands = []  # an undecidable search names nobody
        stale = sum(platform.galleries.stale_count(session, m, exact=False)
                    for m in modalities)
        audit.append(session, actor, "person.identify", None,
                     {"top": int(top), "returned": [c.person_id for c in cands],
                      "matched": [c.person_id for c in cands if c.match],
                      "modalities": modalities, "restricted": restrict_to is not None,
                      "scope": scope, "gallery_size": need.gallery_size,
                      "target_fpir": need.target_fpir, "decidable": need.decidable})
    threshold = (need.thresholds.get(modalities[0], 0.0) if len(modalities) == 1
                 else need.evidence)
    summary = SearchSummary.of(need)
    if stale:
        summary.reason += (f"; {stale} templates of an earlier algorithm were not searched "
                           "(hawiya templates reextract)")
    return IdentifyResult(candidates=cands, threshold=threshold, modalities=modalities,
                          probe_quality=store.quality_summary(probes),
                          gallery_size=need.gallery_size, scope=scope,
                          **summary.model_dump(exclude={"gallery_size"}))

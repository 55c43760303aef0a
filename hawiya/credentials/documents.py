"""Identity documents: issue signed ID cards, print them, and change their status.

A card carries the holder's name as the ICAO 9303 primary and secondary identifiers built
from the name's parts (:mod:`hawiya.identity.names`), and the enrolment portrait unless a
portrait is given at print time, which must then be a face that matches the enrolled one.
Issuing a new card to a person supersedes every earlier valid card (status ``superseded``,
which fails verification and is on the signed revocation list). Documents presented at a
desk are verified by :mod:`hawiya.credentials.desk`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select

from hawiya import audit
from hawiya.biometrics.capture import Capture
from hawiya.credentials import keys as issuer_keys
from hawiya.credentials import mrz as mrz_mod
from hawiya.credentials import revocation, signed
from hawiya.errors import Conflict, HawiyaError, InvalidInput, NotFound
from hawiya.identity import templates as store
from hawiya.identity.names import PersonName
from hawiya.identity.persons import find_person
from hawiya.identity.service import verify
from hawiya.limits import REASON_MAX, check_length
from hawiya.registry.models import ACTIVE, Document, utcnow

if TYPE_CHECKING:
    from hawiya.platform import Platform

STATUSES = ("valid", "revoked", "lost", "stolen")    # what an officer may set
SUPERSEDED = "superseded"                            # set only by issuing a newer card
_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ23456789"  # no I/O/Q/0/1: nothing OCR confuses


def _new_document_number() -> str:
    return "H" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def issue_card(platform: Platform, person_key: str, *, actor: str,
               today: dt.date | None = None) -> dict:
    """Issue a TD1 ID card: MRZ + COSE-signed QR bound to the holder's face template."""
    today = today or dt.date.today()
    settings = platform.settings.credentials
    with platform.transaction() as session:
        person = find_person(session, person_key)
        if person.status != ACTIVE:
            raise Conflict(f"{person.person_id} is {person.status}; only active people get "
                           "documents")
        if person.date_of_birth is None:
            raise InvalidInput(f"{person.person_id} has no date of birth; a document needs one")
        face = store.face_template(platform, session, person)
        if face is None:
            raise InvalidInput(f"{person.person_id} has no enrolled face; a card needs one")
        number = _new_document_number()
        while session.scalar(select(Document.id).where(Document.document_number == number)):
            number = _new_document_number()
        try:
            expiry = today.replace(year=today.year + settings.document_valid_years)
        except ValueError:  # 29 February
            expiry = today.replace(year=today.year + settings.document_valid_years, day=28)
        surname, given = PersonName.of(person).mrz_identifiers()
        mrz_text = mrz_mod.build_td1(
            document_number=number, issuing_state=settings.issuing_state,
            nationality=settings.issuing_state, date_of_birth=person.date_of_birth,
            sex=person.sex or "X", date_of_expiry=expiry, surname=surname, given_names=given,
            today=today)
        digest = signed.face_digest(face.to_bytes())
        key = issuer_keys.active_key(platform.issuer_keys)
        cose = signed.issue({
            "document_number": number, "document_type": "ID", "surname": surname,
            "given_names": given, "date_of_birth": person.date_of_birth,
            "sex": person.sex or "X", "nationality": settings.issuing_state,
            "issuing_authority": settings.issuing_authority, "issue_date": today,
            "expiry_date": expiry, "face_digest": digest}, key, today=today)
        superseded = _supersede(session, person, number, actor)
        session.add(Document(document_number=number, person_db_id=person.id,
                             document_type="ID", issued_on=today, expires_on=expiry,
                             key_id=key.kid, face_digest=digest.hex(), credential=cose,
                             mrz=mrz_text))
        audit.append(session, actor, "credential.issue", person.person_id,
                     {"document_number": number, "key_id": key.kid,
                      "expires": expiry.isoformat(), "supersedes": superseded})
        person_id = person.person_id
    return {"document_number": number, "person_id": person_id, "document_type": "ID",
            "issued_on": today.isoformat(), "expires_on": expiry.isoformat(),
            "key_id": key.kid, "mrz": mrz_text.split("\n"),
            "qr_text": signed.encode_qr_text(cose), "supersedes": superseded}


def _supersede(session, person, number: str, actor: str) -> list[str]:
    """Mark the person's earlier valid cards superseded by ``number`` (audited)."""
    older = session.scalars(select(Document).where(Document.person_db_id == person.id,
                                                   Document.status == "valid")).all()
    for doc in older:
        doc.status, doc.status_changed_at = SUPERSEDED, utcnow()
        doc.status_reason = f"replaced by {number}"
        audit.append(session, actor, "credential.superseded", doc.document_number,
                     {"by": number, "person_id": person.person_id})
    return [d.document_number for d in older]


def _document(session, number: str) -> Document:
    doc = session.scalar(select(Document).where(Document.document_number == number))
    if doc is None:
        raise NotFound(f"no document {number!r}")
    return doc


def render(platform: Platform, number: str, fmt: str = "png", photo=None, *,
           actor: str = "system") -> bytes:
    """The card as PNG or PDF with the holder's portrait: by default the enrolment capture
    (when raw captures are kept) or the enrolment portrait kept with every person. A
    ``photo`` given at print time must be a face that matches the enrolled one (a 1:1
    verification, audited as ``actor``'s), so no other image ends up on the card."""
    from hawiya.credentials.cards import render_card
    from hawiya.imaging import load_image

    with platform.transaction() as session:
        person_id = _document(session, number).person.person_id
    if photo is not None:
        image = load_image(photo)
        try:
            result = verify(platform, person_id, [Capture("face", photo, "frontal")],
                            actor=actor)
        except HawiyaError as exc:
            raise InvalidInput(f"portrait refused: {exc.message}") from exc
        if not result.match:
            raise InvalidInput(f"portrait refused: it does not match {person_id}'s enrolled "
                               f"face ({result.reason})")
        photo = image
    with platform.transaction() as session:
        doc = _document(session, number)
        person = doc.person
        if photo is None:
            kept = store.portrait(platform, session, person) or store.portrait_jpeg(
                platform, person)
            photo = load_image(kept) if kept is not None else None
        surname, given = PersonName.of(person).mrz_identifiers()
        issuer = platform.settings.credentials
        fields = {"document_number": doc.document_number, "surname": surname,
                  "given_names": given, "date_of_birth": person.date_of_birth.isoformat(),
                  "sex": person.sex or "X", "nationality": issuer.issuing_state,
                  "issue_date": doc.issued_on.isoformat(),
                  "expiry_date": doc.expires_on.isoformat(),
                  "issuing_authority": issuer.issuing_authority}
        return render_card(fields, photo, doc.mrz.split("\n"),
                           signed.encode_qr_text(doc.credential), fmt=fmt)


def set_status(platform: Platform, number: str, status: str, *, actor: str,
               reason: str | None = None) -> dict:
    """Revoke, report lost/stolen, or reinstate (status ``valid``) a document."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}"
                           + (" (a card is superseded only by issuing a new one)"
                              if status == SUPERSEDED else ""))
    check_length(reason, "reason", REASON_MAX)
    with platform.transaction() as session:
        doc = _document(session, number)
        previous = doc.status
        if previous == SUPERSEDED and status == "valid":
            raise Conflict(f"document {number} was {doc.status_reason}; a superseded card "
                           "cannot be reinstated (issue a new card instead)")
        doc.status, doc.status_reason, doc.status_changed_at = status, reason, utcnow()
        action = "credential.reinstate" if status == "valid" else f"credential.{status}"
        audit.append(session, actor, action, number, {"from": previous, "reason": reason})
    return {"document_number": number, "status": status, "previous": previous}


def revocation_list(platform: Platform, *, valid_days: int = 1) -> bytes:
    """A signed list of every revoked, lost, stolen or superseded document and e-plate, for
    offline verifiers (e-plate serials start with ``EP``, card numbers with ``H``)."""
    from hawiya.registry.models import EPlate

    with platform.transaction() as session:
        rows = session.execute(select(Document.document_number, Document.status,
                                      Document.status_changed_at)
                               .where(Document.status != "valid")).all()
        rows += session.execute(select(EPlate.serial, EPlate.status, EPlate.status_changed_at)
                                .where(EPlate.status != "valid")).all()
    now = utcnow()
    entries = [{"document_number": n, "status": s, "since": at.date().isoformat()}
               for n, s, at in rows]
    return revocation.sign_revocation_list(entries, platform.issuer_keys, now,
                                           now + dt.timedelta(days=valid_days))


def person_for_qr(platform: Platform, qr_text: str) -> str:
    """The holder of a valid ID-card QR (for polling-station look-up)."""
    keyset = issuer_keys.KeySet.from_folder(platform.issuer_keys)
    v = signed.verify(qr_text, keyset)
    if not v.valid:
        raise InvalidInput(f"ID card QR refused: {v.reason}")
    with platform.transaction() as session:
        doc = _document(session, v.payload["document_number"])
        if doc.status != "valid":
            raise InvalidInput(f"document {doc.document_number} is {doc.status}")
        return doc.person.person_id


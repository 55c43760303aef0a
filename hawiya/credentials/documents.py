"""Identity documents: issue signed ID cards, change their status, and verify any document
presented at a desk, border post or polling station, check by check.

A verdict lists every check with pass, fail or skipped and the reason, so an officer sees
exactly why a document was refused: the credential's signature, key and expiry; the MRZ's
check digits and its agreement with the signed data; the registry's word on the document
(known, not revoked, not reported lost or stolen) and on its holder (active, same face
template); and, with a live photo, a 1:1 face match.
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
from hawiya.identity.persons import find_person
from hawiya.identity.service import verify
from hawiya.limits import LOCATION_MAX, REASON_MAX, check_length
from hawiya.registry.models import (
    ACTIVE,
    BorderCrossing,
    Document,
    utcnow,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform

STATUSES = ("valid", "revoked", "lost", "stolen")
_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ23456789"  # no I/O/Q/0/1: nothing OCR confuses


def _new_document_number() -> str:
    return "H" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def split_name(name: str) -> tuple[str, str]:
    """(surname, given names): the last word is the family name."""
    parts = name.split()
    return (parts[-1], " ".join(parts[:-1])) if len(parts) > 1 else (name, "")


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
        surname, given = split_name(person.name)
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
        session.add(Document(document_number=number, person_db_id=person.id,
                             document_type="ID", issued_on=today, expires_on=expiry,
                             key_id=key.kid, face_digest=digest.hex(), credential=cose,
                             mrz=mrz_text))
        audit.append(session, actor, "credential.issue", person.person_id,
                     {"document_number": number, "key_id": key.kid,
                      "expires": expiry.isoformat()})
        person_id = person.person_id
    return {"document_number": number, "person_id": person_id, "document_type": "ID",
            "issued_on": today.isoformat(), "expires_on": expiry.isoformat(),
            "key_id": key.kid, "mrz": mrz_text.split("\n"),
            "qr_text": signed.encode_qr_text(cose)}


def _document(session, number: str) -> Document:
    doc = session.scalar(select(Document).where(Document.document_number == number))
    if doc is None:
        raise NotFound(f"no document {number!r}")
    return doc


def render(platform: Platform, number: str, fmt: str = "png", photo=None) -> bytes:
    """The card as PNG or PDF. The portrait is ``photo`` (given at print time) or the stored
    enrolment image when raw images are kept; otherwise the card says "no photo"."""
    from hawiya.credentials.cards import render_card
    from hawiya.imaging import load_image

    with platform.transaction() as session:
        doc = _document(session, number)
        person = doc.person
        kept = store.portrait(platform, session, person) if photo is None else None
        if photo is not None:
            photo = load_image(photo)
        elif kept is not None:
            photo = load_image(kept)
        surname, given = split_name(person.name)
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
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    check_length(reason, "reason", REASON_MAX)
    with platform.transaction() as session:
        doc = _document(session, number)
        previous = doc.status
        doc.status, doc.status_reason, doc.status_changed_at = status, reason, utcnow()
        action = "credential.reinstate" if status == "valid" else f"credential.{status}"
        audit.append(session, actor, action, number, {"from": previous, "reason": reason})
    return {"document_number": number, "status": status, "previous": previous}


def revocation_list(platform: Platform, *, valid_days: int = 1) -> bytes:
    """A signed list of every revoked, lost or stolen document, for offline verifiers."""
    with platform.transaction() as session:
        rows = session.execute(select(Document.document_number, Document.status,
                                      Document.status_changed_at)
                               .where(Document.status != "valid")).all()
    now = utcnow()
    entries = [{"document_number": n, "status": s, "since": at.date().isoformat()}
               for n, s, at in rows]
    return revocation.sign_revocation_list(entries, platform.issuer_keys, now,
                                           now + dt.timedelta(days=valid_days))


def _check(name: str, ok: bool | None, reason: str) -> dict:
    return {"name": name, "status": "skipped" if ok is None else "pass" if ok else "fail",
            "reason": reason}


def verify_document(platform: Platform, *, qr_text: str | None = None,
                    mrz_text: str | None = None, mrz_image=None, face=None, actor: str,
                    today: dt.date | None = None) -> dict:
    """Every check a desk officer needs, each pass/fail/skipped with its reason."""
    if not (qr_text or mrz_text or mrz_image is not None):
        raise InvalidInput("give the document's QR text, its MRZ text or an image of it")
    checks: list[dict] = []
    payload = None
    if qr_text:
        keyset = issuer_keys.KeySet.from_folder(platform.issuer_keys)
        v = signed.verify(qr_text, keyset, today=today)
        checks += [{"name": c.name, "status": c.status, "reason": c.reason} for c in v.checks]
        payload = v.payload if v.check("signature").passed else None
    mrz = None
    if mrz_image is not None:
        from hawiya.credentials.mrz_ocr import read_mrz

        mrz = read_mrz(mrz_image)
        checks.append(_check("mrz_found", mrz["found"], "MRZ located and read" if mrz["found"]
                             else "no MRZ found in the image"))
    elif mrz_text:
        mrz = mrz_mod.parse_mrz(mrz_text).to_dict()
    if mrz is not None and mrz.get("found", True):
        bad = "; ".join(f"{e['field']}: {e['reason']}" for e in mrz["errors"])
        checks.append(_check("mrz_valid", mrz["valid"], bad or "all check digits correct"))
    fields = mrz["fields"] if mrz and mrz.get("valid") else {}
    if payload and fields:
        diffs = [k for k, pk in (("document_number", "document_number"),
                                 ("date_of_birth", "date_of_birth"),
                                 ("date_of_expiry", "expiry_date"))
                 if str(fields.get(k)) != str(payload.get(pk))]
        surname = mrz_mod.format_name(payload.get("surname", ""), width=39).split("<<")[0]
        if fields.get("surname", "").replace(" ", "<") != surname:
            diffs.append("surname")
        checks.append(_check("mrz_matches_credential", not diffs,
                             "MRZ and signed data agree" if not diffs else
                             f"MRZ differs from the signed data in: {', '.join(diffs)}"))
    number = (payload or {}).get("document_number") or fields.get("document_number")
    person = None
    if number:
        with platform.transaction() as session:
            doc = session.scalar(select(Document).where(Document.document_number == number))
            known = doc is not None
            checks.append(_check("document_known", known, "issued by this registry" if known
                                 else f"document {number} is not in the registry"))
            if doc is not None:
                checks.append(_check("not_revoked", doc.status == "valid",
                                     "not revoked, lost or stolen" if doc.status == "valid"
                                     else f"document is {doc.status}"
                                     + (f": {doc.status_reason}" if doc.status_reason else "")))
                if payload is not None:
                    same = doc.credential == signed.decode_qr_text(qr_text) if qr_text.startswith(
                        signed.QR_PREFIX) else None
                    checks.append(_check("credential_on_record", same,
                                         "the credential is the one issued" if same else
                                         "the signed credential differs from the one issued"))
                person = doc.person
                checks.append(_check("holder_active", person.status == ACTIVE,
                                     f"holder {person.person_id} is {person.status}"))
                if payload is not None and payload.get("face_digest") is not None:
                    tpl = store.face_template(platform, session, person)
                    digest = signed.face_digest(tpl.to_bytes()).hex() if tpl else None
                    pd = payload["face_digest"]
                    pd = pd.hex() if isinstance(pd, bytes) else pd
                    checks.append(_check("face_template_on_record", digest == pd,
                                         "credential bound to the enrolled face" if
                                         digest == pd else "enrolled face differs from the "
                                         "one the credential was issued for"))
                person_id = person.person_id
    if face is not None:
        if person is None:
            checks.append(_check("face_match", None, "no registered holder to compare with"))
        else:
            try:
                r = verify(platform, person_id, [Capture("face", face, "frontal")], actor=actor)
                checks.append(_check("face_match", r.match, r.reason))
            except HawiyaError as exc:
                checks.append(_check("face_match", False, exc.message))
    failed = [c for c in checks if c["status"] == "fail"]
    verdict = "valid" if not failed else "invalid"
    with platform.transaction() as session:  # every verification, passed or refused
        audit.append(session, actor, "document.verify", number,
                     {"verdict": verdict, "failed": [c["name"] for c in failed],
                      "person_id": person.person_id if person else None})
    return {"verdict": verdict, "document_number": number,
            "person_id": person.person_id if person else None,
            "reasons": [f"{c['name']}: {c['reason']}" for c in failed], "checks": checks,
            "payload": _jsonable(payload) if payload else None}


def _jsonable(payload: dict) -> dict:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in payload.items()}


def border_check(platform: Platform, *, location: str, actor: str,
                 direction: str | None = None, **evidence) -> dict:
    """Verify the document, raise an alert on lost/stolen ones, and log the crossing."""
    check_length(location, "location", LOCATION_MAX)
    if not (location or "").strip():
        raise InvalidInput(f"location is required (1-{LOCATION_MAX} characters)")
    if direction not in (None, "in", "out"):
        raise InvalidInput("direction must be 'in' or 'out'")
    result = verify_document(platform, actor=actor, **evidence)
    alert = any(c["name"] == "not_revoked" and c["status"] == "fail" and
                any(w in c["reason"] for w in ("lost", "stolen")) for c in result["checks"])
    with platform.transaction() as session:
        row = BorderCrossing(document_number=result["document_number"],
                             person_id=result["person_id"], location=location.strip(),
                             direction=direction, officer=actor, verdict=result["verdict"],
                             checks=result["checks"])
        session.add(row)
        session.flush()
        audit.append(session, actor, "border.check", result["document_number"],
                     {"location": location, "direction": direction,
                      "verdict": result["verdict"], "alert": alert})
        crossing_id = row.id
    return dict(result, crossing_id=crossing_id, alert=alert, location=location)


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


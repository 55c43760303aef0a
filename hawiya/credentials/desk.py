"""The document desk: verify any document presented at a desk, border post or polling
station, check by check, and log border crossings.

A verdict lists every check with pass, fail or skipped and its reason, so an officer sees
exactly why a document was refused, and says what a valid verdict rests on
(``assurance``), because "valid" means different things for different documents:

* ``hawiya_credential_verified``: one of our cards whose COSE signature, key, expiry and
  registry record (known, current, not revoked, same face template) all hold;
* ``hawiya_registry_record``: one of our documents presented by its MRZ alone: the record
  is known and current, but no signature was checked (an MRZ is easy to print);
* ``foreign_chip_verified``: a foreign passport whose chip passed passive authentication
  (ICAO 9303-11: Document Signer chained to an imported CSCA, SOD signature, every data
  group hash, the chip's MRZ equal to the printed one);
* ``foreign_not_cryptographically_verified``: a foreign document whose MRZ format and check
  digits are valid, codes are ICAO codes, dates are plausible, that has not expired and is
  not on the watch list; nothing proves the issuing state made it.

Whatever the issuer, the MRZ's codes, dates and expiry are always checked
(:mod:`hawiya.credentials.document_checks`). The alert is raised for one of our documents
reported lost or stolen and for any foreign document on the watch list.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hawiya import audit
from hawiya.biometrics.capture import Capture
from hawiya.credentials import keys as issuer_keys
from hawiya.credentials import mrz as mrz_mod
from hawiya.credentials import signed, watchlist
from hawiya.credentials.document_checks import check, code_checks, date_checks
from hawiya.errors import HawiyaError, InvalidInput
from hawiya.identity import templates as store
from hawiya.identity.service import verify
from hawiya.limits import LOCATION_MAX, check_length
from hawiya.registry.models import ACTIVE, BorderCrossing, Document

if TYPE_CHECKING:
    from hawiya.platform import Platform

ASSURANCES = {
    "hawiya_credential_verified": "Hawiya credential verified: signature, key, expiry and "
                                  "registry record",
    "hawiya_registry_record": "Hawiya document matched to its registry record by its MRZ; "
                              "no signature checked",
    "foreign_chip_verified": "foreign document: chip passive authentication passed "
                             "(CSCA -> Document Signer -> SOD -> data groups)",
    "foreign_not_cryptographically_verified": "foreign document: format and check digits "
                                              "valid, not expired, not on a watch list, not "
                                              "cryptographically verified",
}


def _read_mrz(mrz_text, mrz_image, today, checks) -> dict | None:
    if mrz_image is not None:
        from hawiya.credentials.mrz_ocr import read_mrz

        mrz = read_mrz(mrz_image, today=today)
        checks.append(check("mrz_found", mrz["found"], "MRZ located and read" if mrz["found"]
                            else "; ".join(e["reason"] for e in mrz["errors"])
                            or "no MRZ found in the image"))
        return mrz if mrz["found"] else None
    if mrz_text:
        return mrz_mod.parse_mrz(mrz_text, today=today).to_dict()
    return None


def _credential_matches_mrz(payload: dict, fields: dict) -> dict:
    diffs = [k for k, pk in (("document_number", "document_number"),
                             ("date_of_birth", "date_of_birth"),
                             ("date_of_expiry", "expiry_date"))
             if str(fields.get(k)) != str(payload.get(pk))]
    surname = mrz_mod.format_name(payload.get("surname", ""), width=39).split("<<")[0]
    if fields.get("surname", "").replace(" ", "<") != surname:
        diffs.append("surname")
    return check("mrz_matches_credential", not diffs, "MRZ and signed data agree" if not diffs
                 else f"MRZ differs from the signed data in: {', '.join(diffs)}")


def _registry_checks(platform: Platform, number: str, qr_text: str | None,
                     payload: dict | None, checks: list[dict]) -> tuple[str | None, str | None]:
    """Our registry's word on one of our documents; (holder's person id, alert reason)."""
    with platform.transaction() as session:
        doc = session.scalar(select(Document).where(Document.document_number == number))
        checks.append(check("document_known", doc is not None, "issued by this registry"
                            if doc is not None else f"document {number} is not in the "
                            "registry"))
        if doc is None:
            return None, None
        checks.append(check("not_revoked", doc.status == "valid",
                            "not revoked, lost, stolen or superseded" if doc.status == "valid"
                            else f"document is {doc.status}"
                            + (f": {doc.status_reason}" if doc.status_reason else "")))
        if payload is not None:
            same = doc.credential == signed.decode_qr_text(qr_text) \
                if qr_text.startswith(signed.QR_PREFIX) else None
            checks.append(check("credential_on_record", same,
                                "the credential is the one issued" if same else
                                "the signed credential differs from the one issued"))
        person = doc.person
        checks.append(check("holder_active", person.status == ACTIVE,
                            f"holder {person.person_id} is {person.status}"))
        if payload is not None and payload.get("face_digest") is not None:
            tpl = store.face_template(platform, session, person)
            digest = signed.face_digest(tpl.to_bytes()).hex() if tpl else None
            pd = payload["face_digest"]
            pd = pd.hex() if isinstance(pd, bytes) else pd
            checks.append(check("face_template_on_record", digest == pd,
                                "credential bound to the enrolled face" if digest == pd
                                else "enrolled face differs from the one the credential "
                                "was issued for"))
        alert = f"document reported {doc.status}" if doc.status in ("lost", "stolen") else None
        return person.person_id, alert


def _watchlist_check(platform: Platform, fields: dict, checks: list[dict]) -> str | None:
    state, number = fields.get("issuing_state", ""), fields.get("document_number", "")
    with platform.transaction() as session:
        hit = watchlist.lookup(session, state, number)
        if hit is None:
            checks.append(check("not_on_watch_list", True,
                                f"{state.replace('<', '')} {number} is on no watch list"))
            return None
        reason = (f"{hit.issuing_state} {hit.document_type} {hit.document_number} reported "
                  f"{hit.status.replace('_', ' ')} ({hit.source}"
                  + (f", {hit.reported_on}" if hit.reported_on else "") + ")")
        checks.append(check("not_on_watch_list", False, reason))
        return f"watch list: {reason}"


def _face_with_holder(platform, person_id, face, actor, checks) -> None:
    if face is None:
        return
    if person_id is None:
        checks.append(check("face_match", None, "no registered holder to compare with"))
        return
    try:
        r = verify(platform, person_id, [Capture("face", face, "frontal")], actor=actor)
        checks.append(check("face_match", r.match, r.reason))
    except HawiyaError as exc:
        checks.append(check("face_match", False, exc.message))


def _foreign(platform: Platform, fields: dict, chip, mrz_lines: list[str] | None, face,
             today: dt.date, checks: list[dict]) -> tuple[str | None, bool]:
    """Checks only a foreign document gets; (alert reason, chip verified)."""
    alert = _watchlist_check(platform, fields, checks)
    if chip is None:
        checks.append(check("chip_passive_authentication", None,
                            "no chip data read: the document is not cryptographically "
                            "verified"))
        if face is not None:
            checks.append(check("face_match", None, "no chip photo or registry record to "
                                                    "compare the live face with"))
        return alert, False
    from hawiya.credentials.desk_chip import chip_checks

    chip_ok = chip_checks(platform, chip, mrz_lines, face, today, checks)
    return alert, chip_ok


def verify_document(platform: Platform, *, qr_text: str | None = None,
                    mrz_text: str | None = None, mrz_image=None, face=None, chip=None,
                    actor: str, today: dt.date | None = None) -> dict:
    """Every check a desk officer needs, each pass/fail/skipped with its reason.

    ``chip`` is :class:`hawiya.credentials.desk_chip.ChipData` (EF.SOD and data groups read
    from a passport's chip), for passive authentication of a foreign passport."""
    if not (qr_text or mrz_text or mrz_image is not None or chip is not None):
        raise InvalidInput("give the document's QR text, its MRZ text, an image of it or its "
                           "chip data")
    today = today or dt.date.today()
    own_state = platform.settings.credentials.issuing_state
    checks: list[dict] = []
    payload = None
    if qr_text:
        keyset = issuer_keys.KeySet.from_folder(platform.issuer_keys)
        v = signed.verify(qr_text, keyset, today=today)
        checks += [{"name": c.name, "status": c.status, "reason": c.reason} for c in v.checks]
        payload = v.payload if v.check("signature").passed else None
    mrz = _read_mrz(mrz_text, mrz_image, today, checks)
    if mrz is None and chip is not None and mrz_text is None and mrz_image is None:
        mrz = _chip_mrz(chip, today)  # no printed MRZ given: what the chip says
    fields = (mrz or {}).get("fields") or {}
    if mrz is not None:
        bad = "; ".join(f"{e['field']}: {e['reason']}" for e in mrz["errors"])
        checks.append(check("mrz_valid", mrz["valid"], bad or "all check digits correct"))
        checks += code_checks(fields, own_state)
        if not (payload and qr_text):  # a verified credential already checked its expiry
            checks += date_checks(fields, today)
    state = (fields.get("issuing_state") or "").replace("<", "")
    foreign = payload is None and bool(state) and state != own_state.replace("<", "")
    if payload and mrz and mrz.get("valid"):
        checks.append(_credential_matches_mrz(payload, fields))
    number = (payload or {}).get("document_number") or fields.get("document_number")
    person_id = alert = None
    chip_ok = False
    if foreign:
        printed = None if mrz_text is None and mrz_image is None else \
            (mrz or {}).get("lines") or (mrz_text or "").split()
        alert, chip_ok = _foreign(platform, fields, chip, printed, face, today, checks)
    else:
        if number:
            person_id, alert = _registry_checks(platform, number, qr_text, payload, checks)
        _face_with_holder(platform, person_id, face, actor, checks)
    failed = [c for c in checks if c["status"] == "fail"]
    verdict = "valid" if not failed else "invalid"
    assurance = None
    if verdict == "valid":
        assurance = ("foreign_chip_verified" if chip_ok else
                     "foreign_not_cryptographically_verified") if foreign else (
            "hawiya_credential_verified" if payload else "hawiya_registry_record")
    with platform.transaction() as session:  # every verification, passed or refused
        audit.append(session, actor, "document.verify", number,
                     {"verdict": verdict, "assurance": assurance, "issuing_state": state,
                      "failed": [c["name"] for c in failed], "person_id": person_id})
    return {"verdict": verdict, "assurance": assurance,
            "summary": ASSURANCES[assurance] if assurance else
            "refused: " + "; ".join(c["name"] for c in failed),
            "document_number": number, "issuing_state": state or None,
            "foreign": foreign, "person_id": person_id, "alert": alert is not None,
            "alert_reason": alert,
            "reasons": [f"{c['name']}: {c['reason']}" for c in failed], "checks": checks,
            "payload": _jsonable(payload) if payload else None}


def _chip_mrz(chip, today: dt.date) -> dict | None:
    from hawiya.credentials.desk_chip import chip_mrz_text

    text = chip_mrz_text(chip)
    return mrz_mod.parse_mrz(text, today=today).to_dict() if text else None


def _jsonable(payload: dict) -> dict:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in payload.items()}


def border_check(platform: Platform, *, location: str, actor: str,
                 direction: str | None = None, **evidence: Any) -> dict:
    """Verify the document, raise the alert on lost/stolen ones, and log the crossing."""
    check_length(location, "location", LOCATION_MAX)
    if not (location or "").strip():
        raise InvalidInput(f"location is required (1-{LOCATION_MAX} characters)")
    if direction not in (None, "in", "out"):
        raise InvalidInput("direction must be 'in' or 'out'")
    result = verify_document(platform, actor=actor, **evidence)
    with platform.transaction() as session:
        row = BorderCrossing(document_number=result["document_number"],
                             person_id=result["person_id"], location=location.strip(),
                             direction=direction, officer=actor, verdict=result["verdict"],
                             assurance=result["assurance"],
                             issuing_state=(result["issuing_state"] or None),
                             checks=result["checks"])
        session.add(row)
        session.flush()
        audit.append(session, actor, "border.check", result["document_number"],
                     {"location": location, "direction": direction,
                      "verdict": result["verdict"], "assurance": result["assurance"],
                      "alert": result["alert"]})
        crossing_id = row.id
    return dict(result, crossing_id=crossing_id, location=location)


def crossings(platform: Platform, *, location: str | None = None,
              document_number: str | None = None, limit: int = 100,
              offset: int = 0) -> list[dict]:
    """The crossing log, newest first."""
    q = select(BorderCrossing).order_by(BorderCrossing.id.desc())
    if location:
        q = q.where(BorderCrossing.location == location)
    if document_number:
        q = q.where(BorderCrossing.document_number == document_number)
    with platform.transaction() as session:
        return [{"crossing_id": c.id, "document_number": c.document_number,
                 "issuing_state": c.issuing_state, "person_id": c.person_id,
                 "location": c.location, "direction": c.direction, "officer": c.officer,
                 "verdict": c.verdict, "assurance": c.assurance,
                 "alert": any(k["name"] == "not_on_watch_list" and k["status"] == "fail"
                              or k["name"] == "not_revoked" and k["status"] == "fail"
                              and any(w in k["reason"] for w in ("lost", "stolen"))
                              for k in c.checks or []),
                 "at": c.created_at.isoformat() if c.created_at else None}
                for c in session.scalars(q.limit(limit).offset(offset))]

"""The plate hotlist: plates to stop or watch (stolen, wanted, registration expired, plate
revoked), checked against every sighting.

Entries come from a CSV feed (``plate,country,reason[,note]``) or one at a time. An import is
all or nothing: every row is checked first and one bad row refuses the file with its line
number, so the cameras never run on half a list. Re-importing updates entries in place (keyed
by country, plate and reason). Removing deactivates an entry; the row keeps its history and
every change is audited.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_

from hawiya import audit
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.limits import REASON_MAX, check_length
from hawiya.registry.models import HotlistEntry, utcnow
from hawiya.vehicles.plate_formats import PLATE_MAX, normalise

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hawiya.platform import Platform

REASONS = ("stolen", "wanted", "registration_expired", "plate_revoked")
COLUMNS = ("plate", "country", "reason")
SOURCE_MAX = 100
MAX_ROWS = 1_000_000
MAX_ERRORS_SHOWN = 10
_CHUNK = 500
_PLATE = re.compile(rf"^[A-Z0-9]{{1,{PLATE_MAX}}}$")
_COUNTRY = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def check_plate_text(text: object) -> str:
    """A plate as read or typed, normalised (A-Z, 0-9); InvalidInput otherwise. Not checked
    against a country's formats: foreign and old plates are seen too."""
    plate = normalise(text if isinstance(text, str) else "")[:PLATE_MAX + 1]
    if not _PLATE.match(plate):
        raise InvalidInput(f"plate must be 1-{PLATE_MAX} letters A-Z and digits "
                           f"(got {str(text)[:40]!r})")
    return plate


def check_country(code: object, default: str | None = None) -> str | None:
    """ISO 3166 alpha-2 (a US state as US-CA), upper case; ``default`` when empty."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if not text:
        return default
    if not _COUNTRY.match(text):
        raise InvalidInput(f"country {text[:16]!r} is not an ISO 3166 code (LY, FR, US-CA)")
    return text


def _reason(value: object) -> str:
    text = value.strip().lower().replace(" ", "_") if isinstance(value, str) else ""
    if text not in REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(REASONS)}")
    return text


def _note(value: object) -> str | None:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    return check_length(text, "note", REASON_MAX) or None


def _source(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= SOURCE_MAX:
        raise InvalidInput(f"source is required (1-{SOURCE_MAX} characters), e.g. "
                           "'police feed 2026-11-30'")
    return text


def parse_csv(text: str, default_country: str) -> list[dict]:
    """Every row checked; InvalidInput naming the bad lines, before anything is written."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"hotlist CSV lacks column(s): {', '.join(missing)} "
                           f"(needs {','.join(COLUMNS)}[,note])")
    rows, errors, seen = [], [], {}
    for i, raw in enumerate(reader):
        line = i + 2
        if i >= MAX_ROWS:
            raise InvalidInput(f"hotlist CSV has more than {MAX_ROWS} rows; split it")
        try:
            row = {"plate": check_plate_text(raw.get("plate")),
                   "country": check_country(raw.get("country"), default_country),
                   "reason": _reason(raw.get("reason")), "note": _note(raw.get("note"))}
        except InvalidInput as exc:
            errors.append(f"line {line}: {exc.message}")
            continue
        key = (row["country"], row["plate"], row["reason"])
        if key in seen:
            errors.append(f"line {line}: {' '.join(key)} repeats line {seen[key]}")
            continue
        seen[key] = line
        rows.append(row)
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        raise InvalidInput("hotlist not imported (nothing written): "
                           + "; ".join(errors[:MAX_ERRORS_SHOWN])
                           + (f"; and {more} more" if more > 0 else ""), reasons=errors[:50])
    if not rows:
        raise InvalidInput("hotlist CSV has no rows")
    return rows


def _view(e: HotlistEntry) -> dict:
    return {"id": e.id, "plate": e.plate, "country": e.country, "reason": e.reason,
            "note": e.note, "source": e.source, "active": e.active,
            "created_by": e.created_by, "created_at": e.created_at.isoformat(),
            "updated_by": e.updated_by,
            "updated_at": e.updated_at.isoformat() if e.updated_at else None}


def import_csv(platform: Platform, text: str, *, source: str, actor: str) -> dict:
    """Add or update (and reactivate) every row of a checked CSV, in one transaction."""
    source = _source(source)
    rows = parse_csv(text, platform.settings.vehicles.country)
    added = updated = 0
    with platform.transaction() as session:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            keys = [(r["country"], r["plate"], r["reason"]) for r in chunk]
            existing = {(e.country, e.plate, e.reason): e for e in session.scalars(
                select(HotlistEntry).where(tuple_(HotlistEntry.country, HotlistEntry.plate,
                                                  HotlistEntry.reason).in_(keys)))}
            for r in chunk:
                entry = existing.get((r["country"], r["plate"], r["reason"]))
                if entry is None:
                    session.add(HotlistEntry(**r, source=source, active=True,
                                             created_by=actor))
                    added += 1
                else:
                    entry.note, entry.source, entry.active = r["note"], source, True
                    entry.updated_by, entry.updated_at = actor, utcnow()
                    updated += 1
        audit.append(session, actor, "hotlist.import", source,
                     {"rows": len(rows), "added": added, "updated": updated})
    return {"rows": len(rows), "added": added, "updated": updated, "source": source}


def add(platform: Platform, *, plate: str, reason: str, actor: str,
        country: str | None = None, note: str | None = None, source: str = "manual") -> dict:
    """Put one plate on the hotlist (an inactive entry for the same reason comes back)."""
    fields = {"plate": check_plate_text(plate),
              "country": check_country(country, platform.settings.vehicles.country),
              "reason": _reason(reason), "note": _note(note)}
    source = _source(source)
    with platform.transaction() as session:
        entry = session.scalar(select(HotlistEntry).where(
            HotlistEntry.country == fields["country"], HotlistEntry.plate == fields["plate"],
            HotlistEntry.reason == fields["reason"]))
        if entry is not None and entry.active:
            raise Conflict(f"{fields['plate']} ({fields['country']}) is already on the "
                           f"hotlist as {fields['reason']}")
        if entry is None:
            entry = HotlistEntry(**fields, source=source, active=True, created_by=actor)
            session.add(entry)
        else:
            entry.note, entry.source, entry.active = fields["note"], source, True
            entry.updated_by, entry.updated_at = actor, utcnow()
        session.flush()
        audit.append(session, actor, "hotlist.add", f"{entry.country} {entry.plate}",
                     {"reason": entry.reason, "note": entry.note, "source": source})
        return _view(entry)


def remove(platform: Platform, country: str, plate: str, *, actor: str, note: str,
           reason: str | None = None) -> dict:
    """Take a plate off the hotlist for one ``reason`` (all its reasons when None); ``note``
    says why (audited)."""
    why = _note(note)
    if not why:
        raise InvalidInput("a note saying why is required to take a plate off the hotlist")
    plate, code = check_plate_text(plate), check_country(country)
    if code is None:
        raise InvalidInput("country is required")
    wanted = _reason(reason) if reason is not None else None
    with platform.transaction() as session:
        q = select(HotlistEntry).where(HotlistEntry.country == code, HotlistEntry.plate == plate,
                                       HotlistEntry.active.is_(True))
        if wanted is not None:
            q = q.where(HotlistEntry.reason == wanted)
        entries = session.scalars(q.order_by(HotlistEntry.id)).all()
        if not entries:
            raise NotFound(f"{plate} ({code}) is not on the hotlist"
                           + (f" as {wanted}" if wanted else ""))
        for e in entries:
            e.active, e.updated_by, e.updated_at = False, actor, utcnow()
        audit.append(session, actor, "hotlist.remove", f"{code} {plate}",
                     {"reasons": [e.reason for e in entries], "note": why})
        return {"plate": plate, "country": code, "removed": [e.reason for e in entries],
                "note": why}


def list_entries(platform: Platform, *, plate: str | None = None, country: str | None = None,
                 reason: str | None = None, active: bool | None = True, limit: int = 100,
                 offset: int = 0) -> list[dict]:
    """Hotlist entries in the order they were first added (active ones by default)."""
    q = select(HotlistEntry).order_by(HotlistEntry.id)
    if plate:
        q = q.where(HotlistEntry.plate == check_plate_text(plate))
    if country:
        q = q.where(HotlistEntry.country == check_country(country))
    if reason:
        q = q.where(HotlistEntry.reason == _reason(reason))
    if active is not None:
        q = q.where(HotlistEntry.active.is_(active))
    with platform.transaction() as session:
        return [_view(e) for e in session.scalars(
            q.limit(max(1, min(int(limit), 1000))).offset(max(0, int(offset))))]


def matches(session: Session, plate: str, country: str | None) -> list[HotlistEntry]:
    """Active entries for a sighted plate (any country when the camera did not say)."""
    q = select(HotlistEntry).where(HotlistEntry.plate == plate, HotlistEntry.active.is_(True))
    if country is not None:
        q = q.where(HotlistEntry.country == country)
    return list(session.scalars(q.order_by(HotlistEntry.id)))

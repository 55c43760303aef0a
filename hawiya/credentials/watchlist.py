"""A watch list of lost, stolen and invalidated foreign travel documents.

Entries have the shape of Interpol's SLTD records (document number, type, issuing state,
status) and come from a CSV feed: ``document_number,document_type,issuing_state,status``
with optional ``reported_on`` (YYYY-MM-DD). An import is all or nothing: every row is
checked first, and one bad row refuses the whole file with its line number, so a border
post never runs on half a list. Re-importing updates entries in place (keyed by issuing
state and number). Every import and removal is audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_

from hawiya import audit
from hawiya.credentials.icao_codes import code_name
from hawiya.errors import InvalidInput, NotFound
from hawiya.registry.models import WatchlistDocument

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hawiya.platform import Platform

STATUSES = ("lost", "stolen", "stolen_blank", "revoked", "invalidated")
COLUMNS = ("document_number", "document_type", "issuing_state", "status")
MAX_ROWS = 1_000_000
MAX_ERRORS_SHOWN = 10
_NUMBER = re.compile(r"^[A-Z0-9]{1,32}$")
_TYPE = re.compile(r"^[A-Z]{1,2}$")
_CHUNK = 500


def normalise_number(number: str) -> str:
    """The number as the MRZ carries it, without fillers or spaces."""
    return re.sub(r"[\s<-]", "", number or "").upper()


def _row(raw: dict, line: int) -> tuple[dict | None, str | None]:
    number = normalise_number(raw.get("document_number") or "")
    doc_type = (raw.get("document_type") or "").strip().upper()
    state = (raw.get("issuing_state") or "").strip().upper()
    status = (raw.get("status") or "").strip().lower().replace(" ", "_")
    if not _NUMBER.match(number):
        return None, f"line {line}: document_number must be 1-32 letters or digits"
    if not _TYPE.match(doc_type):
        return None, f"line {line}: document_type must be 1-2 letters (P, I, ID, V...)"
    if code_name(state) is None:
        return None, f"line {line}: issuing_state {state!r} is not an ICAO 9303 code"
    if status not in STATUSES:
        return None, f"line {line}: status must be one of {', '.join(STATUSES)}"
    reported = (raw.get("reported_on") or "").strip()
    try:
        reported_on = dt.date.fromisoformat(reported) if reported else None
    except ValueError:
        return None, f"line {line}: reported_on must be YYYY-MM-DD"
    return {"document_number": number, "document_type": doc_type,
            "issuing_state": state.replace("<", ""), "status": status,
            "reported_on": reported_on}, None


def parse_csv(text: str) -> list[dict]:
    """Every row checked; raises InvalidInput naming the bad lines, before any write."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"watch list CSV lacks column(s): {', '.join(missing)} "
                           f"(needs {','.join(COLUMNS)}[,reported_on])")
    rows, errors, seen = [], [], {}
    for i, raw in enumerate(reader):
        if i >= MAX_ROWS:
            raise InvalidInput(f"watch list CSV has more than {MAX_ROWS} rows; split it")
        row, err = _row(raw, i + 2)
        if err:
            errors.append(err)
            continue
        key = (row["issuing_state"], row["document_number"])
        if key in seen:
            errors.append(f"line {i + 2}: {key[0]} {key[1]} repeats line {seen[key]}")
            continue
        seen[key] = i + 2
        rows.append(row)
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        raise InvalidInput("watch list not imported (nothing written): "
                           + "; ".join(errors[:MAX_ERRORS_SHOWN])
                           + (f"; and {more} more" if more > 0 else ""))
    if not rows:
        raise InvalidInput("watch list CSV has no rows")
    return rows


def import_csv(platform: Platform, text: str, *, source: str, actor: str) -> dict:
    """Add or update every row of a checked CSV in one transaction."""
    source = (source or "").strip()
    if not 1 <= len(source) <= 100:
        raise InvalidInput("source is required (1-100 characters), e.g. 'SLTD 2026-11-30'")
    rows = parse_csv(text)
    added = updated = 0
    with platform.transaction() as session:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            keys = [(r["issuing_state"], r["document_number"]) for r in chunk]
            existing = {(e.issuing_state, e.document_number): e for e in session.scalars(
                select(WatchlistDocument).where(tuple_(
                    WatchlistDocument.issuing_state,
                    WatchlistDocument.document_number).in_(keys)))}
            for r in chunk:
                entry = existing.get((r["issuing_state"], r["document_number"]))
                if entry is None:
                    session.add(WatchlistDocument(**r, source=source, imported_by=actor))
                    added += 1
                else:
                    for k, v in r.items():
                        setattr(entry, k, v)
                    entry.source, entry.imported_by = source, actor
                    updated += 1
        audit.append(session, actor, "watchlist.import", source,
                     {"rows": len(rows), "added": added, "updated": updated})
    return {"rows": len(rows), "added": added, "updated": updated, "source": source}


def _entry_dict(e: WatchlistDocument) -> dict:
    return {"document_number": e.document_number, "document_type": e.document_type,
            "issuing_state": e.issuing_state, "status": e.status, "source": e.source,
            "reported_on": e.reported_on.isoformat() if e.reported_on else None,
            "imported_at": e.imported_at.isoformat() if e.imported_at else None}


def lookup(session: Session, issuing_state: str, number: str) -> WatchlistDocument | None:
    return session.scalar(select(WatchlistDocument).where(
        WatchlistDocument.issuing_state == (issuing_state or "").replace("<", "").upper(),
        WatchlistDocument.document_number == normalise_number(number)))


def list_entries(platform: Platform, *, issuing_state: str | None = None,
                 number: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    q = select(WatchlistDocument).order_by(WatchlistDocument.id)
    if issuing_state:
        q = q.where(WatchlistDocument.issuing_state == issuing_state.upper())
    if number:
        q = q.where(WatchlistDocument.document_number == normalise_number(number))
    with platform.transaction() as session:
        return [_entry_dict(e) for e in session.scalars(q.limit(limit).offset(offset))]


def remove(platform: Platform, issuing_state: str, number: str, *, actor: str,
           reason: str) -> dict:
    """Take an entry off the list (a recovered document), with the reason audited."""
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to take a document off the watch list")
    with platform.transaction() as session:
        entry = lookup(session, issuing_state, number)
        if entry is None:
            raise NotFound(f"{issuing_state} {number} is not on the watch list")
        gone = _entry_dict(entry)
        session.delete(entry)
        audit.append(session, actor, "watchlist.remove", f"{gone['issuing_state']} "
                     f"{gone['document_number']}", {"reason": reason.strip()[:500],
                                                    "status": gone["status"]})
    return dict(gone, removed=True)

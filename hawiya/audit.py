"""Append-only, hash-chained audit log.

Each record's hash is SHA-256 over the previous record's hash and this record's canonical
content, so editing, deleting or reordering any row breaks the chain from that row on;
``verify_chain`` finds the first bad record. Records are appended inside the caller's
transaction, so a state change and its audit record commit (or vanish) together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hawiya.registry.models import AuditRecord

GENESIS = "0" * 64
# Any constant works: it names the advisory lock that serialises appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x48415749


def canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def record_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str,
                subject: str | None, details: str) -> str:
    body = canonical([seq, ts, actor, action, subject, details])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(session: Session, actor: str, action: str, subject: str | None = None,
           details: dict | None = None) -> AuditRecord:
    """Append one record in the caller's transaction (serialised against other writers)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    body = canonical(details or {})
    rec = AuditRecord(seq=seq, ts=ts, actor=actor, action=action, subject=subject,
                      details=body, prev_hash=prev,
                      hash=record_hash(prev, seq, ts, actor, action, subject, body))
    session.add(rec)
    session.flush()
    return rec


def verify_chain(session: Session, batch: int = 5000) -> dict:
    """Recompute the chain; report the first record whose content or link is wrong."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)
                           .execution_options(yield_per=batch)).scalars()
    for rec in rows:
        count += 1
        problem = None
        if rec.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {rec.seq}"
        elif rec.prev_hash != prev:
            problem = "link to previous record broken"
        elif rec.hash != record_hash(prev, rec.seq, rec.ts, rec.actor, rec.action,
                                     rec.subject, rec.details):
            problem = "record content does not match its hash"
        if problem:
            return {"ok": False, "records": count, "first_bad": rec.seq, "reason": problem}
        prev = rec.hash
        expected_seq += 1
    return {"ok": True, "records": count, "first_bad": None, "head": prev}


def records(session: Session, limit: int = 100, after: int = 0) -> list[dict]:
    rows = session.execute(select(AuditRecord).where(AuditRecord.seq > after)
                           .order_by(AuditRecord.seq).limit(limit)).scalars()
    return [{"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action,
             "subject": r.subject, "details": json.loads(r.details), "hash": r.hash}
            for r in rows]

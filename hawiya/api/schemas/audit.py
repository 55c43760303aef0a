"""Responses of the audit trail (:mod:`hawiya.audit`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hawiya.api.schemas.common import Schema


class ChainStatus(Schema):
    """The hash chain checked: ``head`` when it holds, ``reason`` at the first bad record."""

    ok: bool
    records: int = Field(description="records checked")
    first_bad: int | None = Field(description="sequence number of the first bad record")
    head: str | None = Field(None, description="hash of the last record (when ok)")
    reason: str | None = Field(None, description="what is wrong with first_bad (when not ok)")


class AuditRecord(Schema):
    seq: int
    ts: str = Field(description="ISO 8601 date-time (UTC)")
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]
    hash: str


class AuditRecords(Schema):
    records: list[AuditRecord]

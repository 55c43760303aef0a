"""Responses of election administration, the roll, offline sync, turnout and the audit
report (:mod:`hawiya.elections`). Check-in answers are
:class:`hawiya.elections.results.CheckInResult`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hawiya.api.schemas.audit import ChainStatus
from hawiya.api.schemas.common import Schema


class ElectionInfo(Schema):
    code: str
    name: str
    election_date: str = Field(description="YYYY-MM-DD")
    eligibility_date: str = Field(description="YYYY-MM-DD")
    min_age: int
    status: str = Field(description="draft, frozen or closed")


class DistrictInfo(Schema):
    code: str
    name: str


class CentreInfo(Schema):
    code: str
    name: str
    district: str


class StationCreated(Schema):
    code: str
    name: str
    centre: str
    station_private_key: str = Field(description="PEM (PKCS#8, Ed25519), returned only here: "
                                                 "the station device signs offline logs "
                                                 "with it")


class RollBuilt(Schema):
    election: str
    voters: int
    excluded: dict[str, int] = Field(description="rule -> people excluded by it")
    registrants: int


class RollFrozen(Schema):
    election: str
    status: str
    roll_digest: str
    key_id: str
    signature: str
    voters: int


class Withdrawn(Schema):
    election: str
    withdrawn: bool
    removed: dict[str, int] = Field(description="rows removed per table")


class Exclusion(Schema):
    person_id: str
    name: str
    rule: str


class ExclusionList(Schema):
    exclusions: list[Exclusion]


class PackageEntry(Schema):
    voter_number: str
    person_id: str
    name: str


class StationPackage(Schema):
    election: str
    station: str
    roll_digest: str | None
    roll: list[PackageEntry]


class SyncAnomaly(Schema):
    kind: str = Field(description="not_on_station_roll or double_check_in")
    voter_number: str
    first_station: str | None = None
    second_station: str | None = None


class SyncResult(Schema):
    """An offline log taken (``accepted``) or refused (``reason``; ``anomalies`` is then the
    count, 1)."""

    accepted: bool
    reason: str | None = Field(None, description="why the log was refused")
    records: int | None = Field(None, description="records in the log (when accepted)")
    recorded: int
    already_synced: int | None = Field(None, description="when accepted")
    anomalies: list[SyncAnomaly] | int


class TurnoutCount(Schema):
    roll: int
    checked_in: int
    turnout: float


class Turnout(Schema):
    election: str
    roll: int
    checked_in: int
    turnout: float
    station: dict[str, TurnoutCount]
    centre: dict[str, TurnoutCount]
    district: dict[str, TurnoutCount]


class RollAudit(Schema):
    voters: int
    digest: str | None
    recomputed_digest: str | None
    unchanged_since_freeze: bool
    signature_valid: bool
    key_id: str | None


class CheckInsAudit(Schema):
    count: int
    digest: str


class AnomalyRecord(Schema):
    kind: str
    station: str | None
    details: dict[str, Any]
    at: str


class AuditReport(Schema):
    election: str
    status: str
    roll: RollAudit
    check_ins: CheckInsAudit
    anomalies: list[AnomalyRecord]
    audit_chain: ChainStatus

"""Responses of identity documents and border checks (:mod:`hawiya.credentials`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hawiya.api.schemas.common import Schema


class IssuedDocument(Schema):
    document_number: str
    person_id: str
    document_type: str = Field(description="ID (a TD1 card)")
    issued_on: str = Field(description="YYYY-MM-DD")
    expires_on: str = Field(description="YYYY-MM-DD")
    key_id: str = Field(description="the issuer key that signed the credential")
    mrz: list[str] = Field(description="the machine-readable zone, one string per line")
    qr_text: str = Field(description="the signed credential as printed in the QR code")
    supersedes: list[str] = Field(description="the person's earlier cards, now superseded")


class DocumentStatus(Schema):
    document_number: str
    status: str = Field(description="valid, revoked, lost, stolen or superseded")
    previous: str


class Check(Schema):
    name: str
    status: Literal["pass", "fail", "skipped"]
    reason: str


class DocumentVerdict(Schema):
    """A presented document checked one check at a time; ``reasons`` names the failures."""

    verdict: Literal["valid", "invalid"]
    assurance: Literal["hawiya_credential_verified", "hawiya_registry_record",
                       "foreign_chip_verified",
                       "foreign_not_cryptographically_verified"] | None = Field(
        description="what a valid verdict rests on (null when invalid)")
    summary: str = Field(description="the verdict in words")
    document_number: str | None
    issuing_state: str | None = Field(description="the MRZ's issuing state or organisation")
    foreign: bool = Field(description="issued by another state (not by this registry)")
    person_id: str | None = Field(description="the registered holder, when found")
    alert: bool = Field(description="reported lost or stolen, or on the watch list")
    alert_reason: str | None
    reasons: list[str]
    checks: list[Check]
    payload: dict[str, Any] | None = Field(description="the signed credential's fields, when "
                                                       "its signature holds")


class BorderCheck(DocumentVerdict):
    crossing_id: int
    location: str


class Crossing(Schema):
    crossing_id: int
    document_number: str | None
    issuing_state: str | None
    person_id: str | None
    location: str
    direction: str | None
    officer: str
    verdict: str
    assurance: str | None
    alert: bool
    at: str | None


class CrossingLog(Schema):
    crossings: list[Crossing]


class WatchlistEntry(Schema):
    document_number: str
    document_type: str
    issuing_state: str
    status: str
    source: str
    reported_on: str | None
    imported_at: str | None


class WatchlistList(Schema):
    entries: list[WatchlistEntry]


class WatchlistImport(Schema):
    rows: int
    added: int
    updated: int
    source: str


class WatchlistRemoval(WatchlistEntry):
    removed: bool


class PublicKey(Schema):
    kid: str
    algorithm: str
    status: Literal["active", "valid", "retired"]
    created: str | None
    retired: str | None
    public_key: str = Field(description="PEM")


class Keyset(Schema):
    format: str = Field(description="hawiya-keyset")
    version: int
    exported: str
    keys: list[PublicKey]


class CscaCertificate(Schema):
    fingerprint: str = Field(description="SHA-256 of the DER certificate")
    subject: str
    ski: str | None = Field(description="subject key identifier (hex)")
    country: str | None
    not_before: str
    not_after: str
    trusted: bool
    source: str
    note: str
    file: str | None


class CscaList(Schema):
    certificates: list[CscaCertificate]


class CscaImport(Schema):
    kind: Literal["certificates", "master list"]
    trusted: bool = Field(description="the imported certificates are trust anchors")
    signature_valid: bool | None = Field(description="the master list's own signature")
    signer: str | None
    signer_status: str | None = Field(description="trusted, self_consistent, unknown or "
                                                  "absent")
    certificates: int
    imported: int
    reasons: list[str]
    subjects: list[str] | None = None

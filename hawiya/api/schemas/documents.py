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


class DocumentStatus(Schema):
    document_number: str
    status: str = Field(description="valid, revoked, lost or stolen")
    previous: str


class Check(Schema):
    name: str
    status: Literal["pass", "fail", "skipped"]
    reason: str


class DocumentVerdict(Schema):
    """A presented document checked one check at a time; ``reasons`` names the failures."""

    verdict: Literal["valid", "invalid"]
    document_number: str | None
    person_id: str | None = Field(description="the registered holder, when found")
    reasons: list[str]
    checks: list[Check]
    payload: dict[str, Any] | None = Field(description="the signed credential's fields, when "
                                                       "its signature holds")


class BorderCheck(DocumentVerdict):
    crossing_id: int
    alert: bool = Field(description="the document is reported lost or stolen")
    location: str


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

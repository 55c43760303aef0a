"""Responses of the vehicle registry and e-plates (:mod:`hawiya.vehicles.registry`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hawiya.api.schemas.common import Schema
from hawiya.api.schemas.documents import Check


class VehicleOwner(Schema):
    kind: Literal["person", "organisation"]
    person_id: str | None = Field(description="the owner's person id (null for an "
                                              "organisation)")
    name: str


class VehicleRecord(Schema):
    vin: str
    wmi: str = Field(description="world manufacturer identifier (VIN characters 1-3)")
    manufacturer: str | None = Field(description="from the WMI, when it is a known one")
    region: str = Field(description="ISO 3780 region of the WMI")
    make: str
    model: str
    colour: str
    year: int | None
    vehicle_class: str = Field(description="UNECE category (M1, N1, L3...)")
    owner: VehicleOwner
    status: Literal["registered", "deregistered"]
    plate: str | None = Field(description="the current plate (normalised)")
    plate_country: str | None
    registered_at: str | None
    deregistered_at: str | None
    deregistration_reason: str | None


class PlateHistoryEntry(Schema):
    plate: str
    country: str
    assigned_at: str | None
    ended_at: str | None
    end_reason: str | None
    current: bool


class EPlateSummary(Schema):
    serial: str
    plate: str
    country: str
    status: Literal["valid", "revoked", "stolen", "superseded"]
    status_reason: str | None
    issued_on: str
    expires_on: str
    key_id: str


class VehicleDetail(VehicleRecord):
    plates: list[PlateHistoryEntry] = Field(description="every plate the vehicle carried")
    eplates: list[EPlateSummary]


class VehicleList(Schema):
    vehicles: list[VehicleRecord]


class OwnershipTransfer(Schema):
    vin: str
    previous_owner: str = Field(description="person id, or organisation:NAME")
    owner: VehicleOwner


class Deregistration(Schema):
    vin: str
    status: Literal["deregistered"]
    plate_released: str | None
    plate_country: str | None
    eplates_revoked: list[str]


class PlateAssigned(Schema):
    vin: str
    plate: str
    country: str
    previous_plate: str | None
    previous_country: str | None
    eplates_superseded: list[str]


class IssuedEPlate(Schema):
    serial: str = Field(description="EP + 8 characters; the key on the revocation list")
    plate: str
    country: str
    vin: str
    vehicle_class: str
    issued_on: str
    expires_on: str
    key_id: str
    algorithm: str
    qr_text: str = Field(description="HP1: + base45, printed on the windscreen sticker")
    tag_hex: str = Field(description="what to write to the tag's user memory (hex, padded "
                                     "to 16-bit words)")
    tag_bytes: int = Field(description="size of the signed credential")
    tag_budget_bytes: int = Field(description="the tag user memory it must fit")
    supersedes: list[str]


class EPlateStatus(Schema):
    serial: str
    plate: str
    country: str
    status: str
    previous: str


class EPlatePayload(Schema):
    serial: str
    plate: str
    country: str
    vin_digest: str = Field(description="first 16 bytes of SHA-256 of the VIN, hex")
    vehicle_class: str
    issued_on: str
    expires_on: str


class PlateVehicle(Schema):
    vin: str
    make: str
    model: str
    colour: str
    year: int | None
    vehicle_class: str
    status: str
    plate: str | None
    plate_country: str | None


class PlateVerdict(Schema):
    """A presented e-plate checked one check at a time."""

    verdict: Literal["valid", "invalid"]
    valid: bool
    reason: str = Field(description="the first failing check and why, or 'valid'")
    alert: bool = Field(description="the e-plate is reported stolen")
    source: Literal["tag", "qr"] | None
    size: int | None = Field(description="bytes of the credential")
    kid: str | None
    algorithm: str | None
    checks: list[Check]
    payload: EPlatePayload | None = Field(description="the signed fields, when the "
                                                      "signature holds")
    vehicle: PlateVehicle | None = Field(description="the registered vehicle, when known")

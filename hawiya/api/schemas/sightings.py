"""Responses of cameras, plate sightings, the hotlist and vehicle alerts
(:mod:`hawiya.vehicles.sightings`, :mod:`hawiya.vehicles.hotlist`,
:mod:`hawiya.vehicles.alerts`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hawiya.api.schemas.common import Schema

AlertKind = Literal["hotlist", "no_registration", "deregistered", "make_colour_mismatch",
                    "tag_invalid", "tag_mismatch", "impossible_journey"]
HotlistReason = Literal["stolen", "wanted", "registration_expired", "plate_revoked"]


class CameraOut(Schema):
    camera_id: str
    name: str
    location: str | None
    latitude: float
    longitude: float
    active: bool
    created_at: str


class CameraList(Schema):
    cameras: list[CameraOut]


class Evidence(Schema):
    sighting_id: int
    camera_id: str
    seen_at: str
    image: str | None = Field(description="where to fetch the evidence image (GET, audited); "
                                          "null when none was kept")


class VehicleAlertOut(Schema):
    id: int = Field(description="also the event id of the alert stream")
    kind: AlertKind
    plate: str
    country: str | None
    reasons: list[str] = Field(description="sentences with the numbers, e.g. the two "
                                           "cameras, times, distance and implied speed")
    sighting_ids: list[int] = Field(description="the sightings that are the evidence")
    evidence: list[Evidence]
    status: Literal["open", "acknowledged"]
    created_at: str
    acknowledged_by: str | None
    acknowledged_at: str | None
    acknowledged_note: str | None


class VehicleAlertList(Schema):
    alerts: list[VehicleAlertOut]


class TagSummary(Schema):
    valid: bool
    reason: str = Field(description="'valid', or the first failed check and why")
    serial: str | None
    plate: str | None


class SightingRecorded(Schema):
    sighting_id: int
    camera_id: str
    plate: str = Field(description="normalised: A-Z and 0-9")
    country: str | None
    seen_at: str
    alerts: list[VehicleAlertOut] = Field(description="alerts this sighting raised")
    tag: TagSummary | None = Field(description="verdict on the e-plate tag read with it")


class Candidate(Schema):
    text: str
    confidence: float


class PlateRead(Schema):
    text: str
    confidence: float | None
    box: list[int] | None = Field(description="[x, y, w, h] in the image (null when the "
                                              "camera read the plate itself)")
    candidates: list[Candidate]
    format: str | None = Field(description="COUNTRY/format the reading fits")
    sighting_id: int
    alerts: list[VehicleAlertOut]


class ImageSightings(Schema):
    camera_id: str
    seen_at: str
    plates: list[PlateRead] = Field(description="one sighting per plate recorded; empty when "
                                                "no plate was read (see message)")
    skipped: list[Candidate] = Field(description="readings below min_confidence, not recorded")
    alerts: list[VehicleAlertOut]
    message: str
    tag: TagSummary | None
    tag_note: str | None
    ms: float = Field(description="plate reading time")


class SightingRecord(Schema):
    id: int
    camera_id: str
    plate: str
    country: str | None
    seen_at: str
    confidence: float | None
    observed_make: str | None
    observed_colour: str | None
    tag_serial: str | None
    tag_plate: str | None
    tag_valid: bool | None
    source: Literal["camera", "anpr", "manual"]
    has_image: bool
    recorded_by: str


class SightingList(Schema):
    sightings: list[SightingRecord]


class HotlistEntryOut(Schema):
    id: int
    plate: str
    country: str
    reason: HotlistReason
    note: str | None
    source: str
    active: bool
    created_by: str
    created_at: str
    updated_by: str | None
    updated_at: str | None


class HotlistList(Schema):
    entries: list[HotlistEntryOut]


class HotlistImport(Schema):
    rows: int
    added: int
    updated: int
    source: str


class HotlistRemoval(Schema):
    plate: str
    country: str
    removed: list[HotlistReason]
    note: str

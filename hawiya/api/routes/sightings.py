"""Plate sightings over HTTP: cameras, sightings (JSON, or a camera image read by ANPR),
evidence images, the hotlist, and vehicle alerts (listed, acknowledged, and streamed as
server-sent events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from hawiya.api.deps import get_platform, read_upload, require
from hawiya.api.schemas.common import errors, file_response
from hawiya.api.schemas.sightings import (
    CameraList,
    CameraOut,
    HotlistEntryOut,
    HotlistImport,
    HotlistList,
    HotlistRemoval,
    ImageSightings,
    SightingList,
    SightingRecorded,
    VehicleAlertList,
    VehicleAlertOut,
)
from hawiya.limits import LOCATION_MAX, NAME_MAX, REASON_MAX, ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User
from hawiya.roles import (
    HOTLIST_EDITORS,
    PLATE_CHECKERS,
    SIGHTING_RECORDERS,
    VEHICLE_READERS,
    VEHICLE_REGISTRARS,
)
from hawiya.vehicles import alerts, eplate, hotlist, sightings

router = APIRouter(tags=["sightings"])
PLATE_TEXT_MAX = 32    # a plate with separators, before normalising
COUNTRY_MAX = 6
CAMERA_MAX = 32
TIME_MAX = 40
TAG_MAX = 4 * eplate.MAX_TAG_READ
STREAM_POLL_S = 1.0
STREAM_KEEPALIVE_S = 15.0
STREAM_BATCH = 100
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class CameraIn(BaseModel):
    camera_id: str = Field(max_length=CAMERA_MAX, description="e.g. CAM-A12")
    name: str = Field(max_length=NAME_MAX)
    location: str | None = Field(None, max_length=2 * LOCATION_MAX)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class SightingIn(BaseModel):
    camera_id: str = Field(max_length=CAMERA_MAX)
    plate: str = Field(max_length=PLATE_TEXT_MAX)
    seen_at: dt.datetime = Field(description="with a time zone; at most 5 minutes ahead")
    country: str | None = Field(None, max_length=COUNTRY_MAX)
    confidence: float | None = Field(None, ge=0, le=1)
    observed_make: str | None = Field(None, max_length=sightings.MAKE_MAX)
    observed_colour: str | None = Field(None, max_length=sightings.COLOUR_MAX)
    tag: str | None = Field(None, max_length=TAG_MAX, description="an e-plate read at the "
                                                                   "same place: tag hex or "
                                                                   "QR text (HP1:...)")
    source: str = Field("camera", pattern="^(camera|manual)$")


class HotlistIn(BaseModel):
    plate: str = Field(max_length=PLATE_TEXT_MAX)
    reason: str = Field(max_length=32, description=", ".join(hotlist.REASONS))
    country: str | None = Field(None, max_length=COUNTRY_MAX,
                                description="default: the registry's own")
    note: str | None = Field(None, max_length=REASON_MAX)
    source: str = Field("manual", max_length=hotlist.SOURCE_MAX)


class HotlistOff(BaseModel):
    note: str = Field(min_length=1, max_length=REASON_MAX, description="why (audited)")
    reason: str | None = Field(None, max_length=32, description="only this hotlist reason "
                                                                "(default: all)")


class Acknowledgement(BaseModel):
    note: str | None = Field(None, max_length=REASON_MAX)


EDIT_ERRORS = errors(401, 403, 409, 422, descriptions={409: "Already exists"})
UPLOAD_ERRORS = errors(400, 401, 403, 404, 409, 413, 422, descriptions={
    404: "Unknown camera", 409: "The camera is inactive",
    422: "Invalid input or not an image (JPEG, PNG, WebP)"})


# =========================================================================== cameras

@router.post("/cameras", status_code=201, summary="Register a plate camera at a place",
             response_model=CameraOut, responses=EDIT_ERRORS)
def add_camera(body: CameraIn, user: User = Depends(require(*VEHICLE_REGISTRARS)),
               platform: Platform = Depends(get_platform)) -> dict:
    return sightings.add_camera(platform, **body.model_dump(), actor=user.username)


@router.get("/cameras", summary="Plate cameras", response_model=CameraList,
            responses=errors(401, 403))
def list_cameras(user: User = Depends(require(*VEHICLE_READERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return {"cameras": sightings.list_cameras(platform)}


# =========================================================================== sightings

@router.post("/sightings", status_code=201, summary="Record a plate sighting; its alerts "
                                                    "are raised in the same transaction",
             response_model=SightingRecorded, responses=errors(
                 400, 401, 403, 404, 409, 422, descriptions={
                     400: "Issuer keys are missing (needed to verify a tag)",
                     404: "Unknown camera", 409: "The camera is inactive"}))
def record(body: SightingIn, user: User = Depends(require(*SIGHTING_RECORDERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    return sightings.record_sighting(platform, **body.model_dump(), actor=user.username)


@router.post("/sightings/image", status_code=201,
             summary="Record a camera image: its plates read by ANPR (or the plate the "
                     "camera read), one sighting each",
             response_model=ImageSightings, responses=UPLOAD_ERRORS)
def record_image(image: UploadFile = File(..., description="JPEG, PNG or WebP, at most "
                                                           "8 MiB"),
                 camera_id: str = Form(..., max_length=CAMERA_MAX),
                 seen_at: str = Form(..., max_length=TIME_MAX,
                                     description="ISO 8601 with a time zone"),
                 country: str | None = Form(None, max_length=COUNTRY_MAX,
                                            description="restrict ANPR to this country"),
                 plate: str | None = Form(None, max_length=PLATE_TEXT_MAX,
                                          description="the plate, when the camera read it"),
                 confidence: float | None = Form(None, ge=0, le=1),
                 min_confidence: float = Form(sightings.MIN_READ_CONFIDENCE, ge=0, le=1),
                 observed_make: str | None = Form(None, max_length=sightings.MAKE_MAX),
                 observed_colour: str | None = Form(None, max_length=sightings.COLOUR_MAX),
                 tag: str | None = Form(None, max_length=TAG_MAX),
                 user: User = Depends(require(*SIGHTING_RECORDERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return sightings.record_image(
        platform, camera_id=camera_id, image=read_upload(image), seen_at=seen_at,
        country=country, plate=plate, confidence=confidence, min_confidence=min_confidence,
        observed_make=observed_make, observed_colour=observed_colour, tag=tag,
        actor=user.username)


@router.get("/sightings", summary="Sightings, newest first", response_model=SightingList,
            responses=errors(401, 403, 422))
def list_sightings(plate: str | None = Query(None, max_length=PLATE_TEXT_MAX),
                   camera_id: str | None = Query(None, max_length=CAMERA_MAX),
                   limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                   user: User = Depends(require(*VEHICLE_READERS)),
                   platform: Platform = Depends(get_platform)) -> dict:
    return {"sightings": sightings.list_sightings(platform, plate=plate, camera_id=camera_id,
                                                  limit=limit, offset=offset)}


@router.get("/sightings/{sighting_id}/image", summary="A sighting's evidence image (each "
                                                      "view audited)",
            response_class=Response,
            responses={**file_response("the image as the camera sent it", *IMAGE_TYPES),
                       **errors(401, 403, 404, 422, descriptions={
                           404: "No such sighting, or no image kept"})})
def sighting_image(sighting_id: int = Path(ge=1, le=ROW_ID_MAX),
                   user: User = Depends(require(*VEHICLE_READERS)),
                   platform: Platform = Depends(get_platform)) -> Response:
    data = sightings.sighting_image(platform, sighting_id, actor=user.username)
    kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else \
        "image/webp" if data[8:12] == b"WEBP" else "image/jpeg"
    return Response(data, media_type=kind, headers={"Cache-Control": "no-store"})


# =========================================================================== hotlist

@router.post("/hotlist/import", summary="Import hotlist entries from CSV (all rows or none)",
             response_model=HotlistImport, responses=errors(400, 401, 403, 413, 422))
def import_hotlist(file: UploadFile = File(..., description="CSV: plate,country,reason"
                                                            "[,note]"),
                   source: str = Form(..., max_length=hotlist.SOURCE_MAX),
                   user: User = Depends(require(*VEHICLE_REGISTRARS)),
                   platform: Platform = Depends(get_platform)) -> dict:
    text = read_upload(file, "hotlist CSV").decode("utf-8", "replace")
    return hotlist.import_csv(platform, text, source=source, actor=user.username)


@router.post("/hotlist", status_code=201, summary="Put a plate on the hotlist",
             response_model=HotlistEntryOut, responses=errors(401, 403, 409, 422, descriptions={
                 409: "Already on the hotlist for this reason"}))
def add_hotlist(body: HotlistIn, user: User = Depends(require(*HOTLIST_EDITORS)),
                platform: Platform = Depends(get_platform)) -> dict:
    return hotlist.add(platform, **body.model_dump(), actor=user.username)


@router.post("/hotlist/{country}/{plate}/remove", summary="Take a plate off the hotlist",
             response_model=HotlistRemoval, responses=errors(401, 403, 404, 422))
def remove_hotlist(body: HotlistOff, country: str = Path(max_length=COUNTRY_MAX),
                   plate: str = Path(max_length=PLATE_TEXT_MAX),
                   user: User = Depends(require(*VEHICLE_REGISTRARS)),
                   platform: Platform = Depends(get_platform)) -> dict:
    return hotlist.remove(platform, country, plate, note=body.note, reason=body.reason,
                          actor=user.username)


@router.get("/hotlist", summary="Hotlist entries", response_model=HotlistList,
            responses=errors(401, 403, 422))
def list_hotlist(plate: str | None = Query(None, max_length=PLATE_TEXT_MAX),
                 country: str | None = Query(None, max_length=COUNTRY_MAX),
                 reason: str | None = Query(None, max_length=32),
                 active: bool | None = Query(True, description="false: removed ones"),
                 limit: int = Query(100, ge=1, le=1000),
                 offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                 user: User = Depends(require(*VEHICLE_READERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return {"entries": hotlist.list_entries(platform, plate=plate, country=country,
                                            reason=reason, active=active, limit=limit,
                                            offset=offset)}


# =========================================================================== alerts

@router.get("/vehicle-alerts", summary="Vehicle alerts, newest first (after=ID: the newer "
                                       "ones, oldest first)",
            response_model=VehicleAlertList, responses=errors(401, 403, 422))
def list_alerts(status: str | None = Query(None, pattern="^(open|acknowledged)$"),
                plate: str | None = Query(None, max_length=PLATE_TEXT_MAX),
                kind: str | None = Query(None, max_length=32),
                after: int | None = Query(None, ge=0, le=ROW_ID_MAX),
                limit: int = Query(100, ge=1, le=1000),
                offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                user: User = Depends(require(*VEHICLE_READERS)),
                platform: Platform = Depends(get_platform)) -> dict:
    return {"alerts": alerts.list_alerts(platform, status=status, plate=plate, kind=kind,
                                         after=after, limit=limit, offset=offset)}


@router.get("/vehicle-alerts/stream",
            summary="Open vehicle alerts as server-sent events (event: alert, id: alert id)",
            response_class=StreamingResponse,
            responses={**file_response(
                "text/event-stream: first the open alerts after Last-Event-ID (or ?after), "
                "then each new one as it is raised; `: keep-alive` comments every 15 s; "
                "the stream ends after ?timeout seconds (reconnect with Last-Event-ID)",
                "text/event-stream", text=True), **errors(401, 403, 422)})
def stream_alerts(after: int | None = Query(None, ge=0, le=ROW_ID_MAX),
                  timeout: float = Query(300, ge=0.1, le=3600,
                                         description="seconds before the stream ends"),
                  last_event_id: str | None = Header(None, alias="Last-Event-ID",
                                                     max_length=20),
                  user: User = Depends(require(*VEHICLE_READERS)),
                  platform: Platform = Depends(get_platform)) -> StreamingResponse:
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = min(int(last_event_id.strip()), ROW_ID_MAX)
    return StreamingResponse(_events(platform, start or 0, timeout),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(platform: Platform, last: int, timeout: float):
    """Poll for open alerts newer than ``last`` every second until ``timeout``."""
    deadline = time.monotonic() + timeout
    ping = time.monotonic() + STREAM_KEEPALIVE_S
    yield ": connected\n\n"
    while True:
        batch = await run_in_threadpool(alerts.list_alerts, platform, status=alerts.OPEN,
                                        after=last, limit=STREAM_BATCH)
        for a in batch:
            last = a["id"]
            yield f"id: {a['id']}\nevent: alert\ndata: {json.dumps(a, default=str)}\n\n"
        if len(batch) == STREAM_BATCH:
            continue  # a backlog: drain it before waiting
        now = time.monotonic()
        if now >= deadline:
            return
        if now >= ping:
            yield ": keep-alive\n\n"
            ping = now + STREAM_KEEPALIVE_S
        await asyncio.sleep(min(STREAM_POLL_S, deadline - now))


@router.post("/vehicle-alerts/{alert_id}/acknowledge", summary="Acknowledge an alert "
                                                               "(audited, once)",
             response_model=VehicleAlertOut, responses=errors(401, 403, 404, 409, 422,
                                                              descriptions={
                 404: "No such alert", 409: "Already acknowledged"}))
def acknowledge(body: Acknowledgement, alert_id: int = Path(ge=1, le=ROW_ID_MAX),
                user: User = Depends(require(*PLATE_CHECKERS)),
                platform: Platform = Depends(get_platform)) -> dict:
    return alerts.acknowledge(platform, alert_id, note=body.note, actor=user.username)

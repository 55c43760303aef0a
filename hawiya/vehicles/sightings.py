"""Plate sightings: cameras at known places, readings of a plate by a camera at a time (with
the evidence image, encrypted), and the re-check of stored sightings for cloned plates.

:func:`record_sighting` stores a reading and runs every alert rule
(:mod:`hawiya.vehicles.alerts`) in the same transaction: a crash or a refusal leaves neither a
sighting without its alerts nor an alert without its sighting. Everything is checked before
anything is written (unknown camera, malformed plate, time in the future, image too large or
not an image). A tag read at the same place is verified first (forged or garbage tags are
a verdict, not an error). :func:`record_image` reads the plates with ANPR first.

Sightings are not audited one by one: the audit chain serialises its writers, which would cap
ingestion; the row names who recorded it, and what people do (cameras, image views, alerts
raised and acknowledged, scans, image submissions) is audited.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from hawiya import audit
from hawiya.errors import Conflict, InvalidImage, InvalidInput, NotFound
from hawiya.limits import LOCATION_MAX, NAME_MAX, check_length
from hawiya.registry.models import Camera, Sighting
from hawiya.vehicles import alerts, journeys
from hawiya.vehicles.hotlist import check_country, check_plate_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hawiya.platform import Platform

SOURCES = ("camera", "anpr", "manual")
MAX_IMAGE_BYTES = 8 * 2**20          # an evidence photo, not a video
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_FUTURE = dt.timedelta(minutes=5)  # camera clocks run a little ahead, not more
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MIN_READ_CONFIDENCE = 0.5            # ANPR readings below this are reported, not recorded
MAKE_MAX, COLOUR_MAX = 64, 32
_CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$")


# =========================================================================== checks

def _camera_id(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _CAMERA_ID.match(text):
        raise InvalidInput("camera_id must be 1-32 letters, digits or _.:- (e.g. CAM-A12)")
    return text


def _coordinate(value: object, name: str, limit: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number of degrees") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidInput(f"{name} must be between -{limit:g} and {limit:g} degrees")
    return number


def _words(value: object, name: str, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split()) if isinstance(value, str) else ""
    return check_length(text, name, limit) or None


def parse_time(value: object, name: str = "seen_at", *, now: dt.datetime | None = None
               ) -> dt.datetime:
    """A time with a zone (datetime or ISO 8601 text), as UTC; not before 2000 and not more
    than :data:`MAX_FUTURE` ahead of ``now``."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip()[:40])
        except ValueError:
            raise InvalidInput(f"{name} must be an ISO 8601 time, e.g. "
                               "2026-12-05T14:02:00Z") from None
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{name} is required")
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. 2026-12-05T14:02:00Z)")
    value = value.astimezone(dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    if value > now + MAX_FUTURE:
        raise InvalidInput(f"{name} {value.isoformat()} is in the future (now "
                           f"{now.isoformat(timespec='seconds')}); check the camera's clock")
    if value < EARLIEST:
        raise InvalidInput(f"{name} is before {EARLIEST.date().isoformat()}")
    return value


def check_image(data: object) -> bytes:
    """Evidence image bytes: a JPEG, PNG or WebP of at most :data:`MAX_IMAGE_BYTES`
    (only the header is decoded here)."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise InvalidImage("image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage(f"image larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind, (w, h) = img.format, img.size
    except Exception:  # noqa: BLE001 - any decoder failure means "not an image"
        raise InvalidImage("image is not a readable JPEG, PNG or WebP") from None
    if kind not in IMAGE_FORMATS or w < 1 or h < 1:
        raise InvalidImage(f"image must be {', '.join(IMAGE_FORMATS)} (got {kind})")
    return bytes(data)


def _tag_verdict(platform: Platform, tag: Any) -> dict | None:
    if tag is None:
        return None
    from hawiya.vehicles import eplate, registry

    if isinstance(tag, (bytes, bytearray)) and len(tag) > eplate.MAX_TAG_READ:
        tag = bytes(tag[:eplate.MAX_TAG_READ + 1])  # too long: refused by the format check
    return registry.check_eplate(platform, tag)


def image_context(sighting_id: int) -> str:
    """Associated data binding an encrypted evidence image to its sighting."""
    return f"sighting-image:{sighting_id}"


# =========================================================================== cameras

def _camera_view(c: Camera) -> dict:
    return {"camera_id": c.camera_id, "name": c.name, "location": c.location,
            "latitude": c.latitude, "longitude": c.longitude, "active": c.active,
            "created_at": alerts.aware(c.created_at).isoformat()}


def add_camera(platform: Platform, *, camera_id: str, name: str, latitude: float,
               longitude: float, actor: str, location: str | None = None) -> dict:
    """Register a camera at a place (audited); its id is how sightings name it."""
    fields = {"camera_id": _camera_id(camera_id), "name": _words(name, "name", NAME_MAX),
              "location": _words(location, "location", LOCATION_MAX * 2),
              "latitude": _coordinate(latitude, "latitude", 90),
              "longitude": _coordinate(longitude, "longitude", 180)}
    if not fields["name"]:
        raise InvalidInput("name is required")
    with platform.transaction() as session:
        if session.scalar(select(Camera.id).where(Camera.camera_id == fields["camera_id"])):
            raise Conflict(f"camera {fields['camera_id']} already exists")
        camera = Camera(**fields, active=True, created_by=actor)
        session.add(camera)
        session.flush()
        audit.append(session, actor, "camera.add", camera.camera_id,
                     {k: v for k, v in fields.items() if k != "camera_id"})
        return _camera_view(camera)


def list_cameras(platform: Platform) -> list[dict]:
    with platform.transaction() as session:
        return [_camera_view(c) for c in session.scalars(select(Camera).order_by(Camera.id))]


def _camera(session: Session, camera_id: str) -> Camera:
    camera = session.scalar(select(Camera).where(Camera.camera_id == camera_id))
    if camera is None:
        raise NotFound(f"unknown camera {camera_id!r}: add it first (hawiya camera add)")
    if not camera.active:
        raise Conflict(f"camera {camera_id} is inactive")
    return camera


# =========================================================================== sightings

def _fields(plate: Any, country: Any, seen_at: Any, confidence: Any, make: Any,
            colour: Any, source: str) -> dict:
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or \
                not 0.0 <= float(confidence) <= 1.0:
            raise InvalidInput("confidence must be between 0 and 1")
        confidence = float(confidence)
    if source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}")
    return {"plate": check_plate_text(plate), "plate_country": check_country(country),
            "seen_at": parse_time(seen_at), "confidence": confidence,
            "observed_make": _words(make, "observed_make", MAKE_MAX),
            "observed_colour": _words(colour, "observed_colour", COLOUR_MAX), "source": source}


def _store(platform: Platform, session: Session, camera: Camera, fields: dict,
           image: bytes | None, tag: dict | None, actor: str) -> dict:
    """Insert one checked sighting, run the rules, store the alerts: its result."""
    payload = (tag or {}).get("payload") or {}
    s = Sighting(camera_db_id=camera.id, **fields, recorded_by=actor,
                 tag_serial=payload.get("serial"), tag_plate=payload.get("plate"),
                 tag_valid=None if tag is None else bool(tag["valid"]))
    session.add(s)
    session.flush()
    if image is not None:
        s.image = platform.cipher.encrypt(image, image_context(s.id))
    found = alerts.evaluate(session, s, camera, tag=tag,
                            home_country=platform.settings.vehicles.country)
    rows = [r for r in (alerts.store(session, a, plate=s.plate, country=s.plate_country,
                                     actor=actor) for a in found) if r is not None]
    session.flush()
    return {"sighting_id": s.id, "camera_id": camera.camera_id, "plate": s.plate,
            "country": s.plate_country, "seen_at": s.seen_at.isoformat(),
            "alerts": alerts.views(session, rows)}


def record_sighting(platform: Platform, *, camera_id: str, plate: str, seen_at: Any,
                    actor: str, image: bytes | None = None, confidence: float | None = None,
                    observed_make: str | None = None, observed_colour: str | None = None,
                    tag: Any = None, country: str | None = None,
                    source: str = "camera") -> dict:
    """Store a plate reading and every alert it raises, in one transaction.

    ``tag``: an e-plate tag read at the same place (tag bytes, hex, or QR text), verified
    here; ``image``: the evidence photo (kept encrypted). Returns ``sighting_id``,
    ``alerts`` (each with its reasons and evidence) and the tag's verdict."""
    fields = _fields(plate, country, seen_at, confidence, observed_make, observed_colour,
                     source)
    camera_id = _camera_id(camera_id)
    image = check_image(image) if image is not None else None
    verdict = _tag_verdict(platform, tag)
    with platform.transaction() as session:
        res = _store(platform, session, _camera(session, camera_id), fields, image, verdict,
                     actor)
    return {**res, "tag": _tag_summary(verdict)}


def _tag_summary(verdict: dict | None) -> dict | None:
    if verdict is None:
        return None
    payload = verdict.get("payload") or {}
    return {"valid": verdict["valid"], "reason": verdict["reason"],
            "serial": payload.get("serial"), "plate": payload.get("plate")}


def _read(platform: Platform, image: bytes, country: str | None, plate: Any,
          confidence: Any) -> dict:
    """The plates of an image: the one the camera read itself (``plate``), or ANPR's."""
    if plate is not None:
        return {"plates": [{"text": check_plate_text(plate), "confidence": confidence,
                            "box": None, "candidates": [], "format": None}], "ms": 0.0}
    from hawiya.vehicles.anpr import read_plates

    return read_plates(image, country=country, top=5,
                       formats_file=platform.settings.vehicles.plate_formats_file)


def record_image(platform: Platform, *, camera_id: str, image: bytes, seen_at: Any,
                 actor: str, country: str | None = None,
                 min_confidence: float = MIN_READ_CONFIDENCE, observed_make: str | None = None,
                 observed_colour: str | None = None, tag: Any = None, plate: str | None = None,
                 confidence: float | None = None) -> dict:
    """Record a camera image: one sighting per plate read with at least ``min_confidence``
    (by ANPR, or the ``plate`` the camera read itself), all in one transaction (audited).
    No plate read is a result with ``plates: []`` and a message, not an error. A tag is
    attributed only when exactly one plate is recorded (with several, whose is it?)."""
    camera_id, seen = _camera_id(camera_id), parse_time(seen_at)
    country = check_country(country)
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise InvalidInput("min_confidence must be between 0 and 1")
    image = check_image(image)
    with platform.transaction() as session:
        _camera(session, camera_id)  # an unknown camera costs no plate reading
    read = _read(platform, image, country, plate, confidence)
    kept = [p for p in read["plates"]
            if plate is not None or p["confidence"] >= min_confidence]
    source = "camera" if plate is not None else "anpr"
    fields = [_fields(p["text"], country, seen, p["confidence"], observed_make,
                      observed_colour, source) for p in kept]
    verdict = _tag_verdict(platform, tag) if len(kept) == 1 else None
    with platform.transaction() as session:
        camera = _camera(session, camera_id)
        results = [_store(platform, session, camera, f, image, verdict, actor) for f in fields]
        audit.append(session, actor, "sighting.image", camera_id,
                     {"seen_at": seen.isoformat(), "plates": [p["text"] for p in kept],
                      "source": source, "below_threshold": len(read["plates"]) - len(kept),
                      "sightings": [r["sighting_id"] for r in results]})
    plates = [{**p, "sighting_id": r["sighting_id"], "alerts": r["alerts"]}
              for p, r in zip(kept, results, strict=True)]
    skipped = [{"text": p["text"], "confidence": p["confidence"]} for p in read["plates"]
               if p not in kept]
    message = (f"{len(plates)} plate(s) recorded" if plates else
               "no plate read in the image: nothing recorded" if not skipped else
               f"no plate read with confidence >= {min_confidence}: nothing recorded")
    tag_note = None if tag is None or len(kept) == 1 else \
        "tag not attributed: it needs exactly one plate in the image"
    return {"camera_id": camera_id, "seen_at": seen.isoformat(), "plates": plates,
            "skipped": skipped, "alerts": [a for p in plates for a in p["alerts"]],
            "message": message, "tag": _tag_summary(verdict), "tag_note": tag_note,
            "ms": read["ms"]}


def _sighting_view(s: Sighting, camera_id: str, has_image: bool) -> dict:
    return {"id": s.id, "camera_id": camera_id, "plate": s.plate, "country": s.plate_country,
            "seen_at": alerts.aware(s.seen_at).isoformat(), "confidence": s.confidence,
            "observed_make": s.observed_make, "observed_colour": s.observed_colour,
            "tag_serial": s.tag_serial, "tag_plate": s.tag_plate, "tag_valid": s.tag_valid,
            "source": s.source, "has_image": bool(has_image), "recorded_by": s.recorded_by}


def list_sightings(platform: Platform, *, plate: str | None = None,
                   camera_id: str | None = None, limit: int = 100, offset: int = 0
                   ) -> list[dict]:
    """Sightings newest first, optionally of one plate or one camera."""
    q = select(Sighting, Camera.camera_id, Sighting.image.is_not(None).label("has_image")) \
        .join(Camera, Camera.id == Sighting.camera_db_id)
    if plate:
        q = q.where(Sighting.plate == check_plate_text(plate))
    if camera_id:
        q = q.where(Camera.camera_id == _camera_id(camera_id))
    q = q.order_by(Sighting.seen_at.desc(), Sighting.id.desc()) \
        .limit(max(1, min(int(limit), 1000))).offset(max(0, int(offset)))
    with platform.transaction() as session:
        return [_sighting_view(s, cam, has) for s, cam, has in session.execute(q)]


def sighting_image(platform: Platform, sighting_id: int, *, actor: str) -> bytes:
    """The evidence image of a sighting, decrypted (each view audited)."""
    with platform.transaction() as session:
        s = session.get(Sighting, sighting_id)
        if s is None:
            raise NotFound(f"no sighting {sighting_id}")
        if s.image is None:
            raise NotFound(f"sighting {sighting_id} has no image")
        data = platform.cipher.decrypt(s.image, image_context(s.id))
        audit.append(session, actor, "sighting.image_view", f"sighting:{s.id}",
                     {"plate": s.plate})
        return data


# =========================================================================== re-check

def scan(platform: Platform, *, actor: str, since: Any = None, until: Any = None,
         max_kmh: float = journeys.MAX_SPEED_KMH, batch: int = 100_000,
         progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-check every sighting in [since, until] for impossible journeys (vectorised) and
    raise the alerts not raised yet (one per pair, audited once for the scan)."""
    start = time.perf_counter()
    if not 1 <= float(max_kmh) <= 2000:
        raise InvalidInput("max_kmh must be 1-2000")
    lo = parse_time(since, "since") if since is not None else None
    hi = parse_time(until, "until") if until is not None else None
    cols = select(Sighting.id, Sighting.plate, Sighting.seen_at, Camera.latitude,
                  Camera.longitude, Camera.camera_id, Sighting.plate_country) \
        .join(Camera, Camera.id == Sighting.camera_db_id)
    if lo is not None:
        cols = cols.where(Sighting.seen_at >= lo)
    if hi is not None:
        cols = cols.where(Sighting.seen_at <= hi)
    with platform.transaction() as session:
        rows = _load(session, cols, batch, progress)
        found = journeys.impossible_journeys(rows["plate"], rows["lat"], rows["lon"],
                                             rows["t"], max_kmh)
        raised = []
        for i, j, km in zip(found["first"], found["second"], found["km"], strict=True):
            a, b = int(rows["id"][i]), int(rows["id"][j])
            at_a = dt.datetime.fromtimestamp(rows["t"][i], dt.UTC)
            at_b = dt.datetime.fromtimestamp(rows["t"][j], dt.UTC)
            reason = alerts.journey_reason(rows["cam"][i], at_a, rows["cam"][j], at_b,
                                           float(km), max_kmh)
            row = alerts.store(session, {"kind": "impossible_journey", "reasons": [reason],
                                         "sighting_ids": [a, b],
                                         "dedup_key": f"journey:{a}:{b}"},
                               plate=str(rows["plate"][i]), country=rows["country"][i],
                               actor=actor)
            if row is not None:
                raised.append(row.id)
        result = {"sightings": len(rows["id"]), "pairs": len(found["first"]),
                  "new_alerts": len(raised), "alert_ids": raised[:1000],
                  "since": lo.isoformat() if lo else None,
                  "until": hi.isoformat() if hi else None, "max_kmh": float(max_kmh)}
        audit.append(session, actor, "sighting.scan", None,
                     {k: v for k, v in result.items() if k != "alert_ids"})
    return {**result, "seconds": round(time.perf_counter() - start, 3)}


def _load(session: Session, query, batch: int, progress) -> dict[str, np.ndarray]:
    """The scanned columns as arrays, read ``batch`` rows at a time."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    parts: dict[str, list] = {k: [] for k in ("id", "plate", "t", "lat", "lon", "cam",
                                               "country")}
    done = 0
    for chunk in session.execute(query.order_by(Sighting.id).execution_options(
            yield_per=batch)).partitions():
        ids, plates, seen, lat, lon, cams, countries = zip(*chunk, strict=True)
        parts["id"].append(np.asarray(ids, dtype=np.int64))
        parts["plate"].append(np.asarray(plates, dtype=object))
        parts["t"].append(np.fromiter((alerts.aware(t).timestamp() for t in seen),
                                      dtype=float, count=len(seen)))
        parts["lat"].append(np.asarray(lat, dtype=float))
        parts["lon"].append(np.asarray(lon, dtype=float))
        parts["cam"].append(np.asarray(cams, dtype=object))
        parts["country"].append(np.asarray(countries, dtype=object))
        done += len(ids)
        if progress is not None:
            progress(done, total)
    if progress is not None and not done:
        progress(0, 0)
    return {k: (np.concatenate(v) if v else np.empty(0, dtype=object if k in (
        "plate", "cam", "country") else float)) for k, v in parts.items()}

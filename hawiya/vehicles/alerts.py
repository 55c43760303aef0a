"""Vehicle alerts: the rules run on every sighting, and the alerts officers list, stream
and acknowledge.

Each rule looks at one new sighting (inside the transaction that stores it, so a sighting
and its alerts commit together) and returns an alert or nothing; an alert is a ``kind``, the
plate, ``reasons`` (sentences with the numbers an officer needs) and the ids of the
sightings that are its evidence (their images are fetched by sighting id). Kinds:

* ``hotlist``: an active hotlist entry for the plate, or its e-plate revoked or stolen;
* ``no_registration``: no registered vehicle carries the plate (home-country or unknown
  plates: the registry does not register foreign ones);
* ``deregistered``: the plate's last vehicle was deregistered;
* ``make_colour_mismatch``: the camera saw another make or colour than the registry holds;
* ``tag_invalid``: an e-plate tag read at the same place fails verification (forged,
  garbage, revoked...), with the verdict's reason;
* ``tag_mismatch``: a genuine tag names another plate or vehicle;
* ``impossible_journey``: the previous or next sighting of the plate (in time, so a late
  arrival is checked too) is too far away for the time between them.

The last three and ``make_colour_mismatch`` are the signs of a cloned plate
(:data:`CLONE_KINDS`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from hawiya import audit
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.limits import REASON_MAX, check_length
from hawiya.registry.models import (
    Camera,
    EPlate,
    PlateAssignment,
    Sighting,
    Vehicle,
    VehicleAlert,
    utcnow,
)
from hawiya.vehicles import hotlist, journeys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hawiya.platform import Platform

OPEN, ACKNOWLEDGED = "open", "acknowledged"
STATUSES = (OPEN, ACKNOWLEDGED)
KINDS = ("hotlist", "no_registration", "deregistered", "make_colour_mismatch", "tag_invalid",
         "tag_mismatch", "impossible_journey")
CLONE_KINDS = ("make_colour_mismatch", "tag_mismatch", "impossible_journey")
# Colours a camera (or a person) cannot tell apart, folded to one name.
COLOUR_SYNONYMS = {"gray": "grey", "silver": "grey", "anthracite": "grey",
                   "beige": "cream", "maroon": "red", "burgundy": "red", "navy": "blue"}


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives them back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _at(value: dt.datetime) -> str:
    return f"{aware(value).astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _fold_make(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _fold_colour(text: str) -> str:
    word = " ".join(text.casefold().split())
    return COLOUR_SYNONYMS.get(word, word)


def makes_agree(seen: str, registered: str) -> bool:
    """Same make, ignoring case, spaces and punctuation; a camera's short name ("Mercedes")
    agrees with the registry's long one ("Mercedes-Benz")."""
    a, b = _fold_make(seen), _fold_make(registered)
    return bool(a) and bool(b) and (a == b or a.startswith(b) or b.startswith(a))


def colours_agree(seen: str, registered: str) -> bool:
    return _fold_colour(seen) == _fold_colour(registered)


# =========================================================================== rules

def _alert(kind: str, reasons: list[str], ids: list[int], key: str | None = None) -> dict:
    return {"kind": kind, "reasons": reasons, "sighting_ids": ids, "dedup_key": key}


def hotlist_rule(session: Session, s: Sighting, v: Vehicle | None) -> dict | None:
    """Active hotlist entries, and the newest e-plate of the vehicle carrying the plate
    when it is revoked or reported stolen (the hotlist's "plate revoked")."""
    reasons = [f"{s.plate} ({e.country}) is on the hotlist: {e.reason.replace('_', ' ')}"
               + (f" ({e.note})" if e.note else "") + f" [source: {e.source}]"
               for e in hotlist.matches(session, s.plate, s.plate_country)]
    newest = None if v is None else session.scalars(
        select(EPlate).where(EPlate.vehicle_id == v.id).order_by(EPlate.id.desc()).limit(1)
    ).first()
    if newest is not None and newest.plate == s.plate and newest.status in ("revoked",
                                                                            "stolen"):
        reasons.append(f"e-plate {newest.serial} of {newest.plate} ({newest.country}) is "
                       f"{newest.status} since {aware(newest.status_changed_at):%Y-%m-%d}"
                       + (f" ({newest.status_reason})" if newest.status_reason else ""))
    return _alert("hotlist", reasons, [s.id]) if reasons else None


def holder(session: Session, s: Sighting) -> Vehicle | None:
    """The registered vehicle currently carrying the sighted plate."""
    q = select(Vehicle).where(Vehicle.plate == s.plate)
    if s.plate_country is not None:
        q = q.where(Vehicle.plate_country == s.plate_country)
    return session.scalars(q.order_by(Vehicle.id).limit(1)).first()


def registration_rule(session: Session, s: Sighting, vehicle: Vehicle | None,
                      home: str) -> dict | None:
    if vehicle is not None or s.plate_country not in (None, home):
        return None
    q = select(PlateAssignment).where(PlateAssignment.plate == s.plate)
    if s.plate_country is not None:
        q = q.where(PlateAssignment.country == s.plate_country)
    last = session.scalars(q.order_by(PlateAssignment.id.desc()).limit(1)).first()
    if last is None:
        return _alert("no_registration", [f"no registered vehicle carries plate {s.plate}"],
                      [s.id])
    v = session.get(Vehicle, last.vehicle_id)
    if v.status == "deregistered":
        when = f"{aware(v.deregistered_at):%Y-%m-%d}" if v.deregistered_at else "?"
        return _alert("deregistered", [
            f"plate {s.plate} belonged to {v.vin} ({v.colour} {v.make} {v.model}), "
            f"deregistered on {when}: {v.deregistration_reason}"], [s.id])
    ended = f"{aware(last.ended_at):%Y-%m-%d}" if last.ended_at else "?"
    return _alert("no_registration", [
        f"plate {s.plate} is on no vehicle since {ended}: {v.vin} ({v.colour} {v.make}) "
        f"now carries {v.plate or 'no plate'}"], [s.id])


def mismatch_rule(s: Sighting, camera: Camera, v: Vehicle | None) -> dict | None:
    if v is None:
        return None
    reasons = []
    registered = f"{s.plate} is registered to a {v.colour} {v.make} {v.model} ({v.vin})"
    if s.observed_make and not makes_agree(s.observed_make, v.make):
        reasons.append(f"{camera.camera_id} saw a {s.observed_make}; {registered}")
    if s.observed_colour and not colours_agree(s.observed_colour, v.colour):
        reasons.append(f"{camera.camera_id} saw a {s.observed_colour} vehicle; {registered}")
    return _alert("make_colour_mismatch", reasons, [s.id]) if reasons else None


def tag_rules(s: Sighting, camera: Camera, tag: dict | None, v: Vehicle | None) -> list[dict]:
    """``tag``: :func:`hawiya.vehicles.registry.check_eplate`'s verdict on the tag read."""
    if tag is None:
        return []
    payload, where = tag.get("payload"), f"the e-plate tag read at {camera.camera_id}"
    if payload is None:
        return [_alert("tag_invalid", [f"{where} is not genuine: {tag['reason']}"], [s.id])]
    out, other = [], tag.get("vehicle") or {}
    if payload["plate"] != s.plate or (s.plate_country not in (None, payload["country"])):
        reasons = [f"{where} is {payload['serial']} for plate {payload['plate']} "
                   f"({payload['country']}); the camera read {s.plate}"]
        if other and v is not None and other.get("vin") != v.vin:
            reasons.append(f"the tag's vehicle is a {other['colour']} {other['make']} "
                           f"({other['vin']}); {s.plate} is registered to a {v.colour} "
                           f"{v.make} ({v.vin})")
        out.append(_alert("tag_mismatch", reasons, [s.id]))
    if not tag["valid"]:
        out.append(_alert("tag_invalid", [f"{where} ({payload['serial']}) is not valid: "
                                          f"{tag['reason']}"], [s.id]))
    return out


def journey_rule(session: Session, s: Sighting, camera: Camera,
                 max_kmh: float = journeys.MAX_SPEED_KMH) -> list[dict]:
    """The plate's previous and next sightings in time, each against this one."""
    same = Sighting.plate == s.plate
    earlier = or_(Sighting.seen_at < s.seen_at, and_(Sighting.seen_at == s.seen_at,
                                                     Sighting.id < s.id))
    later = or_(Sighting.seen_at > s.seen_at, and_(Sighting.seen_at == s.seen_at,
                                                   Sighting.id > s.id))
    base = select(Sighting.id, Sighting.seen_at, Camera.camera_id, Camera.latitude,
                  Camera.longitude).join(Camera, Camera.id == Sighting.camera_db_id)
    out = []
    for cond, order in ((earlier, (Sighting.seen_at.desc(), Sighting.id.desc())),
                        (later, (Sighting.seen_at, Sighting.id))):
        row = session.execute(base.where(same, cond).order_by(*order).limit(1)).first()
        if row is None:
            continue
        km = float(journeys.haversine_km(row.latitude, row.longitude, camera.latitude,
                                         camera.longitude))
        seconds = (aware(s.seen_at) - aware(row.seen_at)).total_seconds()
        if not journeys.is_impossible(km, seconds, max_kmh):
            continue
        first, second = sorted([(aware(row.seen_at), row.id, row.camera_id),
                                (aware(s.seen_at), s.id, camera.camera_id)])
        out.append(_alert("impossible_journey",
                          [journey_reason(first[2], first[0], second[2], second[0], km,
                                          max_kmh)],
                          [first[1], second[1]], f"journey:{first[1]}:{second[1]}"))
    return out


def journey_reason(cam_a: str, at_a: dt.datetime, cam_b: str, at_b: dt.datetime, km: float,
                   max_kmh: float) -> str:
    seconds = (at_b - at_a).total_seconds()
    speed = journeys.speed_kmh(km, seconds)
    shown = "at the same time" if speed == float("inf") else f"{speed:.0f} km/h"
    return (f"seen at {cam_a} {_at(at_a)} and {cam_b} {_at(at_b)}, {km:.1f} km apart in "
            f"{abs(seconds):.0f} s: {shown} (limit {max_kmh:.0f} km/h)")


def evaluate(session: Session, s: Sighting, camera: Camera, *, tag: dict | None,
             home_country: str) -> list[dict]:
    """Every rule on one stored (flushed) sighting; the alerts it raises, not yet stored."""
    v = holder(session, s)
    found = [hotlist_rule(session, s, v), registration_rule(session, s, v, home_country),
             mismatch_rule(s, camera, v), *tag_rules(s, camera, tag, v),
             *journey_rule(session, s, camera)]
    return [a for a in found if a is not None]


# =========================================================================== storage

def store(session: Session, found: dict, *, plate: str, country: str | None,
          actor: str) -> VehicleAlert | None:
    """Store one alert (audited); None when its dedup key already has one."""
    key = found.get("dedup_key")
    if key is not None and session.scalar(
            select(VehicleAlert.id).where(VehicleAlert.dedup_key == key)) is not None:
        return None
    row = VehicleAlert(kind=found["kind"], plate=plate, country=country,
                       reasons=found["reasons"], sighting_ids=found["sighting_ids"],
                       dedup_key=key, status=OPEN)
    try:
        with session.begin_nested():  # a concurrent insert of the same key: keep the sighting
            session.add(row)
    except IntegrityError:
        return None
    audit.append(session, actor, "vehicle_alert.raise", f"alert:{row.id}",
                 {"kind": row.kind, "plate": plate, "sightings": row.sighting_ids})
    return row


def views(session: Session, rows: list[VehicleAlert]) -> list[dict]:
    """Alerts with their evidence (camera, time, whether an image is kept) in one query."""
    ids = sorted({i for r in rows for i in r.sighting_ids})
    evidence = {}
    for chunk in range(0, len(ids), 500):
        for row in session.execute(
                select(Sighting.id, Sighting.seen_at, Camera.camera_id,
                       Sighting.image.is_not(None).label("has_image"))
                .join(Camera, Camera.id == Sighting.camera_db_id)
                .where(Sighting.id.in_(ids[chunk:chunk + 500]))):
            evidence[row.id] = {"sighting_id": row.id, "camera_id": row.camera_id,
                                "seen_at": aware(row.seen_at).isoformat(),
                                "image": f"/sightings/{row.id}/image" if row.has_image
                                else None}
    return [{"id": r.id, "kind": r.kind, "plate": r.plate, "country": r.country,
             "reasons": list(r.reasons), "sighting_ids": list(r.sighting_ids),
             "evidence": [evidence[i] for i in r.sighting_ids if i in evidence],
             "status": r.status, "created_at": aware(r.created_at).isoformat(),
             "acknowledged_by": r.acknowledged_by,
             "acknowledged_at": aware(r.acknowledged_at).isoformat()
             if r.acknowledged_at else None, "acknowledged_note": r.acknowledged_note}
            for r in rows]


def _status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be {' or '.join(STATUSES)}")
    return status


def list_alerts(platform: Platform, *, status: str | None = None, plate: str | None = None,
                kind: str | None = None, after: int | None = None, limit: int = 100,
                offset: int = 0) -> list[dict]:
    """Alerts newest first; with ``after``, those with a larger id, oldest first (what a
    client that has seen ``after`` is missing)."""
    q = select(VehicleAlert)
    if _status(status) is not None:
        q = q.where(VehicleAlert.status == status)
    if plate:
        q = q.where(VehicleAlert.plate == hotlist.check_plate_text(plate))
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        q = q.where(VehicleAlert.kind == kind)
    if after is not None:
        q = q.where(VehicleAlert.id > after).order_by(VehicleAlert.id)
    else:
        q = q.order_by(VehicleAlert.id.desc())
    q = q.limit(max(1, min(int(limit), 1000))).offset(max(0, int(offset)))
    with platform.transaction() as session:
        return views(session, list(session.scalars(q)))


def acknowledge(platform: Platform, alert_id: int, *, actor: str,
                note: str | None = None) -> dict:
    """An officer has seen the alert and acted (audited, once)."""
    check_length(note, "note", REASON_MAX)
    with platform.transaction() as session:
        row = session.get(VehicleAlert, alert_id)
        if row is None:
            raise NotFound(f"no vehicle alert {alert_id}")
        if row.status != OPEN:
            raise Conflict(f"alert {alert_id} was already acknowledged by "
                           f"{row.acknowledged_by}")
        row.status, row.acknowledged_by, row.acknowledged_at = ACKNOWLEDGED, actor, utcnow()
        row.acknowledged_note = (note or "").strip() or None
        session.flush()
        audit.append(session, actor, "vehicle_alert.acknowledge", f"alert:{alert_id}",
                     {"kind": row.kind, "plate": row.plate, "note": row.acknowledged_note})
        return views(session, [row])[0]

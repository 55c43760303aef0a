"""The vehicle registry: register a vehicle to its owner, transfer ownership, deregister,
assign plates (with their history), and issue, revoke and check signed e-plates.

Every change is one transaction with its audit records: a refused request (malformed or
mistyped VIN, duplicate VIN, malformed or taken plate, unknown owner) writes nothing. The
owner is a person of the identity registry (asked through :mod:`hawiya.identity.persons`)
or an organisation by name. A plate is checked against its country's formats
(:mod:`hawiya.vehicles.plate_formats`, the registry's country by default); one plate is
on at most one vehicle at a time, which the database enforces. E-plates (the credential is
:mod:`hawiya.vehicles.eplate`) are superseded when their vehicle gets a new one or a new
plate and revoked when it is deregistered; every status but ``valid`` puts the serial on
the signed revocation list that cards use.
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hawiya import audit
from hawiya.credentials import keys as issuer_keys
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.identity.persons import find_person
from hawiya.limits import REASON_MAX, check_length
from hawiya.registry.models import ACTIVE, EPlate, Person, PlateAssignment, Vehicle, utcnow
from hawiya.vehicles import eplate, plate_formats, vin

if TYPE_CHECKING:
    from hawiya.platform import Platform

REGISTERED, DEREGISTERED = "registered", "deregistered"
# UNECE vehicle categories (R.E.3): L mopeds and motorcycles, M passenger vehicles, N goods
# vehicles, O trailers, T agricultural tractors.
VEHICLE_CLASSES = ("L1", "L2", "L3", "L4", "L5", "L6", "L7", "M1", "M2", "M3", "N1", "N2",
                   "N3", "O1", "O2", "O3", "O4", "T")
EPLATE_STATUSES = ("valid", "revoked", "stolen")   # what an officer may set
SUPERSEDED = "superseded"                          # set only by a newer e-plate or plate
MAKE_MAX, COLOUR_MAX, ORGANISATION_MAX = 64, 32, 200
FIRST_YEAR = 1886
_SERIAL_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ23456789"  # as card numbers: nothing OCR confuses


# =========================================================================== helpers

def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required")
    value = " ".join(value.split())
    check_length(value, field, limit)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise InvalidInput(f"{field} holds control characters")
    return value


def _class(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in VEHICLE_CLASSES:
        raise InvalidInput(f"vehicle class {str(value)[:16]!r} is not a UNECE category: "
                           f"{', '.join(VEHICLE_CLASSES)}")
    return code


def _year(year: Any, info: vin.VinInfo, today: dt.date) -> int | None:
    if year is None:
        return info.model_year
    if not isinstance(year, int) or isinstance(year, bool) or \
            not FIRST_YEAR <= year <= today.year + 1:
        raise InvalidInput(f"year must be {FIRST_YEAR}-{today.year + 1}")
    return year


def _country(platform: Platform, country: str | None) -> str:
    code = (country or platform.settings.vehicles.country).strip().upper()
    plate_formats.formats(code, platform.settings.vehicles.plate_formats_file)  # known?
    return code


def _plate(platform: Platform, text: Any, country: str | None) -> tuple[str, str]:
    """(normalised plate, country) after the country's formats; InvalidInput otherwise."""
    if not isinstance(text, str):
        raise InvalidInput("plate is required")
    code = _country(platform, country)
    extra = platform.settings.vehicles.plate_formats_file
    return plate_formats.check_plate(text, code, extra), code


def _parse_vin(text: Any) -> vin.VinInfo:
    return vin.parse(text if isinstance(text, str) else "",
                     latest_year=dt.date.today().year + 1)


def _vehicle(session, platform: Platform, key: str, country: str | None = None) -> Vehicle:
    """A vehicle by VIN (17 characters) or by its current plate."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("a VIN or a plate is needed")
    if vin.is_vin_shaped(key):
        found = session.scalar(select(Vehicle).where(Vehicle.vin == vin.normalise(key)))
        if found is None:
            raise NotFound(f"no vehicle with VIN {vin.normalise(key)}")
        return found
    plate = plate_formats.normalise(key)[:plate_formats.PLATE_MAX + 1]
    if not plate or len(plate) > plate_formats.PLATE_MAX:
        raise InvalidInput(f"{key[:40]!r} is neither a VIN (17 characters) nor a plate "
                           f"(1-{plate_formats.PLATE_MAX})")
    code = _country(platform, country)
    found = session.scalar(select(Vehicle).where(Vehicle.plate == plate,
                                                 Vehicle.plate_country == code))
    if found is None:
        raise NotFound(f"no vehicle carries plate {plate} ({code})")
    return found


def _registered(v: Vehicle) -> None:
    if v.status != REGISTERED:
        raise Conflict(f"vehicle {v.vin} is {v.status}")


def _owner(session, person: str | None, organisation: str | None) -> tuple[Person | None,
                                                                           str | None]:
    if (person is None) == (organisation is None):
        raise InvalidInput("the owner is either a person (owner_person) or an organisation "
                           "(owner_organisation), exactly one")
    if organisation is not None:
        return None, _text(organisation, "owner organisation", ORGANISATION_MAX)
    holder = find_person(session, person)
    if holder.status != ACTIVE:
        hint = f" into {holder.merged_into}" if holder.merged_into else ""
        raise Conflict(f"{holder.person_id} is {holder.status}{hint}; only an active person "
                       "may own a vehicle")
    return holder, None


def _owner_label(v: Vehicle) -> str:
    return v.owner_person.person_id if v.owner_person is not None else \
        f"organisation:{v.owner_organisation}"


def _flush(session, what: str) -> None:
    """Flush, turning a unique-constraint race into a Conflict (the transaction rolls back)."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{what}: changed by someone else at the same time; try again") from None


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# =========================================================================== views

def _record(v: Vehicle) -> dict:
    owner = ({"kind": "person", "person_id": v.owner_person.person_id,
              "name": v.owner_person.name} if v.owner_person is not None
             else {"kind": "organisation", "person_id": None, "name": v.owner_organisation})
    return {"vin": v.vin, "wmi": v.wmi, "manufacturer": v.manufacturer,
            "region": vin.region(v.vin), "make": v.make, "model": v.model,
            "colour": v.colour, "year": v.year, "vehicle_class": v.vehicle_class,
            "owner": owner, "status": v.status, "plate": v.plate,
            "plate_country": v.plate_country, "registered_at": _when(v.registered_at),
            "deregistered_at": _when(v.deregistered_at),
            "deregistration_reason": v.deregistration_reason}


def _eplate_view(e: EPlate) -> dict:
    return {"serial": e.serial, "plate": e.plate, "country": e.country, "status": e.status,
            "status_reason": e.status_reason, "issued_on": e.issued_on.isoformat(),
            "expires_on": e.expires_on.isoformat(), "key_id": e.key_id}


def _detail(session, v: Vehicle) -> dict:
    plates = session.scalars(select(PlateAssignment).where(PlateAssignment.vehicle_id == v.id)
                             .order_by(PlateAssignment.id)).all()
    plates_out = [{"plate": a.plate, "country": a.country, "assigned_at": _when(a.assigned_at),
                   "ended_at": _when(a.ended_at), "end_reason": a.end_reason,
                   "current": a.ended_at is None} for a in plates]
    eplates = session.scalars(select(EPlate).where(EPlate.vehicle_id == v.id)
                              .order_by(EPlate.id)).all()
    return {**_record(v), "plates": plates_out, "eplates": [_eplate_view(e) for e in eplates]}


# =========================================================================== registry

def register(platform: Platform, *, vin_text: str, make: str, model: str, colour: str,
             vehicle_class: str, actor: str, year: int | None = None,
             owner_person: str | None = None, owner_organisation: str | None = None,
             plate: str | None = None, plate_country: str | None = None) -> dict:
    """Register a vehicle (optionally with its first plate); the full record."""
    info = _parse_vin(vin_text)
    fields = {"make": _text(make, "make", MAKE_MAX), "model": _text(model, "model", MAKE_MAX),
              "colour": _text(colour, "colour", COLOUR_MAX),
              "vehicle_class": _class(vehicle_class),
              "year": _year(year, info, dt.date.today())}
    plate_pair = _plate(platform, plate, plate_country) if plate is not None else None
    with platform.transaction() as session:
        existing = session.scalar(select(Vehicle).where(Vehicle.vin == info.vin))
        if existing is not None:
            raise Conflict(f"VIN {info.vin} is already registered"
                           + (" (deregistered; its record is kept)"
                              if existing.status == DEREGISTERED else ""))
        person, organisation = _owner(session, owner_person, owner_organisation)
        v = Vehicle(vin=info.vin, wmi=info.wmi, manufacturer=info.manufacturer,
                    owner_person_db_id=person.id if person else None, owner_person=person,
                    owner_organisation=organisation, status=REGISTERED, registered_by=actor,
                    **fields)
        session.add(v)
        _flush(session, f"VIN {info.vin}")
        audit.append(session, actor, "vehicle.register", v.vin,
                     {"make": v.make, "model": v.model, "class": v.vehicle_class,
                      "owner": _owner_label(v)})
        if plate_pair is not None:
            _assign(session, v, *plate_pair, actor=actor)
        return _detail(session, v)


def find(platform: Platform, key: str, *, country: str | None = None) -> dict:
    """A vehicle's record, plate history and e-plates, by VIN or current plate."""
    with platform.transaction() as session:
        return _detail(session, _vehicle(session, platform, key, country))


def list_vehicles(platform: Platform, *, owner: str | None = None, status: str | None = None,
                  limit: int = 100, offset: int = 0) -> list[dict]:
    """Vehicles in registration order, optionally one owner's (person id) or one status."""
    if status is not None and status not in (REGISTERED, DEREGISTERED):
        raise InvalidInput(f"status must be {REGISTERED} or {DEREGISTERED}")
    with platform.transaction() as session:
        q = select(Vehicle).order_by(Vehicle.id).limit(max(1, min(int(limit), 1000))) \
            .offset(max(0, int(offset)))
        if owner is not None:
            q = q.where(Vehicle.owner_person_db_id == find_person(session, owner).id)
        if status is not None:
            q = q.where(Vehicle.status == status)
        return [_record(v) for v in session.scalars(q)]


def transfer(platform: Platform, vin_text: str, *, actor: str, to_person: str | None = None,
             to_organisation: str | None = None, reason: str | None = None) -> dict:
    """Transfer ownership to a person or an organisation (audited with both owners). The
    e-plate does not name the owner, so it stays valid."""
    check_length(reason, "reason", REASON_MAX)
    with platform.transaction() as session:
        v = _vehicle(session, platform, vin_text)
        _registered(v)
        person, organisation = _owner(session, to_person, to_organisation)
        previous = _owner_label(v)
        if (person is not None and v.owner_person_db_id == person.id) or \
                (organisation is not None and v.owner_organisation == organisation):
            raise Conflict(f"vehicle {v.vin} is already owned by {previous}")
        v.owner_person_db_id, v.owner_person = (person.id if person else None), person
        v.owner_organisation = organisation
        _flush(session, f"vehicle {v.vin}")
        audit.append(session, actor, "vehicle.transfer", v.vin,
                     {"from": previous, "to": _owner_label(v), "reason": reason})
        return {"vin": v.vin, "previous_owner": previous, "owner": _record(v)["owner"]}


def deregister(platform: Platform, vin_text: str, *, actor: str, reason: str) -> dict:
    """Take a vehicle off the road (scrapped, exported...): its plate is released and its
    e-plates revoked; the record and its history stay."""
    reason = _text(reason, "reason", REASON_MAX)
    with platform.transaction() as session:
        v = _vehicle(session, platform, vin_text)
        _registered(v)
        plate, country = v.plate, v.plate_country
        _end_assignment(session, v, "deregistered")
        revoked = _retire_eplates(session, v, "revoked", "vehicle deregistered", actor)
        v.status, v.deregistered_at, v.deregistration_reason = DEREGISTERED, utcnow(), reason
        _flush(session, f"vehicle {v.vin}")
        audit.append(session, actor, "vehicle.deregister", v.vin,
                     {"reason": reason, "plate": plate, "country": country,
                      "eplates_revoked": revoked})
        return {"vin": v.vin, "status": v.status, "plate_released": plate,
                "plate_country": country, "eplates_revoked": revoked}


def assign_plate(platform: Platform, vin_text: str, plate: str, *, actor: str,
                 country: str | None = None) -> dict:
    """Put a plate on a vehicle (its previous plate ends; its e-plates are superseded)."""
    plate, code = _plate(platform, plate, country)
    with platform.transaction() as session:
        v = _vehicle(session, platform, vin_text)
        _registered(v)
        previous, previous_country = v.plate, v.plate_country
        superseded = _assign(session, v, plate, code, actor=actor)
        return {"vin": v.vin, "plate": plate, "country": code, "previous_plate": previous,
                "previous_country": previous_country, "eplates_superseded": superseded}


def _assign(session, v: Vehicle, plate: str, country: str, *, actor: str) -> list[str]:
    if v.plate == plate and v.plate_country == country:
        raise Conflict(f"vehicle {v.vin} already carries plate {plate} ({country})")
    holder = session.scalar(select(Vehicle.vin).where(Vehicle.plate == plate,
                                                      Vehicle.plate_country == country))
    if holder is not None:
        raise Conflict(f"plate {plate} ({country}) is on another vehicle ({holder})")
    previous = v.plate
    _end_assignment(session, v, "replaced")
    superseded = _retire_eplates(session, v, SUPERSEDED, f"plate changed to {plate}", actor)
    _flush(session, f"vehicle {v.vin}")
    v.plate, v.plate_country = plate, country
    session.add(PlateAssignment(vehicle_id=v.id, plate=plate, country=country,
                                assigned_by=actor))
    _flush(session, f"plate {plate} ({country})")
    audit.append(session, actor, "vehicle.plate_assign", v.vin,
                 {"plate": plate, "country": country, "previous": previous,
                  "eplates_superseded": superseded})
    return superseded


def _end_assignment(session, v: Vehicle, why: str) -> None:
    current = session.scalars(select(PlateAssignment).where(
        PlateAssignment.vehicle_id == v.id, PlateAssignment.ended_at.is_(None))).all()
    for a in current:
        a.ended_at, a.end_reason = utcnow(), why
    v.plate, v.plate_country = None, None


def _retire_eplates(session, v: Vehicle, status: str, why: str, actor: str) -> list[str]:
    """Set every valid e-plate of ``v`` to ``status`` (audited); their serials."""
    live = session.scalars(select(EPlate).where(EPlate.vehicle_id == v.id,
                                                EPlate.status == "valid")).all()
    for e in live:
        e.status, e.status_reason, e.status_changed_at = status, why, utcnow()
        audit.append(session, actor, f"eplate.{status}", e.serial,
                     {"vin": v.vin, "plate": e.plate, "reason": why})
    return [e.serial for e in live]


# =========================================================================== e-plates

def _new_serial(session) -> str:
    while True:
        serial = "EP" + "".join(secrets.choice(_SERIAL_ALPHABET) for _ in range(8))
        if session.scalar(select(EPlate.id).where(EPlate.serial == serial)) is None:
            return serial


def issue_eplate(platform: Platform, plate: str, *, actor: str, country: str | None = None,
                 today: dt.date | None = None) -> dict:
    """Sign an e-plate for the vehicle carrying ``plate``: tag bytes and QR text. The
    vehicle's earlier valid e-plates are superseded."""
    today = today or dt.date.today()
    years = platform.settings.vehicles.eplate_valid_years
    try:
        expiry = today.replace(year=today.year + years)
    except ValueError:  # 29 February
        expiry = today.replace(year=today.year + years, day=28)
    with platform.transaction() as session:
        v = _vehicle(session, platform, plate, country)
        _registered(v)
        serial = _new_serial(session)
        key = issuer_keys.active_key(platform.issuer_keys)
        cose = eplate.issue({"serial": serial, "plate": v.plate, "country": v.plate_country,
                             "vin": v.vin, "vehicle_class": v.vehicle_class,
                             "issued_on": today, "expires_on": expiry}, key)
        superseded = _retire_eplates(session, v, SUPERSEDED, f"replaced by {serial}", actor)
        session.add(EPlate(serial=serial, vehicle_id=v.id, plate=v.plate,
                           country=v.plate_country, vin_digest=eplate.vin_digest(v.vin).hex(),
                           vehicle_class=v.vehicle_class, issued_on=today, expires_on=expiry,
                           key_id=key.kid, credential=cose))
        _flush(session, f"e-plate {serial}")
        audit.append(session, actor, "eplate.issue", serial,
                     {"vin": v.vin, "plate": v.plate, "country": v.plate_country,
                      "key_id": key.kid, "expires": expiry.isoformat(),
                      "supersedes": superseded})
        image = eplate.tag_image(cose)
        return {"serial": serial, "plate": v.plate, "country": v.plate_country, "vin": v.vin,
                "vehicle_class": v.vehicle_class, "issued_on": today.isoformat(),
                "expires_on": expiry.isoformat(), "key_id": key.kid,
                "algorithm": key.algorithm, "qr_text": eplate.encode_qr_text(cose),
                "tag_hex": image.hex(), "tag_bytes": len(cose),
                "tag_budget_bytes": eplate.TAG_USER_MEMORY_BYTES, "supersedes": superseded}


def _latest_eplate(session, plate: str, country: str) -> EPlate:
    found = session.scalar(select(EPlate).where(EPlate.plate == plate, EPlate.country == country,
                                                EPlate.status != SUPERSEDED)
                           .order_by(EPlate.id.desc()).limit(1))
    if found is None:
        raise NotFound(f"no e-plate in force for plate {plate} ({country})")
    return found


def set_eplate_status(platform: Platform, plate: str, status: str, *, actor: str,
                      country: str | None = None, reason: str | None = None) -> dict:
    """Revoke, report stolen, or reinstate (``valid``) the newest e-plate of a plate."""
    if status not in EPLATE_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(EPLATE_STATUSES)}"
                           + (" (an e-plate is superseded only by a newer one)"
                              if status == SUPERSEDED else ""))
    check_length(reason, "reason", REASON_MAX)
    text = plate_formats.normalise(plate if isinstance(plate, str) else "")
    if not text or len(text) > plate_formats.PLATE_MAX:
        raise InvalidInput(f"plate must be 1-{plate_formats.PLATE_MAX} letters and digits")
    code = _country(platform, country)
    with platform.transaction() as session:
        e = _latest_eplate(session, text, code)
        previous = e.status
        if status == "valid" and previous != "valid":
            v = session.get(Vehicle, e.vehicle_id)
            if v.status != REGISTERED or (v.plate, v.plate_country) != (e.plate, e.country):
                raise Conflict(f"e-plate {e.serial} cannot be reinstated: its vehicle no "
                               "longer carries the plate; issue a new e-plate")
        e.status, e.status_reason, e.status_changed_at = status, reason, utcnow()
        action = "eplate.reinstate" if status == "valid" else f"eplate.{status}"
        audit.append(session, actor, action, e.serial,
                     {"plate": e.plate, "country": e.country, "from": previous,
                      "reason": reason})
        return {"serial": e.serial, "plate": e.plate, "country": e.country, "status": status,
                "previous": previous}


def check_eplate(platform: Platform, data: Any, *, vin_text: str | None = None,
                 today: dt.date | None = None) -> dict:
    """Verify a presented e-plate (tag bytes, tag hex or QR text) against the issuer keys
    and the registry: the offline checks, then ``not_revoked`` (the registry's status) and
    ``vehicle_registered`` (the plate is still that vehicle's). Never raises on bad input."""
    keyset = issuer_keys.KeySet.from_folder(platform.issuer_keys)
    result = eplate.verify(data, keyset, today=today, vin=vin_text)
    checks = [{"name": c.name, "status": c.status, "reason": c.reason}
              for c in result.checks]
    vehicle, alert = None, False
    if result.payload is None:
        why = next((f"not checked: {c['name']} failed" for c in checks
                    if c["status"] != "pass"), "not checked")
        checks += [{"name": n, "status": "skipped", "reason": why}
                   for n in ("not_revoked", "vehicle_registered")]
    else:
        with platform.transaction() as session:
            e = session.scalar(select(EPlate).where(EPlate.serial == result.payload["serial"]))
            v = session.get(Vehicle, e.vehicle_id) if e is not None else None
            checks += _registry_checks(e, v)
            alert = e is not None and e.status == "stolen"
            if v is not None:
                record = _record(v)
                vehicle = {k: record[k] for k in (
                    "vin", "make", "model", "colour", "year", "vehicle_class", "status",
                    "plate", "plate_country")}
    valid = all(c["status"] == "pass" for c in checks)
    reason = next((f"{c['name']}: {c['reason']}" for c in checks if c["status"] != "pass"),
                  "valid")
    return {"verdict": "valid" if valid else "invalid", "valid": valid, "reason": reason,
            "alert": alert, "source": result.source, "size": result.size, "kid": result.kid,
            "algorithm": result.algorithm, "checks": checks, "payload": result.payload,
            "vehicle": vehicle}


def _registry_checks(e: EPlate | None, v: Vehicle | None) -> list[dict]:
    if e is None:
        why = "signed by our key but unknown to this registry"
        return [{"name": "not_revoked", "status": "fail", "reason": why},
                {"name": "vehicle_registered", "status": "skipped",
                 "reason": "not checked: not_revoked failed"}]
    if e.status == "valid":
        first = {"name": "not_revoked", "status": "pass", "reason": "valid in the registry"}
    else:
        first = {"name": "not_revoked", "status": "fail",
                 "reason": f"e-plate {e.serial} is {e.status} since "
                           f"{e.status_changed_at.date().isoformat()}"
                           + (f" ({e.status_reason})" if e.status_reason else "")}
    if v.status != REGISTERED:
        second = {"name": "vehicle_registered", "status": "fail",
                  "reason": f"vehicle {v.vin} is {v.status}"}
    elif (v.plate, v.plate_country) != (e.plate, e.country):
        second = {"name": "vehicle_registered", "status": "fail",
                  "reason": f"the vehicle now carries plate {v.plate} ({v.plate_country})"}
    else:
        second = {"name": "vehicle_registered", "status": "pass",
                  "reason": f"plate {e.plate} is on registered vehicle {v.vin}"}
    return [first, second]


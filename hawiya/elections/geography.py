"""Elections, districts, polling centres and stations (each station with its own key)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hawiya import audit
from hawiya.errors import Conflict, InvalidInput, NotFound
from hawiya.limits import CODE_MAX, NAME_MAX, check_length
from hawiya.registry.models import District, Election, PollingCentre, Station

if TYPE_CHECKING:
    from hawiya.platform import Platform

CODE_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CODE_MAX - 1}}}$")


def check_code(code: str, what: str) -> str:
    if not CODE_RE.match(code or ""):
        raise InvalidInput(f"{what} code must be 1-{CODE_MAX} letters, digits or _.-",
                           field=f"{what} code", max_length=CODE_MAX)
    return code


def check_name(name: str | None, what: str) -> str | None:
    """A place's or election's name, at most :data:`hawiya.limits.NAME_MAX` characters."""
    return check_length(name, f"{what} name", NAME_MAX)


def _date(value: str | dt.date, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be YYYY-MM-DD") from exc


def get_election(session: Session, code: str) -> Election:
    election = session.scalar(select(Election).where(Election.code == code))
    if election is None:
        raise NotFound(f"no election {code!r}")
    return election


def get_station(session: Session, code: str) -> Station:
    station = session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise NotFound(f"no polling station {code!r}")
    return station


def create_election(platform: Platform, code: str, name: str, election_date: str | dt.date,
                    eligibility_date: str | dt.date | None = None, min_age: int = 18, *,
                    actor: str) -> dict:
    check_code(code, "election")
    check_name(name, "election")
    e_date = _date(election_date, "election_date")
    elig = _date(eligibility_date, "eligibility_date") if eligibility_date else e_date
    if elig > e_date:
        raise InvalidInput("eligibility_date cannot be after the election date")
    if not 16 <= int(min_age) <= 30:
        raise InvalidInput("min_age must be between 16 and 30")
    if not (name or "").strip():
        raise InvalidInput("election name is required")
    with platform.transaction() as session:
        if session.scalar(select(Election.id).where(Election.code == code)):
            raise Conflict(f"election {code!r} already exists")
        session.add(Election(code=code, name=name.strip(), election_date=e_date,
                             eligibility_date=elig, min_age=int(min_age)))
        audit.append(session, actor, "election.create", code,
                     {"name": name, "date": e_date.isoformat(), "eligibility": elig.isoformat(),
                      "min_age": int(min_age)})
    return {"code": code, "name": name, "election_date": e_date.isoformat(),
            "eligibility_date": elig.isoformat(), "min_age": int(min_age), "status": "draft"}


def add_district(platform: Platform, code: str, name: str, *, actor: str) -> dict:
    check_code(code, "district")
    check_name(name, "district")
    with platform.transaction() as session:
        if session.scalar(select(District.id).where(District.code == code)):
            raise Conflict(f"district {code!r} already exists")
        session.add(District(code=code, name=name or code))
        audit.append(session, actor, "district.create", code, {"name": name})
    return {"code": code, "name": name or code}


def add_centre(platform: Platform, code: str, name: str, district: str, *, actor: str) -> dict:
    check_code(code, "centre")
    check_name(name, "centre")
    if not district:
        raise InvalidInput("a polling centre needs its district (parent)")
    check_length(district, "district code", CODE_MAX)
    with platform.transaction() as session:
        d = session.scalar(select(District).where(District.code == district))
        if d is None:
            raise NotFound(f"no district {district!r}")
        if session.scalar(select(PollingCentre.id).where(PollingCentre.code == code)):
            raise Conflict(f"polling centre {code!r} already exists")
        session.add(PollingCentre(code=code, name=name or code, district_id=d.id))
        audit.append(session, actor, "centre.create", code, {"district": district})
    return {"code": code, "name": name or code, "district": district}


def add_station(platform: Platform, code: str, name: str, centre: str, *, actor: str) -> dict:
    """Register a station and make its signing key; the private key is returned only here,
    for the station device (offline logs are signed with it)."""
    check_code(code, "station")
    check_name(name, "station")
    if not centre:
        raise InvalidInput("a station needs its polling centre (parent)")
    check_length(centre, "centre code", CODE_MAX)
    key = Ed25519PrivateKey.generate()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    with platform.transaction() as session:
        c = session.scalar(select(PollingCentre).where(PollingCentre.code == centre))
        if c is None:
            raise NotFound(f"no polling centre {centre!r}")
        if session.scalar(select(Station.id).where(Station.code == code)):
            raise Conflict(f"station {code!r} already exists")
        session.add(Station(code=code, name=name or code, centre_id=c.id,
                            public_key=public_pem))
        audit.append(session, actor, "station.create", code, {"centre": centre})
    return {"code": code, "name": name or code, "centre": centre,
            "station_private_key": private_pem}

"""Elections over HTTP: geography, roll, check-in, offline sync, turnout, audit report."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from hawiya.api.deps import get_platform, read_upload, require
from hawiya.api.routes_identity import _fingers, _irises
from hawiya.elections import checkin, geography, offline, roll, turnout
from hawiya.errors import Forbidden, InvalidInput
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(tags=["elections"])
ADMIN = ("election_admin",)
WATCHERS = ("election_admin", "observer", "auditor")


class NewElection(BaseModel):
    code: str
    name: str
    election_date: dt.date
    eligibility_date: dt.date | None = None
    min_age: int = 18


class NewPlace(BaseModel):
    code: str
    name: str = ""
    parent: str | None = None  # district of a centre, centre of a station


@router.post("/elections", status_code=201, summary="Create an election")
def create_election(body: NewElection, user: User = Depends(require(*ADMIN)),
                    platform: Platform = Depends(get_platform)) -> dict:
    return geography.create_election(platform, body.code, body.name, body.election_date,
                                     body.eligibility_date, body.min_age, actor=user.username)


@router.post("/districts", status_code=201, summary="Add a district")
def add_district(body: NewPlace, user: User = Depends(require(*ADMIN)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_district(platform, body.code, body.name, actor=user.username)


@router.post("/centres", status_code=201, summary="Add a polling centre (parent = district)")
def add_centre(body: NewPlace, user: User = Depends(require(*ADMIN)),
               platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_centre(platform, body.code, body.name, body.parent or "",
                                actor=user.username)


@router.post("/stations", status_code=201,
             summary="Add a polling station (parent = centre); returns its private key once")
def add_station(body: NewPlace, user: User = Depends(require(*ADMIN)),
                platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_station(platform, body.code, body.name, body.parent or "",
                                 actor=user.username)


@router.post("/elections/{code}/roll/build", summary="Build the draft roll from the registry")
def build_roll(code: str, user: User = Depends(require(*ADMIN)),
               platform: Platform = Depends(get_platform)) -> dict:
    return roll.build_roll(platform, code, actor=user.username)


@router.post("/elections/{code}/roll/freeze", summary="Freeze and sign the roll")
def freeze_roll(code: str, user: User = Depends(require(*ADMIN)),
                platform: Platform = Depends(get_platform)) -> dict:
    return roll.freeze_roll(platform, code, actor=user.username)


@router.get("/elections/{code}/roll.csv", response_class=PlainTextResponse,
            summary="The roll as CSV (optionally one station)")
def roll_csv(code: str, station: str | None = Query(None),
             user: User = Depends(require(*WATCHERS)),
             platform: Platform = Depends(get_platform)) -> str:
    return roll.export_csv(platform, code, station)


@router.get("/elections/{code}/stations/{station}/list.pdf",
            summary="Printable voter list of one station (PDF)")
def station_pdf(code: str, station: str, user: User = Depends(require(*WATCHERS)),
                platform: Platform = Depends(get_platform)) -> Response:
    from hawiya.elections.printing import station_list_pdf

    return Response(station_list_pdf(platform, code, station), media_type="application/pdf")


@router.get("/elections/{code}/exclusions", summary="People left off the roll, with the rule")
def exclusions(code: str, user: User = Depends(require(*WATCHERS)),
               platform: Platform = Depends(get_platform)) -> dict:
    return {"exclusions": roll.exclusions(platform, code)}


@router.get("/elections/{code}/stations/{station}/package",
            summary="Roll copy for a station going offline")
def package(code: str, station: str, user: User = Depends(require("polling_clerk", *ADMIN)),
            platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, station)
    return offline.station_package(platform, code, station)


@router.post("/elections/{code}/check-in", summary="Check a voter in at a station")
def check_in(code: str, station: str = Form(...), voter_number: str | None = Form(None),
             qr: str | None = Form(None), face: UploadFile | None = File(None),
             iris_left: UploadFile | None = File(None),
             iris_right: UploadFile | None = File(None),
             finger: list[UploadFile] | None = File(None),
             finger_position: list[str] | None = Form(None),
             require_biometric: bool = Form(True),
             user: User = Depends(require("polling_clerk", *ADMIN)),
             platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, station)
    if not require_biometric and user.role not in ("admin", "election_admin"):
        raise Forbidden("only an election admin may check in without biometric verification")
    return checkin.check_in(platform, code, station, clerk=user.username,
                            voter_number=voter_number, qr_text=qr,
                            face=read_upload(face, "face image") if face else None,
                            irises=_irises(iris_left, iris_right),
                            fingers=_fingers(finger, finger_position),
                            require_biometric=require_biometric)


@router.post("/elections/{code}/sync", summary="Upload an offline station's signed log")
def sync(code: str, log: dict, user: User = Depends(require("polling_clerk", *ADMIN)),
         platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, str(log.get("station")))
    if log.get("election") != code:
        raise InvalidInput(f"this log is for election {log.get('election')!r}, not {code!r}")
    return offline.sync_station_log(platform, log, actor=user.username)


@router.get("/elections/{code}/turnout", summary="Turnout by station, centre, district")
def get_turnout(code: str, user: User = Depends(require(*WATCHERS, "polling_clerk")),
                platform: Platform = Depends(get_platform)) -> dict:
    return turnout.turnout(platform, code)


@router.get("/elections/{code}/audit-report",
            summary="Roll digest, check-in log digest, anomalies, audit chain")
def audit_report(code: str, user: User = Depends(require(*WATCHERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return turnout.audit_report(platform, code)


def _own_station(user: User, station: str) -> None:
    if user.role == "polling_clerk" and user.station_code and user.station_code != station:
        raise Forbidden(f"this account is for station {user.station_code}, not {station}")

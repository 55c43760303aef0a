"""Elections over HTTP: geography, roll, check-in, offline sync, turnout, audit report."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from hawiya.api.captures import ProbeUploads
from hawiya.api.deps import get_platform, require
from hawiya.api.schemas.common import errors, file_response
from hawiya.api.schemas.elections import (
    AuditReport,
    CentreInfo,
    DistrictInfo,
    ElectionInfo,
    ExclusionList,
    RollBuilt,
    RollFrozen,
    StationCreated,
    StationPackage,
    SyncResult,
    Turnout,
    Withdrawn,
)
from hawiya.credentials.qr_text import MAX_QR_TEXT
from hawiya.elections import checkin, geography, offline, roll, turnout
from hawiya.elections.results import CheckInResult
from hawiya.errors import Forbidden, InvalidInput
from hawiya.limits import CODE_MAX, NAME_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User
from hawiya.roles import ELECTION_ADMINS as ADMIN
from hawiya.roles import ELECTION_WATCHERS as WATCHERS

router = APIRouter(tags=["elections"])
CREATE_ERRORS = (401, 403, 409, 422)  # 409: the code exists already
ELECTION_ERRORS = (401, 403, 404, 422)  # 404: no such election (or station)


class NewElection(BaseModel):
    code: str = Field(max_length=CODE_MAX)
    name: str = Field(max_length=NAME_MAX)
    election_date: dt.date
    eligibility_date: dt.date | None = None
    min_age: int = 18


class NewPlace(BaseModel):
    code: str = Field(max_length=CODE_MAX)
    name: str = Field("", max_length=NAME_MAX)
    # district of a centre, centre of a station
    parent: str | None = Field(None, max_length=CODE_MAX)


@router.post("/elections", status_code=201, summary="Create an election",
             response_model=ElectionInfo, responses=errors(*CREATE_ERRORS))
def create_election(body: NewElection, user: User = Depends(require(*ADMIN)),
                    platform: Platform = Depends(get_platform)) -> dict:
    return geography.create_election(platform, body.code, body.name, body.election_date,
                                     body.eligibility_date, body.min_age, actor=user.username)


@router.post("/districts", status_code=201, summary="Add a district",
             response_model=DistrictInfo, responses=errors(*CREATE_ERRORS))
def add_district(body: NewPlace, user: User = Depends(require(*ADMIN)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_district(platform, body.code, body.name, actor=user.username)


@router.post("/centres", status_code=201, summary="Add a polling centre (parent = district)",
             response_model=CentreInfo,
             responses=errors(*CREATE_ERRORS, 404, descriptions={404: "No such district"}))
def add_centre(body: NewPlace, user: User = Depends(require(*ADMIN)),
               platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_centre(platform, body.code, body.name, body.parent or "",
                                actor=user.username)


@router.post("/stations", status_code=201,
             summary="Add a polling station (parent = centre); returns its private key once",
             response_model=StationCreated,
             responses=errors(*CREATE_ERRORS, 404, descriptions={404: "No such centre"}))
def add_station(body: NewPlace, user: User = Depends(require(*ADMIN)),
                platform: Platform = Depends(get_platform)) -> dict:
    return geography.add_station(platform, body.code, body.name, body.parent or "",
                                 actor=user.username)


@router.post("/elections/{code}/roll/build", summary="Build the draft roll from the registry",
             response_model=RollBuilt, responses=errors(*ELECTION_ERRORS, 409, descriptions={
                 409: "The roll is frozen"}))
def build_roll(code: str, user: User = Depends(require(*ADMIN)),
               platform: Platform = Depends(get_platform)) -> dict:
    return roll.build_roll(platform, code, actor=user.username)


@router.post("/elections/{code}/roll/freeze", summary="Freeze and sign the roll",
             response_model=RollFrozen, responses=errors(*ELECTION_ERRORS, 409, descriptions={
                 409: "The roll is frozen already"}))
def freeze_roll(code: str, user: User = Depends(require(*ADMIN)),
                platform: Platform = Depends(get_platform)) -> dict:
    return roll.freeze_roll(platform, code, actor=user.username)


@router.delete("/elections/{code}", summary="Withdraw an election nobody checked in to",
               response_model=Withdrawn, responses=errors(*ELECTION_ERRORS, 409, descriptions={
                   409: "The election has check-ins"}))
def withdraw(code: str, user: User = Depends(require(*ADMIN)),
             platform: Platform = Depends(get_platform)) -> dict:
    """Its roll, exclusions and anomalies go with it; the code can be used again."""
    return roll.withdraw_election(platform, code, actor=user.username)


@router.get("/elections/{code}/roll.csv", summary="The roll as CSV (optionally one station)",
            response_class=Response, response_model=None,
            responses={**file_response("voter_number,person_id,name,date_of_birth,district,"
                                       "station", "text/plain", text=True),
                       **errors(*ELECTION_ERRORS)})
def roll_csv(code: str, station: str | None = Query(None),
             user: User = Depends(require(*WATCHERS)),
             platform: Platform = Depends(get_platform)) -> PlainTextResponse:
    return PlainTextResponse(roll.export_csv(platform, code, station))


@router.get("/elections/{code}/stations/{station}/list.pdf",
            summary="Printable voter list of one station (PDF)",
            response_class=Response, response_model=None,
            responses={**file_response("The station's voter list", "application/pdf"),
                       **errors(*ELECTION_ERRORS)})
def station_pdf(code: str, station: str, user: User = Depends(require(*WATCHERS)),
                platform: Platform = Depends(get_platform)) -> Response:
    from hawiya.elections.printing import station_list_pdf

    return Response(station_list_pdf(platform, code, station), media_type="application/pdf")


@router.get("/elections/{code}/exclusions", summary="People left off the roll, with the rule",
            response_model=ExclusionList, responses=errors(*ELECTION_ERRORS))
def exclusions(code: str, user: User = Depends(require(*WATCHERS)),
               platform: Platform = Depends(get_platform)) -> dict:
    return {"exclusions": roll.exclusions(platform, code)}


@router.get("/elections/{code}/stations/{station}/package",
            summary="Roll copy for a station going offline",
            response_model=StationPackage, responses=errors(*ELECTION_ERRORS))
def package(code: str, station: str, user: User = Depends(require("polling_clerk", *ADMIN)),
            platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, station)
    return offline.station_package(platform, code, station)


# An outcome carries only the fields that apply to it: the body is the service's keys.
@router.post("/elections/{code}/check-in", summary="Check a voter in at a station",
             response_model=CheckInResult, response_model_exclude_unset=True,
             responses=errors(400, *ELECTION_ERRORS, 409, 413, descriptions={
                 403: "Role not allowed, another station's clerk, or no biometric check "
                      "without an election admin",
                 409: "The roll is not frozen"}))
def check_in(code: str, station: str = Form(..., max_length=CODE_MAX),
             voter_number: str | None = Form(None, max_length=CODE_MAX),
             qr: str | None = Form(None, max_length=MAX_QR_TEXT),
             require_biometric: bool = Form(True),
             uploads: ProbeUploads = Depends(),
             user: User = Depends(require("polling_clerk", *ADMIN)),
             platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, station)
    if not require_biometric and user.role not in ("admin", "election_admin"):
        raise Forbidden("only an election admin may check in without biometric verification")
    return checkin.check_in(platform, code, station, clerk=user.username,
                            voter_number=voter_number, qr_text=qr, captures=uploads.read(),
                            require_biometric=require_biometric)


# Accepted and refused logs answer with different fields: the body is the service's keys.
@router.post("/elections/{code}/sync", summary="Upload an offline station's signed log",
             response_model=SyncResult, response_model_exclude_unset=True,
             responses=errors(*ELECTION_ERRORS))
def sync(code: str, log: dict, user: User = Depends(require("polling_clerk", *ADMIN)),
         platform: Platform = Depends(get_platform)) -> dict:
    _own_station(user, str(log.get("station")))
    if log.get("election") != code:
        raise InvalidInput(f"this log is for election {log.get('election')!r}, not {code!r}")
    return offline.sync_station_log(platform, log, actor=user.username)


@router.get("/elections/{code}/turnout", summary="Turnout by station, centre, district",
            response_model=Turnout, responses=errors(*ELECTION_ERRORS))
def get_turnout(code: str, user: User = Depends(require(*WATCHERS, "polling_clerk")),
                platform: Platform = Depends(get_platform)) -> dict:
    return turnout.turnout(platform, code)


@router.get("/elections/{code}/audit-report",
            summary="Roll digest, check-in log digest, anomalies, audit chain",
            response_model=AuditReport, response_model_exclude_unset=True,
            responses=errors(*ELECTION_ERRORS))
def audit_report(code: str, user: User = Depends(require(*WATCHERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return turnout.audit_report(platform, code)


def _own_station(user: User, station: str) -> None:
    if user.role == "polling_clerk" and user.station_code and user.station_code != station:
        raise Forbidden(f"this account is for station {user.station_code}, not {station}")

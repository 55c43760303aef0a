"""The vehicle registry over HTTP: register, look up, transfer, deregister, assign plates;
issue, verify and revoke signed e-plates."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from hawiya.api.deps import get_platform, require
from hawiya.api.schemas.common import errors
from hawiya.api.schemas.vehicles import (
    Deregistration,
    EPlateStatus,
    IssuedEPlate,
    OwnershipTransfer,
    PlateAssigned,
    PlateVerdict,
    VehicleDetail,
    VehicleList,
)
from hawiya.errors import InvalidInput
from hawiya.limits import ID_MAX, REASON_MAX, ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User
from hawiya.roles import PLATE_CHECKERS, VEHICLE_READERS, VEHICLE_REGISTRARS
from hawiya.vehicles import eplate, registry

router = APIRouter(tags=["vehicles"])
KEY_MAX = 32       # a VIN (17) or a plate (16) with separators
COUNTRY_MAX = 6    # ISO 3166 alpha-2, or a US state as US-XX


def _key():
    return Path(max_length=KEY_MAX, description="VIN, or the current plate")


def _country():
    return Query(None, max_length=COUNTRY_MAX,
                 description="plate country (default: the registry's own)")


class Registration(BaseModel):
    vin: str = Field(max_length=KEY_MAX)
    make: str = Field(max_length=registry.MAKE_MAX)
    model: str = Field(max_length=registry.MAKE_MAX)
    colour: str = Field(max_length=registry.COLOUR_MAX)
    vehicle_class: str = Field(max_length=8, description="UNECE category: M1, N1, L3...")
    year: int | None = Field(None, ge=0, le=9999, description="default: the model year a "
                                                               "North-American VIN gives")
    owner_person: str | None = Field(None, max_length=ID_MAX)
    owner_organisation: str | None = Field(None, max_length=registry.ORGANISATION_MAX)
    plate: str | None = Field(None, max_length=KEY_MAX)
    plate_country: str | None = Field(None, max_length=COUNTRY_MAX)


class Transfer(BaseModel):
    to_person: str | None = Field(None, max_length=ID_MAX)
    to_organisation: str | None = Field(None, max_length=registry.ORGANISATION_MAX)
    reason: str | None = Field(None, max_length=REASON_MAX)


class Deregister(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class PlateChange(BaseModel):
    plate: str = Field(max_length=KEY_MAX)
    country: str | None = Field(None, max_length=COUNTRY_MAX)


class StatusChange(BaseModel):
    status: str = Field(max_length=16, description="revoked, stolen, or valid (reinstate)")
    reason: str | None = Field(None, max_length=REASON_MAX)
    country: str | None = Field(None, max_length=COUNTRY_MAX)


class Presented(BaseModel):
    qr: str | None = Field(None, max_length=eplate.MAX_QR_TEXT + 64,
                           description="the windscreen QR's text (HP1:...)")
    tag_hex: str | None = Field(None, max_length=4 * eplate.MAX_TAG_READ,
                                description="the tag's user memory as hex")
    vin: str | None = Field(None, max_length=KEY_MAX,
                            description="the VIN read off the vehicle, to compare")


MUTATION_ERRORS = errors(401, 403, 404, 409, 422, descriptions={
    404: "No such vehicle or person", 409: "Duplicate VIN, plate taken, or the vehicle is "
                                            "deregistered"})


@router.post("/vehicles", status_code=201, summary="Register a vehicle to its owner",
             response_model=VehicleDetail, responses=MUTATION_ERRORS)
def register(body: Registration, user: User = Depends(require(*VEHICLE_REGISTRARS)),
             platform: Platform = Depends(get_platform)) -> dict:
    return registry.register(platform, vin_text=body.vin, make=body.make, model=body.model,
                             colour=body.colour, vehicle_class=body.vehicle_class,
                             year=body.year, owner_person=body.owner_person,
                             owner_organisation=body.owner_organisation, plate=body.plate,
                             plate_country=body.plate_country, actor=user.username)


@router.get("/vehicles", summary="Registered vehicles", response_model=VehicleList,
            responses=errors(401, 403, 404, 422))
def list_vehicles(owner: str | None = Query(None, max_length=ID_MAX,
                                            description="only this person's"),
                  status: str | None = Query(None, pattern="^(registered|deregistered)$"),
                  limit: int = Query(100, ge=1, le=1000),
                  offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                  user: User = Depends(require(*VEHICLE_READERS)),
                  platform: Platform = Depends(get_platform)) -> dict:
    return {"vehicles": registry.list_vehicles(platform, owner=owner, status=status,
                                               limit=limit, offset=offset)}


@router.get("/vehicles/{key}", summary="A vehicle by VIN or current plate, with its plate "
                                       "history and e-plates",
            response_model=VehicleDetail, responses=errors(401, 403, 404, 422))
def show(key: str = _key(), country: str | None = _country(),
         user: User = Depends(require(*VEHICLE_READERS)),
         platform: Platform = Depends(get_platform)) -> dict:
    return registry.find(platform, key, country=country)


@router.post("/vehicles/{key}/transfer", summary="Transfer ownership (audited)",
             response_model=OwnershipTransfer, responses=MUTATION_ERRORS)
def transfer(body: Transfer, key: str = _key(),
             user: User = Depends(require(*VEHICLE_REGISTRARS)),
             platform: Platform = Depends(get_platform)) -> dict:
    return registry.transfer(platform, key, to_person=body.to_person,
                             to_organisation=body.to_organisation, reason=body.reason,
                             actor=user.username)


@router.post("/vehicles/{key}/deregister",
             summary="Deregister: release the plate, revoke the e-plates",
             response_model=Deregistration, responses=MUTATION_ERRORS)
def deregister(body: Deregister, key: str = _key(),
               user: User = Depends(require(*VEHICLE_REGISTRARS)),
               platform: Platform = Depends(get_platform)) -> dict:
    return registry.deregister(platform, key, reason=body.reason, actor=user.username)


@router.post("/vehicles/{key}/plate", summary="Assign a plate (checked against its "
                                              "country's formats)",
             response_model=PlateAssigned, responses=MUTATION_ERRORS)
def assign_plate(body: PlateChange, key: str = _key(),
                 user: User = Depends(require(*VEHICLE_REGISTRARS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return registry.assign_plate(platform, key, body.plate, country=body.country,
                                 actor=user.username)


@router.post("/plates/{plate}/eplate", status_code=201,
             summary="Issue a signed e-plate (RFID tag bytes and windscreen QR)",
             response_model=IssuedEPlate,
             responses=errors(400, 401, 403, 404, 409, 422, descriptions={
                 400: "Issuer keys are missing or misconfigured",
                 404: "No vehicle carries this plate"}))
def issue_eplate(plate: str = Path(max_length=KEY_MAX), country: str | None = _country(),
                 user: User = Depends(require(*VEHICLE_REGISTRARS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    return registry.issue_eplate(platform, plate, country=country, actor=user.username)


@router.post("/plates/{plate}/status",
             summary="Revoke, report stolen, or reinstate (status=valid) an e-plate",
             response_model=EPlateStatus, responses=MUTATION_ERRORS)
def eplate_status(body: StatusChange, plate: str = Path(max_length=KEY_MAX),
                  user: User = Depends(require(*VEHICLE_REGISTRARS)),
                  platform: Platform = Depends(get_platform)) -> dict:
    return registry.set_eplate_status(platform, plate, body.status, country=body.country,
                                      reason=body.reason, actor=user.username)


@router.post("/plates/verify", summary="Verify a presented e-plate, check by check",
             response_model=PlateVerdict, responses=errors(400, 401, 403, 422, descriptions={
                 400: "Issuer keys are missing or misconfigured"}))
def verify(body: Presented, user: User = Depends(require(*PLATE_CHECKERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    if (body.qr is None) == (body.tag_hex is None):
        raise InvalidInput("give the e-plate as qr or as tag_hex, exactly one")
    return registry.check_eplate(platform, body.qr if body.qr is not None else body.tag_hex,
                                 vin_text=body.vin)

"""Enroll, verify, identify and read persons over HTTP (multipart uploads)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query

from hawiya.api.captures import EnrollUploads, ProbeUploads
from hawiya.api.deps import get_platform, require
from hawiya.api.schemas.common import errors
from hawiya.errors import InvalidInput
from hawiya.identity import persons, service
from hawiya.identity.persons import Demographics
from hawiya.identity.results import (
    EnrollResult,
    IdentifyResult,
    PersonDetail,
    PersonList,
    VerifyResult,
)
from hawiya.platform import Platform
from hawiya.registry.models import PERSON_STATUSES, User
from hawiya.roles import ENROLLERS, READERS, VERIFIERS

router = APIRouter(tags=["identity"])

UPLOAD_ERRORS = (400, 401, 403, 413, 422)


# Bodies with fields a service leaves out in some answers (``replayed``, ``gallery_size``,
# ``scope``) use response_model_exclude_unset: the body is the service's keys, no more.
@router.post("/persons", status_code=201, summary="Enroll a person: face and/or iris, with dedup",
             response_model=EnrollResult, response_model_exclude_unset=True,
             responses=errors(*UPLOAD_ERRORS, 409, descriptions={
                 409: "request_id reused for another submission, or reference_id taken"}))
def enroll(name: str | None = Form(None, description="The name as one field (kept whole); "
                                   "or give its parts"),
           given_name: str | None = Form(None), father_name: str | None = Form(None),
           grandfather_name: str | None = Form(None), family_name: str | None = Form(None),
           reference_id: str | None = Form(None),
           date_of_birth: str | None = Form(None), sex: str | None = Form(None),
           district: str | None = Form(None), request_id: str | None = Form(None),
           station: str | None = Form(None), uploads: EnrollUploads = Depends(),
           user: User = Depends(require(*ENROLLERS)),
           platform: Platform = Depends(get_platform)):
    demo = Demographics.parse(name, reference_id, date_of_birth, sex, district,
                              given_name=given_name, father_name=father_name,
                              grandfather_name=grandfather_name, family_name=family_name)
    return service.enroll_safely(platform, captures=uploads.read(), demographics=demo,
                                 actor=user.username, request_id=request_id, station=station)


@router.get("/persons", summary="List people", response_model=PersonList,
            responses=errors(401, 403, 422))
def list_persons(status: str | None = Query(None), limit: int = Query(50, ge=1, le=1000),
                 offset: int = Query(0, ge=0), user: User = Depends(require(*READERS)),
                 platform: Platform = Depends(get_platform)):
    if status is not None and status not in PERSON_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(PERSON_STATUSES)}")
    return PersonList(persons=persons.list_persons(platform, status, limit, offset))


@router.get("/persons/{person_key}", summary="One person (our id or reference id)",
            response_model=PersonDetail, responses=errors(401, 403, 404, 422))
def get_person(person_key: str, user: User = Depends(require(*READERS)),
               platform: Platform = Depends(get_platform)):
    return persons.get_person(platform, person_key)


@router.post("/persons/{person_key}/verify", summary="1:1 verification (face and/or iris)",
             response_model=VerifyResult,
             responses=errors(*UPLOAD_ERRORS, 404, 409, descriptions={
                 404: "No such person, or no enrolled template of the probe's modality",
                 409: "The person was merged into another record"}))
def verify(person_key: str, uploads: ProbeUploads = Depends(),
           user: User = Depends(require(*VERIFIERS)),
           platform: Platform = Depends(get_platform)):
    return service.verify(platform, person_key, uploads.read(), actor=user.username)


@router.post("/identify", summary="1:N identification (face and/or iris; optional gallery)",
             response_model=IdentifyResult, response_model_exclude_unset=True,
             responses=errors(*UPLOAD_ERRORS, 404, descriptions={
                 404: "A person named in restrict_to does not exist"}))
def identify(top: int = Form(10),
             restrict_to: str | None = Form(None, description="comma-separated person ids"),
             scope: str | None = Form(None, description="a named gallery scope, e.g. "
                                      "election:GE26 or station:GE26/S3"),
             uploads: ProbeUploads = Depends(),
             user: User = Depends(require(*VERIFIERS, "adjudicator")),
             platform: Platform = Depends(get_platform)):
    keys = ([k.strip() for k in restrict_to.split(",") if k.strip()]
            if restrict_to is not None else None)
    return service.identify(platform, uploads.read(), actor=user.username, top=top,
                            restrict_to=keys, scope=scope)

"""Enroll, verify, identify, persons, adjudication and jobs over HTTP (multipart uploads)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel

from hawiya.api.deps import get_platform, read_upload, require
from hawiya.errors import InvalidInput
from hawiya.identity import batch, service
from hawiya.platform import Platform
from hawiya.registry.models import PERSON_STATUSES, User

router = APIRouter(tags=["identity"])

ENROLLERS = ("enrollment_officer",)
VERIFIERS = ("verifier", "enrollment_officer")
READERS = ("enrollment_officer", "adjudicator", "auditor")


def _fingers(files: list[UploadFile] | None, positions: list[str] | None
             ) -> list[tuple[str, bytes]]:
    files, positions = files or [], positions or []
    if positions and len(positions) != len(files):
        raise InvalidInput("give one finger_position per finger image (or none)")
    return [(positions[i] if positions else "unknown", read_upload(f, "finger image"))
            for i, f in enumerate(files)]


def _irises(left: UploadFile | None, right: UploadFile | None) -> list[tuple[str, bytes]]:
    return [(pos, read_upload(f, f"{pos} image"))
            for pos, f in (("left-iris", left), ("right-iris", right)) if f is not None]


class Decision(BaseModel):
    decision: str
    duplicate_of: str | None = None
    note: str | None = None


@router.post("/persons", status_code=201, summary="Enroll a person: face and/or iris, with dedup")
def enroll(name: str = Form(...), face: list[UploadFile] | None = File(None),
           iris_left: UploadFile | None = File(None), iris_right: UploadFile | None = File(None),
           finger: list[UploadFile] | None = File(None),
           finger_position: list[str] | None = Form(None),
           reference_id: str | None = Form(None), date_of_birth: str | None = Form(None),
           sex: str | None = Form(None), district: str | None = Form(None),
           request_id: str | None = Form(None), station: str | None = Form(None),
           user: User = Depends(require(*ENROLLERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    demo = service.Demographics.parse(name, reference_id, date_of_birth, sex, district)
    faces = [read_upload(f, "face image") for f in face or []]
    return service.enroll_safely(platform, faces=faces, irises=_irises(iris_left, iris_right),
                          fingers=_fingers(finger, finger_position),
                                 demographics=demo,
                                 actor=user.username, request_id=request_id, station=station)


@router.get("/persons", summary="List people")
def list_persons(status: str | None = Query(None), limit: int = Query(50, ge=1, le=1000),
                 offset: int = Query(0, ge=0), user: User = Depends(require(*READERS)),
                 platform: Platform = Depends(get_platform)) -> dict:
    if status is not None and status not in PERSON_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(PERSON_STATUSES)}")
    return {"persons": service.list_persons(platform, status, limit, offset)}


@router.get("/persons/{person_key}", summary="One person (our id or reference id)")
def get_person(person_key: str, user: User = Depends(require(*READERS)),
               platform: Platform = Depends(get_platform)) -> dict:
    return service.get_person(platform, person_key)


@router.post("/persons/{person_key}/verify", summary="1:1 verification (face and/or iris)")
def verify(person_key: str, face: UploadFile | None = File(None),
           iris_left: UploadFile | None = File(None), iris_right: UploadFile | None = File(None),
           finger: list[UploadFile] | None = File(None),
           finger_position: list[str] | None = Form(None),
           user: User = Depends(require(*VERIFIERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    return service.verify(platform, person_key,
                          read_upload(face, "face image") if face else None,
                          actor=user.username, irises=_irises(iris_left, iris_right),
                          fingers=_fingers(finger, finger_position))


@router.post("/identify", summary="1:N identification (face and/or iris; optional gallery)")
def identify(face: UploadFile | None = File(None), iris_left: UploadFile | None = File(None),
             iris_right: UploadFile | None = File(None), top: int = Form(10),
             finger: list[UploadFile] | None = File(None),
             finger_position: list[str] | None = Form(None),
             restrict_to: str | None = Form(None, description="comma-separated person ids"),
             user: User = Depends(require(*VERIFIERS, "adjudicator")),
             platform: Platform = Depends(get_platform)) -> dict:
    keys = ([k.strip() for k in restrict_to.split(",") if k.strip()]
            if restrict_to is not None else None)
    return service.identify(platform, read_upload(face, "face image") if face else None,
                            actor=user.username, top=top, restrict_to=keys,
                            irises=_irises(iris_left, iris_right),
                          fingers=_fingers(finger, finger_position))


@router.get("/adjudication/cases", summary="Potential duplicates waiting for a decision")
def cases(status: str = Query("open", pattern="^(open|closed)$"),
          user: User = Depends(require("adjudicator", "auditor")),
          platform: Platform = Depends(get_platform)) -> dict:
    return {"cases": service.list_cases(platform, status)}


@router.post("/adjudication/cases/{case_id}/decision", summary="Decide a duplicate case")
def decide(case_id: int, body: Decision, user: User = Depends(require("adjudicator")),
           platform: Platform = Depends(get_platform)) -> dict:
    return service.decide_case(platform, case_id, body.decision, actor=user.username,
                               duplicate_of=body.duplicate_of, note=body.note)


@router.get("/jobs/{job_id}", summary="Progress of a long job (batch enrollment)")
def job(job_id: int, user: User = Depends(require(*READERS)),
        platform: Platform = Depends(get_platform)) -> dict:
    return batch.job_status(platform, job_id)

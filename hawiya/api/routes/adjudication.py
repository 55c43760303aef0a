"""Adjudication of potential duplicates, and the progress of long jobs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from hawiya.api.deps import get_platform, require
from hawiya.api.routes.identity import READERS
from hawiya.api.schemas.common import errors, file_response
from hawiya.api.schemas.jobs import JobStatus
from hawiya.identity import adjudication, batch
from hawiya.identity.results import CaseDetail, CaseList, CaseSummary
from hawiya.limits import ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter()


class Decision(BaseModel):
    decision: str = Field(description="distinct | duplicate")
    duplicate_of: str | None = Field(None, max_length=128)
    note: str | None = Field(None, max_length=2000, description="the reason; required for "
                             "'distinct' against strong evidence")


@router.get("/adjudication/cases", summary="Potential duplicates waiting for a decision",
            tags=["adjudication"], response_model=CaseList, responses=errors(401, 403, 422))
def cases(status: str = Query("open", pattern="^(open|closed)$"),
          user: User = Depends(require("adjudicator", "auditor")),
          platform: Platform = Depends(get_platform)) -> dict:
    return CaseList(cases=adjudication.list_cases(platform, status))


@router.get("/adjudication/cases/{case_id}", summary="One case with its evidence",
            tags=["adjudication"], response_model=CaseDetail,
            responses=errors(401, 403, 404, 422))
def case(case_id: int = Path(ge=1, le=ROW_ID_MAX),
         user: User = Depends(require("adjudicator")),
         platform: Platform = Depends(get_platform)):
    """Per-modality scores and evidence of each candidate, portraits, and links to the kept
    captures of the held person and of each candidate, to compare side by side."""
    return adjudication.get_case(platform, case_id)


@router.get("/adjudication/cases/{case_id}/captures/{template_id}",
            summary="A kept capture of a case (each view audited)", tags=["adjudication"],
            response_class=Response,
            responses={**file_response("the capture as it was submitted", "image/jpeg",
                                       "image/png", "image/tiff", "application/octet-stream"),
                       **errors(401, 403, 404, 422)})
def case_capture(case_id: int = Path(ge=1, le=ROW_ID_MAX),
                 template_id: int = Path(ge=1, le=ROW_ID_MAX),
                 user: User = Depends(require("adjudicator")),
                 platform: Platform = Depends(get_platform)) -> Response:
    image = adjudication.case_capture(platform, case_id, template_id, actor=user.username)
    return Response(image, media_type=_media_type(image),
                    headers={"Cache-Control": "no-store"})


def _media_type(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return "application/octet-stream"


@router.post("/adjudication/cases/{case_id}/decision", summary="Decide a duplicate case",
             tags=["adjudication"], response_model=CaseSummary,
             responses=errors(401, 403, 404, 409, 422, descriptions={
                 403: "Role not allowed, or the adjudicator made this enrolment",
                 409: "The case was already decided, its match is not active, or the same "
                      "adjudicator tried to confirm their own proposal"}))
def decide(body: Decision, case_id: int = Path(ge=1, le=ROW_ID_MAX),
           user: User = Depends(require("adjudicator")),
           platform: Platform = Depends(get_platform)):
    """A 'distinct' against strong evidence is recorded as a proposal
    (``awaiting_confirmation``) and takes effect when a second adjudicator sends it too."""
    return adjudication.decide_case(platform, case_id, body.decision, actor=user.username,
                                    duplicate_of=body.duplicate_of, note=body.note)


@router.get("/jobs/{job_id}", summary="Progress of a long job (batch enrollment)",
            tags=["jobs"], response_model=JobStatus, responses=errors(401, 403, 404, 422))
def job(job_id: int = Path(ge=1, le=ROW_ID_MAX), user: User = Depends(require(*READERS)),
        platform: Platform = Depends(get_platform)) -> dict:
    return batch.job_status(platform, job_id)

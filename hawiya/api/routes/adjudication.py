"""Adjudication of potential duplicates, and the progress of long jobs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hawiya.api.deps import get_platform, require
from hawiya.api.routes.identity import READERS
from hawiya.api.schemas.common import errors
from hawiya.api.schemas.jobs import JobStatus
from hawiya.identity import adjudication, batch
from hawiya.identity.results import CaseList, CaseSummary
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter()


class Decision(BaseModel):
    decision: str
    duplicate_of: str | None = None
    note: str | None = None


@router.get("/adjudication/cases", summary="Potential duplicates waiting for a decision",
            tags=["adjudication"], response_model=CaseList, responses=errors(401, 403, 422))
def cases(status: str = Query("open", pattern="^(open|closed)$"),
          user: User = Depends(require("adjudicator", "auditor")),
          platform: Platform = Depends(get_platform)) -> dict:
    return CaseList(cases=adjudication.list_cases(platform, status))


@router.post("/adjudication/cases/{case_id}/decision", summary="Decide a duplicate case",
             tags=["adjudication"], response_model=CaseSummary,
             responses=errors(401, 403, 404, 409, 422, descriptions={
                 409: "The case was already decided, or its match is not active"}))
def decide(case_id: int, body: Decision, user: User = Depends(require("adjudicator")),
           platform: Platform = Depends(get_platform)) -> dict:
    return adjudication.decide_case(platform, case_id, body.decision, actor=user.username,
                               duplicate_of=body.duplicate_of, note=body.note)


@router.get("/jobs/{job_id}", summary="Progress of a long job (batch enrollment)",
            tags=["jobs"], response_model=JobStatus, responses=errors(401, 403, 404, 422))
def job(job_id: int, user: User = Depends(require(*READERS)),
        platform: Platform = Depends(get_platform)) -> dict:
    return batch.job_status(platform, job_id)

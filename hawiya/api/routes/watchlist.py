"""The border's trust lists over HTTP: the watch list of lost and stolen foreign documents
and the CSCA certificates that passport chips are verified against."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from hawiya.api.deps import get_platform, read_upload, require
from hawiya.api.schemas.common import errors
from hawiya.api.schemas.documents import (
    CscaImport,
    CscaList,
    WatchlistImport,
    WatchlistList,
    WatchlistRemoval,
)
from hawiya.credentials import desk_chip, watchlist
from hawiya.limits import REASON_MAX, ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(tags=["border"])


class Removal(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


@router.post("/watchlist/import", summary="Import lost/stolen foreign documents from CSV "
                                          "(all rows or none)",
             response_model=WatchlistImport, responses=errors(400, 401, 403, 413, 422))
def import_watchlist(file: UploadFile = File(..., description="CSV: document_number,"
                                                              "document_type,issuing_state,"
                                                              "status[,reported_on]"),
                     source: str = Form(..., max_length=100),
                     user: User = Depends(require()),
                     platform: Platform = Depends(get_platform)) -> dict:
    text = read_upload(file, "watch list CSV").decode("utf-8", "replace")
    return watchlist.import_csv(platform, text, source=source, actor=user.username)


@router.get("/watchlist", summary="Watch-listed documents", response_model=WatchlistList,
            responses=errors(401, 403, 422))
def list_watchlist(issuing_state: str | None = Query(None, max_length=3),
                   document_number: str | None = Query(None, max_length=32),
                   limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                   user: User = Depends(require("verifier", "auditor")),
                   platform: Platform = Depends(get_platform)) -> dict:
    return {"entries": watchlist.list_entries(platform, issuing_state=issuing_state,
                                              number=document_number, limit=limit,
                                              offset=offset)}


@router.post("/watchlist/{issuing_state}/{document_number}/remove",
             summary="Take a document off the watch list (a recovered document)",
             response_model=WatchlistRemoval, responses=errors(401, 403, 404, 422))
def remove_watchlist(issuing_state: str, document_number: str, body: Removal,
                     user: User = Depends(require()),
                     platform: Platform = Depends(get_platform)) -> dict:
    return watchlist.remove(platform, issuing_state[:3], document_number[:32],
                            actor=user.username, reason=body.reason)


@router.post("/csca", summary="Import CSCA certificates (PEM/DER) or an ICAO master list",
             response_model=CscaImport, response_model_exclude_unset=True,
             responses=errors(400, 401, 403, 413, 422))
def import_csca(file: UploadFile = File(...), user: User = Depends(require()),
                platform: Platform = Depends(get_platform)) -> dict:
    return desk_chip.import_trust(platform, read_upload(file, "certificate file"),
                                  actor=user.username)


@router.get("/csca", summary="Trusted CSCA certificates", response_model=CscaList,
            responses=errors(401, 403))
def list_csca(user: User = Depends(require("verifier", "auditor")),
              platform: Platform = Depends(get_platform)) -> dict:
    return {"certificates": desk_chip.describe(platform)}

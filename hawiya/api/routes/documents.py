"""Identity documents over HTTP: issue, render, status, verify (ours and foreign, with a
passport chip's data for passive authentication), border check and its log, keyset."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field

from hawiya.api.captures import read_face
from hawiya.api.deps import get_platform, read_upload, require
from hawiya.api.schemas.common import errors, file_response
from hawiya.api.schemas.documents import (
    BorderCheck,
    CrossingLog,
    DocumentStatus,
    DocumentVerdict,
    IssuedDocument,
    Keyset,
)
from hawiya.credentials import desk, documents, keys
from hawiya.credentials.cards import read_qr
from hawiya.credentials.desk_chip import MAX_CHIP_JSON
from hawiya.credentials.mrz_parse import MAX_INPUT_CHARS as MAX_MRZ_TEXT
from hawiya.credentials.qr_text import MAX_QR_TEXT
from hawiya.errors import InvalidInput
from hawiya.imaging import load_image
from hawiya.limits import ID_MAX, LOCATION_MAX, REASON_MAX, ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User
from hawiya.roles import DOCUMENT_CHECKERS as CHECKERS
from hawiya.roles import ISSUERS

router = APIRouter(tags=["documents"])
# Who may fetch what offline verifiers load (cards and e-plates), beside document checkers.
OFFLINE_VERIFIERS = ("traffic_officer", "auditor", "observer")
# 400 also covers issuer-key misconfiguration (hawiya.errors.ConfigError).
EVIDENCE_ERRORS = (400, 401, 403, 413, 422)


class Issue(BaseModel):
    person_id: str = Field(max_length=ID_MAX)


class StatusChange(BaseModel):
    status: str  # one of documents.STATUSES, checked by the service
    reason: str | None = Field(None, max_length=REASON_MAX)


@router.post("/documents", status_code=201, summary="Issue a signed ID card to a person",
             response_model=IssuedDocument,
             responses=errors(400, 401, 403, 404, 409, 422, descriptions={
                 404: "No such person", 409: "The person is not active"}))
def issue(body: Issue, user: User = Depends(require(*ISSUERS)),
          platform: Platform = Depends(get_platform)) -> dict:
    return documents.issue_card(platform, body.person_id, actor=user.username)


@router.get("/documents/{number}/card", summary="The card as PNG or PDF",
            response_class=Response, response_model=None,
            responses={**file_response("The card (format=png or pdf)", "image/png",
                                       "application/pdf"),
                       **errors(401, 403, 404, 422)})
def card(number: str, format: str = Query("png", pattern="^(png|pdf)$"),
         user: User = Depends(require(*ISSUERS)),
         platform: Platform = Depends(get_platform)) -> Response:
    data = documents.render(platform, number, format, actor=user.username)
    return Response(data, media_type="image/png" if format == "png" else "application/pdf")


@router.post("/documents/{number}/card",
             summary="The card with a portrait given at print time (it must match the "
                     "enrolled face)",
             response_class=Response, response_model=None,
             responses={**file_response("The card (format=png or pdf)", "image/png",
                                        "application/pdf"),
                        **errors(400, 401, 403, 404, 413, 422, descriptions={
                            422: "The portrait is not a face, or not the holder's"})})
def card_with_portrait(number: str, portrait: UploadFile = File(...),
                       format: str = Query("png", pattern="^(png|pdf)$"),
                       user: User = Depends(require(*ISSUERS)),
                       platform: Platform = Depends(get_platform)) -> Response:
    data = documents.render(platform, number, format, read_upload(portrait, "portrait"),
                            actor=user.username)
    return Response(data, media_type="image/png" if format == "png" else "application/pdf")


@router.post("/documents/{number}/status",
             summary="Revoke, report lost/stolen, or reinstate (status=valid)",
             response_model=DocumentStatus, responses=errors(401, 403, 404, 422))
def status(number: str, body: StatusChange, user: User = Depends(require(*ISSUERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    return documents.set_status(platform, number, body.status, actor=user.username,
                                reason=body.reason)


CHIP_HELP = ("A passport chip's files as JSON: {\"EF.SOD\": base64, \"DG1\": base64, "
             "\"DG2\": base64, ...}, for passive authentication (ICAO 9303-11)")


def _evidence(qr: str | None, qr_image: UploadFile | None, mrz: str | None,
              mrz_image: UploadFile | None, face: UploadFile | None,
              chip: str | None = None) -> dict:
    if qr_image is not None and not qr:
        qr = read_qr(read_upload(qr_image, "QR image"))
        if qr is None:
            raise InvalidInput("no QR code found in the image")
    evidence = {"qr_text": qr, "mrz_text": mrz,
                "mrz_image": load_image(read_upload(mrz_image, "MRZ image"))
                if mrz_image is not None else None,
                "face": read_face(face)}
    if chip:
        from hawiya.credentials.desk_chip import ChipData

        evidence["chip"] = ChipData.from_json(chip)
    return evidence


@router.post("/documents/verify", summary="Verify a presented document, check by check",
             response_model=DocumentVerdict, responses=errors(*EVIDENCE_ERRORS))
def verify(qr: str | None = Form(None, max_length=MAX_QR_TEXT),
           mrz: str | None = Form(None, max_length=MAX_MRZ_TEXT),
           qr_image: UploadFile | None = File(None), mrz_image: UploadFile | None = File(None),
           face: UploadFile | None = File(None),
           chip: str | None = Form(None, max_length=MAX_CHIP_JSON, description=CHIP_HELP),
           user: User = Depends(require(*CHECKERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    return desk.verify_document(platform, actor=user.username,
                                **_evidence(qr, qr_image, mrz, mrz_image, face, chip))


@router.post("/border/check", summary="Border/desk check: verify, watch lost/stolen, log",
             response_model=BorderCheck, responses=errors(*EVIDENCE_ERRORS))
def border(location: str = Form(..., max_length=LOCATION_MAX),
           direction: str | None = Form(None),
           qr: str | None = Form(None, max_length=MAX_QR_TEXT),
           mrz: str | None = Form(None, max_length=MAX_MRZ_TEXT),
           qr_image: UploadFile | None = File(None), mrz_image: UploadFile | None = File(None),
           face: UploadFile | None = File(None),
           chip: str | None = Form(None, max_length=MAX_CHIP_JSON, description=CHIP_HELP),
           user: User = Depends(require("verifier")),
           platform: Platform = Depends(get_platform)) -> dict:
    return desk.border_check(platform, location=location, direction=direction,
                             actor=user.username,
                             **_evidence(qr, qr_image, mrz, mrz_image, face, chip))


@router.get("/border/crossings", summary="The crossing log, newest first",
            response_model=CrossingLog, responses=errors(401, 403, 422))
def crossing_log(location: str | None = Query(None, max_length=LOCATION_MAX),
                 document_number: str | None = Query(None, max_length=ID_MAX),
                 limit: int = Query(100, ge=1, le=1000),
                 offset: int = Query(0, ge=0, le=ROW_ID_MAX),
                 user: User = Depends(require("verifier", "auditor")),
                 platform: Platform = Depends(get_platform)) -> dict:
    return {"crossings": desk.crossings(platform, location=location,
                                        document_number=document_number, limit=limit,
                                        offset=offset)}


@router.get("/credentials/keyset", summary="Issuer public keys for offline verifiers",
            response_model=Keyset, responses=errors(400, 401, 403))
def keyset(user: User = Depends(require(*CHECKERS, *OFFLINE_VERIFIERS)),
           platform: Platform = Depends(get_platform)) -> dict:
    return keys.public_keyset(platform.issuer_keys)


@router.get("/credentials/revocation-list",
            summary="Signed list of revoked/lost/stolen documents (COSE_Sign1, CBOR)",
            response_class=Response, response_model=None,
            responses={**file_response("COSE_Sign1 (CBOR) signed by the issuer key",
                                       "application/cose"),
                       **errors(400, 401, 403)})
def revocation_list(user: User = Depends(require(*CHECKERS, *OFFLINE_VERIFIERS)),
                    platform: Platform = Depends(get_platform)) -> Response:
    return Response(documents.revocation_list(platform), media_type="application/cose")

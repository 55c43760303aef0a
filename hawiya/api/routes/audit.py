"""Audit trail: verify the hash chain and read records (auditor, admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from hawiya import audit
from hawiya.api.deps import get_platform, require
from hawiya.api.schemas.audit import AuditRecords, ChainStatus
from hawiya.api.schemas.common import errors
from hawiya.limits import ROW_ID_MAX
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(prefix="/audit", tags=["audit"])


# head (chain holds) and reason (it does not) come one at a time: the body is the service's.
@router.get("/verify", summary="Check the audit hash chain; first tampered record if any",
            response_model=ChainStatus, response_model_exclude_unset=True,
            responses=errors(401, 403))
def verify(user: User = Depends(require("auditor")),
           platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return audit.verify_chain(session)


@router.get("/records", summary="Audit records after a sequence number",
            response_model=AuditRecords, responses=errors(401, 403, 422))
def records(after: int = Query(0, ge=0, le=ROW_ID_MAX), limit: int = Query(100, ge=1, le=1000),
            user: User = Depends(require("auditor")),
            platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return {"records": audit.records(session, limit, after)}

"""Audit trail: verify the hash chain and read records (auditor, admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from hawiya import audit
from hawiya.api.deps import get_platform, require
from hawiya.platform import Platform
from hawiya.registry.models import User

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify", summary="Check the audit hash chain; first tampered record if any")
def verify(user: User = Depends(require("auditor")),
           platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return audit.verify_chain(session)


@router.get("/records", summary="Audit records after a sequence number")
def records(after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
            user: User = Depends(require("auditor")),
            platform: Platform = Depends(get_platform)) -> dict:
    with platform.transaction() as session:
        return {"records": audit.records(session, limit, after)}

"""Responses of long jobs (:func:`hawiya.identity.batch.job_status`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hawiya.api.schemas.common import Schema


class JobStatus(Schema):
    job_id: int
    kind: str = Field(description="e.g. enroll-batch")
    status: str = Field(description="running or finished")
    total: int
    done: int
    summary: dict[str, Any] = Field(description="folder, manifest and counts so far "
                                                "(enrolled, potential_duplicate, replayed, "
                                                "failed)")

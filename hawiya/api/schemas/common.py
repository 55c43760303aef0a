"""What every route shares in the OpenAPI document: the error body and its statuses, and
the description of file (non-JSON) responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """Base of the API's own response models: exactly the keys the service returns (an
    unknown key fails validation instead of slipping out undocumented)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """The body of every 4xx answer: a machine-readable code, a message for a person, and
    the reasons and details when there are any."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "quality_rejected", "message": "face image: no face found",
         "reasons": ["no face detected"]}]})

    error: str = Field(description="machine-readable code: invalid_input, invalid_image, "
                                   "quality_rejected, unauthorized, forbidden, not_found, "
                                   "conflict, ...")
    message: str = Field(description="what went wrong, for a person")
    reasons: list[str] = Field(default_factory=list,
                               description="one entry per problem (absent when none)")
    details: dict[str, Any] = Field(default_factory=dict,
                                    description="structured context (absent when none)")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request (the body could not be parsed)",
    401: "Missing, invalid or expired bearer token",
    403: "The user's role (or station) does not allow this",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Upload too large",
    422: "Invalid input, image or capture quality",
    429: "Too many failed log-ins: throttled or temporarily locked (wait `Retry-After` "
         "seconds, also in details.retry_after)",
}


def errors(*statuses: int, descriptions: dict[int, str] | None = None
           ) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route's error statuses, each an :class:`ErrorBody`
    (``descriptions`` overrides the default wording of some)."""
    descriptions = descriptions or {}
    return {status: {"model": ErrorBody,
                     "description": descriptions.get(status, ERROR_DESCRIPTIONS[status])}
            for status in statuses}


def file_response(description: str, *media_types: str, text: bool = False
                  ) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a 200 that is a file (PNG, PDF, CSV, CBOR), not JSON."""
    schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
    return {200: {"description": description,
                  "content": {m: {"schema": dict(schema)} for m in media_types}}}

"""One exception hierarchy, so every interface can turn a failure into a clear message.

The CLI prints ``str(error)`` and exits non-zero; the API maps ``http_status`` and
``code`` into a JSON body. Bad input never surfaces as a traceback.
"""

from __future__ import annotations


class HawiyaError(Exception):
    """Base of every error the platform raises on purpose."""

    http_status = 400
    code = "error"

    def __init__(self, message: str, *, reasons: list[str] | None = None, **details: object):
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons or [])
        self.details = details

    def to_dict(self) -> dict:
        body: dict = {"error": self.code, "message": self.message}
        if self.reasons:
            body["reasons"] = self.reasons
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(HawiyaError):
    """The request itself is malformed (bad id, bad field, unsupported option)."""

    http_status = 422
    code = "invalid_input"


class InvalidImage(InvalidInput):
    """Not an image, truncated, or too large (decompression bomb)."""

    code = "invalid_image"


class QualityRejected(InvalidInput):
    """A capture was decoded but is unusable: no face, two faces, too small, too dark..."""

    code = "quality_rejected"


class NotFound(HawiyaError):
    http_status = 404
    code = "not_found"


class Conflict(HawiyaError):
    http_status = 409
    code = "conflict"


class AuthError(HawiyaError):
    http_status = 401
    code = "unauthorized"


class Forbidden(HawiyaError):
    http_status = 403
    code = "forbidden"


class TooManyAttempts(HawiyaError):
    """Log-in refused because of recent failures (throttled or temporarily locked): try
    again after ``retry_after`` seconds (the API also sends it as ``Retry-After``)."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, **details: object):
        super().__init__(message, retry_after=max(1, int(retry_after)), **details)

    @property
    def retry_after(self) -> int:
        return int(self.details["retry_after"])


class TemplateMismatch(HawiyaError):
    """Templates of different modality or algorithm version must never be compared."""

    code = "template_mismatch"


class ConfigError(HawiyaError):
    code = "config_error"

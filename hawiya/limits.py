"""Maximum lengths of the free-text fields that reach storage or the audit log, one per kind
of field. The API's request models (``Field(max_length=)``, ``Form(max_length=)``) and the
services (also called from the CLI) both read them from here, so the two never disagree.

The request body as a whole is bounded separately, while it streams in
(:mod:`hawiya.api.limits`).
"""

from __future__ import annotations

from hawiya.errors import InvalidInput

ID_MAX = 128  # a person id or reference id (String(128) column)
CODE_MAX = 32  # election, district, centre and station codes; voter numbers
NAME_MAX = 200  # names of elections, districts, centres, stations (String(200) columns)
REASON_MAX = 500  # why a document's status changed
LOCATION_MAX = 100  # border post or desk (String(100) column)
NOTE_MAX = 2000  # free-text notes (adjudication decisions)
ROW_ID_MAX = 2**63 - 1  # a numeric id in a path or query (the database's BIGINT)


def check_length(value: str | None, field: str, limit: int) -> str | None:
    """``value`` unchanged, or :class:`InvalidInput` naming ``field`` and ``limit`` when it
    is longer (``None`` passes: whether a field is required is the caller's rule)."""
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{field} is too long: at most {limit} characters "
                           f"(got {len(value)})", field=field, max_length=limit)
    return value

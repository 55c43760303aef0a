"""Signed revocation lists, so an offline verifier knows which cards are revoked, lost, stolen
or superseded by a newer card.

A list is a COSE_Sign1 message (see :mod:`hawiya.credentials.signed`) signed by an issuer
key, with ``external_aad`` ``b"hawiya-revocation-v1"`` (a list never verifies as a card and
a card never as a list). Its payload is a CBOR map::

    {0: 1 (version), 1: issued_at, 2: next_update, 3: [[document_number, status, since], ...]}

``issued_at`` and ``next_update`` are UTC times as ISO text (``YYYY-MM-DDTHH:MM:SSZ``);
``status`` is ``revoked``, ``lost``, ``stolen`` or ``superseded``; ``since`` an ISO date.
Entries are sorted by document number and each number appears once.

:func:`verify_revocation_list` never raises on outside input. It returns ``(ok, entries,
reason)``: ``entries`` (dicts with ``document_number``, ``status``, ``since``) whenever the
signature is good and the payload well formed, even when ``ok`` is false because the list
is stale (``now`` past ``next_update``) or its key is retired, so a verifier can still
decide to use an old list rather than none; ``ok`` is the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from hawiya.credentials.cbor import CBORError, cbor_decode, cbor_encode
from hawiya.credentials.cose import _signing_key, _Steps, check_sign1, sign1
from hawiya.credentials.keys import KeySet, SigningKey
from hawiya.errors import InvalidInput

REVOCATION_AAD = b"hawiya-revocation-v1"
LIST_VERSION = 1
STATUSES = ("revoked", "lost", "stolen", "superseded")
MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 2_000_000
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _time_text(value: Any, name: str) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{name} {value!r} is not an ISO date-time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    raise InvalidInput(f"{name} must be a datetime, date or ISO text")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _since_text(value: Any, index: int) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise InvalidInput(f"revocation entry {index}: since {value!r} is not a date")


def sign_revocation_list(entries: Iterable[Mapping[str, Any]], keys: SigningKey | Any,
                         issued_at: Any, next_update: Any) -> bytes:
    """Sign a revocation list: COSE_Sign1 bytes. ``keys`` is a SigningKey or a key folder.

    Each entry has ``document_number``, ``status`` (one of :data:`STATUSES`) and ``since``
    (a date or ``YYYY-MM-DD``). ``issued_at`` and ``next_update`` are datetimes (naive ones
    are taken as UTC), dates or ISO text; ``next_update`` must come after ``issued_at``.
    """
    rows: dict[str, list[str]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InvalidInput(f"revocation entry {i} is not a mapping")
        number, status = entry.get("document_number"), entry.get("status")
        if not isinstance(number, str) or not 1 <= len(number) <= 64:
            raise InvalidInput(f"revocation entry {i}: document_number must be 1-64 "
                               "characters of text")
        if status not in STATUSES:
            raise InvalidInput(f"revocation entry {i}: status {status!r} is not one of "
                               f"{', '.join(STATUSES)}")
        if number in rows:
            raise InvalidInput(f"document {number} is listed twice")
        rows[number] = [number, status, _since_text(entry.get("since"), i)]
    if len(rows) > MAX_ENTRIES:
        raise InvalidInput(f"more than {MAX_ENTRIES} revocation entries")
    issued, nxt = _time_text(issued_at, "issued_at"), _time_text(next_update, "next_update")
    if nxt <= issued:
        raise InvalidInput("next_update must come after issued_at")
    payload = cbor_encode({0: LIST_VERSION, 1: issued, 2: nxt,
                           3: [rows[n] for n in sorted(rows)]})
    return sign1(payload, _signing_key(keys), external_aad=REVOCATION_AAD)


def _entries(payload: bytes) -> tuple[list[dict[str, str]] | None, str, str, str]:
    """(entries, issued_at, next_update, problem) of a list payload."""
    try:
        raw = cbor_decode(payload)
    except CBORError as exc:
        return None, "", "", f"payload is not CBOR: {exc}"
    if not isinstance(raw, dict) or set(raw) != {0, 1, 2, 3}:
        return None, "", "", "payload is not a revocation list map (keys 0-3)"
    if raw[0] != LIST_VERSION or isinstance(raw[0], bool):
        return None, "", "", f"revocation list version {raw[0]!r} is not supported"
    issued, nxt, rows = raw[1], raw[2], raw[3]
    for name, value in (("issued_at", issued), ("next_update", nxt)):
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            return None, "", "", f"{name} is not a YYYY-MM-DDTHH:MM:SSZ time"
        try:
            _parse_time(value)
        except ValueError:
            return None, "", "", f"{name} {value!r} is not a real time"
    if not isinstance(rows, list):
        return None, "", "", "entries are not a list"
    entries: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(x, str)
                                                                for x in row)):
            return None, "", "", f"entry {i} is not [document_number, status, since]"
        number, status, since = row
        if status not in STATUSES or not number or number in seen:
            return None, "", "", f"entry {i} has a bad status or a repeated/empty number"
        seen.add(number)
        entries.append({"document_number": number, "status": status, "since": since})
    return entries, issued, nxt, ""


def verify_revocation_list(data: bytes, keyset: KeySet | Mapping[str, Any], *,
                           now: datetime | None = None
                           ) -> tuple[bool, list[dict[str, str]], str]:
    """``(ok, entries, reason)`` for a signed list; never raises on outside input.

    ``ok`` needs a known, non-retired key, a good signature, a well-formed payload and
    ``now`` (default: the current UTC time) not past ``next_update``.
    """
    steps = _Steps()
    msg, _ = check_sign1(data, keyset, REVOCATION_AAD, steps, max_bytes=MAX_LIST_BYTES)
    for name in ("format", "key_known", "signature"):
        check = steps.results.get(name)
        if check is None or not check.passed:
            reason = check.reason if check else "not checked"
            return False, [], f"{name}: {reason}"
    assert msg is not None
    entries, issued, nxt, problem = _entries(msg.payload)
    if entries is None:
        return False, [], f"payload_schema: {problem}"
    retired = steps.results["key_not_retired"]
    if not retired.passed:
        return False, entries, f"key_not_retired: {retired.reason}"
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now > _parse_time(nxt):
        return False, entries, (f"stale: next_update {nxt} has passed; fetch a fresh list "
                                f"(this one was issued {issued})")
    return True, entries, f"{len(entries)} entries, issued {issued}, next update {nxt}"


def is_revoked(entries: Iterable[Mapping[str, Any]], document_number: str
               ) -> dict[str, Any] | None:
    """The entry (truthy, with its ``status`` and ``since``) for a document, or None."""
    for entry in entries:
        if entry.get("document_number") == document_number:
            return dict(entry)
    return None

"""Signed credentials: COSE_Sign1 (RFC 9052) identity data in a QR code, verified offline.

Wire format
-----------
A credential is a tagged COSE_Sign1 message (CBOR tag 18)::

    18([protected: bstr .cbor {1: alg, 4: kid}, unprotected: {}, payload: bstr, signature])

``alg`` is EdDSA (-8, Ed25519) or ES256 (-7, signature as raw ``r || s``); ``kid`` is the
8-byte key id of :mod:`hawiya.credentials.keys`. The signature covers the Sig_structure
``["Signature1", protected, external_aad, payload]`` with ``external_aad`` set to
``b"hawiya-credential-v1"`` (revocation lists use another value), so a message signed for
one purpose never verifies as the other.

The payload is a CBOR map with small integer keys (:data:`PAYLOAD_KEYS`): 0 version (1),
1 document_number, 2 document_type, 3 surname, 4 given_names, 5 date_of_birth, 6 sex,
7 nationality, 8 issuing_authority, 9 issue_date, 10 expiry_date, 11 face_digest. Names
are UTF-8 text as enrolled (not transliterated); dates are ISO text (``YYYY-MM-DD``; a date
of birth may be ``YYYY`` or ``YYYY-MM`` when partly unknown); sex is ``M``, ``F`` or ``X``;
nationality an ICAO 3-letter code; face_digest the 32-byte SHA-256 of the holder's enrolled
face template. No other key is allowed.

QR text: ``"HW1:" + base45(zlib(COSE bytes))`` (the EU digital COVID certificate practice;
base45, RFC 9285, stays inside the QR alphanumeric mode). :func:`decode_qr_text` refuses
text over :data:`MAX_QR_TEXT` characters and output over :data:`MAX_COSE_BYTES` bytes, and
decompresses with a bound, so a decompression bomb costs nothing.

Modules
-------
This module holds the credential payload schema, :func:`issue` and :func:`verify`. They are
built on :mod:`hawiya.credentials.cbor` (the strict, deterministic CBOR codec),
:mod:`hawiya.credentials.cose` (COSE_Sign1 and the key and signature checks shared with
revocation lists) and :mod:`hawiya.credentials.qr_text` (the HW1 base45/zlib text form),
whose public names are re-exported here.

Verification
------------
:func:`verify` never raises on outside input. It returns a :class:`Verification` whose
``checks`` list, in this order, ``format``, ``key_known``, ``key_not_retired``,
``signature``, ``not_expired``, ``payload_schema`` (and ``not_revoked`` when a revocation
list is given), each ``pass``, ``fail`` or ``skipped`` (could not be run because an earlier
step failed) with a reason. ``valid`` is true only when every check passes. ``payload`` is
filled whenever the signature is good (even when the card expired or its key was retired,
so an operator can see whose card it is); the verdict is ``valid``, never the presence of a
payload.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hawiya.credentials.cbor import MAX_CBOR_DEPTH, CBORError, Tag, cbor_decode, cbor_encode
from hawiya.credentials.cose import (
    COSE_SIGN1_TAG,
    HEADER_ALG,
    HEADER_CRIT,
    HEADER_KID,
    Check,
    Sign1,
    _signing_key,
    _Steps,
    check_not_revoked,
    check_sign1,
    parse_sign1,
    sig_structure,
    sign1,
)
from hawiya.credentials.keys import COSE_ALG_NAMES, KeySet, SigningKey
from hawiya.credentials.qr_text import (
    B45_ALPHABET,
    MAX_COSE_BYTES,
    MAX_QR_TEXT,
    QR_PREFIX,
    b45decode,
    b45encode,
    decode_qr_text,
    encode_qr_text,
)
from hawiya.errors import InvalidInput

__all__ = [
    "B45_ALPHABET",
    "CHECKS",
    "COSE_SIGN1_TAG",
    "CREDENTIAL_AAD",
    "HEADER_ALG",
    "HEADER_CRIT",
    "HEADER_KID",
    "MAX_CBOR_DEPTH",
    "MAX_COSE_BYTES",
    "MAX_QR_TEXT",
    "PAYLOAD_KEYS",
    "PAYLOAD_NAMES",
    "PAYLOAD_VERSION",
    "QR_PREFIX",
    "CBORError",
    "Check",
    "Sign1",
    "Tag",
    "Verification",
    "b45decode",
    "b45encode",
    "build_payload",
    "cbor_decode",
    "cbor_encode",
    "check_sign1",
    "decode_qr_text",
    "encode_qr_text",
    "face_digest",
    "issue",
    "parse_sign1",
    "sig_structure",
    "sign1",
    "verify",
]

CREDENTIAL_AAD = b"hawiya-credential-v1"
PAYLOAD_VERSION = 1

CHECKS = ("format", "key_known", "key_not_retired", "signature", "not_expired",
          "payload_schema")

# payload field name -> CBOR key
PAYLOAD_KEYS: dict[str, int] = {
    "version": 0, "document_number": 1, "document_type": 2, "surname": 3, "given_names": 4,
    "date_of_birth": 5, "sex": 6, "nationality": 7, "issuing_authority": 8,
    "issue_date": 9, "expiry_date": 10, "face_digest": 11,
}
PAYLOAD_NAMES = {v: k for k, v in PAYLOAD_KEYS.items()}
_TEXT_LIMITS = {"document_number": (1, 64), "document_type": (1, 32), "surname": (0, 200),
                "given_names": (0, 200), "issuing_authority": (1, 200)}
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_NATIONALITY = re.compile(r"[A-Z<]{3}")


# =========================================================================== results

@dataclass
class Verification:
    """Outcome of :func:`verify`; ``valid`` is true exactly when every check passed."""

    valid: bool
    checks: list[Check]
    payload: dict[str, Any] | None = None
    kid: str | None = None
    algorithm: str | None = None

    @property
    def reason(self) -> str:
        """The first failing check's reason, or ``"valid"``."""
        for c in self.checks:
            if not c.passed:
                return f"{c.name}: {c.reason}"
        return "valid"

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        payload = None
        if self.payload is not None:
            payload = {k: (v.hex() if isinstance(v, bytes) else v)
                       for k, v in self.payload.items()}
        return {"valid": self.valid, "reason": self.reason, "kid": self.kid,
                "algorithm": self.algorithm, "checks": [c.to_dict() for c in self.checks],
                "payload": payload}


# =========================================================================== payload

def _as_date_text(value: Any, name: str, *, partial: bool = False) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise InvalidInput(f"{name} must be a date or ISO text, not {type(value).__name__}")


def _schema_errors(payload: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """(named fields, problems) of a CBOR payload map with integer keys."""
    errors: list[str] = []
    named: dict[str, Any] = {}
    for key in payload:
        if key not in PAYLOAD_NAMES:
            errors.append(f"unknown payload key {key!r}")
    for key, name in PAYLOAD_NAMES.items():
        if key not in payload:
            errors.append(f"{name} is missing")
            continue
        value = payload[key]
        named[name] = value
        if name == "version":
            if value != PAYLOAD_VERSION or isinstance(value, bool):
                errors.append(f"payload version {value!r} is not supported "
                              f"({PAYLOAD_VERSION} expected)")
        elif name == "face_digest":
            if not isinstance(value, bytes) or len(value) != 32:
                errors.append("face_digest must be 32 bytes (SHA-256)")
        elif not isinstance(value, str):
            errors.append(f"{name} must be text, not {type(value).__name__}")
        elif name in _TEXT_LIMITS:
            lo, hi = _TEXT_LIMITS[name]
            if not lo <= len(value) <= hi:
                errors.append(f"{name} must have {lo} to {hi} characters")
            elif any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
                errors.append(f"{name} holds control characters")
        elif name == "sex":
            if value not in ("M", "F", "X"):
                errors.append(f"sex must be M, F or X, not {value!r}")
        elif name == "nationality":
            if not _NATIONALITY.fullmatch(value):
                errors.append(f"nationality {value!r} is not a 3-letter ICAO code")
        elif name == "date_of_birth":
            if not _PARTIAL_DATE.fullmatch(value) or _bad_date(value):
                errors.append(f"date_of_birth {value!r} is not YYYY-MM-DD (or YYYY-MM, YYYY)")
        elif name in ("issue_date", "expiry_date"):
            if not _FULL_DATE.fullmatch(value) or _bad_date(value):
                errors.append(f"{name} {value!r} is not a YYYY-MM-DD date")
    if not errors and named["expiry_date"] < named["issue_date"]:
        errors.append("expiry_date is before issue_date")
    return named, errors


def _bad_date(text: str) -> bool:
    parts = [int(p) for p in text.split("-")]
    parts += [1] * (3 - len(parts))
    try:
        date(*parts)
    except ValueError:
        return True
    return False


def build_payload(fields: Mapping[str, Any], *, today: date | None = None) -> bytes:
    """The CBOR payload of a credential from named fields; InvalidInput when incomplete.

    Dates may be ``date`` objects or ISO text; ``issue_date`` defaults to ``today``;
    ``face_digest`` is 32 bytes or 64 hex characters (see :func:`face_digest`).
    """
    if not isinstance(fields, Mapping):
        raise InvalidInput("credential fields must be a mapping")
    unknown = sorted(set(fields) - set(PAYLOAD_KEYS))
    if unknown:
        raise InvalidInput(f"unknown credential fields: {', '.join(map(str, unknown))}")
    values = dict(fields)
    values.setdefault("version", PAYLOAD_VERSION)
    values.setdefault("issue_date", today or date.today())
    for name in ("date_of_birth", "issue_date", "expiry_date"):
        if name in values:
            values[name] = _as_date_text(values[name], name)
    digest = values.get("face_digest")
    if isinstance(digest, str):
        try:
            values["face_digest"] = bytes.fromhex(digest)
        except ValueError:
            raise InvalidInput("face_digest must be 32 bytes or 64 hex characters") from None
    elif isinstance(digest, (bytearray, memoryview)):
        values["face_digest"] = bytes(digest)
    cbor_map = {PAYLOAD_KEYS[k]: v for k, v in values.items()}
    _, errors = _schema_errors(cbor_map)
    if errors:
        raise InvalidInput("credential fields are not valid", reasons=errors)
    return cbor_encode(cbor_map)


def face_digest(template_bytes: bytes) -> bytes:
    """SHA-256 of a face template's bytes, the value of the ``face_digest`` field."""
    return hashlib.sha256(template_bytes).digest()


def issue(payload: Mapping[str, Any], keys: SigningKey | Any, *,
          today: date | None = None) -> bytes:
    """Sign a credential: the COSE_Sign1 bytes (put them in a QR with :func:`encode_qr_text`).

    ``keys`` is a :class:`~hawiya.credentials.keys.SigningKey` or an issuer key folder (its
    active key signs). Raises InvalidInput when the fields do not fit the schema.
    """
    key = _signing_key(keys)
    cose = sign1(build_payload(payload, today=today), key, external_aad=CREDENTIAL_AAD)
    if len(cose) > MAX_COSE_BYTES:
        raise InvalidInput(f"credential of {len(cose)} bytes exceeds {MAX_COSE_BYTES}")
    return cose


def verify(credential: bytes | str, keyset: KeySet | Mapping[str, Any], *,
           today: date | None = None, revoked: Any = None) -> Verification:
    """Verify COSE bytes or QR text against ``keyset`` (a KeySet or its JSON export).

    ``today`` fixes the date for the expiry check. ``revoked``, a list of revocation entries
    (see :mod:`hawiya.credentials.revocation`) from a list already verified, adds a
    ``not_revoked`` check. Never raises on outside input.
    """
    steps = _Steps()
    names = CHECKS + (("not_revoked",) if revoked is not None else ())
    msg, entry = None, None
    data: Any = credential
    if isinstance(credential, (bytes, bytearray)) and bytes(credential[:4]) == \
            QR_PREFIX.encode():
        data = bytes(credential).decode("ascii", errors="replace")
    if isinstance(data, str):
        try:
            data = decode_qr_text(data)
        except InvalidInput as exc:
            steps.fail("format", exc.message)
    if "format" not in steps.results:
        msg, entry = check_sign1(data, keyset, CREDENTIAL_AAD, steps,
                                 max_bytes=MAX_COSE_BYTES)
    payload = None
    if msg is not None and steps.results.get("signature", Check("", "fail", "")).passed:
        try:
            raw = cbor_decode(msg.payload)
        except CBORError as exc:
            steps.fail("payload_schema", f"payload is not CBOR: {exc}")
            raw = None
        if raw is not None and not isinstance(raw, dict):
            steps.fail("payload_schema", "payload is not a CBOR map")
        elif raw is not None:
            named, errors = _schema_errors(raw)
            payload = {k: v for k, v in named.items() if k != "version"} or None
            if errors:
                steps.fail("payload_schema", "; ".join(errors[:5]))
            else:
                steps.ok("payload_schema", "all fields present and well formed")
                _check_dates(named, today or date.today(), steps)
                if revoked is not None:
                    check_not_revoked(named["document_number"], revoked, steps, "document")
        steps.skip_rest(("not_expired", "not_revoked"),
                        "not checked: the payload does not fit the schema")
    first_failed = next((c for c in steps.results.values() if not c.passed), None)
    why = (f"not checked: {first_failed.name} failed" if first_failed
           else "not checked")
    steps.skip_rest(names, why)
    checks = [steps.results[n] for n in names]
    return Verification(
        valid=all(c.passed for c in checks), checks=checks, payload=payload,
        kid=msg.kid.hex() if msg is not None else None,
        algorithm=COSE_ALG_NAMES.get(msg.alg) if msg is not None else None,
    )


def _check_dates(named: Mapping[str, Any], today: date, steps: _Steps) -> None:
    expiry = date.fromisoformat(named["expiry_date"])
    issued = date.fromisoformat(named["issue_date"])
    if expiry < today:
        steps.fail("not_expired", f"expired on {expiry.isoformat()} (today is "
                                  f"{today.isoformat()})")
    elif issued > today:
        steps.fail("not_expired", f"not yet valid: issued {issued.isoformat()}, today is "
                                  f"{today.isoformat()}")
    else:
        steps.ok("not_expired", f"valid until {expiry.isoformat()}")

"""Signed electronic plates: a COSE_Sign1 credential small enough for an RFID tag's user
memory, also printed as a QR on the windscreen sticker, verified offline with the keyset.

Wire format
-----------
The same COSE_Sign1 as ID cards (:mod:`hawiya.credentials.cose`: EdDSA or ES256, 8-byte
kid in the protected header) with ``external_aad`` ``b"hawiya-eplate-v1"``, so a plate
never verifies as a card, a card never as a plate, and neither as a revocation list.

The payload is a CBOR map with small integer keys (:data:`PAYLOAD_KEYS`): 0 version (1),
1 serial (``EP`` + 8 characters, the key on the revocation list; card numbers start with
``H``, so the two never collide), 2 plate (normalised, A-Z 0-9), 3 country (ISO 3166, a
US state as ``US-CA``), 4 vin_digest, 5 vehicle_class (UNECE category such as ``M1``),
6 issued_on and 7 expires_on (days since 1970-01-01, the untagged form of RFC 8943's
epoch days: three bytes instead of ten). No other key is allowed.

``vin_digest`` is the first 16 bytes of SHA-256 of the VIN. It binds the plate to one
chassis (an officer who reads the VIN stamped on the car checks it against the tag; 128
bits leave no practical second VIN with the same digest), it is one byte shorter than the
VIN and the same length for any VIN, and the tag does not broadcast the VIN as text. It is
not a secret: VINs are structured enough to be enumerated, so the digest binds, it does
not hide. The owner is deliberately not on the tag, which anyone can read from metres away
(and a change of owner then needs no new plate).

Tag budget
----------
:data:`TAG_USER_MEMORY_BYTES` is 256 bytes: 2 kbit of EPC Gen2 user memory, the size of
NXP's UCODE 7xm+ (SL3S1014: 2-kbit user memory; the UCODE 7xm has 1 kbit, and inventory
chips such as UCODE 8 or Impinj Monza R6 have 0-32 bits, too small for any signature). An
Ed25519 or ES256 credential is about 150 bytes (64 of them the signature), with a
16-character plate and a US-state country at most about 165. :func:`issue` refuses
anything over the budget. The tag image is padded with zero bytes to whole 16-bit words
(Gen2 writes words); a reader that returns the whole user bank gives the credential
followed by zeros, which :func:`verify` accepts (the CBOR item says where it ends) while
refusing any non-zero byte after it.

QR text: ``"HP1:" + base45(COSE bytes)`` (RFC 9285, QR alphanumeric mode). Not
compressed: signatures and digests do not compress, and a plate's text barely does.

:func:`verify` never raises on outside input: its ``checks`` are ``format``,
``key_known``, ``key_not_retired``, ``signature``, ``payload_schema``, ``not_expired``,
then ``not_revoked`` when revocation entries (from a verified signed list) are given and
``vin_matches`` when a VIN is given; each ``pass``, ``fail`` or ``skipped`` with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hawiya.credentials.cbor import MAX_CBOR_DEPTH, CBORError, _decode, cbor_decode, cbor_encode
from hawiya.credentials.cose import (
    Check,
    _signing_key,
    _Steps,
    check_not_revoked,
    check_sign1,
    sign1,
)
from hawiya.credentials.keys import COSE_ALG_NAMES, KeySet, SigningKey
from hawiya.credentials.qr_text import b45decode, b45encode
from hawiya.errors import InvalidInput

EPLATE_AAD = b"hawiya-eplate-v1"
PAYLOAD_VERSION = 1
TAG_USER_MEMORY_BYTES = 256     # 2 kbit user memory (NXP UCODE 7xm+ class)
TAG_WORD_BYTES = 2              # EPC Gen2 memory is written in 16-bit words
MAX_TAG_READ = 8192             # a whole user bank as some readers return it
QR_PREFIX = "HP1:"
CARD_QR_PREFIX = "HW1:"
MAX_QR_TEXT = len(QR_PREFIX) + 3 * (TAG_USER_MEMORY_BYTES // 2) + 2
VIN_DIGEST_BYTES = 16
EPOCH = dt.date(1970, 1, 1)
MAX_EPOCH_DAY = 0xFFFF          # 2149-06-06: dates stay three CBOR bytes

CHECKS = ("format", "key_known", "key_not_retired", "signature", "payload_schema",
          "not_expired")
PAYLOAD_KEYS: dict[str, int] = {
    "version": 0, "serial": 1, "plate": 2, "country": 3, "vin_digest": 4,
    "vehicle_class": 5, "issued_on": 6, "expires_on": 7,
}
PAYLOAD_NAMES = {v: k for k, v in PAYLOAD_KEYS.items()}
_PATTERNS = {
    "serial": re.compile(r"EP[0-9A-Z]{8}"),
    "plate": re.compile(r"[A-Z0-9]{1,16}"),
    "country": re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?"),
    "vehicle_class": re.compile(r"[A-Z0-9]{1,8}"),
}
_HEX_JUNK = re.compile(r"[\s:]")


def vin_digest(vin: str) -> bytes:
    """First 16 bytes of SHA-256 of the VIN (upper case): the plate's binding to a chassis."""
    return hashlib.sha256(vin.strip().upper().encode("ascii", "replace")).digest()[
        :VIN_DIGEST_BYTES]


def _epoch_day(value: Any, name: str) -> int:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{name} {value!r} is not a YYYY-MM-DD date") from None
    if not isinstance(value, dt.date):
        raise InvalidInput(f"{name} must be a date")
    return (value - EPOCH).days


def _day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=n)


# =========================================================================== payload

def _schema(raw: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """(named fields, problems) of a payload map with integer keys."""
    errors = [f"unknown payload key {k!r}" for k in raw if k not in PAYLOAD_NAMES]
    named: dict[str, Any] = {}
    for key, name in PAYLOAD_NAMES.items():
        if key not in raw:
            errors.append(f"{name} is missing")
            continue
        value = named[name] = raw[key]
        if name == "version":
            if value != PAYLOAD_VERSION or isinstance(value, bool):
                errors.append(f"payload version {value!r} is not supported "
                              f"({PAYLOAD_VERSION} expected)")
        elif name == "vin_digest":
            if not isinstance(value, bytes) or len(value) != VIN_DIGEST_BYTES:
                errors.append(f"vin_digest must be {VIN_DIGEST_BYTES} bytes")
        elif name in ("issued_on", "expires_on"):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    not 0 <= value <= MAX_EPOCH_DAY:
                errors.append(f"{name} must be a day number 0-{MAX_EPOCH_DAY}")
        elif not isinstance(value, str) or not _PATTERNS[name].fullmatch(value):
            errors.append(f"{name} {str(value)[:40]!r} is not well formed")
    if not errors and named["expires_on"] < named["issued_on"]:
        errors.append("expires_on is before issued_on")
    return named, errors


def build_payload(fields: Mapping[str, Any]) -> bytes:
    """The CBOR payload from named fields (``vin`` or ``vin_digest``, dates as ``date`` or
    ISO text); InvalidInput listing the problems."""
    values = dict(fields)
    if "vin" in values:
        values["vin_digest"] = vin_digest(str(values.pop("vin")))
    unknown = sorted(set(values) - set(PAYLOAD_KEYS))
    if unknown:
        raise InvalidInput(f"unknown e-plate fields: {', '.join(map(str, unknown))}")
    values.setdefault("version", PAYLOAD_VERSION)
    for name in ("issued_on", "expires_on"):
        if name in values:
            values[name] = _epoch_day(values[name], name)
    cbor_map = {PAYLOAD_KEYS[k]: v for k, v in values.items()}
    _, errors = _schema(cbor_map)
    if errors:
        raise InvalidInput("e-plate fields are not valid", reasons=errors)
    return cbor_encode(cbor_map)


def issue(fields: Mapping[str, Any], keys: SigningKey | Any) -> bytes:
    """Sign an e-plate: COSE_Sign1 bytes that fit :data:`TAG_USER_MEMORY_BYTES`.

    ``keys`` is a SigningKey or an issuer key folder (its active key signs).
    """
    cose = sign1(build_payload(fields), _signing_key(keys), external_aad=EPLATE_AAD)
    if len(cose) > TAG_USER_MEMORY_BYTES:
        raise InvalidInput(f"e-plate credential of {len(cose)} bytes exceeds the tag's "
                           f"{TAG_USER_MEMORY_BYTES}-byte user memory")
    return cose


def tag_image(cose: bytes) -> bytes:
    """What is written to the tag's user memory: the COSE bytes, zero-padded to words."""
    return bytes(cose) + b"\0" * (-len(cose) % TAG_WORD_BYTES)


def encode_qr_text(cose: bytes) -> str:
    """The windscreen QR's text: ``HP1:`` + base45 of the COSE bytes."""
    if not isinstance(cose, (bytes, bytearray)) or not cose:
        raise InvalidInput("an e-plate's COSE bytes are needed")
    if len(cose) > TAG_USER_MEMORY_BYTES:
        raise InvalidInput(f"e-plate of {len(cose)} bytes exceeds {TAG_USER_MEMORY_BYTES}")
    return QR_PREFIX + b45encode(bytes(cose))


def decode_qr_text(text: str) -> bytes:
    """COSE bytes from ``HP1:`` text; InvalidInput with the reason."""
    text = text.strip()
    if len(text) > MAX_QR_TEXT:
        raise InvalidInput(f"QR text of {len(text)} characters is longer than any e-plate "
                           f"({MAX_QR_TEXT})")
    if text.startswith(CARD_QR_PREFIX):
        raise InvalidInput(f"an ID-card credential ({CARD_QR_PREFIX}), not an e-plate "
                           f"({QR_PREFIX})")
    if not text.startswith(QR_PREFIX):
        raise InvalidInput(f"not an e-plate: QR text does not start with {QR_PREFIX!r}")
    try:
        data = b45decode(text[len(QR_PREFIX):])
    except ValueError as exc:
        raise InvalidInput(f"QR text is not valid base45: {exc}") from None
    if not data:
        raise InvalidInput(f"QR text holds no data after {QR_PREFIX!r}")
    return data


def _from_tag(data: bytes) -> bytes:
    """The credential from a tag read: zero padding after the CBOR item dropped."""
    if len(data) > MAX_TAG_READ:
        raise InvalidInput(f"tag data of {len(data)} bytes is more than a tag holds "
                           f"({MAX_TAG_READ})")
    if not data:
        raise InvalidInput("the tag data is empty")
    if not any(data):
        raise InvalidInput("the tag's user memory is blank: no e-plate written")
    try:
        _, end = _decode(data, 0, MAX_CBOR_DEPTH)
    except (CBORError, RecursionError):
        return data   # check_sign1 names the CBOR problem
    if any(data[end:]):
        raise InvalidInput(f"{len(data) - end} bytes after the credential on the tag are "
                           "not zero padding")
    return data[:end]


def presented(data: Any) -> tuple[bytes, str]:
    """(COSE bytes, source) from what a verifier was given: raw tag bytes, tag bytes as hex
    text, or ``HP1:`` QR text (as text or bytes). InvalidInput with the reason otherwise."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if isinstance(data, bytes):
        if data[:4] in (QR_PREFIX.encode(), CARD_QR_PREFIX.encode()):
            return decode_qr_text(data[:MAX_QR_TEXT + 64].decode("ascii", "replace")), "qr"
        return _from_tag(data), "tag"
    if not isinstance(data, str):
        raise InvalidInput(f"expected tag bytes or QR text, not {type(data).__name__}")
    text = data.strip()
    if text.startswith((QR_PREFIX, CARD_QR_PREFIX)):
        return decode_qr_text(text), "qr"
    digits = _HEX_JUNK.sub("", text[:4 * MAX_TAG_READ])
    digits = digits[2:] if digits[:2].lower() == "0x" else digits
    if not digits or len(digits) % 2 or any(c not in string.hexdigits for c in digits):
        raise InvalidInput(f"neither e-plate QR text ({QR_PREFIX}...) nor tag bytes in hex")
    return _from_tag(bytes.fromhex(digits)), "tag"


# =========================================================================== verify

@dataclass
class PlateVerification:
    """Outcome of :func:`verify`; ``valid`` exactly when every check passed. ``payload`` is
    filled whenever the signature holds (also for an expired or revoked plate)."""

    valid: bool
    checks: list[Check]
    payload: dict[str, Any] | None = None
    kid: str | None = None
    algorithm: str | None = None
    source: str | None = None
    size: int | None = None

    @property
    def reason(self) -> str:
        bad = next((c for c in self.checks if not c.passed), None)
        return f"{bad.name}: {bad.reason}" if bad else "valid"

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "reason": self.reason, "source": self.source,
                "size": self.size, "kid": self.kid, "algorithm": self.algorithm,
                "checks": [{"name": c.name, "status": c.status, "reason": c.reason}
                           for c in self.checks],
                "payload": self.payload}


def _public(named: Mapping[str, Any]) -> dict[str, Any]:
    return {"serial": named["serial"], "plate": named["plate"], "country": named["country"],
            "vin_digest": named["vin_digest"].hex(), "vehicle_class": named["vehicle_class"],
            "issued_on": _day(named["issued_on"]).isoformat(),
            "expires_on": _day(named["expires_on"]).isoformat()}


def verify(data: Any, keyset: KeySet | Mapping[str, Any], *, today: dt.date | None = None,
           revoked: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
           vin: str | None = None) -> PlateVerification:
    """Verify tag bytes, tag hex or ``HP1:`` QR text against ``keyset`` (a KeySet or its
    JSON export), offline. ``revoked``: entries of a verified revocation list, or their
    :func:`revocation_index` (adds ``not_revoked``); ``vin``: the VIN read off the vehicle
    (adds ``vin_matches``). Never raises on outside input."""
    steps = _Steps()
    names = CHECKS + (("not_revoked",) if revoked is not None else ()) + \
        (("vin_matches",) if vin is not None else ())
    msg, source, cose = None, None, b""
    try:
        cose, source = presented(data)
    except InvalidInput as exc:
        steps.fail("format", exc.message)
    if "format" not in steps.results:
        msg, _ = check_sign1(cose, keyset, EPLATE_AAD, steps,
                             max_bytes=TAG_USER_MEMORY_BYTES)
    payload = None
    signature = steps.results.get("signature")
    if msg is not None and signature is not None and signature.passed:
        payload = _check_payload(msg.payload, today or dt.date.today(), revoked, vin, steps)
    first = next((c for c in steps.results.values() if not c.passed), None)
    steps.skip_rest(names, f"not checked: {first.name} failed" if first else "not checked")
    checks = [steps.results[n] for n in names]
    return PlateVerification(
        valid=all(c.passed for c in checks), checks=checks, payload=payload,
        kid=msg.kid.hex() if msg is not None else None,
        algorithm=COSE_ALG_NAMES.get(msg.alg) if msg is not None else None,
        source=source, size=len(cose) if msg is not None else None)


def _check_payload(raw_bytes: bytes, today: dt.date, revoked: Any, vin: str | None,
                   steps: _Steps) -> dict[str, Any] | None:
    try:
        raw = cbor_decode(raw_bytes)
    except CBORError as exc:
        steps.fail("payload_schema", f"payload is not CBOR: {exc}")
        return None
    if not isinstance(raw, dict):
        steps.fail("payload_schema", "payload is not a CBOR map")
        return None
    named, errors = _schema(raw)
    if errors:
        steps.fail("payload_schema", "; ".join(errors[:5]))
        return None
    steps.ok("payload_schema", "all fields present and well formed")
    issued, expires = _day(named["issued_on"]), _day(named["expires_on"])
    if expires < today:
        steps.fail("not_expired", f"expired on {expires.isoformat()} (today is "
                                  f"{today.isoformat()})")
    elif issued > today:
        steps.fail("not_expired", f"not yet valid: issued {issued.isoformat()}, today is "
                                  f"{today.isoformat()}")
    else:
        steps.ok("not_expired", f"valid until {expires.isoformat()}")
    if revoked is not None:
        check_not_revoked(named["serial"], revoked, steps, "e-plate")
    if vin is not None:
        if hmac.compare_digest(vin_digest(vin), named["vin_digest"]):
            steps.ok("vin_matches", "the VIN read off the vehicle is the plate's VIN")
        else:
            steps.fail("vin_matches", "the VIN given is not the VIN this plate was issued "
                                      "for (a plate moved to another vehicle?)")
    return _public(named)


def revocation_index(entries: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Revocation entries by number: pass it as ``revoked`` to look a serial up in O(1)
    (a verifier checking many plates against a long list builds it once)."""
    return {e["document_number"]: e for e in entries
            if isinstance(e, Mapping) and isinstance(e.get("document_number"), str)}

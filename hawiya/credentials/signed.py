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

CBOR
----
The small codec here handles only what COSE needs, strictly: integers up to 64 bits, byte
and text strings, arrays, maps with integer or text keys, tags, ``true``/``false``/``null``.
Floats, undefined and other simple values, indefinite lengths, non-shortest length
encodings, duplicate map keys, invalid UTF-8, nesting deeper than 16 and trailing bytes are
all refused. Encoding is deterministic (RFC 8949, 4.2.1: shortest form, map keys sorted by
their encoded bytes), so the same payload always gives the same bytes.

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
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np

from hawiya.credentials.keys import COSE_ALG_NAMES, KeySet, SigningKey, active_key
from hawiya.errors import InvalidInput

QR_PREFIX = "HW1:"
MAX_QR_TEXT = 4096
MAX_COSE_BYTES = 8192
MAX_CBOR_DEPTH = 16
COSE_SIGN1_TAG = 18
CREDENTIAL_AAD = b"hawiya-credential-v1"
PAYLOAD_VERSION = 1
HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4

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


# =========================================================================== CBOR

class CBORError(ValueError):
    """Bytes that are not CBOR of the strict subset this module accepts."""


class Tag(NamedTuple):
    """A CBOR tagged item."""

    tag: int
    value: Any


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([major << 5 | 26]) + value.to_bytes(4, "big")
    if value < 0x10000000000000000:
        return bytes([major << 5 | 27]) + value.to_bytes(8, "big")
    raise CBORError("integer out of the 64-bit CBOR range")


def cbor_encode(obj: Any) -> bytes:
    """Deterministic CBOR (RFC 8949, 4.2.1) of ints, bytes, str, lists, dicts, Tag, bool, None."""
    out = bytearray()
    _encode(obj, out, 0)
    return bytes(out)


def _encode(obj: Any, out: bytearray, depth: int) -> None:
    if depth > MAX_CBOR_DEPTH:
        raise CBORError("nesting too deep")
    if obj is False:
        out.append(0xF4)
    elif obj is True:
        out.append(0xF5)
    elif obj is None:
        out.append(0xF6)
    elif isinstance(obj, int):
        out += _head(0, obj) if obj >= 0 else _head(1, -1 - obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        out += _head(2, len(data)) + data
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        out += _head(3, len(data)) + data
    elif isinstance(obj, Tag):
        out += _head(6, obj.tag)
        _encode(obj.value, out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        out += _head(4, len(obj))
        for item in obj:
            _encode(item, out, depth + 1)
    elif isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (int, str)) or isinstance(k, bool):
                raise CBORError(f"map key {k!r}: only integer and text keys are allowed")
            items.append((cbor_encode(k), v))
        items.sort(key=lambda kv: kv[0])
        out += _head(5, len(items))
        for k, v in items:
            out += k
            _encode(v, out, depth + 1)
    else:
        raise CBORError(f"cannot encode {type(obj).__name__} as CBOR")


def cbor_decode(data: bytes, *, max_depth: int = MAX_CBOR_DEPTH) -> Any:
    """Decode one strict-subset CBOR item that fills ``data`` exactly; CBORError otherwise."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CBORError("CBOR input must be bytes")
    data = bytes(data)
    value, pos = _decode(data, 0, max_depth)
    if pos != len(data):
        raise CBORError(f"{len(data) - pos} trailing bytes after the CBOR item")
    return value


_MINIMUM = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}
_WIDTH = {24: 1, 25: 2, 26: 4, 27: 8}


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth < 0:
        raise CBORError("CBOR nesting too deep")
    if pos >= len(data):
        raise CBORError("truncated CBOR")
    initial = data[pos]
    pos += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        simple = {20: False, 21: True, 22: None}
        if info in simple:
            return simple[info], pos
        if info in (25, 26, 27):
            raise CBORError("floating-point values are not allowed")
        raise CBORError(f"simple value {info} is not allowed")
    if info < 24:
        arg = info
    elif info in _WIDTH:
        width = _WIDTH[info]
        if pos + width > len(data):
            raise CBORError("truncated CBOR")
        arg = int.from_bytes(data[pos:pos + width], "big")
        pos += width
        if arg < _MINIMUM[info]:
            raise CBORError("non-shortest CBOR length or integer encoding")
    elif info == 31:
        raise CBORError("indefinite-length items are not allowed")
    else:
        raise CBORError(f"reserved CBOR additional information {info}")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if arg > len(data) - pos:
            raise CBORError("truncated CBOR string")
        raw = data[pos:pos + arg]
        pos += arg
        if major == 2:
            return raw, pos
        try:
            return raw.decode("utf-8"), pos
        except UnicodeDecodeError as exc:
            raise CBORError("text string is not valid UTF-8") from exc
    if major == 4:
        if arg > len(data) - pos:  # every item takes at least one byte
            raise CBORError("truncated CBOR array")
        items = []
        for _ in range(arg):
            item, pos = _decode(data, pos, depth - 1)
            items.append(item)
        return items, pos
    if major == 5:
        if 2 * arg > len(data) - pos:
            raise CBORError("truncated CBOR map")
        result: dict[Any, Any] = {}
        for _ in range(arg):
            key, pos = _decode(data, pos, depth - 1)
            if not isinstance(key, (int, str)) or isinstance(key, bool):
                raise CBORError("map keys must be integers or text")
            if key in result:
                raise CBORError(f"duplicate map key {key!r}")
            result[key], pos = _decode(data, pos, depth - 1)
        return result, pos
    # major 6: tag
    value, pos = _decode(data, pos, depth - 1)
    return Tag(arg, value), pos


# =========================================================================== base45

B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_CHARS = np.frombuffer(B45_ALPHABET.encode("ascii"), np.uint8)
_B45_LOOKUP = np.full(256, 255, np.uint8)
_B45_LOOKUP[_B45_CHARS] = np.arange(45, dtype=np.uint8)
_B45_WEIGHTS = np.array([1, 45, 2025], np.int64)


def b45encode(data: bytes) -> str:
    """Base45 (RFC 9285): two bytes to three characters, a last odd byte to two."""
    raw = np.frombuffer(bytes(data), np.uint8)
    full = len(raw) - len(raw) % 2
    n = raw[:full].astype(np.int64).reshape(-1, 2) @ np.array([256, 1], np.int64)
    digits = np.stack([n % 45, n // 45 % 45, n // 2025], axis=1).reshape(-1)
    if full < len(raw):
        digits = np.concatenate([digits, [int(raw[-1]) % 45, int(raw[-1]) // 45]])
    return _B45_CHARS[digits.astype(np.intp)].tobytes().decode("ascii")


def b45decode(text: str) -> bytes:
    """Strict base45 decoding: ValueError for a foreign character, a bad length or value."""
    if len(text) % 3 == 1:
        raise ValueError(f"base45 text of length {len(text)} is impossible (length % 3 == 1)")
    try:
        raw = np.frombuffer(text.encode("ascii"), np.uint8)
    except UnicodeEncodeError:
        bad = next(c for c in text if not c.isascii())
        raise ValueError(f"character {bad!r} is not in the base45 alphabet") from None
    values = _B45_LOOKUP[raw]
    if (values == 255).any():
        bad = text[int(np.argmax(values == 255))]
        raise ValueError(f"character {bad!r} is not in the base45 alphabet")
    full = len(values) - len(values) % 3
    n = values[:full].astype(np.int64).reshape(-1, 3) @ _B45_WEIGHTS
    if (n > 0xFFFF).any():
        i = int(np.argmax(n > 0xFFFF))
        raise ValueError(f"base45 triplet at {3 * i} decodes to {int(n[i])} > 65535")
    out = n.astype(">u2").tobytes()
    if full < len(values):
        last = int(values[full]) + int(values[full + 1]) * 45
        if last > 0xFF:
            raise ValueError(f"base45 final pair decodes to {last} > 255")
        out += bytes([last])
    return out


# =========================================================================== QR text

def encode_qr_text(cose_bytes: bytes) -> str:
    """The QR text of a credential: ``HW1:`` + base45 of the zlib-compressed COSE bytes."""
    if not isinstance(cose_bytes, (bytes, bytearray)) or not cose_bytes:
        raise InvalidInput("a credential's COSE bytes are needed")
    if len(cose_bytes) > MAX_COSE_BYTES:
        raise InvalidInput(f"credential of {len(cose_bytes)} bytes exceeds {MAX_COSE_BYTES}")
    text = QR_PREFIX + b45encode(zlib.compress(bytes(cose_bytes), 9))
    if len(text) > MAX_QR_TEXT:
        raise InvalidInput(f"QR text of {len(text)} characters exceeds {MAX_QR_TEXT}")
    return text


def decode_qr_text(text: str) -> bytes:
    """COSE bytes from QR text; :class:`~hawiya.errors.InvalidInput` with the reason."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_QR_TEXT + 16:
            raise InvalidInput(f"QR text of {len(text)} bytes exceeds the {MAX_QR_TEXT} "
                               "character limit")
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidInput("QR text holds non-ASCII bytes") from None
    if not isinstance(text, str):
        raise InvalidInput(f"QR text must be text, not {type(text).__name__}")
    if len(text) > MAX_QR_TEXT + 16:
        raise InvalidInput(f"QR text of {len(text)} characters exceeds the {MAX_QR_TEXT} "
                           "character limit")
    text = text.strip()
    if len(text) > MAX_QR_TEXT:
        raise InvalidInput(f"QR text of {len(text)} characters exceeds the {MAX_QR_TEXT} "
                           "character limit")
    if not text.startswith(QR_PREFIX):
        raise InvalidInput(f"not a Hawiya credential: QR text does not start with "
                           f"{QR_PREFIX!r}")
    try:
        compressed = b45decode(text[len(QR_PREFIX):])
    except ValueError as exc:
        raise InvalidInput(f"QR text is not valid base45: {exc}") from None
    if not compressed:
        raise InvalidInput(f"QR text holds no data after {QR_PREFIX!r}")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, MAX_COSE_BYTES + 1)
    except zlib.error as exc:
        raise InvalidInput(f"QR payload is not valid zlib data: {exc}") from None
    if len(out) > MAX_COSE_BYTES or inflater.unconsumed_tail:
        raise InvalidInput(f"QR payload inflates beyond the {MAX_COSE_BYTES}-byte limit")
    if not inflater.eof:
        raise InvalidInput("QR payload is truncated (incomplete zlib stream)")
    if inflater.unused_data:
        raise InvalidInput("QR payload has bytes after the zlib stream")
    return out


# =========================================================================== COSE_Sign1

class Sign1(NamedTuple):
    """A parsed COSE_Sign1 message (not yet verified)."""

    protected: bytes
    alg: int
    kid: bytes
    payload: bytes
    signature: bytes


def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The bytes a COSE_Sign1 signature covers (RFC 9052, 4.4)."""
    return cbor_encode(["Signature1", protected, external_aad, payload])


def sign1(payload: bytes, key: SigningKey, *, external_aad: bytes = b"") -> bytes:
    """A tagged COSE_Sign1 message over ``payload`` with ``key`` (alg and kid protected)."""
    protected = cbor_encode({HEADER_ALG: key.cose_alg, HEADER_KID: key.kid_bytes})
    signature = key.sign(sig_structure(protected, payload, external_aad))
    return cbor_encode(Tag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> Sign1:
    """Structure of a COSE_Sign1 message; CBORError with the reason when it is not one."""
    item = cbor_decode(data)
    if not isinstance(item, Tag) or item.tag != COSE_SIGN1_TAG:
        what = f"tag {item.tag}" if isinstance(item, Tag) else type(item).__name__
        raise CBORError(f"not a COSE_Sign1 message: expected CBOR tag 18, found {what}")
    body = item.value
    if not isinstance(body, list) or len(body) != 4:
        raise CBORError("COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes):
        raise CBORError("COSE_Sign1 protected header must be a byte string")
    if not isinstance(unprotected, dict):
        raise CBORError("COSE_Sign1 unprotected header must be a map")
    if payload is None:
        raise CBORError("detached payloads are not supported")
    if not isinstance(payload, bytes):
        raise CBORError("COSE_Sign1 payload must be a byte string")
    if not isinstance(signature, bytes):
        raise CBORError("COSE_Sign1 signature must be a byte string")
    headers = cbor_decode(protected) if protected else {}
    if not isinstance(headers, dict):
        raise CBORError("protected header is not a map")
    if HEADER_CRIT in headers or HEADER_CRIT in unprotected:
        raise CBORError("critical header parameters are not supported")
    if HEADER_ALG in unprotected:
        raise CBORError("alg must be in the protected header")
    alg = headers.get(HEADER_ALG)
    if not isinstance(alg, int) or isinstance(alg, bool):
        raise CBORError("protected header has no integer alg")
    if alg not in COSE_ALG_NAMES:
        raise CBORError(f"unsupported algorithm {alg} (EdDSA -8 or ES256 -7 expected)")
    kid = headers.get(HEADER_KID)
    loose = unprotected.get(HEADER_KID)
    if kid is None:
        kid = loose
    elif loose is not None and loose != kid:
        raise CBORError("protected and unprotected kid differ")
    if not isinstance(kid, bytes) or not kid:
        raise CBORError("no kid (byte string) in the headers")
    return Sign1(protected, alg, kid, payload, signature)


# =========================================================================== results

@dataclass(frozen=True)
class Check:
    """One verification step: ``status`` is ``pass``, ``fail`` or ``skipped``."""

    name: str
    status: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "passed": self.passed,
                "reason": self.reason}


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


@dataclass
class _Steps:
    results: dict[str, Check] = field(default_factory=dict)

    def ok(self, name: str, reason: str) -> None:
        self.results[name] = Check(name, "pass", reason)

    def fail(self, name: str, reason: str) -> None:
        self.results[name] = Check(name, "fail", reason)

    def skip_rest(self, names: tuple[str, ...], reason: str) -> None:
        for n in names:
            self.results.setdefault(n, Check(n, "skipped", reason))


def check_sign1(data: Any, keyset: KeySet | Mapping[str, Any], external_aad: bytes,
                steps: _Steps, *, max_bytes: int) -> tuple[Sign1 | None, Any]:
    """Run ``format``, ``key_known``, ``key_not_retired`` and ``signature`` into ``steps``.

    Returns the parsed message (when the format is right) and the key entry (when known).
    Shared by credentials and revocation lists; never raises on outside input.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        steps.fail("format", f"expected bytes or QR text, not {type(data).__name__}")
        return None, None
    if len(data) > max_bytes:
        steps.fail("format", f"message of {len(data)} bytes exceeds the {max_bytes}-byte "
                             "limit")
        return None, None
    try:
        msg = parse_sign1(data)
    except CBORError as exc:
        steps.fail("format", str(exc))
        return None, None
    except RecursionError:  # pragma: no cover - depth is bounded well below the limit
        steps.fail("format", "CBOR nesting too deep")
        return None, None
    steps.ok("format", f"COSE_Sign1, {COSE_ALG_NAMES[msg.alg]}, {len(data)} bytes")
    kid_hex = msg.kid.hex()
    if not isinstance(keyset, KeySet):
        try:
            keyset = KeySet.from_export(keyset)
        except InvalidInput as exc:
            steps.fail("key_known", f"the key set given to the verifier is unusable: {exc}")
            return msg, None
    entry = keyset.get(msg.kid)
    if entry is None:
        steps.fail("key_known", f"unknown key id {kid_hex[:64]}: not in the verifier's key "
                                "set")
        return msg, None
    steps.ok("key_known", f"key {kid_hex} ({entry.algorithm}, {entry.status})")
    if entry.status == "retired":
        when = f" on {entry.retired}" if entry.retired else ""
        steps.fail("key_not_retired", f"key {kid_hex} was retired{when}: no longer trusted")
    else:
        steps.ok("key_not_retired", f"key {kid_hex} is {entry.status}")
    if msg.alg != entry.cose_alg:
        steps.fail("signature", f"message says {COSE_ALG_NAMES[msg.alg]} but key {kid_hex} "
                                f"is an {entry.algorithm} key")
    elif entry.verify(msg.signature, sig_structure(msg.protected, msg.payload, external_aad)):
        steps.ok("signature", f"{entry.algorithm} signature by {kid_hex} is good")
    else:
        steps.fail("signature", "signature does not match (the data was altered, or it was "
                                "not signed by this key or for this purpose)")
    return msg, entry


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


def _signing_key(keys: Any) -> SigningKey:
    if isinstance(keys, SigningKey):
        return keys
    if isinstance(keys, (str, bytes)) or hasattr(keys, "__fspath__"):
        return active_key(keys)
    raise InvalidInput("keys must be a SigningKey or an issuer key folder")


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
                    _check_revoked(named["document_number"], revoked, steps)
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


def _check_revoked(number: str, revoked: Any, steps: _Steps) -> None:
    try:
        hit = next((e for e in revoked if isinstance(e, Mapping)
                    and e.get("document_number") == number), None)
    except TypeError:
        steps.fail("not_revoked", "the revocation entries given are not a list")
        return
    if hit is None:
        steps.ok("not_revoked", "not on the revocation list")
    else:
        since = f" since {hit.get('since')}" if hit.get("since") else ""
        steps.fail("not_revoked", f"document {number} is {hit.get('status', 'revoked')}"
                                  f"{since}")

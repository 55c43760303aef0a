"""The HW1 QR text form of a credential: ``HW1:`` + base45 (RFC 9285) of the zlib-compressed COSE.

QR text: ``"HW1:" + base45(zlib(COSE bytes))`` (the EU digital COVID certificate practice;
base45, RFC 9285, stays inside the QR alphanumeric mode). :func:`decode_qr_text` refuses
text over :data:`MAX_QR_TEXT` characters and output over :data:`MAX_COSE_BYTES` bytes, and
decompresses with a bound, so a decompression bomb costs nothing.

Base45 is implemented here too (:func:`b45encode`, :func:`b45decode`, strict).
"""

from __future__ import annotations

import zlib

import numpy as np

from hawiya.errors import InvalidInput

QR_PREFIX = "HW1:"
MAX_QR_TEXT = 4096
MAX_COSE_BYTES = 8192


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

"""A small strict CBOR (RFC 8949) codec: the subset COSE messages and credential payloads need.

The codec handles only what COSE needs, strictly: integers up to 64 bits, byte and text
strings, arrays, maps with integer or text keys, tags, ``true``/``false``/``null``. Floats,
undefined and other simple values, indefinite lengths, non-shortest length encodings,
duplicate map keys, invalid UTF-8, nesting deeper than 16 and trailing bytes are all
refused. Encoding is deterministic (RFC 8949, 4.2.1: shortest form, map keys sorted by
their encoded bytes), so the same payload always gives the same bytes.

Used by :mod:`hawiya.credentials.cose` (COSE_Sign1), :mod:`hawiya.credentials.signed`
(credential payloads) and :mod:`hawiya.credentials.revocation` (revocation lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

MAX_CBOR_DEPTH = 16


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

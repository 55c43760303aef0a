"""ISO/IEC 19794-2:2005 finger minutiae record: read, write, and convert to/from Template.

Record layout (all integers big-endian)::

    record header (24 bytes)
      "FMR\\0" | " 20\\0" | u32 record length | u16 capture equipment (4 bits compliance,
      12 bits equipment id) | u16 image width | u16 image height | u16 x resolution
      | u16 y resolution (pixels per centimetre) | u8 number of finger views | u8 reserved
    per finger view
      u8 finger position | u8 (view number << 4 | impression type) | u8 finger quality
      | u8 number of minutiae
      per minutia (6 bytes): u16 (type << 14 | x) | u16 (reserved << 14 | y)
                             | u8 angle (units of 360/256 degrees, counter-clockwise
                             from the x axis, y pointing down the image) | u8 quality
      u16 extended data block length | extended data (kept verbatim)

Minutia type codes: 0 other, 1 ridge ending, 2 ridge bifurcation. Every field is kept,
reserved bits and extended data included, so ``write(read(b)) == b`` for any well-formed
record. Anything malformed (short, wrong magic, lengths that disagree) raises
:class:`hawiya.errors.InvalidInput`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from hawiya.errors import InvalidInput

MAGIC = b"FMR\x00"
VERSION_2005 = b" 20\x00"
HEADER = struct.Struct(">4s4sIHHHHHBB")  # 24 bytes
VIEW = struct.Struct(">BBBB")
MINUTIA = struct.Struct(">HHBB")
MAX_RECORD_BYTES = 1 << 20

TYPE_OTHER, TYPE_ENDING, TYPE_BIFURCATION = 0, 1, 2

# ISO finger position codes (Table 2 of the standard).
FINGER_POSITIONS = {
    "unknown": 0, "right-thumb": 1, "right-index": 2, "right-middle": 3, "right-ring": 4,
    "right-little": 5, "left-thumb": 6, "left-index": 7, "left-middle": 8, "left-ring": 9,
    "left-little": 10,
}
POSITION_NAMES = {v: k for k, v in FINGER_POSITIONS.items()}


@dataclass
class Minutia:
    type: int  # 0 other, 1 ending, 2 bifurcation
    x: int  # pixels
    y: int
    angle: int  # 0-255, units of 1.40625 degrees, counter-clockwise
    quality: int  # 0-100 (0: not reported)
    reserved: int = 0  # the 2 reserved bits beside y, kept for byte-exact round trips

    @property
    def angle_rad(self) -> float:
        return self.angle * (2 * np.pi / 256)


@dataclass
class FingerView:
    position: int = 0
    view_number: int = 0
    impression_type: int = 0
    quality: int = 0
    minutiae: list[Minutia] = field(default_factory=list)
    extended: bytes = b""


@dataclass
class Record:
    width: int
    height: int
    x_resolution: int = 197  # pixels per centimetre (197 ~ 500 ppi)
    y_resolution: int = 197
    equipment: int = 0  # the 16-bit capture equipment field as stored
    views: list[FingerView] = field(default_factory=list)
    reserved: int = 0

    @property
    def ppi(self) -> float:
        return self.x_resolution * 2.54


def read(data: bytes) -> Record:
    """Parse one ISO/IEC 19794-2:2005 record; InvalidInput when it is malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("ISO 19794-2 record must be bytes")
    data = bytes(data)
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidInput("ISO 19794-2 record too large")
    if len(data) < HEADER.size:
        raise InvalidInput(f"ISO 19794-2 record truncated: {len(data)} bytes, header needs 24")
    magic, version, length, equip, w, h, xres, yres, nviews, reserved = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise InvalidInput("not an ISO 19794-2 finger minutiae record (bad magic)")
    if version != VERSION_2005:
        raise InvalidInput(f"unsupported ISO 19794-2 version {version!r} (expected ' 20')")
    if length != len(data):
        raise InvalidInput(f"ISO 19794-2 record length field says {length} bytes, "
                           f"got {len(data)}")
    if w == 0 or h == 0:
        raise InvalidInput("ISO 19794-2 record with zero image size")
    rec = Record(width=w, height=h, x_resolution=xres, y_resolution=yres, equipment=equip,
                 reserved=reserved)
    off = HEADER.size
    for v in range(nviews):
        if off + VIEW.size > len(data):
            raise InvalidInput(f"ISO 19794-2 record truncated in finger view {v}")
        pos, vi, q, n = VIEW.unpack_from(data, off)
        off += VIEW.size
        if off + n * MINUTIA.size + 2 > len(data):
            raise InvalidInput(f"ISO 19794-2 record truncated in the minutiae of view {v}")
        mins = []
        for _ in range(n):
            tx, ry, ang, mq = MINUTIA.unpack_from(data, off)
            off += MINUTIA.size
            mins.append(Minutia(type=tx >> 14, x=tx & 0x3FFF, y=ry & 0x3FFF, angle=ang,
                                quality=mq, reserved=ry >> 14))
        (elen,) = struct.unpack_from(">H", data, off)
        off += 2
        if off + elen > len(data):
            raise InvalidInput(f"ISO 19794-2 extended data of view {v} overruns the record")
        ext = data[off:off + elen]
        off += elen
        rec.views.append(FingerView(position=pos, view_number=vi >> 4,
                                    impression_type=vi & 0x0F, quality=q, minutiae=mins,
                                    extended=ext))
    if off != len(data):
        raise InvalidInput(f"ISO 19794-2 record has {len(data) - off} trailing bytes")
    return rec


def write(rec: Record) -> bytes:
    """Serialise a Record; InvalidInput when a field does not fit its bits."""
    def check(value: int, bits: int, name: str) -> int:
        if not 0 <= int(value) < (1 << bits):
            raise InvalidInput(f"ISO 19794-2 field {name}={value} does not fit {bits} bits")
        return int(value)

    body = bytearray()
    check(len(rec.views), 8, "number of finger views")
    for v in rec.views:
        check(len(v.minutiae), 8, "number of minutiae")
        body += VIEW.pack(check(v.position, 8, "finger position"),
                          check(v.view_number, 4, "view number") << 4
                          | check(v.impression_type, 4, "impression type"),
                          check(v.quality, 8, "finger quality"), len(v.minutiae))
        for m in v.minutiae:
            body += MINUTIA.pack(check(m.type, 2, "minutia type") << 14 | check(m.x, 14, "x"),
                                 check(m.reserved, 2, "reserved") << 14 | check(m.y, 14, "y"),
                                 check(m.angle, 8, "angle"), check(m.quality, 8, "quality"))
        body += struct.pack(">H", check(len(v.extended), 16, "extended data length"))
        body += v.extended
    total = HEADER.size + len(body)
    head = HEADER.pack(MAGIC, VERSION_2005, total, check(rec.equipment, 16, "equipment"),
                       check(rec.width, 16, "width"), check(rec.height, 16, "height"),
                       check(rec.x_resolution, 16, "x resolution"),
                       check(rec.y_resolution, 16, "y resolution"), len(rec.views),
                       check(rec.reserved, 8, "reserved"))
    return head + bytes(body)


def view_arrays(view: FingerView) -> np.ndarray:
    """Minutiae of one view as an (N, 5) float array: x, y, theta, kind, quality.

    ``theta`` is in radians in image coordinates (y down, measured clockwise on screen, as
    ``atan2(dy, dx)``): the ISO angle is counter-clockwise, so theta = -iso angle. ``kind``
    is 0 ending, 1 bifurcation (ISO "other" maps to ending); quality is 0-1.
    """
    if not view.minutiae:
        return np.zeros((0, 5), np.float64)
    a = np.array([(m.x, m.y, m.angle, m.type, m.quality) for m in view.minutiae], np.float64)
    theta = np.mod(-a[:, 2] * (2 * np.pi / 256), 2 * np.pi)
    kind = (a[:, 3] == TYPE_BIFURCATION).astype(np.float64)
    return np.column_stack([a[:, 0], a[:, 1], theta, kind, a[:, 4] / 100.0])


def view_from_arrays(mins: np.ndarray, *, position: str = "unknown", quality: int = 0
                     ) -> FingerView:
    """The inverse of :func:`view_arrays` (coordinates rounded to whole pixels)."""
    out = []
    for x, y, th, kind, q in np.asarray(mins, np.float64).reshape(-1, 5):
        ang = int(round(np.mod(-th, 2 * np.pi) / (2 * np.pi / 256))) % 256
        out.append(Minutia(type=TYPE_BIFURCATION if kind >= 0.5 else TYPE_ENDING,
                           x=int(np.clip(round(x), 0, 0x3FFF)),
                           y=int(np.clip(round(y), 0, 0x3FFF)), angle=ang,
                           quality=int(np.clip(round(q * 100), 0, 100))))
    return FingerView(position=FINGER_POSITIONS.get(position, 0), quality=int(quality),
                      minutiae=out[:255])


__all__ = ["FINGER_POSITIONS", "FingerView", "Minutia", "POSITION_NAMES", "Record", "read",
           "view_arrays", "view_from_arrays", "write"]

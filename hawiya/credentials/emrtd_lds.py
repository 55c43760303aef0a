"""eMRTD logical data structure (ICAO Doc 9303 part 10, LDS1): BER-TLV, DG1's MRZ, DG2's face.

The data groups are ISO 7816 BER-TLV, not DER: a strict bounded reader here, rather than an
ASN.1 library, so a corrupt or hostile data group costs nothing and raises only
:class:`LDSError`. The ``LDSSecurityObject`` that the SOD signs, on the other hand, is real
ASN.1 and is declared here for asn1crypto.
"""

from __future__ import annotations

from collections.abc import Iterator

from asn1crypto import algos, core

# Doc 9303 part 10, table of LDS1 elementary files: data group number -> its outer tag.
DG_TAGS: dict[int, int] = {1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67,
                           8: 0x68, 9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E,
                           15: 0x6F, 16: 0x70}
SOD_TAG = 0x77
MRZ_TAG = 0x5F1F                 # inside DG1
BIOMETRIC_GROUP_TAG = 0x7F61     # biometric information group template
BIOMETRIC_TEMPLATE_TAG = 0x7F60  # one biometric information template per instance
HEADER_TEMPLATE_TAG = 0xA1       # biometric header template (BHT)
BDB_TAGS = (0x5F2E, 0x7F2E)      # biometric data block, plain or constructed (ISO 39794)
MRZ_LENGTHS = {88: 44, 90: 30, 72: 36}  # TD3, TD1, TD2: total characters -> line width
_MRZ_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_MAX_TAG_BYTES = 3

JPEG_MAGIC = b"\xff\xd8\xff"
JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"   # JPEG 2000 file (JP2 signature box)
J2K_MAGIC = b"\xff\x4f\xff\x51"                  # JPEG 2000 bare codestream (SOC + SIZ)
FAC_HEADER = 14            # 'FAC\0', version, record length (4), number of images (2)
FAC_INFO = 20              # facial information block, its 4-byte length included
FAC_FEATURE_POINT = 8
FAC_IMAGE_INFO = 12


class LDSError(ValueError):
    """A data group that does not have the structure Doc 9303 part 10 gives it."""


# =========================================================================== ASN.1 (SOD)

class DataGroupHash(core.Sequence):
    _fields = [("data_group_number", core.Integer),
               ("data_group_hash_value", core.OctetString)]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString),
               ("unicode_version", core.PrintableString)]


class LDSSecurityObject(core.Sequence):
    """Doc 9303 part 10 section 4.6.2.2: version v0 (or v1 with ldsVersionInfo)."""

    _fields = [("version", core.Integer),
               ("hash_algorithm", algos.DigestAlgorithm),
               ("data_group_hash_values", DataGroupHashValues),
               ("lds_version_info", LDSVersionInfo, {"optional": True})]


# =========================================================================== BER-TLV

def read_tlv(data: bytes, pos: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at ``pos``; definite lengths only."""
    end = len(data) if end is None else end
    if pos >= end:
        raise LDSError("expected a tag, found the end of the data")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # tag number continues in following bytes
        for _ in range(_MAX_TAG_BYTES - 1):
            if pos >= end:
                raise LDSError("truncated tag")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
        else:
            raise LDSError("tag longer than 3 bytes")
    if pos >= end:
        raise LDSError("truncated length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise LDSError("indefinite length is not allowed in the LDS")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end:
            raise LDSError("bad or truncated length field")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if length > end - pos:
        raise LDSError(f"length {length} runs past the end of the data ({end - pos} left)")
    return tag, pos, pos + length


def children(data: bytes, start: int = 0,
             end: int | None = None) -> Iterator[tuple[int, int, int]]:
    """Each sibling TLV between ``start`` and ``end`` as (tag, value start, value end),
    lazily: a hostile run of empty TLVs costs time, never memory."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        tag, vs, ve = read_tlv(data, pos, end)
        yield tag, vs, ve
        pos = ve


def outer(data: bytes, tag: int, what: str) -> tuple[int, int]:
    """Value bounds of the one TLV that must fill ``data`` and carry ``tag``."""
    got, vs, ve = read_tlv(data)
    if got != tag:
        raise LDSError(f"{what} starts with tag {got:#x}, expected {tag:#x}")
    if ve != len(data):
        raise LDSError(f"{len(data) - ve} bytes after the end of the {what} object")
    return vs, ve


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    """BER-TLV encoding (definite, shortest length) of ``value`` under ``tag``."""
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") + encode_length(len(value)) \
        + value


def tag_of(data: bytes) -> int | None:
    """The first tag of ``data``, or None when it does not even start with one."""
    try:
        return read_tlv(data)[0] if data else None
    except LDSError:
        return None


# =========================================================================== DG1

def dg1_mrz(dg1: bytes) -> str:
    """The MRZ stored in DG1 as lines joined by ``\\n`` (TD1 3x30, TD2 2x36, TD3 2x44)."""
    vs, ve = outer(dg1, DG_TAGS[1], "DG1")
    for tag, s, e in children(dg1, vs, ve):
        if tag == MRZ_TAG:
            raw = dg1[s:e]
            break
    else:
        raise LDSError("DG1 has no MRZ data element (tag 5F1F)")
    width = MRZ_LENGTHS.get(len(raw))
    if width is None:
        raise LDSError(f"DG1 MRZ has {len(raw)} characters; 88 (TD3), 90 (TD1) or 72 (TD2) "
                       "expected")
    if not set(raw) <= _MRZ_CHARS:
        raise LDSError("DG1 MRZ holds characters outside A-Z, 0-9 and <")
    text = raw.decode("ascii")
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def normalise_mrz(text: str) -> str:
    """An MRZ without whitespace or line breaks, upper case: the form two MRZs compare in."""
    return "".join(text.split()).upper()


# =========================================================================== DG2

def dg2_face(dg2: bytes) -> tuple[bytes, str]:
    """(image bytes, ``"jpeg"`` or ``"jpeg2000"``) of the first face in DG2.

    DG2 is 75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E | 7F2E data block } ... } }. The
    image is located in an ISO 19794-5:2005 record ('FAC', version 010) by its lengths, and
    otherwise (the 2011 edition, ISO 39794-5) by the JPEG or JPEG 2000 magic number.
    """
    vs, ve = outer(dg2, DG_TAGS[2], "DG2")
    group = next((c for c in children(dg2, vs, ve) if c[0] == BIOMETRIC_GROUP_TAG), None)
    if group is None:
        raise LDSError("DG2 has no biometric information group template (7F61)")
    _, gs, ge = group
    for tag, ts, te in children(dg2, gs, ge):
        if tag != BIOMETRIC_TEMPLATE_TAG:
            continue
        for btag, bs, be in children(dg2, ts, te):
            if btag in BDB_TAGS:
                return _face_image(dg2[bs:be])
    raise LDSError("DG2 has no biometric data block (5F2E or 7F2E)")


def _face_image(bdb: bytes) -> tuple[bytes, str]:
    if bdb[:4] == b"FAC\x00" and bdb[4:8] == b"010\x00":
        found = _fac_2005_image(bdb)
        if found is not None:
            return found
    best = None
    for magic, fmt in ((JPEG_MAGIC, "jpeg"), (JP2_MAGIC, "jpeg2000"), (J2K_MAGIC, "jpeg2000")):
        at = bdb.find(magic)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, fmt)
    if best is None:
        raise LDSError("the biometric data block holds no JPEG or JPEG 2000 image")
    return bdb[best[0]:], best[1]


def _fac_2005_image(bdb: bytes) -> tuple[bytes, str] | None:
    """The first image of an ISO 19794-5:2005 record, or None when its lengths disagree."""
    pos = FAC_HEADER
    if len(bdb) < pos + FAC_INFO + FAC_IMAGE_INFO:
        return None
    block = int.from_bytes(bdb[pos:pos + 4], "big")
    points = int.from_bytes(bdb[pos + 4:pos + 6], "big")
    info = pos + FAC_INFO + FAC_FEATURE_POINT * points
    image_start = info + FAC_IMAGE_INFO
    image_end = pos + block
    if image_end > len(bdb) or image_start >= image_end:
        return None
    image = bdb[image_start:image_end]
    kind = bdb[info + 1]  # image data type: 0 JPEG, 1 JPEG 2000
    if kind == 0 and image.startswith(JPEG_MAGIC):
        return image, "jpeg"
    if kind == 1 and (image.startswith(JP2_MAGIC) or image.startswith(J2K_MAGIC)):
        return image, "jpeg2000"
    return None

"""ISO/IEC 19794-2:2005 reader/writer: vendor files round trip, bad input is InvalidInput."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hawiya.biometrics import iso19794_2 as iso
from hawiya.errors import InvalidInput

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "finger" / "fvc2002"
ISO_FILES = sorted(DATA.glob("DB*_B/*.iso")) if DATA.is_dir() else []
needs_data = pytest.mark.skipif(not ISO_FILES, reason="shared FVC2002 data not present")


def _record(n: int = 3) -> iso.Record:
    mins = [iso.Minutia(type=1 + i % 2, x=10 + i, y=20 + 2 * i, angle=(37 * i) % 256,
                        quality=i % 101) for i in range(n)]
    return iso.Record(width=300, height=400, views=[iso.FingerView(position=2, quality=60,
                                                                   minutiae=mins)])


def test_write_read_round_trip():
    rec = _record(5)
    blob = iso.write(rec)
    assert blob[:4] == b"FMR\x00" and len(blob) == 24 + 4 + 5 * 6 + 2
    back = iso.read(blob)
    assert back == rec
    assert iso.write(back) == blob


@needs_data
def test_vendor_files_round_trip_byte_exact():
    counts = []
    for p in ISO_FILES:
        blob = p.read_bytes()
        rec = iso.read(blob)
        assert iso.write(rec) == blob, p
        assert (rec.width, rec.height, rec.x_resolution) == (300, 400, 197)
        assert len(rec.views) == 1
        mins = rec.views[0].minutiae
        counts.append(len(mins))
        for m in mins:
            assert 0 <= m.x < rec.width and 0 <= m.y < rec.height, p
            assert m.type in (iso.TYPE_OTHER, iso.TYPE_ENDING, iso.TYPE_BIFURCATION)
    assert len(ISO_FILES) == 320
    assert 5 <= min(counts) and max(counts) <= 120 and 15 <= np.mean(counts) <= 80


def test_view_arrays_round_trip():
    rec = _record(6)
    arr = iso.view_arrays(rec.views[0])
    view = iso.view_from_arrays(arr, position="right-index", quality=60)
    assert [(m.x, m.y, m.angle, m.type, m.quality) for m in view.minutiae] == \
        [(m.x, m.y, m.angle, m.type, m.quality) for m in rec.views[0].minutiae]


@pytest.mark.parametrize("blob", [
    b"", b"FMR", b"XYZ\x00 20\x00" + b"\x00" * 16,
    b"FMR\x00 30\x00" + b"\x00" * 16,
])
def test_bad_headers(blob):
    with pytest.raises(InvalidInput):
        iso.read(blob)


def test_wrong_lengths_and_truncation():
    blob = iso.write(_record(4))
    with pytest.raises(InvalidInput):
        iso.read(blob[:-3])  # truncated
    with pytest.raises(InvalidInput):
        iso.read(blob[:8] + struct.pack(">I", len(blob) + 6) + blob[12:])  # length lies
    bad = bytearray(blob)
    bad[27] = 200  # minutiae count beyond the record
    with pytest.raises(InvalidInput):
        iso.read(bytes(bad))
    with pytest.raises(InvalidInput):
        iso.read(blob + b"\x00\x00")  # trailing bytes (length field no longer matches)


def test_write_rejects_fields_out_of_range():
    rec = _record(1)
    rec.views[0].minutiae[0].x = 1 << 14
    with pytest.raises(InvalidInput):
        iso.write(rec)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(blob):
    try:
        rec = iso.read(blob)
    except InvalidInput:
        return
    assert iso.write(rec) == blob


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 80), st.data())
def test_fuzz_mutated_records(n, data):
    blob = bytearray(iso.write(_record(n)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    blob = bytes(blob[:cut])
    try:
        rec = iso.read(blob)
    except InvalidInput:
        return
    assert iso.write(rec) == blob

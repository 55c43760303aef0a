import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hawiya.errors import InvalidImage
from hawiya.imaging import load_image


def _png(w=32, h=24) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_decodes_a_normal_image():
    arr = load_image(_png())
    assert arr.shape == (24, 32, 3) and arr.dtype == np.uint8


def test_gray_mode():
    assert load_image(_png(), mode="L").shape == (24, 32)


def test_not_an_image():
    with pytest.raises(InvalidImage, match="not a supported image"):
        load_image(b"hello, this is text")


def test_truncated_image():
    data = _png(200, 200)
    with pytest.raises(InvalidImage):
        load_image(data[: len(data) // 2])


def test_empty_and_missing():
    with pytest.raises(InvalidImage):
        load_image(b"")
    with pytest.raises(InvalidImage, match="no such image"):
        load_image("/nonexistent/face.jpg")


def test_decompression_bomb_refused_before_decoding():
    # A valid PNG header claiming 60000 x 60000 pixels with a tiny body.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
           + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    with pytest.raises(InvalidImage, match="exceed the limit"):
        load_image(png)

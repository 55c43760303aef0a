"""load_image on the formats real capture devices produce: every mode, EXIF orientation,
reduced-size decoding of large JPEGs, and the size bounds still holding."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hawiya.errors import InvalidImage
from hawiya.imaging import WORKING_SIZE, load_image

DATA = Path("/work/shared/data")


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _ramp16(w=40, h=30, lo=1000, hi=3000) -> np.ndarray:
    """A 16-bit horizontal ramp that uses only a small part of the 16-bit range."""
    row = np.linspace(lo, hi, w).round().astype(np.uint16)
    return np.tile(row, (h, 1))


def _check_ramp(arr: np.ndarray) -> None:
    assert arr.dtype == np.uint8 and arr.shape == (30, 40)
    row = arr[0].astype(int)
    assert row[0] == 0 and row[-1] == 255  # stretched over the real range, not clipped
    assert np.all(np.diff(row) >= 0) and len(np.unique(row)) > 30
    assert (arr == arr[0]).all()


# ---- output contract: uint8, (H, W, 3) for RGB and (H, W) for L, for every mode ----------

def _mode_samples() -> dict[str, bytes]:
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :20] = (200, 30, 30)
    rgb[:, 20:] = (30, 30, 200)
    ramp = _ramp16()
    return {
        "rgb-jpeg": _save(Image.fromarray(rgb), "JPEG", quality=95),
        "l-png": _save(Image.fromarray(rgb[..., 0]), "PNG"),
        "i16-png": _save(Image.fromarray(ramp), "PNG"),
        "i16-tiff": _save(Image.fromarray(ramp), "TIFF"),
        "i16b-tiff": _save(Image.frombytes("I;16B", (40, 30), ramp.astype(">u2").tobytes()),
                           "TIFF"),
        "i32-tiff": _save(Image.fromarray(ramp.astype(np.int32) * 1000), "TIFF"),
        "f-tiff": _save(Image.fromarray(ramp.astype(np.float32) / 7.0), "TIFF"),
        "p-png": _save(Image.fromarray(rgb).quantize(4), "PNG"),
        "p-transparent-png": _save(Image.fromarray(rgb).quantize(4), "PNG", transparency=0),
        "p-gif": _save(Image.fromarray(rgb).quantize(4), "GIF"),
        "cmyk-jpeg": _save(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95),
        "cmyk-tiff": _save(Image.fromarray(rgb).convert("CMYK"), "TIFF"),
        "la-png": _save(Image.fromarray(rgb).convert("LA"), "PNG"),
        "rgba-png": _save(Image.fromarray(rgb).convert("RGBA"), "PNG"),
        "1-png": _save(Image.fromarray(rgb[..., 0] > 100), "PNG"),
        "1-tiff": _save(Image.fromarray(rgb[..., 0] > 100), "TIFF"),
    }


SAMPLES = _mode_samples()


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_every_mode_decodes_to_the_contract(name, mode):
    arr = load_image(SAMPLES[name], mode=mode)
    assert arr.dtype == np.uint8 and arr.flags.c_contiguous
    assert arr.shape == ((30, 40, 3) if mode == "RGB" else (30, 40))


@pytest.mark.parametrize("name", ["i16-png", "i16-tiff", "i16b-tiff", "i32-tiff", "f-tiff"])
def test_high_bit_depth_grey_is_scaled_by_its_range(name):
    _check_ramp(load_image(SAMPLES[name], mode="L"))
    rgb = load_image(SAMPLES[name], mode="RGB")
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all()
    _check_ramp(rgb[..., 0])


def test_flat_16_bit_image_keeps_its_level():
    arr = load_image(_save(Image.fromarray(np.full((8, 8), 65535, np.uint16)), "PNG"), mode="L")
    assert (arr == 255).all()
    arr = load_image(_save(Image.fromarray(np.full((8, 8), 0, np.uint16)), "PNG"), mode="L")
    assert (arr == 0).all()


def test_float_image_with_nan_and_inf():
    a = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    a[0, 0], a[0, 1], a[0, 2] = np.nan, np.inf, -np.inf
    arr = load_image(_save(Image.fromarray(a), "TIFF"), mode="L")
    assert arr.shape == (8, 8) and arr[0, 1] == 255 and arr[0, 2] == 0 and arr[7, 7] == 255


@pytest.mark.parametrize("name", ["cmyk-jpeg", "cmyk-tiff"])
def test_cmyk_colours_survive(name):
    arr = load_image(SAMPLES[name]).astype(int)
    left, right = arr[5:25, 3:17].mean(axis=(0, 1)), arr[5:25, 23:37].mean(axis=(0, 1))
    assert np.abs(left - (200, 30, 30)).max() < 12 and np.abs(right - (30, 30, 200)).max() < 12


@pytest.mark.parametrize("name", ["p-png", "p-gif", "l-png", "1-png", "1-tiff", "rgb-jpeg"])
def test_opaque_images_match_plain_pillow(name):
    for mode in ("RGB", "L"):
        expected = np.asarray(Image.open(io.BytesIO(SAMPLES[name])).convert(mode))
        assert np.array_equal(load_image(SAMPLES[name], mode=mode), expected)


def test_one_bit_is_black_and_white():
    arr = load_image(SAMPLES["1-png"], mode="L")
    assert set(np.unique(arr)) == {0, 255} and (arr[:, :20] == 255).all()


def test_alpha_is_flattened_onto_white():
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., :3] = (10, 120, 10)
    rgba[:, :6, 3] = 255  # left half opaque green, right half fully transparent
    data = _save(Image.fromarray(rgba), "PNG")
    arr = load_image(data)
    assert (arr[:, :6] == (10, 120, 10)).all() and (arr[:, 6:] == 255).all()
    la = _save(Image.fromarray(rgba).convert("LA"), "PNG")
    grey = load_image(la, mode="L")
    assert grey.shape == (10, 12) and (grey[:, 6:] == 255).all() and (grey[:, :6] < 100).all()


def test_palette_transparency_is_flattened_onto_white():
    p = Image.new("P", (10, 10), 0)
    p.putpalette([0, 0, 0, 250, 0, 0] + [0] * 762)
    p.paste(1, (0, 0, 5, 10))
    arr = load_image(_save(p, "PNG", transparency=0))
    assert (arr[:, :5] == (250, 0, 0)).all() and (arr[:, 5:] == 255).all()


# ---- EXIF orientation ---------------------------------------------------------------------

def _upright() -> np.ndarray:
    """40 wide x 60 high, a distinct colour in each 20x20 block (JPEG-robust)."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
               (255, 0, 255)]
    a = np.zeros((60, 40, 3), np.uint8)
    for i, c in enumerate(colours):
        r, col = divmod(i, 2)
        a[r * 20:(r + 1) * 20, col * 20:(col + 1) * 20] = c
    return a


# Orientation tag -> how the camera stored the upright picture (the inverse of the fix).
STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
          8: Image.Transpose.ROTATE_270, 2: Image.Transpose.FLIP_LEFT_RIGHT}


def _block_colours(a: np.ndarray) -> np.ndarray:
    return np.array([[a[r * 20 + 10, c * 20 + 10] for c in range(a.shape[1] // 20)]
                     for r in range(a.shape[0] // 20)], dtype=int)


@pytest.mark.parametrize("orientation", [3, 6, 8, 2])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_honoured(orientation, fmt):
    upright = _upright()
    stored = Image.fromarray(upright).transpose(STORED[orientation])
    if orientation in (6, 8):
        assert stored.size == (60, 40)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _save(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    arr = load_image(data)
    assert arr.shape == (60, 40, 3)
    assert np.abs(_block_colours(arr) - _block_colours(upright)).max() < 40
    grey = load_image(data, mode="L")
    assert grey.shape == (60, 40)


def test_orientation_1_and_out_of_range_values_change_nothing():
    img = Image.fromarray(_upright())
    for value in (1, 0, 9, 65535):
        exif = Image.Exif()
        exif[0x0112] = value
        arr = load_image(_save(img, "PNG", exif=exif.tobytes()))
        assert np.array_equal(arr, _upright())


def test_broken_exif_block_is_ignored():
    jpeg = _save(Image.fromarray(_upright()), "JPEG", quality=95)
    junk = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0" + bytes(range(256)) * 2
    app1 = b"\xff\xe1" + (len(junk) + 2).to_bytes(2, "big") + junk
    broken = jpeg[:2] + app1 + jpeg[2:]
    arr = load_image(broken)
    assert arr.shape == (60, 40, 3)
    assert np.array_equal(arr, load_image(jpeg))


# ---- large JPEGs are decoded at reduced size -------------------------------------------------

def _noise_jpeg(w: int, h: int) -> bytes:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (h // 64 + 1, w // 64 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)
    return _save(img, "JPEG", quality=90)


@pytest.fixture(scope="module")
def wide_jpeg() -> bytes:
    return _noise_jpeg(4400, 2300)


def test_large_jpeg_is_decoded_at_reduced_size_with_its_aspect(wide_jpeg):
    arr = load_image(wide_jpeg)
    h, w = arr.shape[:2]
    assert arr.shape == (1150, 2200, 3)  # DCT scaling by 1/2
    assert max(h, w) >= WORKING_SIZE and max(h, w) < 2 * WORKING_SIZE
    assert abs(w / h - 4400 / 2300) < 0.01
    grey = load_image(wide_jpeg, mode="L")
    assert grey.shape == (1150, 2200)
    # same picture: close to a full decode scaled down by area averaging
    full = Image.open(io.BytesIO(wide_jpeg)).convert("RGB")
    ref = np.asarray(full.resize((w, h), Image.Resampling.BOX)).astype(int)
    assert np.abs(arr.astype(int) - ref).mean() < 3


def test_working_size_is_configurable(wide_jpeg):
    assert load_image(wide_jpeg, working_size=None).shape == (2300, 4400, 3)
    assert load_image(wide_jpeg, working_size=500).shape == (288, 550, 3)  # 1/8
    assert load_image(wide_jpeg, working_size=1000).shape == (575, 1100, 3)  # 1/4
    assert load_image(wide_jpeg, working_size=3000).shape == (2300, 4400, 3)


def test_large_rotated_jpeg_is_reduced_and_upright():
    img = Image.new("RGB", (4400, 2300), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 400, 400))  # red corner at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    arr = load_image(_save(img, "JPEG", quality=90, exif=exif.tobytes()))
    assert arr.shape == (2200, 1150, 3)
    assert arr[50, -50, 0] > 200 and arr[50, -50, 2] < 60  # red corner now top-right
    assert arr[-50, 50, 2] > 200


@pytest.mark.parametrize("kind", ["progressive", "mpo"])
def test_progressive_and_multi_picture_jpegs_are_reduced_too(kind):
    first = Image.new("RGB", (4400, 2300), (200, 10, 10))
    if kind == "mpo":  # phones store a second picture (depth map, preview) after the first
        data = _save(first, "MPO", save_all=True,
                     append_images=[Image.new("RGB", (4400, 2300), (10, 10, 200))])
    else:
        data = _save(first, "JPEG", progressive=True)
    arr = load_image(data)
    assert arr.shape == (1150, 2200, 3)
    assert np.abs(arr[100, 100].astype(int) - (200, 10, 10)).max() < 8  # the first picture


def test_small_jpeg_is_decoded_exactly_as_before():
    data = _noise_jpeg(3000, 2000)  # below twice the working size: no DCT scaling
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.array_equal(load_image(data), expected)


def test_large_non_jpeg_is_not_resampled():
    data = _save(Image.new("L", (4200, 300), 77), "PNG")
    assert load_image(data, mode="L").shape == (300, 4200)


def test_truncated_large_jpeg_is_refused(wide_jpeg):
    with pytest.raises(InvalidImage, match="corrupt or truncated"):
        load_image(wide_jpeg[: len(wide_jpeg) // 2])


# ---- bombs are still refused on the declared size ---------------------------------------------

def _jpeg_declaring(w: int, h: int) -> bytes:
    """A tiny valid JPEG whose frame header is patched to claim w x h pixels."""
    data = bytearray(_save(Image.new("RGB", (16, 16), (9, 9, 9)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize("size", [(7000, 7000), (12_001, 100), (100, 12_001), (65000, 65000)])
def test_declared_jpeg_size_over_the_bounds_is_refused(size):
    with pytest.raises(InvalidImage, match="exceed the limit"):
        load_image(_jpeg_declaring(*size))
    with pytest.raises(InvalidImage, match="exceed the limit"):
        load_image(_jpeg_declaring(*size), working_size=None)


def test_huge_png_header_refused_before_decoding():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 16, 0, 0, 0, 0)  # 16-bit grey, 81 MP
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
           + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    with pytest.raises(InvalidImage, match="exceed the limit"):
        load_image(png)


# ---- ordinary captures from the real data sets decode exactly as plain Pillow ----------------

REAL = [
    DATA / "face/georgia_tech/s01/01.jpg",
    DATA / "face/georgia_tech/s05/07.jpg",
    DATA / "finger/fvc2002/DB1_B/101_1.tif",
    DATA / "finger/fvc2002/DB1_B/110_8.tif",
    DATA / "iris/casia1/1/001_1_1.jpg",
    DATA / "iris/casia1/100/100_2_4.jpg",
]


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_captures_are_unchanged(path):
    if not path.is_file():
        pytest.skip(f"data set not present: {path}")
    for mode in ("RGB", "L"):
        with Image.open(path) as img:
            expected = np.asarray(img.convert(mode))
        arr = load_image(path, mode=mode)
        assert arr.shape == expected.shape and arr.dtype == np.uint8
        assert np.array_equal(arr, expected)

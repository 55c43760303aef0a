"""Safe image decoding: bounded size, no decompression bombs, truncated files rejected.

Every capture enters the platform through ``load_image`` so the bounds are enforced once.

Beyond the bounds, ``load_image`` normalises what real capture devices produce:

* EXIF orientation is honoured (a phone photo stored sideways comes out upright); a
  missing, broken or nonsensical EXIF block is ignored, never an error.
* 16-bit grey (``I;16``/``I;16B``, PNG and TIFF), 32-bit integer (``I``) and float
  (``F``) images are stretched to 8 bits over their actual value range (Pillow's own
  conversion clips them, which turns most 16-bit captures white).
* Images with transparency (``RGBA``, ``LA``, ``PA``, palette with a transparent index)
  are flattened onto white; opaque ones decode exactly as plain Pillow conversion.
* Large JPEGs are decoded at reduced size with the JPEG DCT scaling (draft mode), which
  is several times cheaper than decoding every pixel and then throwing most away.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from hawiya.errors import InvalidImage

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard, at our bound

# Longer side (px) a large JPEG is decoded at, at least. JPEG can only scale its DCT by
# 1/2, 1/4 or 1/8, and the largest factor that keeps the longer side >= this size is used,
# so a 6000 px photo decodes at 3000 px and a 4000 px one at full size. 2048 px leaves a
# wide margin over what every engine needs: face detection needs ~24 px between the eyes
# (a face filling 1/10 of a 2048 px frame still has ~80 px), iris segmentation wants an
# iris radius of ~80 px (an eye spanning 1/8 of the frame gives ~100 px), and a 500 ppi
# fingerprint is 400-800 px a side, far below the size at which any scaling starts.
# The face detector itself works at 1024 px, so nothing is lost there either.
WORKING_SIZE = 2048

_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def read_bytes(source: str | os.PathLike | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidImage(f"no such image file: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidImage(f"image file larger than {MAX_FILE_BYTES // 2**20} MiB: {path}")
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise InvalidImage(f"image larger than {MAX_FILE_BYTES // 2**20} MiB")
    if not data:
        raise InvalidImage("empty image")
    return data


def _draft_large_jpeg(img: Image.Image, working_size: int | None) -> None:
    """Ask the JPEG decoder for DCT scaling when the image is at least twice ``working_size``.

    The request keeps the aspect ratio, so the decoder's factor (1/2, 1/4, 1/8, the largest
    that keeps both sides at or above the request) leaves the longer side >= working_size.
    Smaller JPEGs are not touched at all: they decode bit-for-bit as before.
    """
    if not working_size or not isinstance(img, JpegImagePlugin.JpegImageFile):
        return
    w, h = img.size
    long_side = max(w, h)
    if long_side < 2 * working_size:
        return
    want = (max(1, -(-w * working_size // long_side)), max(1, -(-h * working_size // long_side)))
    img.draft(img.mode, want)  # same mode: only the size changes, never the colour path


def _orientation(img: Image.Image) -> int:
    """EXIF orientation (1-8); 1 when absent, unreadable or out of range."""
    try:
        value = int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must never cost us the image
        return 1
    return value if value in _TRANSPOSE else 1


def _stretch_to_l(img: Image.Image) -> Image.Image:
    """High bit-depth grey (I;16*, I, F) to 8-bit L, linearly over its actual value range."""
    a = np.asarray(img)
    a = a.astype(np.float32) if a.dtype != np.float32 else a.copy()
    finite = np.isfinite(a)
    if not finite.all():
        if not finite.any():
            return Image.new("L", img.size, 0)
        lo_f, hi_f = float(a[finite].min()), float(a[finite].max())
        a = np.nan_to_num(a, nan=lo_f, posinf=hi_f, neginf=lo_f)
    lo, hi = float(a.min()), float(a.max())
    if hi > lo:
        a -= lo
        a *= 255.0 / (hi - lo)
    elif img.mode.startswith("I;16"):
        a *= 255.0 / 65535.0  # a flat 16-bit image: keep its level on the 8-bit scale
    np.rint(a, out=a)
    np.clip(a, 0, 255, out=a)
    return Image.fromarray(a.astype(np.uint8))  # 2-D uint8: mode L


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """An image with transparency composited onto white (opaque images just lose alpha)."""
    if img.mode == "P":
        img = img.convert("RGBA")  # applies the palette's transparent index
    elif img.mode not in _ALPHA_MODES:
        return img
    if img.mode in ("LA", "La"):
        base_mode, img = "L", img.convert("LA")
    else:
        base_mode, img = "RGB", img.convert("RGBA")
    alpha = img.getchannel("A")
    colour = img.convert(base_mode)
    if alpha.getextrema() == (255, 255):
        return colour
    out = Image.new(base_mode, img.size, "white")
    out.paste(colour, mask=alpha)
    return out


def _normalise(img: Image.Image, mode: str) -> Image.Image:
    """The decoded frame upright and in ``mode`` (8 bits a channel)."""
    method = _TRANSPOSE.get(_orientation(img))
    if method is not None:
        img = img.transpose(method)
    if img.mode.startswith("I") or img.mode == "F":
        img = _stretch_to_l(img)
    elif mode not in _ALPHA_MODES and (
            img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)):
        img = _flatten_alpha(img)
    return img.convert(mode)


def load_image(source: str | os.PathLike | bytes, mode: str = "RGB", *,
               working_size: int | None = WORKING_SIZE) -> np.ndarray:
    """Decode an image to a uint8 array (H, W, 3 for RGB; H, W for L).

    The header is inspected before any pixel is decoded, so a small file that claims
    huge dimensions is refused without allocating memory for it.

    A JPEG at least twice ``working_size`` on its longer side is decoded with DCT scaling
    to a longer side of at least ``working_size`` (aspect kept); other images, and JPEGs
    when ``working_size`` is None, come back at full resolution.
    """
    data = read_bytes(source)
    try:
        with warnings.catch_warnings():
            # Pillow warns (and carries on) on a corrupt EXIF block; the declared size is
            # checked just below, more strictly than Pillow's open-time bomb warning.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            w, h = img.size
            if w <= 0 or h <= 0 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise InvalidImage(
                    f"image dimensions {w}x{h} exceed the limit "
                    f"({MAX_SIDE} px a side, {MAX_PIXELS // 1_000_000} MP)"
                )
            _draft_large_jpeg(img, working_size)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)
                converted = _normalise(img, mode)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"image dimensions exceed the limit ({MAX_SIDE} px a side, "
                           f"{MAX_PIXELS // 1_000_000} MP): refused as a decompression bomb"
                           ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("not a supported image: the file is not a JPEG, PNG, TIFF, BMP, "
                           "WebP or other format Pillow reads") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"corrupt or truncated image: {exc}") from exc
    return np.ascontiguousarray(np.asarray(converted, dtype=np.uint8))

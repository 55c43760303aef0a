"""Safe image decoding: bounded size, no decompression bombs, truncated files rejected.

Every capture enters the platform through ``load_image`` so the bounds are enforced once.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hawiya.errors import InvalidImage

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard, at our bound


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


def load_image(source: str | os.PathLike | bytes, mode: str = "RGB") -> np.ndarray:
    """Decode an image to a uint8 array (H, W, 3 for RGB; H, W for L).

    The header is inspected before any pixel is decoded, so a small file that claims
    huge dimensions is refused without allocating memory for it.
    """
    data = read_bytes(source)
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if w <= 0 or h <= 0 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise InvalidImage(
                    f"image dimensions {w}x{h} exceed the limit "
                    f"({MAX_SIDE} px a side, {MAX_PIXELS // 1_000_000} MP)"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            converted = img.convert(mode)
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

"""Identity card rendering (ID-1, 85.6 x 54 mm at 300 dpi) and reading the QR back.

:func:`render_card` draws both sides of an ISO/IEC 7810 ID-1 card at 300 dpi (1011 x 638
pixels a side):

* front: a title band, the holder's photo, and the printed fields (names in any script;
  Arabic is shaped right to left when Pillow has libraqm, which the PyPI wheels include);
* back: the signed QR code (:mod:`hawiya.credentials.signed`) and the TD1 machine readable
  zone, 3 lines of 30 characters at the ICAO pitch of 10 characters per inch (2.54 mm, 30
  pixels) and 6 lines per inch, in the OCR-B typeface (Debian ``fonts-ocr-b``, or the file in
  ``HAWIYA_OCRB_FONT``), falling back to DejaVu Sans Mono when OCR-B is not installed.

``fmt="png"`` gives one PNG holding the front above the back (300 dpi recorded);
``fmt="pdf"`` a two-page PDF whose pages are exactly card size.

:func:`read_qr` finds and decodes the QR code in a card image (a rendering, a scan or a
photo) with OpenCV's detector; it returns the text, or None when no QR code can be read.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps

from hawiya.credentials.qr_text import MAX_QR_TEXT
from hawiya.errors import InvalidInput

DPI = 300
CARD_MM = (85.6, 54.0)
CARD_PX = (round(CARD_MM[0] / 25.4 * DPI), round(CARD_MM[1] / 25.4 * DPI))  # 1011 x 638
CORNER_PX = round(3.18 / 25.4 * DPI)  # ISO/IEC 7810 corner radius
MRZ_PITCH = DPI // 10  # 10 characters per inch
MRZ_LINE_PITCH = DPI // 6  # 6 lines per inch
MARGIN = 24  # around each side in the PNG sheet

OCRB_PATHS = ("/usr/share/fonts/opentype/ocr-b/OCRB.otf",
              "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
              "/usr/local/share/fonts/OCRB.otf")
MONO_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",)
SANS_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
SANS_BOLD_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)

INK = (20, 24, 28)
LABEL = (70, 90, 86)
BAND = (18, 84, 66)
GROUND = (236, 244, 239)
BACK_GROUND = (244, 246, 241)

# (label, field name) rows of the front; a row of two shares the width
FRONT_ROWS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("Surname", "surname"),),
    (("Given names", "given_names"),),
    (("Document no.", "document_number"), ("Nationality", "nationality")),
    (("Date of birth", "date_of_birth"), ("Sex", "sex")),
    (("Date of issue", "issue_date"), ("Date of expiry", "expiry_date")),
)


# --------------------------------------------------------------------------- fonts

def _first_file(paths: Sequence[str]) -> str | None:
    for path in paths:
        if path and Path(path).is_file():
            return path
    return None


def mrz_font_path() -> str | None:
    """The OCR-B file to print the MRZ with, else DejaVu Sans Mono, else None."""
    return _first_file([os.environ.get("HAWIYA_OCRB_FONT", ""), *OCRB_PATHS, *MONO_PATHS])


@lru_cache(maxsize=64)
def font(kind: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    paths = {"mrz": [mrz_font_path() or ""], "sans": SANS_PATHS, "bold": SANS_BOLD_PATHS,
             "mono": MONO_PATHS}[kind]
    path = _first_file(paths)
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def _fitted(draw: ImageDraw.ImageDraw, text: str, kind: str, size: int, width: int
            ) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font of ``kind`` at ``size``, shrunk until ``text`` fits ``width`` pixels."""
    while size > 12:
        face = font(kind, size)
        if draw.textlength(text, font=face) <= width:
            return face
        size -= 2
    return font(kind, size)


# --------------------------------------------------------------------------- inputs

def _photo_image(photo: np.ndarray | None) -> Image.Image | None:
    if photo is None:
        return None
    if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8 or photo.ndim not in (2, 3):
        raise InvalidInput("photo must be a uint8 array (H, W) or (H, W, 3|4), RGB order")
    if photo.ndim == 3 and photo.shape[2] not in (3, 4):
        raise InvalidInput("photo must have 1, 3 or 4 channels")
    if min(photo.shape[:2]) < 8 or max(photo.shape[:2]) > 8000:
        raise InvalidInput(f"photo of {photo.shape[1]}x{photo.shape[0]} pixels is too small "
                           "or too large")
    if photo.ndim == 3 and photo.shape[2] == 4:
        img = Image.fromarray(np.ascontiguousarray(photo), "RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        return flat
    return Image.fromarray(np.ascontiguousarray(photo)).convert("RGB")


def _mrz_lines(mrz_lines: Sequence[str] | str) -> list[str]:
    if isinstance(mrz_lines, str):
        mrz_lines = mrz_lines.splitlines()
    lines = [line.strip() for line in mrz_lines if isinstance(line, str) and line.strip()]
    if len(lines) != 3 or any(len(line) != 30 for line in lines):
        raise InvalidInput("a TD1 MRZ of 3 lines of 30 characters is needed")
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
    if any(ch not in allowed for line in lines for ch in line):
        raise InvalidInput("MRZ lines may hold only A-Z, 0-9 and '<'")
    return lines


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return " ".join(str(value).split())


# --------------------------------------------------------------------------- drawing

def _rounded_mask(size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, size[0] - 1, size[1] - 1],
                                           radius=CORNER_PX, fill=255)
    return mask


def _qr_image(qr_text: str, box: int) -> Image.Image:
    """The QR code (error correction M, 4-module quiet zone) scaled into ``box`` pixels."""
    qr = segno.make(qr_text, error="m", micro=False, boost_error=False)
    matrix = np.asarray(qr.matrix, dtype=np.uint8)
    n = matrix.shape[0] + 8
    scale = box // n
    if scale < 3:
        raise InvalidInput(f"QR text of {len(qr_text)} characters gives a version "
                           f"{qr.version} code too dense to print on the card")
    modules = np.pad(matrix, 4)
    pixels = np.where(np.kron(modules, np.ones((scale, scale), np.uint8)) > 0, 0, 255)
    return Image.fromarray(pixels.astype(np.uint8), "L").convert("RGB")


def _front(fields: Mapping[str, Any], photo: Image.Image | None) -> Image.Image:
    w, h = CARD_PX
    side = Image.new("RGB", (w, h), GROUND)
    draw = ImageDraw.Draw(side)
    band = 104
    draw.rectangle([0, 0, w, band], fill=BAND)
    title = _text(fields.get("title")) or "IDENTITY CARD"
    draw.text((40, 18), title, font=_fitted(draw, title, "bold", 40, w - 80), fill="white")
    sub = _text(fields.get("issuing_authority"))
    if sub:
        draw.text((40, 66), sub, font=_fitted(draw, sub, "sans", 26, w - 80),
                  fill=(214, 234, 226))
    px, py, pw, ph = 40, band + 28, 300, 386
    if photo is not None:
        side.paste(ImageOps.fit(photo, (pw, ph), Image.Resampling.LANCZOS), (px, py))
    else:
        draw.rectangle([px, py, px + pw, py + ph], fill=(214, 222, 218))
        draw.ellipse([px + 90, py + 60, px + 210, py + 190], fill=(184, 194, 190))
        draw.pieslice([px + 40, py + 200, px + 260, py + 440], 180, 360, fill=(184, 194, 190))
        draw.text((px + pw // 2, py + ph - 30), "NO PHOTO", anchor="mm",
                  font=font("sans", 22), fill=LABEL)
    draw.rectangle([px, py, px + pw, py + ph], outline=(150, 164, 160), width=2)
    x0, y, col_w = px + pw + 40, band + 22, w - (px + pw + 40) - 36
    for row in FRONT_ROWS:
        cell_w = col_w // len(row)
        for i, (label, key) in enumerate(row):
            x = x0 + i * cell_w
            draw.text((x, y), label.upper(), font=font("sans", 19), fill=LABEL)
            value = _text(fields.get(key)) or "-"
            draw.text((x, y + 26), value, font=_fitted(draw, value, "bold", 32, cell_w - 16),
                      fill=INK)
        y += 86
    return side


def _back(fields: Mapping[str, Any], lines: list[str], qr_text: str) -> Image.Image:
    w, h = CARD_PX
    side = Image.new("RGB", (w, h), BACK_GROUND)
    draw = ImageDraw.Draw(side)
    # MRZ zone: bottom of the card, white ground, 3 lines at 6 lpi, 30 characters at 10 cpi
    mrz_top = h - 3 * MRZ_LINE_PITCH - 34
    draw.rectangle([0, mrz_top, w, h], fill="white")
    mrz_face = _mrz_font()
    x0 = (w - 30 * MRZ_PITCH) // 2
    for li, line in enumerate(lines):
        baseline = mrz_top + 22 + MRZ_LINE_PITCH * li + 36
        for ci, ch in enumerate(line):
            draw.text((x0 + ci * MRZ_PITCH + MRZ_PITCH // 2, baseline), ch, font=mrz_face,
                      anchor="ms", fill=(0, 0, 0))
    # QR code, top left, as large as the space above the MRZ allows
    box = mrz_top - 30
    qr = _qr_image(qr_text, box)
    side.paste(qr, (30, (mrz_top - qr.height) // 2))
    tx = 30 + qr.width + 30
    tw = w - tx - 36
    y = 40
    for label, key in (("Document no.", "document_number"), ("Authority", "issuing_authority"),
                       ("Date of expiry", "expiry_date")):
        value = _text(fields.get(key))
        if not value:
            continue
        draw.text((tx, y), label.upper(), font=font("sans", 19), fill=LABEL)
        draw.text((tx, y + 26), value, font=_fitted(draw, value, "bold", 30, tw), fill=INK)
        y += 84
    note = "Scan the code to verify this card offline"
    draw.text((tx, y + 8), note, font=_fitted(draw, note, "sans", 20, tw), fill=LABEL)
    return side


@lru_cache(maxsize=1)
def _mrz_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The MRZ font at the size whose own advance is the ICAO pitch (10 characters an inch).

    OCR-B is monospaced with an advance of about 0.72 em, so this is about 41 pixels at
    300 dpi, capitals about 2.5 mm high. Printing at the font's natural pitch keeps the
    glyph shapes (a narrow 0 beside a round O) that MRZ readers expect.
    """
    probe = font("mrz", 100)
    advance = probe.getlength("M") / 100 if hasattr(probe, "getlength") else 0.6
    return font("mrz", max(12, round(MRZ_PITCH / max(advance, 0.1))))


def render_sides(fields: Mapping[str, Any], photo: np.ndarray | None,
                 mrz_lines: Sequence[str] | str, qr_text: str
                 ) -> tuple[Image.Image, Image.Image]:
    """The front and back of the card as RGB images of 1011 x 638 pixels (300 dpi)."""
    if not isinstance(fields, Mapping):
        raise InvalidInput("card fields must be a mapping")
    if not isinstance(qr_text, str) or not qr_text or len(qr_text) > MAX_QR_TEXT:
        raise InvalidInput(f"qr_text must be 1 to {MAX_QR_TEXT} characters of text")
    lines = _mrz_lines(mrz_lines)
    image = _photo_image(photo)
    return _front(fields, image), _back(fields, lines, qr_text)


def render_card(fields: Mapping[str, Any], photo: np.ndarray | None,
                mrz_lines: Sequence[str] | str, qr_text: str, *, fmt: str = "png") -> bytes:
    """Render the card: PNG bytes (front above back) or PDF bytes (two card-size pages).

    ``fields`` holds the printed values by payload name (``surname``, ``given_names``,
    ``document_number``, ``nationality``, ``date_of_birth``, ``sex``, ``issue_date``,
    ``expiry_date``, ``issuing_authority``) and an optional ``title``; ``photo`` is an RGB
    (or grayscale) uint8 array or None; ``mrz_lines`` the 3 TD1 lines (a list or the
    newline-joined text of :func:`~hawiya.credentials.mrz.build_td1`); ``qr_text`` from
    :func:`~hawiya.credentials.signed.encode_qr_text`.
    """
    if fmt not in ("png", "pdf"):
        raise InvalidInput(f"card format {fmt!r}: png or pdf")
    front, back = render_sides(fields, photo, mrz_lines, qr_text)
    out = io.BytesIO()
    if fmt == "pdf":
        front.save(out, format="PDF", resolution=DPI, save_all=True, append_images=[back],
                   title="Identity card")
        return out.getvalue()
    w, h = CARD_PX
    sheet = Image.new("RGB", (w + 2 * MARGIN, 2 * h + 3 * MARGIN), "white")
    mask = _rounded_mask(CARD_PX)
    sheet.paste(front, (MARGIN, MARGIN), mask)
    sheet.paste(back, (MARGIN, h + 2 * MARGIN), mask)
    outline = ImageDraw.Draw(sheet)
    for top in (MARGIN, h + 2 * MARGIN):
        outline.rounded_rectangle([MARGIN - 1, top - 1, MARGIN + w, top + h],
                                  radius=CORNER_PX, outline=(190, 196, 194), width=1)
    sheet.save(out, format="PNG", dpi=(DPI, DPI), optimize=False)
    return out.getvalue()


# --------------------------------------------------------------------------- reading

def _gray(image: Any) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise InvalidInput("image arrays must be uint8")
        if image.ndim == 2:
            return image
        if image.ndim == 3 and image.shape[2] == 3:
            return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if image.ndim == 3 and image.shape[2] == 4:
            return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
        raise InvalidInput("image arrays must be (H, W) or (H, W, 3|4)")
    from hawiya.imaging import load_image  # bounded decoding of bytes and paths

    return load_image(image, mode="L")


def read_qr(image: Any) -> str | None:
    """The text of the QR code in ``image`` (path, encoded bytes, PIL image or uint8 array).

    Returns None when no QR code is found or none decodes. Images that cannot be decoded
    raise :class:`~hawiya.errors.InvalidImage`.
    """
    gray = _gray(image)
    if gray.size == 0 or min(gray.shape[:2]) < 21:
        return None
    attempts = [gray]
    longest = max(gray.shape[:2])
    if longest > 1600:
        scale = 1600 / longest
        attempts.insert(0, cv2.resize(gray, None, fx=scale, fy=scale,
                                      interpolation=cv2.INTER_AREA))
    elif longest < 600:
        attempts.append(cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    detectors = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    for detector in detectors:
        for img in attempts:
            try:
                text, points, _ = detector.detectAndDecode(img)
            except cv2.error:
                continue
            if text:
                return text
    return None

"""Read the MRZ from a photo or scan of a document: find the lines, recognise, repair, doubt.

Two recognisers; :func:`read_mrz` uses the first unless told otherwise:

* ``text`` (default, :mod:`hawiya.credentials.mrz_text_ocr`): PP-OCR text detection and
  recognition (the models shipped in the ``rapidocr`` wheel, :mod:`hawiya.ocr`). Finds the
  MRZ lines in any direction (quarter turns and upside down included), re-reads them at
  several margins and gives every character a probability over the MRZ alphabet. On the 33
  real photos of the shared ``mrz`` set it reads 31 exactly (the OCR-B matcher: 8).
* ``template``: OCR-B template matching, kept as an option (it needs Debian's
  ``fonts-ocr-b`` or ``HAWIYA_OCRB_FONT``; nothing is downloaded). It is accurate on clean
  renderings but finds and segments the lines of real photos poorly, and as a tie-breaker
  for O/0-like characters on the text reader's line crops it was right less often than the
  text reader (87% against 97% of such characters on the real set), so it is not used there.

  1. **Locate** (:func:`locate_lines`): a morphological black-hat brings out dark print on
     a light ground, Otsu thresholding and a wide horizontal closing merge each printed
     line into one blob, and the MRZ is the lowest group of 2 or 3 stacked blobs that are
     long (at least 40% of the image width), thin and of similar width; the image is
     deskewed by their angle and the lines located again.
  2. **Segment** (``_grid``): each line is cut into exactly 30, 36 or 44 cells, a
     least-squares fit of the glyph centres (for two lines, the 36- and 44-cell grids are
     both tried and the better fit kept).
  3. **Recognise** (:class:`TemplateOCR`): each cell is compared, by normalised correlation
     at five sub-cell offsets, with the 37 MRZ characters rendered in OCR-B at several blur
     and stroke weights; each cell gets a score per character.

Then, for both (:mod:`hawiya.credentials.mrz_ocr_repair`):

4. **Repair** (:func:`repair`): when the parsed reading is not valid, characters are
   replaced only where the layout makes a reading impossible (a letter in a date, a digit
   in a name: the confusion pairs O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) or where the
   recogniser ranked another character close behind (the text reader: within a factor of
   e^3 in probability), and only when that makes the failing check digits pass. When more
   than one consistent reading remains, nothing is changed and the result is not valid: a
   garbled MRZ is never "corrected" into a different valid document, and a check digit
   printed wrong stays failing. The text reader also keeps layout-forced repairs when the
   MRZ stays invalid (listed in ``repaired``), but leaves a field as read when a character
   in it has no plausible replacement (a state code printed with digits).
5. **Doubt**: the 7-3-1 check digits cannot tell apart characters whose values differ by a
   multiple of 10 (0/U/K/A/<, 8/S/I, 6/G, 1/L/B...). When a check-protected alphanumeric
   character had such a runner-up nearly as good, the reading is reported as not valid
   with an "ambiguous character" error. The text reader also doubts the fields no check
   digit covers (codes, name, sex) where a character holds less than half the probability.

Known limits: a misread the recogniser is sure of, in a field no check digit covers, or
two compensating misreads in one check-digit group (O read as 0 at positions weighted 7
and 3), pass every check; see :mod:`hawiya.credentials.mrz_text_ocr`.

:func:`read_mrz` returns ``found``, ``lines``, ``valid``, ``document_type``, ``fields``,
``errors`` (each ``field`` and ``reason``), ``repaired`` (each ``position`` (0-based index
into the MRZ without newlines), ``line`` and ``column`` (1-based), ``from``, ``to``,
``unique``) and ``confidence`` (0-1: the mean score (template: correlation; text:
probability) of the chosen characters, 0 when nothing was found).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from hawiya.credentials.mrz_ocr_glyphs import (
    ALPHABET,
    FONT_PATHS,
    LINE_VARIANTS,
    TemplateOCR,
    _engine,
    _recognise,
    font_path,
)
from hawiya.credentials.mrz_ocr_lines import (
    CELL_H,
    CELL_SMOOTH,
    CELL_W,
    SHIFTS,
    _rotate,
    _skew_angle,
    _to_gray,
    locate_lines,
)
from hawiya.credentials.mrz_ocr_repair import (
    DIGIT_TO_LETTER,
    DOUBT_MARGIN,
    LETTER_TO_DIGIT,
    MAX_GROUP_EDITS,
    NEAR_SCORE,
    forced_repairs,
    repair,
    verify_reading,
)
from hawiya.errors import InvalidImage, InvalidInput

__all__ = [
    "ALPHABET",
    "CELL_H",
    "CELL_SMOOTH",
    "CELL_W",
    "DIGIT_TO_LETTER",
    "DOUBT_MARGIN",
    "FONT_PATHS",
    "LETTER_TO_DIGIT",
    "LINE_VARIANTS",
    "MAX_GROUP_EDITS",
    "NEAR_SCORE",
    "SHIFTS",
    "TEXT_DOUBT_MARGIN",
    "TEXT_NEAR",
    "WORK_WIDTH",
    "TemplateOCR",
    "font_path",
    "forced_repairs",
    "locate_lines",
    "read_mrz",
    "repair",
    "verify_reading",
]

WORK_WIDTH = 1400          # template reader: images are processed at most this wide
TEXT_NEAR = 3.0            # text reader: alternatives within e^3 (20x) of the best probability
TEXT_DOUBT_MARGIN = 1.5    # text reader: a check-blind look-alike within e^1.5 is a doubt


# --------------------------------------------------------------------------- entry point

def _empty(reason: str) -> dict[str, Any]:
    return {"found": False, "lines": [], "valid": False, "document_type": None,
            "fields": {}, "errors": [{"field": "mrz", "reason": reason}], "repaired": [],
            "confidence": 0.0}


def _to_rgb(image: Any) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise InvalidImage("image arrays must be uint8")
        if image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.size else image
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return np.ascontiguousarray(image[:, :, :3])
        raise InvalidImage(f"unsupported image array shape {image.shape}")
    from hawiya.imaging import load_image

    return load_image(image, mode="RGB")


def read_mrz(image: Any, *, font: str | None = None, today: Any = None,
             reader: str = "text") -> dict[str, Any]:
    """Read, verify and (check-digit-guided) repair the MRZ of a document image.

    ``image`` is a path, encoded bytes, or a uint8 array (grayscale, RGB or RGBA). Bad images
    raise :class:`~hawiya.errors.InvalidImage`; an image without a readable MRZ gives
    ``found: False``. ``reader`` is ``text`` (the PP-OCR recogniser, default) or
    ``template`` (OCR-B template matching; ``font`` is its typeface file).
    """
    if reader == "template":
        return _read_template(image, font=font, today=today)
    if reader != "text":
        raise InvalidInput(f"unknown MRZ reader {reader!r}: use text or template")
    from hawiya.credentials.mrz_text_ocr import doubts, read_lines

    rgb = _to_rgb(image)
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 32:
        return _empty("image too small to hold a machine readable zone")
    found = read_lines(rgb, today)
    if found is None:
        return _empty("no machine readable zone found in the image")
    texts, probs, confidence = found
    scores = [np.log(np.maximum(p, 1e-6)) for p in probs]
    return verify_reading(texts, scores, today=today, near=TEXT_NEAR, similarity=None,
                          margin=TEXT_DOUBT_MARGIN, confidence=confidence,
                          plausible_only=True, more_doubts=doubts(probs))


def _read_template(image: Any, *, font: str | None, today: Any) -> dict[str, Any]:
    engine = _engine(font or font_path())
    gray = _to_gray(image)
    if gray.ndim != 2 or min(gray.shape) < 32:
        return _empty("image too small to hold a machine readable zone")
    scale = min(1.0, WORK_WIDTH / gray.shape[1])
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lines = locate_lines(gray)
    if len(lines) < 2:
        return _empty("no machine readable zone found in the image")
    angle = _skew_angle(lines)
    if abs(angle) > 0.3:
        gray = _rotate(gray, angle)
        lines = locate_lines(gray)
        if len(lines) < 2:
            return _empty("no machine readable zone found after deskewing")
    recognised = _recognise(gray, lines, engine)
    if recognised is None:
        return _empty("the MRZ lines could not be segmented into characters")
    texts, scores = recognised
    confidence = float(np.mean([s.max(axis=1).mean() for s in scores]))
    return verify_reading(texts, scores, today=today, near=NEAR_SCORE,
                          similarity=engine.similarity, margin=DOUBT_MARGIN,
                          confidence=confidence)

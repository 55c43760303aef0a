"""Read the MRZ from a photo or scan of a document: locate, deskew, recognise, repair.

Pipeline (each step a small pure function on numpy arrays):

1. **Locate** (:func:`locate_lines`): a morphological black-hat brings out dark print on a
   light ground, Otsu thresholding and a wide horizontal closing merge each printed line
   into one blob, and the MRZ is the lowest group of 2 or 3 stacked blobs that are long
   (at least 40% of the image width), thin and of similar width. The angle of their
   minimum-area rectangle gives the skew; the image is rotated upright and the lines are
   located again.
2. **Segment** (:func:`_grid`): an MRZ is printed at a fixed pitch, so each line is
   cut into exactly 30, 36 or 44 cells. The cell grid is a least-squares fit of the glyph
   centres (connected components of the binarised line). For two lines, the 36- and
   44-character grids are both tried and the one the classifier fits better is kept.
   Reading whole cells means that a recognised line always has the right length.
3. **Recognise** (:class:`TemplateOCR`): each cell is compared, by normalised correlation
   (after a light blur, at five sub-cell offsets), with templates of the 37 MRZ characters
   rendered from the OCR-B typeface that Doc 9303-3 (4.4) mandates, at several blur and
   stroke weights; per line, only the three renderings that fit the line best are used.
   The typeface comes from Debian's ``fonts-ocr-b`` package
   (``/usr/share/fonts/opentype/ocr-b/OCRB.otf``) or from the path in
   ``HAWIYA_OCRB_FONT``; nothing is downloaded. Each cell gets a score per character.
4. **Repair** (:func:`repair`): the reading is parsed by :mod:`hawiya.credentials.mrz`.
   When it is not valid, characters are replaced only where the layout makes a reading
   impossible (a letter in a date, a digit in a name: the confusion pairs O/0, I/1, B/8,
   S/5, Z/2, G/6, D/0, Q/0) or where the classifier ranked another character close
   behind, and only when that makes the failing check digits pass. A check-digit group
   that admits several repairs is resolved by the composite check digit if it can be;
   when more than one consistent reading remains, nothing is changed and the result is
   not valid: a garbled MRZ is never "corrected" into a different valid document.
   Repairs in fields no check digit covers (names, codes, sex) are made only where the
   layout forces them (a digit in a name): the best-scoring letter is taken, and
   ``unique`` says whether it was clearly ahead of the next letter.
5. **Doubt**: the 7-3-1 check digits cannot tell apart characters whose values differ by
   a multiple of 10 (0/U/K/A/<, 8/S/I, 6/G, 1/L/B...). When a check-protected
   alphanumeric character (document number, optional data) had such a runner-up nearly
   as good as the winner, a reading that passes every check could still be another
   document, so it is reported as not valid with an "ambiguous character" error.

Known limits: upside-down images are not turned; names are protected by no check digit,
so a misread name letter can only lower ``confidence``; measured on synthetic pages only
(see ``tests/test_mrz_ocr.py``), not yet on photographs of real documents.

:func:`read_mrz` returns ``found``, ``lines``, ``valid``, ``document_type``, ``fields``,
``errors`` (each ``field`` and ``reason``), ``repaired`` (each ``position`` (0-based index
into the MRZ without newlines), ``line`` and ``column`` (1-based), ``from``, ``to``,
``unique``) and ``confidence`` (0-1: the mean correlation of the chosen characters, 0 when
nothing was found).
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
    _undetectable_doubts,
    repair,
)
from hawiya.credentials.mrz_parse import parse_mrz

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
    "WORK_WIDTH",
    "TemplateOCR",
    "font_path",
    "locate_lines",
    "read_mrz",
    "repair",
]

WORK_WIDTH = 1400          # images are processed at most this wide


# --------------------------------------------------------------------------- entry point

def _empty(reason: str) -> dict[str, Any]:
    return {"found": False, "lines": [], "valid": False, "document_type": None,
            "fields": {}, "errors": [{"field": "mrz", "reason": reason}], "repaired": [],
            "confidence": 0.0}


def read_mrz(image: Any, *, font: str | None = None, today: Any = None) -> dict[str, Any]:
    """Read, verify and (check-digit-guided) repair the MRZ of a document image.

    ``image`` is a path, encoded bytes, or a uint8 array (grayscale or RGB). Bad images
    raise :class:`~hawiya.errors.InvalidImage`; an image without a readable MRZ gives
    ``found: False``.
    """
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
    first = parse_mrz("\n".join(texts), today=today)
    doc_type = first.document_type
    repaired: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    if not first.valid and doc_type is not None:
        texts, repaired, problems = repair(texts, doc_type, scores)
    result = parse_mrz("\n".join(texts), today=today)
    errors = result.errors if result.valid else [*result.errors, *problems]
    if result.valid and doc_type is not None:
        doubts = _undetectable_doubts(texts, doc_type, scores, engine.similarity)
        if doubts:  # report the raw reading, not valid, with the reasons
            texts = recognised[0]
            result = parse_mrz("\n".join(texts), today=today)
            result.valid = False
            errors = [*result.errors, *doubts]
    return {
        "found": True,
        "lines": texts,
        "valid": result.valid,
        "document_type": result.document_type,
        "fields": result.fields,
        "errors": errors,
        "repaired": repaired if result.valid else [],
        "confidence": round(max(0.0, confidence), 3),
    }

"""MRZ OCR, glyph side: OCR-B character templates, and reading the cells of each MRZ line.

Step 3 of :mod:`hawiya.credentials.mrz_ocr`: each cell cut by
:mod:`hawiya.credentials.mrz_ocr_lines` is compared, by normalised correlation (after a light
blur, at five sub-cell offsets), with templates of the 37 MRZ characters rendered from the
OCR-B typeface that Doc 9303-3 (4.4) mandates, at several blur and stroke weights; per line,
only the renderings that fit the line best are used (:class:`TemplateOCR`). For two lines,
the 36- and 44-character grids are both tried and the one the classifier fits better is kept
(:func:`_recognise`). The typeface comes from Debian's ``fonts-ocr-b`` package or from the
path in ``HAWIYA_OCRB_FONT`` (:func:`font_path`); nothing is downloaded.
"""

from __future__ import annotations

import itertools
import os
import string
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from hawiya.credentials.mrz_ocr_lines import SHIFTS, _cells, _grid, _Line
from hawiya.errors import ConfigError

ALPHABET = string.ascii_uppercase + string.digits + "<"
FONT_PATHS = (
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
    "/usr/local/share/fonts/OCRB.otf",
)
LINE_VARIANTS = 3          # rendering variants kept per line (of 12)


def font_path() -> str:
    candidates = [os.environ.get("HAWIYA_OCRB_FONT", ""), *FONT_PATHS]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise ConfigError("the OCR-B typeface is not installed: install the Debian package "
                      "fonts-ocr-b or set HAWIYA_OCRB_FONT to an OCR-B font file")


class TemplateOCR:
    """Nearest-template classifier for the 37 MRZ characters in OCR-B."""

    def __init__(self, font: str | None = None):
        from PIL import Image, ImageDraw, ImageFont

        font = font or font_path()
        size = 40
        pil_font = ImageFont.truetype(font, size)
        pad = size
        width = int(pil_font.getlength(ALPHABET) + 2 * pad)
        canvas = Image.new("L", (width, size * 3), 235)
        ImageDraw.Draw(canvas).text((pad, size), ALPHABET, font=pil_font, fill=25)
        base = np.asarray(canvas)
        templates, labels = [], []
        # The templates go through the same grid and cell code as the images read, at
        # several blurs and stroke weights, so that both are cut and scaled alike.
        for blur, morph in itertools.product((0.0, 1.0, 2.0, 3.0), (-1, 0, 1)):
            img = base.copy()
            if morph:
                kernel = np.ones((3, 3), np.uint8)
                img = cv2.erode(img, kernel) if morph > 0 else cv2.dilate(img, kernel)
            if blur:
                img = cv2.GaussianBlur(img, (0, 0), blur)
            grid = _grid(img, len(ALPHABET))
            if grid is None:
                continue
            templates.extend(_cells(img, *grid))
            labels.extend(range(len(ALPHABET)))
        if not templates:
            raise ConfigError(f"could not build OCR templates from the font {font}")
        self.templates = np.stack(templates)
        self.labels = np.array(labels)
        self.variants = len(templates) // len(ALPHABET)
        per_variant = self.templates.reshape(self.variants, len(ALPHABET), -1)
        # similarity of each pair of characters, averaged over the variants
        self.similarity = np.einsum("vad,vbd->ab", per_variant, per_variant) / self.variants

    def classify(self, cells: np.ndarray) -> np.ndarray:
        """Correlations (n_cells, variants, 37) of each cell with each character template
        at each rendering variant (blur and stroke weight)."""
        sims = cells @ self.templates.T
        return sims.reshape(cells.shape[0], self.variants, len(ALPHABET))

    def line_scores(self, cells: np.ndarray, n: int, shifts: int) -> np.ndarray:
        """Scores (n, 37) for one line: best cell offset, and the one rendering variant
        variants that fit the whole line best (a line is printed and blurred alike), which keeps
        look-alikes such as U and 0 apart better than a free choice per character."""
        sims = self.classify(cells).reshape(n, shifts, self.variants, len(ALPHABET))
        per_variant = sims.max(axis=1)                        # (n, variants, 37)
        fit = per_variant.max(axis=2).mean(axis=0)            # (variants,)
        best = np.argsort(-fit)[:LINE_VARIANTS]
        return per_variant[:, best, :].max(axis=1)


@lru_cache(maxsize=2)
def _engine(font: str) -> TemplateOCR:
    return TemplateOCR(font)


def _recognise(gray: np.ndarray, lines: list[_Line], engine: TemplateOCR
               ) -> tuple[list[str], list[np.ndarray]] | None:
    widths = (30,) if len(lines) == 3 else (44, 36)
    best: tuple[float, list[str], list[np.ndarray]] | None = None
    h, w = gray.shape
    for n in widths:
        texts, scores_all, means = [], [], []
        for line in lines:
            x, y, bw, bh = line.box
            margin = bh // 2
            strip = gray[max(0, y - margin):min(h, y + bh + margin),
                         max(0, x - margin):min(w, x + bw + margin)]
            grid = _grid(strip, n)
            if grid is None:
                break
            scores = engine.line_scores(_cells(strip, *grid, shifts=SHIFTS), n, len(SHIFTS))
            texts.append("".join(ALPHABET[i] for i in scores.argmax(axis=1)))
            scores_all.append(scores)
            means.append(float(scores.max(axis=1).mean()))
        else:
            mean = float(np.mean(means))
            if best is None or mean > best[0]:
                best = (mean, texts, scores_all)
    if best is None:
        return None
    return best[1], best[2]

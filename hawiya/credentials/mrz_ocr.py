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

import itertools
import os
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hawiya.credentials.mrz import CHARSET, SEGMENTS, _compute_check_digit, parse_mrz
from hawiya.errors import ConfigError, InvalidImage

ALPHABET = string.ascii_uppercase + string.digits + "<"
FONT_PATHS = (
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
    "/usr/local/share/fonts/OCRB.otf",
)
CELL_W, CELL_H = 20, 30
CELL_SMOOTH = 1.0          # Gaussian sigma, in normalised cell pixels
WORK_WIDTH = 1400          # images are processed at most this wide
NEAR_SCORE = 0.12          # classifier alternatives within this score of the best count
MAX_GROUP_EDITS = 2        # substitutions tried inside one check-digit group
LINE_VARIANTS = 3          # rendering variants kept per line (of 12)
DOUBT_MARGIN = 0.15        # relative margin under which a check-blind runner-up is a doubt

# OCR confusions between letters and digits (both directions).
LETTER_TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "B": "8", "S": "5", "Z": "2",
                   "G": "6"}
DIGIT_TO_LETTER = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}


def font_path() -> str:
    candidates = [os.environ.get("HAWIYA_OCRB_FONT", ""), *FONT_PATHS]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise ConfigError("the OCR-B typeface is not installed: install the Debian package "
                      "fonts-ocr-b or set HAWIYA_OCRB_FONT to an OCR-B font file")


# --------------------------------------------------------------------------- recognition

def _normalise_cell(cell: np.ndarray) -> np.ndarray:
    """Ink-positive cell resized to CELL_W x CELL_H, zero mean, unit norm (flattened)."""
    ink = 255.0 - cell.astype(np.float32)
    small = cv2.resize(ink, (CELL_W, CELL_H), interpolation=cv2.INTER_AREA)
    # a light blur makes the match insensitive to sub-pixel position and stroke weight
    small = cv2.GaussianBlur(small, (0, 0), CELL_SMOOTH).ravel()
    small -= small.mean()
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 1e-6 else small


def _line_rows(binary_line: np.ndarray) -> tuple[int, int]:
    """Top and bottom (exclusive) rows of the ink in a binarised line strip."""
    profile = binary_line.sum(axis=1).astype(np.float64)
    if profile.max() <= 0:
        return 0, binary_line.shape[0]
    rows = np.nonzero(profile >= 0.12 * profile.max())[0]
    return int(rows[0]), int(rows[-1]) + 1


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


# --------------------------------------------------------------------------- location

@dataclass
class _Line:
    box: tuple[int, int, int, int]  # x, y, w, h in the working image
    points: np.ndarray


def _to_gray(image: Any) -> np.ndarray:
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise InvalidImage("image arrays must be uint8")
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            return cv2.cvtColor(arr[:, :, :3], cv2.COLOR_RGB2GRAY)
        if arr.ndim == 2:
            return arr
        raise InvalidImage(f"unsupported image array shape {arr.shape}")
    from hawiya.imaging import load_image

    return load_image(image, mode="L")


def locate_lines(gray: np.ndarray) -> list[_Line]:
    """The MRZ text lines of an upright-ish grayscale image (bottom-most group of 2-3)."""
    h, w = gray.shape
    k = max(9, w // 30) | 1
    smooth = cv2.medianBlur(gray, 3)
    blackhat = cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    _, binary = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Close the gaps between characters: about one character height, measured on the
    # print itself, so that runs of '<' stay joined whatever the image scale.
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    heights = stats[1:, 3][(stats[1:, 3] >= 6) & (stats[1:, 3] < h / 6) & (stats[1:, 4] >= 12)]
    char_h = float(np.median(heights)) if len(heights) else w / 60
    kernel_w = max(5, int(1.6 * char_h))
    closed = cv2.morphologyEx(binary, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_w, 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    lines: list[_Line] = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if bw < 0.4 * w or bh > 0.25 * h or bh < 6:
            continue
        ys, xs = np.nonzero(labels[y:y + bh, x:x + bw] == i)
        pts = np.column_stack([xs + x, ys + y]).astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
        long_side, short_side = max(rw, rh), max(1.0, min(rw, rh))
        if long_side / short_side < 8:
            continue
        lines.append(_Line((int(x), int(y), int(bw), int(bh)), pts))
    if not lines:
        return []
    lines.sort(key=lambda ln: ln.box[1] + ln.box[3] / 2)
    group = [lines[-1]]
    for line in reversed(lines[:-1]):
        last = group[-1]
        height = max(last.box[3], line.box[3])
        gap = last.box[1] - (line.box[1] + line.box[3])
        similar = abs(line.box[2] - last.box[2]) < 0.2 * max(line.box[2], last.box[2])
        if gap < 2.5 * height and similar and len(group) < 3:
            group.append(line)
        else:
            break
    return sorted(group, key=lambda ln: ln.box[1])


def _skew_angle(lines: list[_Line]) -> float:
    angles = []
    for line in lines:
        vx, vy, _, _ = cv2.fitLine(line.points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        angles.append(np.degrees(np.arctan2(vy, vx)))
    angle = float(np.median(angles))
    if angle > 45:
        angle -= 180
    elif angle < -45:
        angle += 180
    return angle


def _rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border = int(np.median(gray))
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


# --------------------------------------------------------------------------- segmentation

def _grid(strip: np.ndarray, n: int) -> tuple[np.ndarray, float, int, int] | None:
    """Cell centres (x), pitch, top and bottom of one line strip cut into ``n`` cells."""
    _, binary = cv2.threshold(strip, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    top, bottom = _line_rows(binary > 0)
    height = bottom - top
    count, _, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    boxes = [(stats[i], centroids[i]) for i in range(1, count)
             if stats[i][3] >= 0.25 * height and stats[i][4] >= 4]
    if len(boxes) < 2:
        return None
    left = min(s[0] for s, _ in boxes)
    right = max(s[0] + s[2] for s, _ in boxes)
    pitch = (right - left) / (n - 0.25)
    singles = [(c[0], s) for s, c in boxes if s[2] <= 1.15 * pitch]
    if len(singles) < 2:
        return None
    xs = np.array([c for c, _ in singles])
    first = xs.min()
    for _ in range(3):
        idx = np.round((xs - first) / pitch)
        keep = (idx >= 0) & (idx < n)
        if keep.sum() < 2 or len(np.unique(idx[keep])) < 2:
            break
        b, a = np.polyfit(idx[keep], xs[keep], 1)
        if b <= 0:
            break
        pitch, first = float(b), float(a)
    centres = first + pitch * np.arange(n)
    return centres, pitch, top, bottom


SHIFTS = (-0.12, -0.06, 0.0, 0.06, 0.12)   # cell offsets tried, in pitches


def _cells(strip: np.ndarray, centres: np.ndarray, pitch: float, top: int,
           bottom: int, shifts: tuple[float, ...] = (0.0,)) -> np.ndarray:
    """Normalised cells, (len(centres) * len(shifts), CELL_W * CELL_H), cell-major."""
    h, w = strip.shape
    pad = int(round(0.08 * (bottom - top)))
    y0, y1 = max(0, top - pad), min(h, bottom + pad)
    border = int(np.percentile(strip, 90))
    out = []
    for cx in centres:
        for shift in shifts:
            x0 = int(round(cx + shift * pitch - pitch / 2))
            x1 = x0 + max(1, int(round(pitch)))
            cell = np.full((y1 - y0, x1 - x0), border, np.uint8)
            sx0, sx1 = max(0, x0), min(w, x1)
            if sx1 > sx0:
                cell[:, sx0 - x0:sx1 - x0] = strip[y0:y1, sx0:sx1]
            out.append(_normalise_cell(cell))
    return np.stack(out)


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


# --------------------------------------------------------------------------- repair

def _kind(doc_type: str, line: int, col: int) -> str:
    for seg in SEGMENTS[doc_type]:
        if seg.line == line and seg.start <= col < seg.end:
            return seg.kind
    return "alnum"


def _fits(kind: str, ch: str) -> bool:
    if kind == "digit":
        return ch in string.digits or ch == "<"
    if kind == "alpha":
        return ch in string.ascii_uppercase or ch == "<"
    return ch in CHARSET


def _alternatives(ch: str, kind: str, scores: np.ndarray | None) -> list[str]:
    alts: list[str] = []
    if kind in ("digit", "alnum") and ch in LETTER_TO_DIGIT:
        alts.append(LETTER_TO_DIGIT[ch])
    if kind in ("alpha", "alnum") and ch in DIGIT_TO_LETTER:
        alts.append(DIGIT_TO_LETTER[ch])
    if scores is not None:
        best = float(scores.max())
        for k in np.argsort(-scores)[1:4]:
            if best - float(scores[k]) <= NEAR_SCORE:
                alts.append(ALPHABET[k])
    return [a for a in dict.fromkeys(alts) if a != ch and _fits(kind, a)]


def _groups(doc_type: str, width: int) -> list[tuple[str, list[tuple[int, int]], tuple[int, int]]]:
    """(name, data positions, check digit position) of the simple check-digit groups."""
    if doc_type == "TD1":
        spec = [("document_number", 0, range(5, 14), 14),
                ("date_of_birth", 1, range(0, 6), 6),
                ("date_of_expiry", 1, range(8, 14), 14)]
    else:
        spec = [("document_number", 1, range(0, 9), 9),
                ("date_of_birth", 1, range(13, 19), 19),
                ("date_of_expiry", 1, range(21, 27), 27)]
        if doc_type == "TD3":
            spec.append(("optional_data", 1, range(28, 42), 42))
    return [(name, [(ln, c) for c in cols], (ln, cd)) for name, ln, cols, cd in spec]


def _composite_only(doc_type: str) -> list[tuple[int, int]]:
    """Positions only the composite check digit protects (optional data of TD1, TD2)."""
    if doc_type == "TD1":
        return [(0, c) for c in range(15, 30)] + [(1, c) for c in range(18, 29)]
    if doc_type == "TD2":
        return [(1, c) for c in range(28, 35)]
    return []


def _group_ok(lines: list[str], data: list[tuple[int, int]], cd: tuple[int, int],
              name: str) -> bool:
    text = "".join(lines[ln][c] for ln, c in data)
    found = lines[cd[0]][cd[1]]
    if name == "optional_data" and text == "<" * len(text) and found in "<0":
        return True
    expected = _compute_check_digit(text)
    return expected is not None and found == str(expected)


def _apply(lines: list[str], edits: dict[tuple[int, int], str]) -> list[str]:
    out = [list(line) for line in lines]
    for (ln, c), ch in edits.items():
        out[ln][c] = ch
    return ["".join(line) for line in out]


def repair(lines: list[str], doc_type: str, scores: list[np.ndarray] | None = None,
           ) -> tuple[list[str], list[dict[str, Any]], list[dict[str, str]]]:
    """Check-digit-guided repair of an OCR reading.

    Returns the (possibly) repaired lines, the repairs made and repair errors (an
    ambiguity or an impossible group). Lines are returned unchanged unless exactly one
    consistent reading was found among the candidates.
    """
    width = len(lines[0])
    repairs: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []

    def score_at(ln: int, c: int) -> np.ndarray | None:
        return scores[ln][c] if scores is not None else None

    # 1. Layout-forced repairs: a letter where only digits may stand (dates, check
    #    digits) or a digit where only letters may (names, codes, sex) is certainly a
    #    misreading; take the best-scoring character that fits (or the confusion pair).
    forced: dict[tuple[int, int], str] = {}
    for ln, line in enumerate(lines):
        for c, ch in enumerate(line):
            kind = _kind(doc_type, ln, c)
            if _fits(kind, ch):
                continue
            sc = score_at(ln, c)
            if sc is not None:
                ranked = [ALPHABET[k] for k in np.argsort(-sc) if _fits(kind, ALPHABET[k])]
                to = ranked[0]
                second = sc[ALPHABET.index(ranked[1])] if len(ranked) > 1 else -1.0
                unique = float(sc[ALPHABET.index(to)] - second) > NEAR_SCORE
            else:
                to = (LETTER_TO_DIGIT if kind == "digit" else DIGIT_TO_LETTER).get(ch, "")
                unique = bool(to)
            if to:
                forced[(ln, c)] = to
                repairs.append({"line": ln + 1, "column": c + 1, "position": ln * width + c,
                                "from": ch, "to": to, "unique": unique})
    current = _apply(lines, forced)

    # 2. Each failing check-digit group: the edits (up to MAX_GROUP_EDITS) that make it pass.
    options: list[list[dict[tuple[int, int], str]]] = []
    failing: list[str] = []
    for name, data, cd in _groups(doc_type, width):
        if _group_ok(current, data, cd, name):
            continue
        failing.append(name)
        positions = [*data, cd]
        alts = {p: _alternatives(current[p[0]][p[1]], _kind(doc_type, *p), score_at(*p))
                for p in positions}
        candidates = [p for p in positions if alts[p]]
        fixes: list[dict[tuple[int, int], str]] = []
        # With a composite check digit behind it, the fewest edits win; a visa has none,
        # so there every reading with up to MAX_GROUP_EDITS edits competes.
        minimal = doc_type in ("TD1", "TD2", "TD3")
        for size in range(1, MAX_GROUP_EDITS + 1):
            for combo in itertools.combinations(candidates, size):
                for chars in itertools.product(*(alts[p] for p in combo)):
                    edit = dict(zip(combo, chars, strict=True))
                    if _group_ok(_apply(current, edit), data, cd, name):
                        fixes.append(edit)
            if fixes and minimal:
                break
        if not fixes:
            problems.append({"field": name, "reason": "OCR repair: no substitution among "
                             "the likely misreadings makes the check digit pass"})
            return lines, [], problems
        options.append(fixes)

    # 3. Combine the group fixes; the full parse (composite included) must be valid.
    if not options and parse_mrz("\n".join(current)).valid:
        return current, repairs, problems
    consistent: list[dict[tuple[int, int], str]] = []
    combos = [{k: v for part in combo for k, v in part.items()}
              for combo in itertools.product(*options)] if options else [{}]
    for edit in combos:
        if parse_mrz("\n".join(_apply(current, edit))).valid:
            consistent.append(edit)
        if len(consistent) > 1:
            break
    if not consistent:
        # 4. The composite alone fails: one misreading in optional data that only the
        #    composite check digit protects (TD1 and TD2).
        #    One mod-10 digit over many positions is weak evidence, so readings with one
        #    and with two edits all compete, and only a single consistent one is taken.
        extra = {p: _alternatives(current[p[0]][p[1]], _kind(doc_type, *p), score_at(*p))
                 for p in _composite_only(doc_type)}
        singles = [{p: ch} for p, alts in extra.items() for ch in alts]
        pairs = [{**a, **b} for a, b in itertools.combinations(singles, 2)
                 if a.keys() != b.keys()]
        for edit in combos:
            for extra_edit in singles + pairs:
                trial = {**edit, **extra_edit}
                if parse_mrz("\n".join(_apply(current, trial))).valid:
                    consistent.append(trial)
                    if len(consistent) > 1:
                        break
            if len(consistent) > 1:
                break
    if len(consistent) == 1:
        edit = consistent[0]
        for (ln, c), to in sorted(edit.items()):
            group_index = next((i for i, fixes in enumerate(options)
                                if any((ln, c) in f for f in fixes)), None)
            repairs.append({"line": ln + 1, "column": c + 1, "position": ln * width + c,
                            "from": current[ln][c], "to": to,
                            "unique": group_index is None or len(options[group_index]) == 1})
        return _apply(current, edit), repairs, problems
    if consistent:
        problems.append({"field": ",".join(failing) or "composite",
                         "reason": "OCR repair is ambiguous: several substitutions give a "
                                   "consistent MRZ, so none was applied"})
    else:
        problems.append({"field": ",".join(failing) or "composite",
                         "reason": "OCR repair: no combination of likely misreadings gives "
                                   "a consistent MRZ"})
    return lines, [], problems


def _value(ch: str) -> int:
    return 0 if ch == "<" else int(ch, 36)


def _undetectable_doubts(lines: list[str], doc_type: str, scores: list[np.ndarray],
                         similarity: np.ndarray) -> list[dict[str, Any]]:
    """Positions in check-protected alphanumeric fields where a close runner-up differs by
    a multiple of 10 in check-digit value (0/U, 6/G, 8/S, 1/L...): no check digit can tell
    such readings apart, so a valid-looking reading may be another document.

    Closeness is the score gap relative to how different the two templates are,
    ``(s_a - s_b) / (1 - sim_ab)``: 1 for a perfect ``a``, -1 for a perfect ``b``."""
    doubts = []
    protected = {p for name, data, _ in _groups(doc_type, len(lines[0]))
                 if name in ("document_number", "optional_data") for p in data}
    protected.update(_composite_only(doc_type))
    for ln, c in sorted(protected):
        ch = lines[ln][c]
        sc = scores[ln][c]
        a = ALPHABET.index(ch)
        for k in np.argsort(-sc)[:4]:
            other = ALPHABET[k]
            if other == ch or (_value(other) - _value(ch)) % 10 != 0:
                continue
            relative = float(sc[a] - sc[k]) / max(1e-3, 1.0 - float(similarity[a, k]))
            if relative < DOUBT_MARGIN:
                seg = next(s for s in SEGMENTS[doc_type]
                           if s.line == ln and s.start <= c < s.end)
                doubts.append({
                    "field": seg.field,
                    "reason": f"ambiguous character at line {ln + 1}, column {c + 1}: read "
                              f"{ch!r}, but {other!r} fits almost as well and the check "
                              "digits cannot tell the two apart",
                    "line": ln + 1, "column": c + 1,
                })
                break
    return doubts


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

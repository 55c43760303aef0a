"""Licence-plate recognition (ANPR): find every plate in a camera image, read it, score it.

Models: the shared PP-OCR text detector and recogniser (:mod:`hawiya.ocr`, shipped inside
the rapidocr wheel; nothing is downloaded). No plate-specific network is needed because a
plate is, to a text detector, a short line of large upper-case letters and digits; what makes
it a *plate* is decided afterwards, from its reading and the plate formats.

Pipeline, per image:

1. text lines are detected once, on the image scaled to ``DET_SIDE`` px (the detector's cost
   grows with the square of this; plates need only ~60 px of width at that scale);
2. plate-like regions are formed: each line, lines side by side on one baseline (a plate
   the detector split at a seal or a wide gap: read again as one crop), and two stacked lines
   of similar width (two-line motorcycle and square plates: both readings joined);
3. every region is read from the *full-resolution* image (a rotated crop, so tilted plates
   come out level), the recogniser giving per character a probability over A-Z and 0-9;
4. the readings are ranked by :mod:`hawiya.vehicles.anpr_candidates` with the formats of
   ``country``, or with no country with every known format (the generic rule: 4-10
   characters, a reading that fits any known format preferred); text that is no plate
   (town and country names, dealer frames, lower-case words, other scripts) drops out
   because it has no digit and fits no format, has lower case, or too few/many characters;
5. overlapping regions keep the most confident reading.

Why no country by default: the registry's home country (``vehicles.country``) says which
plates the registry *issues*, not which plates a camera *sees*; foreign cars are read with
the generic rule unless the caller names a country.
"""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hawiya.errors import InvalidImage
from hawiya.vehicles.anpr_candidates import (
    ALPHABET,
    MAX_CHARS,
    MIN_CHARS,
    Scope,
    as_scope,
    rank_views,
)

DET_SIDE = 768          # detector input, longer side (px)
BOX_THRESH = 0.45       # detector: mean text probability a line needs
MIN_HEIGHT = 8.0        # px in the image: smaller text cannot be read reliably
MAX_LINES = 40          # lines read per image (the most confident), bounding the time
PAD = 0.12              # crop margin around a line, in line heights
EXTENDS = (0.5,)        # more margin at both ends (detected lines often clip an end glyph)
RETRY_BELOW = 0.3       # a second, finer detection pass when no plate is this confident
STACKED_CHARS = 6       # at most this many characters on each line of a two-line plate
MIN_CONFIDENCE = 0.05   # a region's best reading must reach this to be reported
MIN_MASS = 0.6          # share of the recogniser's probability on A-Z/0-9 (else: other script)
LOWER_CASE = 0.7        # plateness factor per lower-case letter read
LENGTH_PRIOR = {4: 0.3, 5: 0.6, 9: 0.6, 10: 0.3}     # plateness by character count (else 1)


@dataclass
class _Region:
    corners: np.ndarray         # (k, 2) points the region covers, image pixels
    views: list                 # (chars, probs) per crop of the region
    raw: str                    # unrestricted reading (case and punctuation kept)
    mass: float
    height: float               # text height (px), the taller line of a two-line plate


def _as_array(image: Any) -> np.ndarray:
    from hawiya.imaging import MAX_PIXELS, load_image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 8 \
                or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise InvalidImage("image array must be uint8, H x W (grey) or H x W x 3 (RGB)")
        if image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise InvalidImage(f"image larger than {MAX_PIXELS // 1_000_000} MP")
        return image[:, :, :3] if image.ndim == 3 else image
    if isinstance(image, (str, os.PathLike, bytes, bytearray)):
        return load_image(Path(image) if isinstance(image, str) else image)
    raise InvalidImage(f"not an image: {type(image).__name__}")


def _same_line(a, b) -> bool:
    """b continues a on its right: same slope and height, centres on one line, small gap."""
    if abs(a.angle - b.angle) > 12 or not 0.6 <= a.height / b.height <= 1.6:
        return False
    t = np.radians(a.angle)
    along, across = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    d = np.array([b.cx - a.cx, b.cy - a.cy])
    gap = d @ along - (a.length + b.length) / 2
    h = max(a.height, b.height)
    return abs(d @ across) < 0.35 * h and -0.3 * h < gap < 1.2 * h


def _stacked(a, b) -> bool:
    """b sits under a as the second line of one plate: overlapping spans, close, similar."""
    if abs(a.angle - b.angle) > 12 or not 0.5 <= a.height / b.height <= 2.0:
        return False
    ca, cb = a.corners(), b.corners()
    ax0, ax1 = ca[:, 0].min(), ca[:, 0].max()
    bx0, bx1 = cb[:, 0].min(), cb[:, 0].max()
    overlap = min(ax1, bx1) - max(ax0, bx0)
    narrow = min(ax1 - ax0, bx1 - bx0)
    gap = cb[:, 1].min() - ca[:, 1].max()
    return (overlap > 0.6 * narrow and narrow > 0.3 * max(ax1 - ax0, bx1 - bx0)
            and -0.3 * min(a.height, b.height) < gap < 0.6 * max(a.height, b.height))


def _chains(boxes: list) -> list[list[int]]:
    """Runs of two or more boxes, left to right, each continuing the previous one."""
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].cx)
    nxt = {}
    for i in order:
        for j in order:
            if j != i and j not in nxt.values() and _same_line(boxes[i], boxes[j]):
                nxt[i] = j
                break
    starts = set(nxt) - set(nxt.values())
    out = []
    for s in starts:
        chain = [s]
        while chain[-1] in nxt and len(chain) < 4:
            chain.append(nxt[chain[-1]])
        out.append(chain)
    return out


def _union_box(boxes: list):
    """One rotated box around several (a plate the detector split), along their direction."""
    from hawiya.ocr import TextBox

    pts = np.concatenate([b.corners() for b in boxes])
    t = np.radians(np.mean([b.angle for b in boxes]))
    along, across = pts @ np.array([np.cos(t), np.sin(t)]), pts @ np.array([-np.sin(t),
                                                                              np.cos(t)])
    a0, a1, c0, c1 = along.min(), along.max(), across.min(), across.max()
    ca, cc = (a0 + a1) / 2, (c0 + c1) / 2
    cx, cy = ca * np.cos(t) - cc * np.sin(t), ca * np.sin(t) + cc * np.cos(t)
    return TextBox(float(cx), float(cy), float(a1 - a0), float(c1 - c0), float(np.degrees(t)),
                   min(b.score for b in boxes))


def _fold(ch: str) -> str:
    return unicodedata.normalize("NFKD", ch)[:1].upper()


def _without_separators(reading) -> tuple[str, np.ndarray]:
    """The restricted reading without characters that stand where the unrestricted one read
    a separator (dash, dot, space): restricted decoding turns such a frame into its likeliest
    letter or digit (``XZ 6803-SV`` into ``XZ68038SV``) when blank is not likelier. The two
    readings are aligned (a separator may stand for no character or one)."""
    chars, probs, raw = reading.chars, reading.probs, reading.text
    folded = [_fold(c) if _fold(c) in ALPHABET else "" for c in raw]
    if probs is None or len(chars) <= sum(map(bool, folded)) or len(raw) > 40:
        return chars, probs
    n, m = len(chars), len(raw)
    # cost[i][j]: aligning chars[i:] with raw[j:]; a separator that yields a character
    # costs a little, so that a letter or digit read in both places is matched first
    cost = np.zeros((n + 1, m + 1))
    cost[n, :] = [sum(map(bool, folded[j:])) for j in range(m + 1)]
    cost[:, m] = np.arange(n, -1, -1)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if folded[j]:
                cost[i, j] = (chars[i] != folded[j]) + cost[i + 1, j + 1]
            else:
                cost[i, j] = min(cost[i, j + 1], 0.1 + cost[i + 1, j + 1])
    keep, i, j = [], 0, 0
    while i < n and j < m:
        if folded[j]:
            keep.append(i)
            i, j = i + 1, j + 1
        elif cost[i, j] == cost[i, j + 1]:
            j += 1
        else:
            i, j = i + 1, j + 1         # chars[i] came from the separator's frames
    keep += range(i, n)
    return "".join(chars[k] for k in keep), probs[keep]


def _cut_band(crop: np.ndarray) -> np.ndarray:
    """The crop without a blue country band at its left (EU and many other plates): the
    band's code letters (D, NL, PL...) are not part of the registration. A band is a solid
    run of blue columns spanning most of the crop height (and wider than a text stroke) and at
    least a fifth of the height wide, in the left third."""
    if crop.ndim != 3:
        return crop
    c = crop.astype(np.int16)
    blue = (c[..., 2] > 70) & (c[..., 2] > c[..., 0] + 40) & (c[..., 2] > c[..., 1] + 15)
    h, w = blue.shape
    cols = np.r_[False, blue[:, : w // 3].mean(axis=0) > 0.6, False]
    edges = np.flatnonzero(np.diff(cols.astype(np.int8)))
    runs = [(s, e) for s, e in zip(edges[::2], edges[1::2], strict=True)
            if e - s >= max(2, 0.2 * h) and e < w // 3]     # a blue plate is no band
    if not runs:
        return crop
    end = runs[-1][1] + max(1, h // 16)
    return crop[:, end:] if w - end > h else crop


def _regions(image: np.ndarray, boxes: list) -> list[_Region]:
    from hawiya.ocr import crop_line, recognise

    chains = _chains(boxes)
    lines = boxes + [_union_box([boxes[i] for i in c]) for c in chains]
    crops = [_cut_band(crop_line(image, replace(b, length=b.length + 2 * e * b.height),
                                 pad=PAD)) for b in lines for e in EXTENDS]
    flat = recognise(crops, alphabet=ALPHABET)
    k = len(EXTENDS)
    reads = [flat[i * k:(i + 1) * k] for i in range(len(lines))]
    views = [[_without_separators(r) for r in rs] for rs in reads]
    out = [_Region(b.corners(), vs, rs[0].text, min(r.mass for r in rs), b.height)
           for b, rs, vs in zip(lines, reads, views, strict=True)]
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes):
            if i != j and a.cy < b.cy and _stacked(a, b) \
                    and max(len(views[i][0][0]), len(views[j][0][0])) <= STACKED_CHARS:
                joined = [(ca + cb, np.concatenate([pa, pb]))
                          for (ca, pa), (cb, pb) in zip(views[i], views[j], strict=True)]
                out.append(_Region(np.concatenate([a.corners(), b.corners()]), joined,
                                   f"{reads[i][0].text} {reads[j][0].text}",
                                   min(r.mass for r in reads[i] + reads[j]),
                                   max(a.height, b.height)))
    return out


def _plate_like(region: _Region) -> bool:
    """Cheap refusals before ranking: other scripts, wrong length, sentences."""
    if region.mass < MIN_MASS or not MIN_CHARS - 1 <= len(region.views[0][0]) <= MAX_CHARS + 2:
        return False
    return len(region.raw.split()) <= 4


def _plateness(text: str, raw: str, fits_country: bool, height: float, tallest: float
               ) -> float:
    """How much a reading looks like a plate rather than other text on a car or around it,
    as a factor on its confidence: plates mix letters and digits and have 6-8 characters
    in most countries (a reading that fits the named country's format needs neither), and
    the plate is rarely the smallest text in view; plates are written in capitals."""
    size = float(np.clip(np.sqrt(height / tallest), 0.3, 1.0)) if tallest > 0 else 1.0
    size *= LOWER_CASE ** sum(c.islower() for c in raw)
    if fits_country:
        return size
    digits = sum(c.isdigit() for c in text)
    shape = 1.0 if 0 < digits < len(text) else 0.3 if digits else 0.1
    return size * shape * LENGTH_PRIOR.get(len(text), 1.0)


def _bbox(corners: np.ndarray, shape: tuple) -> list[int]:
    h, w = shape[:2]
    x0, y0 = np.clip(corners.min(axis=0), 0, [w, h])
    x1, y1 = np.clip(corners.max(axis=0), 0, [w, h])
    return [int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))]


def _overlap(a: list[int], b: list[int]) -> float:
    """Intersection over the smaller box (a part of a merged region counts as covered)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    small = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / small if small > 0 else 0.0


def _find(img: np.ndarray, scope: Scope, country: str | None, top: int, side: int
          ) -> list[dict]:
    """Plate readings from one detection pass at ``side`` px (not yet de-duplicated)."""
    from hawiya.ocr import detect_text

    boxes = [b for b in detect_text(img, side=side, box_thresh=BOX_THRESH)
             if b.height >= MIN_HEIGHT and b.length >= 0.8 * b.height]
    boxes = sorted(boxes, key=lambda b: -b.score)[:MAX_LINES]
    ranked = []
    for region in _regions(img, boxes) if boxes else []:
        if not _plate_like(region):
            continue
        cands = rank_views(region.views, scope, top=max(1, top))
        if cands and (cands[0].format is not None or any(c.isdigit() for c in cands[0].text)):
            ranked.append((region, cands))
    tallest = max((r.height for r, _ in ranked), default=0.0)
    found = []
    for region, cands in ranked:
        best = cands[0]
        factor = _plateness(best.text, region.raw, bool(country) and best.format is not None,
                            region.height, tallest)
        if best.confidence * factor < MIN_CONFIDENCE:
            continue
        found.append({"text": best.text, "confidence": round(float(best.confidence * factor), 4),
                      "box": _bbox(region.corners, img.shape),
                      "candidates": [{"text": c.text,
                                      "confidence": round(float(c.confidence * factor), 4)}
                                     for c in cands],
                      "format": f"{best.format.country}/{best.format.name}"
                      if best.format is not None else None})
    return found


def read_plates(image: Any, *, country: str | None = None, top: int = 5,
                formats_file: Path | None = None, side: int = DET_SIDE) -> dict[str, Any]:
    """Every plate in ``image`` (path, bytes or uint8 array), most confident first.

    Returns ``{"plates": [{text, confidence, box [x, y, w, h], candidates [{text,
    confidence}], format}], "ms"}``; ``country`` (ISO 3166, a US state as US-XX) restricts
    the formats, else the generic rule applies. Garbage input raises InvalidImage.

    When the first pass finds no confident plate in a large image, the detector runs again
    at twice the scale: a distant plate can be too small for it at ``side`` yet still
    readable at full resolution (this costs about three first passes, only then)."""
    from hawiya.vehicles.plate_formats import all_formats, formats

    start = time.perf_counter()
    scope = as_scope(formats(country, formats_file) if country else all_formats(formats_file))
    img = _as_array(image)
    found = _find(img, scope, country, top, side)
    longer = max(img.shape[:2])
    if longer > 1.25 * side and max((p["confidence"] for p in found), default=0) < RETRY_BELOW:
        found += _find(img, scope, country, top, min(2 * side, longer))
    found.sort(key=lambda p: -p["confidence"])
    plates: list[dict] = []
    for p in found:
        if all(_overlap(p["box"], q["box"]) < 0.3 for q in plates):
            plates.append(p)
    return {"plates": plates, "ms": round(1000 * (time.perf_counter() - start), 1)}

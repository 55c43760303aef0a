"""MRZ OCR, image side: prepare the image, find the MRZ lines, deskew, cut them into cells.

Steps 1 and 2 of :mod:`hawiya.credentials.mrz_ocr`:

* **Locate** (:func:`locate_lines`): a morphological black-hat brings out dark print on a
  light ground, Otsu thresholding and a wide horizontal closing merge each printed line into
  one blob, and the MRZ is the lowest group of 2 or 3 stacked blobs that are long (at least
  40% of the image width), thin and of similar width. :func:`_skew_angle` and
  :func:`_rotate` turn the image upright.
* **Segment** (:func:`_grid`, :func:`_cells`): an MRZ is printed at a fixed pitch, so each
  line is cut into exactly 30, 36 or 44 cells, a least-squares fit of the glyph centres;
  each cell is normalised (ink-positive, resized, lightly blurred, zero mean, unit norm)
  for the template matching of :mod:`hawiya.credentials.mrz_ocr_glyphs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hawiya.errors import InvalidImage

CELL_W, CELL_H = 20, 30
CELL_SMOOTH = 1.0          # Gaussian sigma, in normalised cell pixels


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

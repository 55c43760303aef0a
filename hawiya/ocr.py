"""Printed-text OCR: find text lines in a photo and read them, with shipped PP-OCR models.

Why one module: the MRZ reader (:mod:`hawiya.credentials.mrz_text_ocr`) and, later, the
number-plate reader need the same two steps, and the models should be loaded once per
process, not once per caller.

Models: PP-OCRv6 small text detection and recognition (ONNX), the files that ship inside the
``rapidocr`` wheel (``rapidocr/models/``). They are opened by explicit path with onnxruntime
on the CPU; rapidocr's own loader, which can fetch models over the network, is never called,
so nothing is downloaded: a missing file is a :class:`~hawiya.errors.ConfigError`. Sessions
are created lazily under a lock (onnxruntime sessions are safe to run from several threads);
``HAWIYA_OCR_THREADS`` sets the intra-op threads (default: the CPU count, at most 4);
:func:`load` loads both models up front. Why these models: through the same MRZ pipeline,
PP-OCRv4 (the ``rapidocr_onnxruntime`` 1.4.4 wheel) read 15 of the 33 real MRZ photos of the
shared set exactly, PP-OCRv6 31, in about half the time.

* :func:`detect_text`: DB (differentiable binarisation) text probability map; each connected
  region above ``thresh`` becomes a rotated rectangle, kept when its mean probability reaches
  ``box_thresh`` and grown by ``unclip_ratio`` (DB predicts shrunk text kernels).
* :func:`crop_line`: one box cut out upright (long side horizontal) at the recogniser's
  height, optionally turned 180 degrees.
* :func:`recognise`: CTC recognition, greedy decoding. With an ``alphabet`` the decoding is
  also done restricted to it (other model characters folded onto it, e.g. lower case onto
  upper case), giving per character a probability over the alphabet, which a caller can use
  for check-digit repair; :func:`recognise_lines` is the plain text-and-score form.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hawiya.errors import ConfigError

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
REC_HEIGHT = 48            # the recogniser's input height
MAX_REC_WIDTH = 2400       # widest crop fed to the recogniser (50 x its height)
REC_BATCH = 8

_LOCK = threading.Lock()
_SESSIONS: dict[str, Any] = {}


def model_dir() -> Path:
    """The ``models`` folder of the installed rapidocr package (found without importing it:
    importing rapidocr sets up its logging and model-resolution machinery)."""
    from importlib.util import find_spec

    spec = find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("text OCR needs the Python package rapidocr (its wheel ships the "
                          "PP-OCR models): pip install rapidocr")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def threads() -> int:
    try:
        wanted = int(os.environ.get("HAWIYA_OCR_THREADS", "0"))
    except ValueError:
        wanted = 0
    return wanted if wanted > 0 else min(4, os.cpu_count() or 1)


def _session(name: str) -> Any:
    session = _SESSIONS.get(name)
    if session is None:
        with _LOCK:
            session = _SESSIONS.get(name)
            if session is None:
                import onnxruntime as ort

                path = model_dir() / name
                if not path.is_file():
                    raise ConfigError(f"OCR model {path} is missing: reinstall rapidocr "
                                      "(the model files ship inside its wheel)")
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads()
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                session = ort.InferenceSession(str(path), opts,
                                               providers=["CPUExecutionProvider"])
                _SESSIONS[name] = session
    return session


def load() -> None:
    """Load both models now (a server at start-up, a benchmark before its clock starts)."""
    _session(DET_MODEL)
    characters()


@lru_cache(maxsize=1)
def characters() -> tuple[str, ...]:
    """The recogniser's classes: CTC blank (index 0, as ''), the model's characters, space."""
    meta = _session(REC_MODEL).get_modelmeta().custom_metadata_map
    return ("", *meta["character"].splitlines(), " ")


# --------------------------------------------------------------------------- detection

@dataclass(frozen=True)
class TextBox:
    """A detected text line as a rotated rectangle in image pixels: ``length`` along the
    line, ``height`` across it, ``angle`` (degrees, -90 to 90) of the line's direction."""

    cx: float
    cy: float
    length: float
    height: float
    angle: float
    score: float

    def corners(self) -> np.ndarray:
        """(4, 2) corners: start-top, end-top, end-bottom, start-bottom (reading order when
        the line is upright)."""
        t = np.radians(self.angle)
        along = np.array([np.cos(t), np.sin(t)]) * self.length / 2
        across = np.array([-np.sin(t), np.cos(t)]) * self.height / 2
        c = np.array([self.cx, self.cy])
        return np.array([c - along - across, c + along - across, c + along + across,
                         c - along + across], np.float32)


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image[:, :, 2::-1])


def _rect_box(rect: tuple, sx: float, sy: float, score: float, grow: float) -> TextBox:
    pts = cv2.boxPoints(rect) * np.array([sx, sy], np.float32)
    (cx, cy), (w, h), _ = cv2.minAreaRect(pts)
    edge = pts[1] - pts[0]
    other = pts[2] - pts[1]
    long_edge = edge if np.hypot(*edge) >= np.hypot(*other) else other
    angle = float(np.degrees(np.arctan2(long_edge[1], long_edge[0])))
    angle = (angle + 90.0) % 180.0 - 90.0
    length, height = max(w, h), min(w, h)
    d = grow * length * height / (2 * (length + height))
    return TextBox(float(cx), float(cy), length + 2 * d, height + 2 * d, angle, score)


def detect_text(image: np.ndarray, *, side: int = 960, thresh: float = 0.3,
                box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                min_height: float = 4.0) -> list[TextBox]:
    """Text lines in an RGB (or grayscale) uint8 image, top to bottom.

    The image is resized so that its longer side is ``side`` (rounded to multiples of 32,
    as the network needs)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    rh, rw = max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    x = cv2.resize(_to_bgr(image), (rw, rh), interpolation=interp).astype(np.float32)
    x = (x / 127.5 - 1.0).transpose(2, 0, 1)[None]
    session = _session(DET_MODEL)
    prob = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
    mask = cv2.dilate((prob > thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    # mean probability per region, all regions at once
    sums = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=count)
    means = sums / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    sx, sy = w / rw, h / rh
    boxes = []
    for i in np.nonzero(means >= box_thresh)[0]:
        if i == 0 or stats[i, cv2.CC_STAT_AREA] < 10:
            continue
        x0, y0, bw, bh = stats[i, :4]
        ys, xs = np.nonzero(labels[y0:y0 + bh, x0:x0 + bw] == i)
        pts = np.column_stack([xs + x0, ys + y0]).astype(np.float32)
        box = _rect_box(cv2.minAreaRect(pts), sx, sy, float(means[i]), unclip_ratio)
        if box.height >= min_height:
            boxes.append(box)
    return sorted(boxes, key=lambda b: (b.cy, b.cx))


def crop_line(image: np.ndarray, box: TextBox, *, height: int = REC_HEIGHT,
              pad: float = 0.0, flip: bool = False) -> np.ndarray:
    """The box cut out with its line horizontal, ``pad`` (a fraction of the box height)
    added on every side, resized to ``height`` pixels; ``flip`` turns it 180 degrees."""
    grow = pad * box.height
    length, tall = box.length + 2 * grow, box.height + 2 * grow
    src = TextBox(box.cx, box.cy, length, tall, box.angle, box.score).corners()[:3]
    out_w, out_h = max(2, int(round(length))), max(2, int(round(tall)))
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h]], np.float32)
    m = cv2.getAffineTransform(src, dst)
    strip = cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REPLICATE)
    width = max(2, min(MAX_REC_WIDTH, int(round(out_w * height / out_h))))
    interp = cv2.INTER_AREA if out_h > height else cv2.INTER_CUBIC
    strip = cv2.resize(strip, (width, height), interpolation=interp)
    return strip[::-1, ::-1] if flip else strip


# --------------------------------------------------------------------------- recognition

@dataclass
class Reading:
    """One recognised line. ``text``/``score``: the unrestricted reading and the mean
    probability of its characters. With an alphabet: ``chars``, the reading restricted to
    it, ``probs`` (len(chars), len(alphabet)), each character's probability over the
    alphabet, and ``mass``, the mean share of probability the alphabet held where those
    characters were read (low for text in another script)."""

    text: str
    score: float
    chars: str = ""
    probs: np.ndarray | None = None
    mass: float = 0.0


@lru_cache(maxsize=8)
def _fold_matrix(alphabet: str, extra: tuple[tuple[str, str], ...]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Model classes that fold onto the alphabet (upper case, accents stripped, then the
    caller's extra pairs): their indices and a 0/1 matrix onto blank + alphabet."""
    fold = dict(extra)
    cols, targets = [0], [0]
    for i, ch in enumerate(characters()[1:], start=1):
        base = unicodedata.normalize("NFKD", ch)[:1].upper() if ch else ""
        to = fold.get(ch, ch if ch in alphabet else base if base in alphabet else None)
        if to is not None and to in alphabet:
            cols.append(i)
            targets.append(alphabet.index(to) + 1)
    onto = np.zeros((len(cols), len(alphabet) + 1), np.float32)
    onto[np.arange(len(cols)), targets] = 1.0
    return np.array(cols), onto


def _decode_restricted(probs: np.ndarray, alphabet: str, fold: tuple[tuple[str, str], ...]
                       ) -> tuple[str, np.ndarray, float]:
    """Greedy CTC decoding over blank + alphabet only: a frame where a character outside the
    alphabet won is read as its most probable alphabet character (or blank)."""
    cols, onto = _fold_matrix(alphabet, fold)
    k = len(alphabet)
    folded = probs[:, cols] @ onto                       # (frames, blank + alphabet)
    best = folded.argmax(axis=1)
    new_run = np.r_[True, best[1:] != best[:-1]]
    run_id = np.cumsum(new_run) - 1
    starts = np.nonzero(new_run & (best != 0))[0]
    if not len(starts):
        return "", np.zeros((0, k), np.float32), 0.0
    # per run, the frame where its class is most probable stands for the character
    run_prob = np.where(best != 0, folded[np.arange(len(best)), best], -1.0)
    order = np.lexsort((-run_prob, run_id))
    first = order[np.r_[True, run_id[order][1:] != run_id[order][:-1]]]
    frames = first[best[first] != 0]
    dist = folded[frames, 1:]
    mass = float(dist.sum(axis=1).mean())
    dist = dist / np.maximum(dist.sum(axis=1, keepdims=True), 1e-9)
    text = "".join(alphabet[c - 1] for c in best[frames])
    return text, dist, mass


def recognise(crops: list[np.ndarray], *, alphabet: str | None = None,
              fold: dict[str, str] | None = None) -> list[Reading]:
    """Read each crop (RGB or grayscale uint8, any size) as one line of text."""
    if not crops:
        return []
    session = _session(REC_MODEL)
    chars = characters()
    fold_key = tuple(sorted((fold or {}).items()))
    out: list[Reading | None] = [None] * len(crops)
    prepared = []
    for crop in crops:
        h, w = crop.shape[:2]
        width = max(8, min(MAX_REC_WIDTH, int(np.ceil(REC_HEIGHT * w / max(h, 1)))))
        img = cv2.resize(_to_bgr(crop), (width, REC_HEIGHT),
                         interpolation=cv2.INTER_AREA if h > REC_HEIGHT else cv2.INTER_LINEAR)
        prepared.append((img.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1))
    order = np.argsort([p.shape[2] for p in prepared])   # similar widths batch together
    for start in range(0, len(order), REC_BATCH):
        idx = order[start:start + REC_BATCH]
        width = max(prepared[i].shape[2] for i in idx)
        batch = np.zeros((len(idx), 3, REC_HEIGHT, width), np.float32)
        for j, i in enumerate(idx):
            batch[j, :, :, :prepared[i].shape[2]] = prepared[i]
        probs = session.run(None, {session.get_inputs()[0].name: batch})[0]
        for j, i in enumerate(idx):
            p = probs[j]
            best = p.argmax(axis=1)
            keep = (best != 0) & np.r_[True, best[1:] != best[:-1]]
            text = "".join(chars[c] for c in best[keep])
            score = float(p[keep, best[keep]].mean()) if keep.any() else 0.0
            reading = Reading(text, score)
            if alphabet:
                reading.chars, reading.probs, reading.mass = _decode_restricted(
                    p, alphabet, fold_key)
            out[i] = reading
    return [r for r in out if r is not None]


def recognise_lines(crops: list[np.ndarray]) -> list[tuple[str, float]]:
    """(text, mean character probability) for each crop."""
    return [(r.text, r.score) for r in recognise(crops)]

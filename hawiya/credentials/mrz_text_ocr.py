"""Read the MRZ of a document photo with a learned text recogniser (PP-OCR via :mod:`hawiya.ocr`).

The default reader behind :func:`hawiya.credentials.mrz_ocr.read_mrz`: on real photos it reads
far more MRZs exactly than OCR-B template matching, which needs a clean cell grid.

1. **Detect** text lines (:func:`hawiya.ocr.detect_text`, rotated rectangles) and join the
   fragments of one line (same direction and height, on one axis, a small gap apart).
2. **Read candidates**, cheapest first: boxes at least 8 times as long as high that have a
   neighbour like them (MRZ lines come in 2 or 3), then the other long boxes, then boxes
   completed from fragments (a short box parallel to a long MRZ-like line, stretched to that
   line's extent: glare or a pen mark often hides part of a line). Each is read restricted
   to the MRZ alphabet (lower case folded onto upper case; ``«``, ``く``, a space... onto
   ``<``); it is MRZ-like with 20 to 52 characters and most of the probability on the MRZ
   alphabet.
3. **Group**: 2 or 3 MRZ-like lines one under the other, of one direction and similar length,
   in reading order, snapped to a layout (3 x 30, 2 x 36, 2 x 44: a line a few characters
   off gains or loses fillers in its longest ``<`` run) and scored ten points per check
   digit that passes, minus one per ICAO error. Two passing check digits end the search;
   otherwise the lines are read turned 180 degrees, then the image is turned 90 degrees and
   detected again (the detector splits vertical lines), which covers every right angle.
4. **Re-read** the winning lines from the full-resolution image at three more margins and
   average the per-character probabilities of the readings with the layout's length.
5. **Repair and doubt** (:func:`~hawiya.credentials.mrz_ocr_repair.verify_reading`), with
   log-probabilities as character scores: a character changes only where the layout forbids
   it (a field that cannot be made to fit is left as read: some specimens print digits in a
   state code) or the recogniser gave the replacement a real chance, and check-digit repairs
   only when exactly one consistent reading exists. Fields no check digit covers (codes,
   name, sex) make the reading not valid when a character of them holds less than half the
   probability (:func:`unchecked_doubts`), and so does a pair of check-protected characters
   with look-alikes that would pass every check digit too (:func:`compensating_doubts`).

Known limits: the recogniser is confident about OCR-B ``O`` versus ``0`` when it is wrong,
so a document number with two such misreads at positions weighted 7 and 3 passes its check
digits (the 7-3-1 sums differ by 240); images under about 6 pixels per character misread
fillers as ``C``.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from hawiya import ocr
from hawiya.credentials.icao_codes import SPECIMEN, code_name
from hawiya.credentials.mrz_format import SEGMENTS, segment_at
from hawiya.credentials.mrz_ocr_repair import (
    DIGIT_TO_LETTER,
    LETTER_TO_DIGIT,
    _composite_only,
    _fits,
    _group_ok,
)
from hawiya.credentials.mrz_ocr_repair import _groups as _check_groups
from hawiya.credentials.mrz_parse import parse_mrz

ALPHABET = string.ascii_uppercase + string.digits + "<"
# characters the recogniser reads where the MRZ has a filler
FOLD = {" ": "<", "«": "<", "‹": "<", "〈": "<", "＜": "<", "く": "<", "ㄑ": "<", "(": "<"}
CANDIDATE_ASPECT = 8.0      # an MRZ line is at least this many times as long as high
MIN_CHARS, MAX_CHARS = 20, 52
MIN_MASS = 0.7              # probability share of the MRZ alphabet on an MRZ-like line
FIRST_PAD = 0.15            # margin (box heights) for the first reading
REREAD_PADS = (0.08, 0.25, 0.35)
MAX_SNAP = 3                # fillers added or removed to reach the layout's line length
MAX_SIDE = 3000             # images are cut down to this before anything else
GOOD = 15.0                 # a group scoring more (2 check digits pass) ends the search
WEAK = 0.5                  # an unchecked character read with less probability is a doubt
SURE = 0.9                  # a state code read with less (or repaired) is checked in the list
PAIR_DOUBT = 0.01           # a look-alike this probable may be one of two cancelling misreads
UNCHECKED = ("document_code", "issuing_state", "nationality", "name", "sex")
# (37, 27): the probability of each MRZ character onto letters and '<', a digit counting for
# the letter that looks like it (0 for O, 1 for I...)
_ONTO_LETTERS = np.zeros((len(ALPHABET), 27), np.float32)
_ONTO_LETTERS[np.arange(26), np.arange(26)] = 1.0
_ONTO_LETTERS[-1, 26] = 1.0
for _digit, _letter in DIGIT_TO_LETTER.items():
    _ONTO_LETTERS[ALPHABET.index(_digit), ALPHABET.index(_letter)] = 1.0


@dataclass
class _Line:
    box: ocr.TextBox
    reading: ocr.Reading


# --------------------------------------------------------------------------- geometry

def _merge_fragments(boxes: list[ocr.TextBox]) -> list[ocr.TextBox]:
    """Join boxes that continue one another along a line: same direction (6 degrees) and
    height (60%), centres on one axis (a third of the height), at most 1.5 heights apart.
    All pairs are tested at once; the first joinable pair is merged and the test repeated."""
    boxes = list(boxes)
    while len(boxes) > 1:
        cx, cy, length, height, angle = (np.array([getattr(b, k) for b in boxes])
                                         for k in ("cx", "cy", "length", "height", "angle"))
        t = np.radians(angle)[:, None]
        dx, dy = cx[None, :] - cx[:, None], cy[None, :] - cy[:, None]
        across = np.abs(-np.sin(t) * dx + np.cos(t) * dy)
        along = np.abs(np.cos(t) * dx + np.sin(t) * dy)
        tall = np.maximum(height[:, None], height[None, :])
        longest = np.maximum(length[:, None], length[None, :])
        gap = along - (length[:, None] + length[None, :]) / 2
        dangle = np.abs((angle[:, None] - angle[None, :] + 90.0) % 180.0 - 90.0)
        ok = ((dangle <= 6.0) & (np.minimum(height[:, None], height[None, :]) >= 0.6 * tall)
              & (across <= 0.35 * tall) & (gap <= 1.5 * tall) & (along >= 0.5 * longest))
        ok &= np.triu(ok, 1) & np.triu(ok.T, 1)       # both ways, each pair once
        pairs = np.argwhere(ok)
        if not len(pairs):
            break
        i, j = pairs[0]
        a, b = boxes[i], boxes[j]
        (mx, my), (w, h), _ = cv2.minAreaRect(np.vstack([a.corners(), b.corners()]))
        boxes[i] = ocr.TextBox(float(mx), float(my), max(w, h), min(w, h),
                               a.angle if a.length >= b.length else b.angle,
                               max(a.score, b.score))
        del boxes[j]
    return boxes


def _completions(boxes: list[ocr.TextBox], long: list[ocr.TextBox]) -> list[ocr.TextBox]:
    """Boxes for MRZ lines the detector found only in part: a fragment parallel to a long
    MRZ-like line and just above or below it is stretched to that line's extent (glare or
    a pen mark over a filler run often cuts a line short)."""
    out = []
    for line in long:
        t = np.radians(line.angle)
        u, n = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
        for frag in boxes:
            dangle = abs((frag.angle - line.angle + 90.0) % 180.0 - 90.0)
            d = np.array([frag.cx - line.cx, frag.cy - line.cy])
            across, along = float(d @ n), float(d @ u)
            if (dangle > 6.0 or frag.length >= 0.85 * line.length
                    or not 0.5 * line.height <= abs(across) <= 3.0 * line.height
                    or abs(along) + frag.length / 2 > 0.6 * line.length
                    or frag.height < 0.5 * line.height):
                continue
            out.append(ocr.TextBox(line.cx + across * n[0], line.cy + across * n[1],
                                   line.length, frag.height, line.angle, frag.score))
    return out


def _upright(box: ocr.TextBox) -> ocr.TextBox:
    """The box with its direction in (-45, 135] degrees, so that the lines of a document
    turned a quarter all read the same way (the detector's -90 and 89.9 are one direction
    reversed) and one 180-degree turn covers them all."""
    return replace(box, angle=box.angle + 180.0) if box.angle <= -45.0 else box


def _down(box: ocr.TextBox) -> float:
    """Position of a box across its own direction (down the page when upright)."""
    t = np.radians(box.angle)
    return -np.sin(t) * box.cx + np.cos(t) * box.cy


# --------------------------------------------------------------------------- reading

def _read(image: np.ndarray, boxes: list[ocr.TextBox], pad: float, flip: bool
          ) -> list[ocr.Reading]:
    crops = [ocr.crop_line(image, b, pad=pad, flip=flip) for b in boxes]
    return ocr.recognise(crops, alphabet=ALPHABET, fold=FOLD)


def _mrz_like(r: ocr.Reading) -> bool:
    return MIN_CHARS <= len(r.chars) <= MAX_CHARS and r.mass >= MIN_MASS


def _groups(lines: list[_Line], flip: bool) -> list[list[_Line]]:
    """Sets of 2-3 MRZ-like lines, one under the other, of one direction and similar length,
    in reading order (other text, such as a label beside the MRZ, may sit between them in
    the detector's order)."""
    ordered = sorted(lines, key=lambda ln: _down(ln.box), reverse=flip)
    n = len(ordered)
    stacked = {(i, j) for i in range(n) for j in range(i + 1, n)
               if _stacked(ordered[i].box, ordered[j].box)}
    triples = [(i, j, k) for i, j in stacked for k in range(j + 1, n) if (j, k) in stacked]
    runs = [[ordered[i] for i in run] for run in [*sorted(triples), *sorted(stacked)]]
    return [run for run in runs if _consistent(run)]


def _consistent(run: list[_Line]) -> bool:
    """Lines of similar length and character count (within what snapping can mend)."""
    lengths = [ln.box.length for ln in run]
    counts = [len(ln.reading.chars) for ln in run]
    return max(lengths) <= 1.3 * min(lengths) and max(counts) - min(counts) <= 2 * MAX_SNAP + 2


def _width(counts: list[int]) -> int:
    if len(counts) == 3:
        return 30
    return 36 if float(np.median(counts)) < 40 else 44


def _snap(chars: str, probs: np.ndarray, width: int) -> tuple[str, np.ndarray] | None:
    """The line at ``width`` characters by adding or removing fillers in its longest run of
    ``<`` (a recogniser's usual miscount), or None when that cannot be done."""
    diff = width - len(chars)
    if diff == 0:
        return chars, probs
    if abs(diff) > MAX_SNAP:
        return None
    runs = [(m.end() - m.start(), m.start(), m.end()) for m in re.finditer("<+", chars)]
    if not runs:
        return None
    size, start, end = max(runs)
    if diff < 0 and size + diff < 1:
        return None
    filler = np.zeros((1, len(ALPHABET)), np.float32)
    filler[0, -1] = 1.0
    if diff > 0:
        chars = chars[:end] + "<" * diff + chars[end:]
        probs = np.vstack([probs[:end], np.repeat(filler, diff, axis=0), probs[end:]])
    else:
        chars = chars[:end + diff] + chars[end:]
        probs = np.vstack([probs[:end + diff], probs[end:]])
    return chars, probs


def _plausibility(texts: list[str], today: Any) -> float:
    """How much a reading looks like an MRZ: ten points per check digit that passes, minus
    one per ICAO error (a wrong layout: -100). Other printed text can fit a layout and
    raise few errors, but it does not pass check digits."""
    res = parse_mrz("\n".join(texts), today=today)
    if res.document_type is None:
        return -100.0
    passed = sum(_group_ok(texts, data, cd, name)
                 for name, data, cd in _check_groups(res.document_type, len(texts[0])))
    if res.document_type in ("TD1", "TD2", "TD3"):
        passed += not any(e["field"] == "composite" for e in res.errors)
    return 10.0 * passed - len(res.errors)


def _snapped(run: list[_Line]) -> tuple[list[str], list[np.ndarray]] | None:
    """A group's readings at their layout's line length (None if one cannot be snapped)."""
    readings = [ln.reading for ln in run]
    width = _width([len(r.chars) for r in readings])
    texts, probs = [], []
    for r in readings:
        snapped = _snap(r.chars, r.probs, width)
        if snapped is None:
            return None
        texts.append(snapped[0])
        probs.append(snapped[1])
    return texts, probs


# --------------------------------------------------------------------------- search

@dataclass
class _Found:
    image: np.ndarray
    lines: list[_Line]
    flip: bool
    texts: list[str]
    probs: list[np.ndarray]
    score: float


def _best_group(view: np.ndarray, lines: list[_Line], flip: bool, today: Any
                ) -> _Found | None:
    best = None
    for run in _groups(lines, flip):
        snapped = _snapped(run)
        if snapped is not None:
            score = _plausibility(snapped[0], today)
            if best is None or score > best.score:
                best = _Found(view, run, flip, *snapped, score)
    return best


def _stacked(a: ocr.TextBox, b: ocr.TextBox) -> bool:
    """Whether two boxes could be neighbouring lines of one MRZ."""
    dangle = abs((a.angle - b.angle + 90.0) % 180.0 - 90.0)
    t = np.radians(a.angle)
    shift = abs((b.cx - a.cx) * np.cos(t) + (b.cy - a.cy) * np.sin(t))
    gap = abs(_down(b) - _down(a))
    tall = max(a.height, b.height)
    return (dangle <= 8.0 and max(a.length, b.length) <= 1.3 * min(a.length, b.length)
            and 0.5 * tall <= gap <= 3.0 * tall and shift <= 0.25 * max(a.length, b.length))


def _search(image: np.ndarray, today: Any) -> tuple[_Found | None, _Found | None]:
    """The best MRZ group (and, failing that, the best single MRZ-like line).

    Cheapest first: the long boxes that have a neighbour like them are read; only when they
    hold no good group are the other long boxes read, then boxes completed from fragments;
    then the lines turned 180 degrees; then the image turned 90 degrees."""
    best: _Found | None = None
    single: _Found | None = None
    for quarter in (0, 1):
        view = np.ascontiguousarray(np.rot90(image, quarter)) if quarter else image
        boxes = [_upright(b) for b in _merge_fragments(ocr.detect_text(view))]
        long = [b for b in boxes if b.length >= CANDIDATE_ASPECT * b.height]
        paired = [b for b in long if any(_stacked(b, o) for o in long if o is not b)]
        stages = [paired, [b for b in long if b not in paired]]
        for flip in (False, True) if long else ():
            lines: list[_Line] = []
            found = None
            for stage in stages:
                if not stage:
                    continue
                readings = _read(view, stage, FIRST_PAD, flip)
                lines += [_Line(b, r) for b, r in zip(stage, readings, strict=True)
                          if _mrz_like(r)]
                found = _best_group(view, lines, flip, today)
                if found is not None and found.score > GOOD:
                    break
            if found is None or found.score <= GOOD:
                extra = _completions(boxes, [ln.box for ln in lines
                                             if len(ln.reading.chars) >= 28])
                if extra:
                    readings = _read(view, extra, FIRST_PAD, flip)
                    lines += [_Line(b, r) for b, r in zip(extra, readings, strict=True)
                              if _mrz_like(r)]
                    found = _best_group(view, lines, flip, today)
            if found is not None and (best is None or found.score > best.score):
                best = found
            for ln in lines:
                score = float(ln.reading.chars.count("<")) * ln.reading.score
                if "<<" in ln.reading.chars and (single is None or score > single.score):
                    single = _Found(view, [ln], flip, [ln.reading.chars],
                                    [ln.reading.probs], score)
            if best is not None and best.score > GOOD:
                return best, single
    return best, single


def _reread(found: _Found) -> _Found:
    """Read the chosen lines again at several margins and average the per-character
    probabilities of the readings that have the layout's length (the first reading only
    counts if it had it before snapping)."""
    width = len(found.texts[0])
    boxes = [ln.box for ln in found.lines]
    stacks: list[list[np.ndarray]] = [
        [p] if len(ln.reading.chars) == width else [] for p, ln in zip(found.probs, found.lines,
                                                                     strict=True)]
    crops = [ocr.crop_line(found.image, b, pad=pad, flip=found.flip)
             for pad in REREAD_PADS for b in boxes]          # one batch for all margins
    for k, r in enumerate(ocr.recognise(crops, alphabet=ALPHABET, fold=FOLD)):
        if len(r.chars) == width:
            stacks[k % len(boxes)].append(r.probs)
    probs = [np.mean(s, axis=0) if s else p for s, p in zip(stacks, found.probs, strict=True)]
    texts = ["".join(ALPHABET[k] for k in p.argmax(axis=1)) for p in probs]
    return replace(found, texts=texts, probs=probs)


# --------------------------------------------------------------------------- doubt

def doubts(probs: list[np.ndarray]) -> Callable[..., list[dict[str, Any]]]:
    """The text reader's own doubts, for
    :func:`~hawiya.credentials.mrz_ocr_repair.verify_reading`: :func:`unchecked_doubts`
    and :func:`compensating_doubts` on a reading whose characters have ``probs``."""
    def find(texts: list[str], doc_type: str, repaired: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
        return [*unchecked_doubts(texts, doc_type, repaired, probs),
                *compensating_doubts(texts, doc_type, probs)]
    return find


def unchecked_doubts(texts: list[str], doc_type: str, repaired: list[dict[str, Any]],
                     probs: list[np.ndarray]) -> list[dict[str, Any]]:
    """Doubts on the fields no check digit covers (document code, states, name, sex): a
    character the recogniser gave less than :data:`WEAK` of the probability (a digit
    counting for its look-alike letter; a filler in a name's filler tail is certain), and a
    state code that is no ICAO code where a character of it was repaired or not read with
    certainty. A misread there passes every check, so the reading is not called valid."""
    touched = {(r["line"] - 1, r["column"] - 1) for r in repaired}
    out: list[dict[str, Any]] = []
    for seg in SEGMENTS[doc_type]:
        if seg.field not in UNCHECKED:
            continue
        p = probs[seg.line][seg.start:seg.end]
        allowed = p @ _ONTO_LETTERS
        read = [min(ALPHABET.index(ch), 26) for ch in texts[seg.line][seg.start:seg.end]]
        chosen = allowed[np.arange(len(read)), read]
        conf = chosen / np.maximum(allowed.sum(axis=1), 1e-9)
        if seg.field == "name":   # the filler tail admits nothing but fillers
            text = texts[seg.line][seg.start:seg.end]
            tail = text.find("<<<")
            if tail >= 0:
                conf[tail + 3:] = np.where(np.array(list(text[tail + 3:])) == "<", 1.0,
                                           conf[tail + 3:])
        weak = np.nonzero(conf < WEAK)[0]
        if len(weak):
            c = seg.start + int(weak[0])
            out.append({"field": seg.field, "line": seg.line + 1, "column": c + 1,
                        "reason": f"uncertain character at line {seg.line + 1}, column "
                                  f"{c + 1}: read {texts[seg.line][c]!r} with probability "
                                  f"{float(conf[weak[0]]):.2f}, and no check digit covers "
                                  f"the {seg.field.replace('_', ' ')}"})
        elif seg.field in ("issuing_state", "nationality"):
            code = texts[seg.line][seg.start:seg.end]
            unsure = conf.min() < SURE or any((seg.line, c) in touched
                                              for c in range(seg.start, seg.end))
            if unsure and not _known_code(code):
                out.append({"field": seg.field, "reason": f"{code.rstrip('<')!r} is not "
                            "an ICAO 9303 state code, and it was repaired or not read "
                            "with certainty: probably a misreading"})
    return out


def compensating_doubts(texts: list[str], doc_type: str, probs: list[np.ndarray]
                        ) -> list[dict[str, Any]]:
    """Two check-protected characters that each have a look-alike (the confusion pairs, or
    the recogniser's runners-up) with at least :data:`PAIR_DOUBT` probability, where reading
    both the other way passes every check digit too: two misreads can cancel in the 7-3-1
    sums (B8 read for BD, 0 for O at positions weighted 7 and 3), so the checks cannot
    decide between the two documents."""
    protected = sorted({p for _, data, _ in _check_groups(doc_type, len(texts[0]))
                        for p in data} | set(_composite_only(doc_type)))
    options = []
    for ln, c in protected:
        ch, p = texts[ln][c], probs[ln][c]
        kind = segment_at(doc_type, ln, c).kind
        alts = _look_alikes(ch) | {ALPHABET[k] for k in np.argsort(-p)[1:3]}
        options += [((ln, c), a) for a in sorted(alts) if a != ch and _fits(kind, a)
                    and p[ALPHABET.index(a)] >= PAIR_DOUBT]
    for ((l1, c1), a1), ((l2, c2), a2) in itertools.combinations(options, 2):
        if (l1, c1) == (l2, c2):
            continue
        other = [list(line) for line in texts]
        other[l1][c1], other[l2][c2] = a1, a2
        if parse_mrz("\n".join("".join(line) for line in other)).valid:
            return [{"field": segment_at(doc_type, l1, c1).field,
                     "reason": f"ambiguous characters at line {l1 + 1}, column {c1 + 1} and "
                               f"line {l2 + 1}, column {c2 + 1}: read {texts[l1][c1]!r} and "
                               f"{texts[l2][c2]!r}, but {a1!r} and {a2!r} pass every check "
                               "digit too"}]
    return []


def _look_alikes(ch: str) -> set[str]:
    out = {LETTER_TO_DIGIT.get(ch, ch), DIGIT_TO_LETTER.get(ch, ch)}
    out.update(letter for letter, digit in LETTER_TO_DIGIT.items() if digit == ch)
    return out


def _known_code(code: str) -> bool:
    """Whether ``code`` is an ICAO 9303 state or organisation code (or the specimen UTO)."""
    return code.rstrip("<") == SPECIMEN or code_name(code) is not None


# --------------------------------------------------------------------------- entry point

def read_lines(image: np.ndarray, today: Any = None
               ) -> tuple[list[str], list[np.ndarray], float] | None:
    """MRZ lines, per-character probabilities over :data:`ALPHABET` and a confidence for an
    RGB uint8 image, or None when no MRZ-like text was found."""
    h, w = image.shape[:2]
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        image = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    best, single = _search(image, today)
    if best is None:
        if single is None:
            return None
        best = single
    else:
        best = _reread(best)
    confidence = float(np.mean([p.max(axis=1).mean() for p in best.probs]))
    return best.texts, best.probs, confidence

"""Plate readings from per-character probabilities: the top candidates, ranked, with
country plate formats deciding among them.

Why here and not in the OCR engine: what a *plate* may be is a rule of the plate formats
(:mod:`hawiya.vehicles.plate_formats`), not of text recognition. The recogniser gives, per
character it read, a probability over ``ALPHABET``; from those:

* the k most probable strings are enumerated exactly (positions are independent once CTC
  decoding fixed the character count), plus variants without a doubtful character at
  either end (a frame screw, a sticker, a border read as ``I``) and without an inner round
  glyph (a registration seal or an emblem between character groups, read as O or 8);
* confusable characters (O/0, I/1, B/8, S/5, Z/2, G/6, ...) are changed where the model
  itself did not consider them only when the formats in scope leave a *single* reading
  (:func:`fix_confusables`): ``OUPI442`` becomes ``OUP1442`` under ``LLL-DDDD`` alone, but
  a reading two formats would fix differently stays as read;
* each string's model probability (the product of its characters': the chance that all
  are right) is weighed by its :meth:`Scope.prior`, how plate-like the formats say it is,
  and normalised into a posterior: a format-fitting reading ranks first unless the model
  clearly read something else.

With no country the scope is every format of every country in the table (the generic rule),
and a plate has 4 to 10 characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hawiya.vehicles.plate_formats import PlateFormat

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

# A letter misread where a digit must be, and back; one target each so a fix is unique.
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "Z": "2", "A": "4", "S": "5", "G": "6",
            "T": "7", "B": "8"}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}

MIN_CHARS, MAX_CHARS = 4, 10
MISFIT = 0.15       # share of plates that fit no known format (generic rule; see prior())
MISFIT_COUNTRY = 0.02   # the same with one country's formats
TEMPER = 0.5        # exponent on how tightly a format constrains its strings
FIX_COST = 0.5      # per character changed by a unique confusable fix
MAX_FIXES = 2       # a reading needing more fixes is another text, not a misread plate
DROP_COST = 0.3     # times the doubt on an end character, for a reading without it
EMBLEM_COST = 0.05  # for a reading without an inner round glyph (a seal, an emblem)
EMBLEM_GLYPHS = "0O8BDQ"
BEAM = 24           # strings enumerated per reading before ranking
ALTERNATIVES = 4    # characters considered at each position


@dataclass(frozen=True)
class Candidate:
    text: str
    confidence: float
    format: PlateFormat | None = None


class Scope:
    """The formats a reading is judged by, compiled per length: which characters each
    layout allows at each position (a boolean array) and its share of the prior."""

    def __init__(self, formats: Sequence[PlateFormat]):
        self.formats = tuple(formats)
        self.misfit = MISFIT if len({f.country for f in self.formats}) > 1 else MISFIT_COUNTRY
        self._lengths: dict[int, tuple] = {}

    def layouts(self, length: int) -> tuple[list, np.ndarray, np.ndarray]:
        """(formats, allowed (k, length, 36) bool, gains (k,)) of the layouts of a length:
        countries with a layout of that length share the prior equally, a country's layouts
        share its part, and each layout spreads its part over the strings it allows
        (tempered, see :meth:`prior`)."""
        found = self._lengths.get(length)
        if found is None:
            pairs = [(f, lay) for f in self.formats for lay in f.layouts() if len(lay) == length]
            per_country: dict[str, int] = {}
            for f, _ in pairs:
                per_country[f.country] = per_country.get(f.country, 0) + 1
            allowed = np.zeros((len(pairs), length, len(ALPHABET)), bool)
            gains = np.zeros(len(pairs))
            for k, (f, lay) in enumerate(pairs):
                for i, chars in enumerate(lay):
                    allowed[k, i, [_INDEX[c] for c in chars if c in _INDEX]] = True
                room = np.prod(allowed[k].sum(axis=1) / len(ALPHABET))
                share = 1.0 / (len(per_country) * per_country[f.country])
                gains[k] = share * room ** -TEMPER if room > 0 else 0.0
            found = self._lengths[length] = ([f for f, _ in pairs], allowed, gains)
        return found

    def prior(self, text: str) -> tuple[float, PlateFormat | None]:
        """How much more likely ``text`` is as a plate than an arbitrary string of its
        length, and the format that contributes most.

        Plates are modelled as drawn from the formats in scope (share ``1 - misfit``) or
        from anything (``misfit``); a format spreads its share evenly over the plates it
        allows, so a reading that fits a layout used in many places, or a tight layout,
        gains more than one that fits a single loose layout. The gain is tempered
        (``TEMPER``) as the real share of each format on the road is not known. With one
        country the misfit share is small; with every country's formats (the generic rule)
        it is larger, since a plate of a country missing from the table must be read too."""
        fmts, allowed, gains = self.layouts(len(text))
        if not fmts or any(c not in _INDEX for c in text):
            return self.misfit, None
        idx = np.array([_INDEX[c] for c in text])
        fits = allowed[:, np.arange(len(text)), idx].all(axis=1)
        if not fits.any():
            return self.misfit, None
        best = int(np.argmax(np.where(fits, gains, -1.0)))
        return (1.0 - self.misfit) * float(gains[fits].sum()) + self.misfit, fmts[best]

    def forced_readings(self, text: str) -> dict[str, PlateFormat]:
        """Each distinct reading a format makes of ``text`` by changing confusable
        characters where its layout demands the other class (text that fits: itself)."""
        fmts, allowed, _ = self.layouts(len(text))
        out: dict[str, PlateFormat] = {}
        if any(c not in _INDEX for c in text):
            return out
        for fmt, layout in zip(fmts, allowed, strict=True):
            chars = []
            for ch, ok in zip(text, layout, strict=True):
                alt = TO_DIGIT.get(ch) or TO_LETTER.get(ch)
                if ok[_INDEX[ch]]:
                    chars.append(ch)
                elif alt is not None and ok[_INDEX[alt]]:
                    chars.append(alt)
                else:
                    break
            else:
                out.setdefault("".join(chars), fmt)
        return out


@lru_cache(maxsize=64)
def _scope(formats: tuple[PlateFormat, ...]) -> Scope:
    return Scope(formats)


def as_scope(scope: Scope | Sequence[PlateFormat]) -> Scope:
    return scope if isinstance(scope, Scope) else _scope(tuple(scope))


def fix_confusables(text: str, scope: Scope | Sequence[PlateFormat]) -> str | None:
    """The one reading the formats allow after confusable fixes; None when none or several
    do (then nothing is changed: the model's reading stands)."""
    readings = as_scope(scope).forced_readings(text)
    if text in readings:
        return text
    return next(iter(readings)) if len(readings) == 1 else None


def kbest(probs: np.ndarray, k: int = BEAM, width: int = ALTERNATIVES
          ) -> list[tuple[np.ndarray, float]]:
    """The ``k`` most probable index strings of independent positions ``probs`` (n, classes),
    with their log probabilities, best first (exact: a beam of k keeps every prefix of the
    k best strings)."""
    logp = np.log(np.clip(probs, 1e-9, 1.0))
    width = min(width, logp.shape[1])
    beams = np.zeros((1, 0), np.int64)
    scores = np.zeros(1)
    for row in logp:
        alt = np.argpartition(-row, width - 1)[:width]
        total = scores[:, None] + row[alt][None, :]
        flat = np.argsort(-total, axis=None)[:k]
        b, c = np.unravel_index(flat, total.shape)
        beams = np.column_stack([beams[b], alt[c]])
        scores = total[b, c]
    return list(zip(beams, scores.tolist(), strict=True))


def _string_prob(text: str, probs: np.ndarray) -> float:
    idx = [_INDEX[c] for c in text]
    return float(np.prod(probs[np.arange(len(idx)), idx]))


def _posteriors(chars: str, probs: np.ndarray, scope: Scope
                ) -> dict[str, tuple[float, PlateFormat | None]]:
    """Candidate strings of one reading with their posterior and best-fitting format: the
    model probability times the prior, normalised over the candidates plus the model's
    probability left to strings not enumerated (at the misfit prior)."""
    if probs is None or len(chars) < MIN_CHARS - 1 or len(chars) > MAX_CHARS + 2:
        return {}
    probs = np.asarray(probs, np.float64)
    pool: dict[str, float] = {}

    def add(text: str, p: float) -> None:
        if MIN_CHARS <= len(text) <= MAX_CHARS and p > pool.get(text, 0.0):
            pool[text] = p

    variants = [(probs, 1.0, BEAM)]
    top_p = probs.max(axis=1)
    if len(chars) > MIN_CHARS:          # an end character that may not belong to the plate
        variants += [(probs[1:], DROP_COST * (1.0 - top_p[0]), BEAM),
                     (probs[:-1], DROP_COST * (1.0 - top_p[-1]), BEAM)]
        # a seal or emblem between character groups, read as a round glyph
        variants += [(np.delete(probs, i, axis=0), EMBLEM_COST, 4)
                     for i in range(1, len(chars) - 1)
                     if ALPHABET[int(probs[i].argmax())] in EMBLEM_GLYPHS]
    for sub, keep, k in variants:
        if keep <= 1e-4:
            continue
        for idx, logp in kbest(sub, k):
            add("".join(ALPHABET[i] for i in idx), keep * float(np.exp(logp)))
        best = "".join(ALPHABET[i] for i in sub.argmax(axis=1))
        fixed = fix_confusables(best, scope)
        changed = sum(a != b for a, b in zip(best, fixed or best, strict=True))
        if fixed is not None and 0 < changed <= MAX_FIXES:
            base = keep * _string_prob(best, sub)
            add(fixed, max(keep * _string_prob(fixed, sub), base * FIX_COST ** changed))
    if not pool:
        return {}
    scored = {text: (p, *scope.prior(text)) for text, p in pool.items()}
    outside = max(0.0, 1.0 - sum(pool.values())) * scope.misfit
    norm = sum(p * g for p, g, _ in scored.values()) + outside
    return {t: (p * g / norm, f) for t, (p, g, f) in scored.items()}


def rank_views(views: Sequence[tuple[str, np.ndarray]], scope: Scope | Sequence[PlateFormat],
               *, top: int = 5) -> list[Candidate]:
    """The ``top`` readings of one plate seen in one or more crops: a candidate's confidence
    is its posterior averaged over the views (absent from a view: 0 there)."""
    scope = as_scope(scope)
    total: dict[str, float] = {}
    fmts: dict[str, PlateFormat | None] = {}
    for chars, probs in views:
        for text, (conf, fmt) in _posteriors(chars, probs, scope).items():
            total[text] = total.get(text, 0.0) + conf / len(views)
            fmts[text] = fmt
    out = [Candidate(t, c, fmts[t]) for t, c in total.items()]
    out.sort(key=lambda c: -c.confidence)
    return out[:top]


def rank(chars: str, probs: np.ndarray, scope: Scope | Sequence[PlateFormat], *,
         top: int = 5) -> list[Candidate]:
    """The ``top`` readings of one plate, best first (see the module docstring).

    ``chars``/``probs``: the recogniser's reading over ``ALPHABET`` and, per character, its
    probability over ``ALPHABET`` (rows summing to 1)."""
    return rank_views([(chars, probs)], scope, top=top)

"""ICAO Doc 9303 MRZ formats: the character set, the layouts of each document type, check digits.

Formats (Doc 9303 Parts 4, 5 and 6; visas from Part 7 are parsed too):

======  =======  ===========================================================================
type    lines    check digits (composite coverage)
======  =======  ===========================================================================
TD1     3 x 30   document number, birth, expiry; composite over line 1 positions 6-30 and
                 line 2 positions 1-7, 9-15, 19-29 (upper optional data included)
TD2     2 x 36   document number, birth, expiry; composite over line 2 positions 1-10,
                 14-20, 22-35
TD3     2 x 44   document number, birth, expiry, personal number (position 43, which may be
                 ``<`` or ``0`` when positions 29-42 are all fillers); composite over line 2
                 positions 1-10, 14-20, 22-43
MRV-A   2 x 44   visas (first character V): document number, birth, expiry; no composite
MRV-B   2 x 36   as MRV-A
======  =======  ===========================================================================

Check digits: weights 7, 3, 1 repeated, modulus 10; ``0``-``9`` count as 0-9, ``A``-``Z`` as
10-35 and the filler ``<`` as 0 (Part 3, 4.9). TD1 and TD2 carry document numbers longer than
9 characters with the rule of Parts 5 and 6 (note j): the first 9 characters in the number
field, ``<`` in its check digit position, the rest at the start of the optional data field,
then the check digit (computed over the whole number) and a filler.

Parsing is in :mod:`hawiya.credentials.mrz_parse`, building in
:mod:`hawiya.credentials.mrz_build`; :mod:`hawiya.credentials.mrz` gathers both.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from hawiya.errors import InvalidInput

FILLER = "<"
DIGITS = frozenset(string.digits)
LETTERS = frozenset(string.ascii_uppercase)
CHARSET = frozenset(string.ascii_uppercase + string.digits + FILLER)

_VALUES = {**{d: int(d) for d in string.digits},
           **{c: 10 + i for i, c in enumerate(string.ascii_uppercase)},
           FILLER: 0}
_WEIGHTS = (7, 3, 1)

# document type -> (number of lines, characters per line)
SHAPES: dict[str, tuple[int, int]] = {
    "TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44), "MRV-A": (2, 44), "MRV-B": (2, 36),
}


@dataclass(frozen=True)
class Segment:
    """One field of a layout: ``line`` and ``start``/``end`` are 0-based, end exclusive.

    ``kind`` says which characters belong there: ``alpha`` (letters and fillers), ``digit``
    (digits; fillers only where the standard allows), ``alnum`` (anything in the charset)."""

    line: int
    start: int
    end: int
    field: str
    kind: str


def _two_line_segments(width: int, doc_type: str) -> tuple[Segment, ...]:
    segs = [
        Segment(0, 0, 2, "document_code", "alpha"),
        Segment(0, 2, 5, "issuing_state", "alpha"),
        Segment(0, 5, width, "name", "alpha"),
        Segment(1, 0, 9, "document_number", "alnum"),
        Segment(1, 9, 10, "document_number_check_digit", "digit"),
        Segment(1, 10, 13, "nationality", "alpha"),
        Segment(1, 13, 19, "date_of_birth", "digit"),
        Segment(1, 19, 20, "date_of_birth_check_digit", "digit"),
        Segment(1, 20, 21, "sex", "alpha"),
        Segment(1, 21, 27, "date_of_expiry", "digit"),
        Segment(1, 27, 28, "date_of_expiry_check_digit", "digit"),
    ]
    if doc_type == "TD3":
        segs += [Segment(1, 28, 42, "optional_data", "alnum"),
                 Segment(1, 42, 43, "optional_data_check_digit", "digit"),
                 Segment(1, 43, 44, "composite_check_digit", "digit")]
    elif doc_type == "TD2":
        segs += [Segment(1, 28, 35, "optional_data", "alnum"),
                 Segment(1, 35, 36, "composite_check_digit", "digit")]
    else:  # visas: optional data to the end of the line, no composite
        segs += [Segment(1, 28, width, "optional_data", "alnum")]
    return tuple(segs)


SEGMENTS: dict[str, tuple[Segment, ...]] = {
    "TD1": (
        Segment(0, 0, 2, "document_code", "alpha"),
        Segment(0, 2, 5, "issuing_state", "alpha"),
        Segment(0, 5, 14, "document_number", "alnum"),
        Segment(0, 14, 15, "document_number_check_digit", "digit"),
        Segment(0, 15, 30, "optional_data", "alnum"),
        Segment(1, 0, 6, "date_of_birth", "digit"),
        Segment(1, 6, 7, "date_of_birth_check_digit", "digit"),
        Segment(1, 7, 8, "sex", "alpha"),
        Segment(1, 8, 14, "date_of_expiry", "digit"),
        Segment(1, 14, 15, "date_of_expiry_check_digit", "digit"),
        Segment(1, 15, 18, "nationality", "alpha"),
        Segment(1, 18, 29, "optional_data_2", "alnum"),
        Segment(1, 29, 30, "composite_check_digit", "digit"),
        Segment(2, 0, 30, "name", "alpha"),
    ),
    "TD2": _two_line_segments(36, "TD2"),
    "TD3": _two_line_segments(44, "TD3"),
    "MRV-A": _two_line_segments(44, "MRV-A"),
    "MRV-B": _two_line_segments(36, "MRV-B"),
}


def segment_at(document_type: str, line: int, column: int) -> Segment | None:
    """The field holding 0-based (line, column) in a layout, or None."""
    for seg in SEGMENTS.get(document_type, ()):
        if seg.line == line and seg.start <= column < seg.end:
            return seg
    return None


# --------------------------------------------------------------------------- check digits

def _compute_check_digit(data: str) -> int | None:
    total = 0
    for i, ch in enumerate(data):
        value = _VALUES.get(ch)
        if value is None:
            return None
        total += value * _WEIGHTS[i % 3]
    return total % 10


def check_digit(data: str) -> str:
    """The ICAO 9303 check digit of ``data`` (7-3-1 weights, modulus 10) as one character."""
    if not isinstance(data, str):
        raise InvalidInput("check digit data must be text")
    cd = _compute_check_digit(data)
    if cd is None:
        bad = sorted({c for c in data if c not in CHARSET})
        raise InvalidInput(f"check digit data {data!r} holds characters outside A-Z, 0-9 "
                           f"and '<': {', '.join(map(repr, bad))}")
    return str(cd)

"""ICAO Doc 9303 machine readable zones: build and parse TD1, TD2 and TD3 MRZs.

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

Parsing never raises on outside input. :func:`parse_mrz` returns an :class:`MRZResult` with
``valid``, ``document_type``, ``fields`` and ``errors`` (each ``field`` and ``reason``; check
digit errors add ``expected`` and ``found``, character errors add ``line`` and ``column``).
Input handling: surrounding whitespace of the text and of each line is removed and blank lines
are dropped; nothing else is normalised, so lower case, inner spaces or any character outside
``A-Z 0-9 <`` are reported as illegal characters with their line and column. A single line of
exactly 88, 72 or 90 characters is split into 2 x 44, 2 x 36 or 3 x 30 lines. Input over
``MAX_INPUT_CHARS`` (1024) characters is refused with an error entry, without being read.

Dates (YYMMDD, Part 3, 4.8), century rules, which Doc 9303 leaves to the reader:

* date of birth: the latest year ending in YY that does not put the date after ``today``
  (a person is born in the past; 100+ year-olds read as a century younger). All or part of
  a birth date may be unknown and then holds fillers (``74<<<<``, ``<<<<<<``); such a date is
  returned as its raw text, not as an error.
* date of expiry: the year ending in YY within the window ``today.year - 50`` to
  ``today.year + 49``, so an expiry 50 years back or 49 ahead is read correctly.
* impossible dates (month 13, 30 February) are errors; the field then holds the raw text.
* an expired document is *not* an MRZ error: ``fields["expired"]`` reports it for the
  document-verification step. The ICAO specimens expired in 2012 and parse as valid.

Sex: ``M``, ``F`` or ``<`` (unspecified, returned as ``X`` as in the VIZ); a literal ``X``,
which some issuers print, is accepted as unspecified too.

Building (:func:`build_td1`, :func:`build_td2`, :func:`build_td3`, :func:`build`) computes
every check digit, transliterates names (see :mod:`hawiya.credentials.transliterate`) and
raises :class:`~hawiya.errors.InvalidInput` for impossible input. Name truncation follows the
normative text of Parts 4-6, choosing one of the options they leave to the issuer:

1. a name that fits (primary ``<<`` secondary, components joined by ``<``) is never truncated;
2. when the primary identifier leaves room for ``<<`` and at least one secondary character,
   the primary identifier is kept whole and the secondary identifier is cut at the field end;
3. otherwise the primary identifier is cut so that ``<<`` and the first letter of the first
   secondary component fit in the last three positions;
4. a cut must end on a letter (the mark that truncation may have occurred): when it would end
   on a filler, the last letter of the nearest earlier component of two or more letters is
   removed and the first letter of the next component takes the last position.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hawiya.credentials.transliterate import transliterate
from hawiya.errors import InvalidInput

FILLER = "<"
DIGITS = frozenset(string.digits)
LETTERS = frozenset(string.ascii_uppercase)
CHARSET = frozenset(string.ascii_uppercase + string.digits + FILLER)
MAX_INPUT_CHARS = 1024
MAX_CHARACTER_ERRORS = 10

_VALUES = {**{d: int(d) for d in string.digits},
           **{c: 10 + i for i, c in enumerate(string.ascii_uppercase)},
           FILLER: 0}
_WEIGHTS = (7, 3, 1)

# document type -> (number of lines, characters per line)
SHAPES: dict[str, tuple[int, int]] = {
    "TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44), "MRV-A": (2, 44), "MRV-B": (2, 36),
}
_SPLIT_SINGLE_LINE = {88: (2, 44), 72: (2, 36), 90: (3, 30)}


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


# --------------------------------------------------------------------------- results

@dataclass
class MRZResult:
    """Outcome of :func:`parse_mrz`; ``valid`` is true exactly when ``errors`` is empty."""

    valid: bool
    document_type: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "document_type": self.document_type,
            "fields": dict(self.fields),
            "errors": [dict(e) for e in self.errors],
        }


class _Errors(list):
    def add(self, field_name: str, reason: str, **extra: Any) -> None:
        self.append({"field": field_name, "reason": reason, **extra})


# --------------------------------------------------------------------------- input handling

def _as_lines(mrz: object, errors: _Errors) -> list[str] | None:
    if isinstance(mrz, (bytes, bytearray)):
        if len(mrz) > MAX_INPUT_CHARS:
            errors.add("mrz", f"input of {len(mrz)} bytes exceeds the {MAX_INPUT_CHARS} "
                              "character limit (an MRZ has at most 90 characters)")
            return None
        mrz = bytes(mrz).decode("utf-8", errors="replace")
    elif isinstance(mrz, (list, tuple)):
        if not all(isinstance(line, str) for line in mrz):
            errors.add("mrz", "MRZ lines must be text")
            return None
        if sum(len(line) + 1 for line in mrz) > MAX_INPUT_CHARS:
            errors.add("mrz", f"input exceeds the {MAX_INPUT_CHARS} character limit "
                              "(an MRZ has at most 90 characters)")
            return None
        mrz = "\n".join(mrz)
    if not isinstance(mrz, str):
        errors.add("mrz", f"MRZ must be text, not {type(mrz).__name__}")
        return None
    if len(mrz) > MAX_INPUT_CHARS:
        errors.add("mrz", f"input of {len(mrz)} characters exceeds the {MAX_INPUT_CHARS} "
                          "character limit (an MRZ has at most 90 characters)")
        return None
    lines = [line.strip() for line in mrz.strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        errors.add("mrz", "empty input: no MRZ lines")
        return None
    if len(lines) == 1 and len(lines[0]) in _SPLIT_SINGLE_LINE:
        count, width = _SPLIT_SINGLE_LINE[len(lines[0])]
        lines = [lines[0][i * width:(i + 1) * width] for i in range(count)]
    return lines


def _document_type(lines: list[str], errors: _Errors) -> str | None:
    lengths = [len(line) for line in lines]
    if len(lines) == 3:
        base, width = "TD1", 30
    elif len(lines) == 2:
        if lengths == [44, 44]:
            return "MRV-A" if lines[0][0] == "V" else "TD3"
        if lengths == [36, 36]:
            return "MRV-B" if lines[0][0] == "V" else "TD2"
        base, width = ("TD3", 44) if max(lengths) > 40 else ("TD2", 36)
    else:
        plural = "s" if len(lines) != 1 else ""
        errors.add("mrz", f"{len(lines)} line{plural}; an MRZ has 2 lines (TD2, TD3) or 3 "
                          "(TD1)")
        return None
    bad = False
    for i, n in enumerate(lengths):
        if n != width:
            bad = True
            errors.add("mrz", f"wrong line length: line {i + 1} has {n} characters, a {base} "
                              f"line has {width}", line=i + 1)
    return None if bad else base


def _describe_char(ch: str) -> str:
    if ch.isascii() and ch.islower():
        return (f"lower-case {ch!r}: the MRZ uses upper-case A-Z only (did the text pass "
                "through a lower-casing step?)")
    if ch == " ":
        return "space: the MRZ uses the filler '<' where a space would be"
    if ch.isprintable():
        return f"{ch!r} (U+{ord(ch):04X}) is not an MRZ character (A-Z, 0-9 and '<' only)"
    return f"non-printable U+{ord(ch):04X} is not an MRZ character (A-Z, 0-9 and '<' only)"


def _check_charset(lines: list[str], doc_type: str, errors: _Errors) -> None:
    found = 0
    for li, line in enumerate(lines):
        for col, ch in enumerate(line):
            if ch in CHARSET:
                continue
            found += 1
            if found > MAX_CHARACTER_ERRORS:
                continue
            seg = segment_at(doc_type, li, col)
            errors.add(seg.field.removesuffix("_check_digit") if seg else "mrz",
                       f"illegal character at line {li + 1}, column {col + 1}: "
                       f"{_describe_char(ch)}", line=li + 1, column=col + 1)
    if found > MAX_CHARACTER_ERRORS:
        errors.add("mrz", f"{found - MAX_CHARACTER_ERRORS} more illegal characters not listed")


# --------------------------------------------------------------------------- field parsers

def _verify(errors: _Errors, name: str, data: str, found: str, *, filler_ok: bool = False,
            what: str = "check digit") -> None:
    expected = _compute_check_digit(data)
    if expected is None:
        errors.add(name, f"{what} cannot be verified: the protected characters include "
                         "illegal characters")
        return
    if found == FILLER and filler_ok:
        return
    if found not in DIGITS:
        errors.add(name, f"{what} must be a digit: expected {expected}, found {found!r}",
                   expected=str(expected), found=found)
    elif int(found) != expected:
        errors.add(name, f"{what} mismatch: expected {expected}, found {found}",
                   expected=str(expected), found=found)


def _document_code(code: str, doc_type: str, errors: _Errors) -> str:
    allowed = {"TD1": "ACI", "TD2": "ACIP", "TD3": "P", "MRV-A": "V", "MRV-B": "V"}[doc_type]
    first, second = code[0], code[1]
    if first not in allowed:
        errors.add("document_code", f"a {doc_type} document code starts with "
                   f"{' or '.join(allowed)}, found {first!r}")
    elif second not in LETTERS and second != FILLER and second in CHARSET:
        errors.add("document_code", f"the second character of the document code must be a "
                   f"letter or '<', found {second!r}")
    elif doc_type in ("TD1", "TD2") and second == "V":
        errors.add("document_code", "V may not be the second character of a TD1/TD2 "
                   "document code")
    return code.rstrip(FILLER)


def _country(raw: str, name: str, errors: _Errors) -> str:
    if all(c in CHARSET for c in raw) and not re.fullmatch(r"[A-Z]{1,3}<*", raw):
        errors.add(name, f"{raw!r} is not a three-letter code (letters, then fillers)")
    return raw.rstrip(FILLER)


def _name(raw: str, errors: _Errors) -> tuple[str, str, bool]:
    if any(c in DIGITS for c in raw):
        errors.add("name", "digits are not permitted in the name field")
    if raw.strip(FILLER) == "":
        errors.add("name", "the name field is empty")
    primary, _, secondary = raw.partition("<<")
    surname = " ".join(primary.replace(FILLER, " ").split())
    given = " ".join(secondary.replace(FILLER, " ").split())
    return surname, given, raw[-1:] != FILLER


def _century_birth(yy: int, mm: int, dd: int, today: date) -> int:
    year = today.year - today.year % 100 + yy
    if (year, mm, dd) > (today.year, today.month, today.day):
        year -= 100
    return year


def _century_expiry(yy: int, today: date) -> int:
    year = today.year - today.year % 100 + yy
    if year > today.year + 49:
        year -= 100
    elif year < today.year - 50:
        year += 100
    return year


def _check_partial_birth(raw: str, errors: _Errors) -> None:
    groups = [raw[0:2], raw[2:4], raw[4:6]]
    if any(g not in ("<<",) and not (g[0] in DIGITS and g[1] in DIGITS) for g in groups):
        errors.add("date_of_birth", f"impossible date {raw!r}: each of YY, MM and DD must be "
                                    "two digits or, when unknown, two fillers")
        return
    mm = int(groups[1]) if groups[1] != "<<" else None
    dd = int(groups[2]) if groups[2] != "<<" else None
    if mm is not None and not 1 <= mm <= 12:
        errors.add("date_of_birth", f"impossible date {raw!r}: month {mm:02d}")
    elif dd is not None and not 1 <= dd <= 31:
        errors.add("date_of_birth", f"impossible date {raw!r}: day {dd:02d}")


def _date(raw: str, name: str, errors: _Errors, today: date) -> str:
    if not all(c in CHARSET for c in raw):
        return raw  # already reported as illegal characters
    if name == "date_of_birth" and FILLER in raw:
        _check_partial_birth(raw, errors)
        return raw
    if not all(c in DIGITS for c in raw):
        errors.add(name, f"{raw!r} is not a date: YYMMDD digits expected")
        return raw
    yy, mm, dd = int(raw[0:2]), int(raw[2:4]), int(raw[4:6])
    year = _century_birth(yy, mm, dd, today) if name == "date_of_birth" \
        else _century_expiry(yy, today)
    try:
        return date(year, mm, dd).isoformat()
    except ValueError as exc:
        errors.add(name, f"impossible date {raw!r} (read as {year}-{raw[2:4]}-{raw[4:6]}): "
                         f"{exc}")
        return raw


def _sex(raw: str, errors: _Errors) -> str:
    if raw in ("M", "F"):
        return raw
    if raw in (FILLER, "X"):
        return "X"
    if raw in CHARSET:
        errors.add("sex", f"unknown sex code {raw!r}: M, F or '<' (unspecified) expected")
    return raw


def _document_number(principal: str, cd: str, optional: str, errors: _Errors, *,
                     long_numbers: bool) -> tuple[str, str, str]:
    """(document number, its check digit, optional data left after a long number)."""
    if principal.strip(FILLER) == "":
        errors.add("document_number", "the document number is empty")
    if cd == FILLER and long_numbers:
        end = optional.find(FILLER)
        if end < 2:
            errors.add("document_number",
                       "the check digit position holds '<' (long document number) but the "
                       "optional data field does not continue the number with its remaining "
                       "characters and check digit")
            return principal.rstrip(FILLER), cd, optional
        number = principal + optional[:end - 1]
        long_cd = optional[end - 1]
        _verify(errors, "document_number", number, long_cd)
        return number, long_cd, optional[end + 1:]
    _verify(errors, "document_number", principal, cd)
    return principal.rstrip(FILLER), cd, optional


def _common(fields: dict[str, Any], errors: _Errors, today: date) -> None:
    expiry = fields.get("date_of_expiry")
    try:
        fields["expired"] = date.fromisoformat(expiry) < today
    except (TypeError, ValueError):
        fields["expired"] = None


def _parse_td1(lines: list[str], errors: _Errors, today: date) -> dict[str, Any]:
    l1, l2, l3 = lines
    f: dict[str, Any] = {}
    f["document_code"] = _document_code(l1[0:2], "TD1", errors)
    f["issuing_state"] = _country(l1[2:5], "issuing_state", errors)
    number, number_cd, optional = _document_number(l1[5:14], l1[14], l1[15:30], errors,
                                                   long_numbers=True)
    f["document_number"] = number
    f["document_number_check_digit"] = number_cd
    f["date_of_birth"] = _date(l2[0:6], "date_of_birth", errors, today)
    f["date_of_birth_check_digit"] = l2[6]
    _verify(errors, "date_of_birth", l2[0:6], l2[6])
    f["sex"] = _sex(l2[7], errors)
    f["date_of_expiry"] = _date(l2[8:14], "date_of_expiry", errors, today)
    f["date_of_expiry_check_digit"] = l2[14]
    _verify(errors, "date_of_expiry", l2[8:14], l2[14])
    f["nationality"] = _country(l2[15:18], "nationality", errors)
    f["optional_data"] = optional.rstrip(FILLER)
    f["optional_data_2"] = l2[18:29].rstrip(FILLER)
    f["composite_check_digit"] = l2[29]
    _verify(errors, "composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29],
            what="composite check digit")
    f["surname"], f["given_names"], f["name_possibly_truncated"] = _name(l3, errors)
    _common(f, errors, today)
    return f


def _parse_two_line(lines: list[str], doc_type: str, errors: _Errors,
                    today: date) -> dict[str, Any]:
    l1, l2 = lines
    opt_end = {"TD3": 42, "TD2": 35}.get(doc_type, len(l2))
    f: dict[str, Any] = {}
    f["document_code"] = _document_code(l1[0:2], doc_type, errors)
    f["issuing_state"] = _country(l1[2:5], "issuing_state", errors)
    number, number_cd, optional = _document_number(l2[0:9], l2[9], l2[28:opt_end], errors,
                                                   long_numbers=doc_type == "TD2")
    f["document_number"] = number
    f["document_number_check_digit"] = number_cd
    f["nationality"] = _country(l2[10:13], "nationality", errors)
    f["date_of_birth"] = _date(l2[13:19], "date_of_birth", errors, today)
    f["date_of_birth_check_digit"] = l2[19]
    _verify(errors, "date_of_birth", l2[13:19], l2[19])
    f["sex"] = _sex(l2[20], errors)
    f["date_of_expiry"] = _date(l2[21:27], "date_of_expiry", errors, today)
    f["date_of_expiry_check_digit"] = l2[27]
    _verify(errors, "date_of_expiry", l2[21:27], l2[27])
    f["optional_data"] = optional.rstrip(FILLER)
    if doc_type == "TD3":
        f["optional_data_check_digit"] = l2[42]
        _verify(errors, "optional_data", l2[28:42], l2[42],
                filler_ok=l2[28:42] == FILLER * 14)
    if doc_type in ("TD2", "TD3"):
        end = len(l2) - 1
        f["composite_check_digit"] = l2[end]
        _verify(errors, "composite", l2[0:10] + l2[13:20] + l2[21:end], l2[end],
                what="composite check digit")
    f["surname"], f["given_names"], f["name_possibly_truncated"] = _name(l1[5:], errors)
    _common(f, errors, today)
    return f


def parse_mrz(mrz: object, *, today: date | None = None) -> MRZResult:
    """Parse and verify an MRZ given as text (lines separated by newlines) or a list of lines.

    ``today`` (default: the current date) anchors the two-digit-year centuries and the
    ``expired`` flag. Never raises: malformed input gives ``valid=False`` with errors.
    """
    today = today or date.today()
    errors = _Errors()
    doc_type: str | None = None
    fields: dict[str, Any] = {}
    try:
        lines = _as_lines(mrz, errors)
        if lines is not None:
            doc_type = _document_type(lines, errors)
            _check_charset(lines, doc_type or "", errors)
        if doc_type is not None:
            if doc_type == "TD1":
                fields = _parse_td1(lines, errors, today)
            else:
                fields = _parse_two_line(lines, doc_type, errors, today)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raise on input"
        errors.add("mrz", f"unparseable input (internal error {type(exc).__name__}: {exc})")
    return MRZResult(valid=not errors, document_type=doc_type, fields=fields,
                     errors=list(errors))


# --------------------------------------------------------------------------- building

def _cut(text: str, n: int) -> str:
    """``text[:n]`` made to end on a letter (rule 4 of the module docstring)."""
    out = text[:n]
    if out[-1] != FILLER:
        return out
    head = out[:-1]
    runs = list(re.finditer(r"[A-Z]{2,}", head))
    if not runs:
        raise InvalidInput("the name cannot be truncated to the MRZ name field: too many "
                           "single-letter components")
    k = runs[-1].end() - 1
    return head[:k] + head[k + 1:] + FILLER + text[n]


def format_name(surname: str, given_names: str = "", width: int = 39, *,
                options: Mapping[str, str] | None = None) -> str:
    """The MRZ name field of ``width`` characters: transliterated, joined, padded or truncated.

    ``surname`` is the primary identifier, ``given_names`` the secondary one; both are free
    text (see :func:`~hawiya.credentials.transliterate.transliterate`, ``options`` passed on).
    """
    primary = transliterate(surname or "", options=options)
    secondary = transliterate(given_names or "", options=options)
    if not primary:
        raise InvalidInput("the surname (primary identifier) is empty after transliteration")
    if width < 4:
        raise InvalidInput("the name field must be at least 4 characters wide")
    full = primary + ("<<" + secondary if secondary else "")
    if len(full) <= width:
        return full.ljust(width, FILLER)
    if not secondary:
        return _cut(primary, width)
    if len(primary) + 3 <= width:
        return _cut(full, width)
    return _cut(primary, width - 3) + "<<" + secondary[0]


def _upper_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    return value.strip().upper()


def _mrz_text(value: object, name: str, limit: int) -> str:
    """Document numbers and optional data: ASCII punctuation and spaces become fillers."""
    text = _upper_text(value, name)
    out = []
    for ch in text:
        if ch in CHARSET:
            out.append(ch)
        elif ch.isascii() and (ch.isspace() or ch in string.punctuation):
            out.append(FILLER)
        else:
            raise InvalidInput(f"{name} {value!r} holds {ch!r}: only A-Z, 0-9, spaces and "
                               "punctuation (written as '<') are allowed")
    result = "".join(out).rstrip(FILLER)
    if len(result) > limit:
        raise InvalidInput(f"{name} {value!r} is {len(result)} characters long; at most "
                           f"{limit} fit")
    return result


def _code(value: object, name: str) -> str:
    text = _upper_text(value, name).rstrip(FILLER)
    if not re.fullmatch(r"[A-Z]{1,3}", text):
        raise InvalidInput(f"{name} {value!r} is not a country or organisation code of one "
                           "to three letters (Doc 9303-3 Section 5)")
    return text.ljust(3, FILLER)


def _doc_code(value: object, doc_type: str) -> str:
    text = _upper_text(value, "document_code")
    allowed = {"TD1": "ACI", "TD2": "ACIP", "TD3": "P"}[doc_type]
    if not re.fullmatch(r"[A-Z][A-Z<]?", text) or text[0] not in allowed:
        raise InvalidInput(f"document_code {value!r}: a {doc_type} code is one or two letters "
                           f"starting with {' or '.join(allowed)}")
    if doc_type in ("TD1", "TD2") and text[1:] == "V":
        raise InvalidInput("V may not be the second character of a TD1/TD2 document code")
    return text.ljust(2, FILLER)


def _sex_code(value: object) -> str:
    text = _upper_text(value if value is not None else "", "sex")
    if text in ("M", "F"):
        return text
    if text in ("X", "<", ""):
        return FILLER
    raise InvalidInput(f"sex {value!r}: M, F or X (unspecified) expected")


def _date_text(value: object, name: str, today: date, *, unknown_ok: bool = False) -> str:
    if isinstance(value, date):
        d = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            d = date.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidInput(f"{name} {value!r} is not a real date: {exc}") from exc
    elif isinstance(value, str) and re.fullmatch(r"[0-9<]{6}", value.strip()):
        raw = value.strip()
        errors = _Errors()
        if FILLER in raw and not unknown_ok:
            raise InvalidInput(f"{name} {value!r}: only a date of birth may be partly unknown")
        _date(raw, name, errors, today)
        if errors:
            raise InvalidInput(f"{name} {value!r}: {errors[0]['reason']}")
        if FILLER in raw:
            return raw
        yy, mm, dd = int(raw[:2]), int(raw[2:4]), int(raw[4:])
        d = date(_century_birth(yy, mm, dd, today) if name == "date_of_birth"
                 else _century_expiry(yy, today), mm, dd)
    else:
        raise InvalidInput(f"{name} {value!r}: a date, 'YYYY-MM-DD' or 'YYMMDD' expected")
    if name == "date_of_birth" and d > today:
        raise InvalidInput(f"date_of_birth {d.isoformat()} is in the future")
    return f"{d:%y%m%d}"


def _long_number(number: str, field_len: int, optional: str, name_of_type: str
                 ) -> tuple[str, str, str]:
    """(number field, its check digit position, optional field) for TD1/TD2."""
    if len(number) <= 9:
        padded = number.ljust(9, FILLER)
        return padded, check_digit(padded), optional.ljust(field_len, FILLER)
    rest = number[9:]
    if FILLER in rest:
        raise InvalidInput(f"document number {number!r}: the characters after the ninth go "
                           "into the optional data field and may not contain spaces or '<'")
    continuation = rest + check_digit(number) + FILLER
    if len(continuation) + len(optional) > field_len:
        raise InvalidInput(f"document number {number!r} and optional data {optional!r} do not "
                           f"fit the {field_len}-character optional data field of a "
                           f"{name_of_type}")
    return number[:9], FILLER, (continuation + optional).ljust(field_len, FILLER)


def _common_inputs(doc_type: str, document_code: object, issuing_state: object,
                   nationality: object, date_of_birth: object, sex: object,
                   date_of_expiry: object, today: date | None) -> tuple[str, ...]:
    today = today or date.today()
    return (
        _doc_code(document_code, doc_type),
        _code(issuing_state, "issuing_state"),
        _code(nationality, "nationality"),
        _date_text(date_of_birth, "date_of_birth", today, unknown_ok=True),
        _sex_code(sex),
        _date_text(date_of_expiry, "date_of_expiry", today),
    )


def build_td3(*, document_number: str, issuing_state: str, nationality: str,
              date_of_birth: date | str, sex: str, date_of_expiry: date | str,
              surname: str, given_names: str = "", optional_data: str = "",
              document_code: str = "P", name_options: Mapping[str, str] | None = None,
              today: date | None = None) -> str:
    """A passport (TD3) MRZ, two lines of 44 joined by a newline.

    Dates are ``date`` objects, ``YYYY-MM-DD`` or ``YYMMDD`` (a birth date may hold ``<`` for
    unknown parts). A 9-character limit applies to the passport number (TD3 has no long
    number rule); ``optional_data`` (personal number) takes up to 14 characters. When it is
    empty, the personal number check digit is written as ``<``.
    """
    code, state, nat, dob, sex_c, doe = _common_inputs(
        "TD3", document_code, issuing_state, nationality, date_of_birth, sex,
        date_of_expiry, today)
    number = _mrz_text(document_number, "document_number", 9)
    if not number:
        raise InvalidInput("document_number is empty")
    optional = _mrz_text(optional_data, "optional_data", 14)
    name = format_name(surname, given_names, 39, options=name_options)
    number = number.ljust(9, FILLER)
    optional_field = optional.ljust(14, FILLER)
    optional_cd = check_digit(optional_field) if optional else FILLER
    line2 = (number + check_digit(number) + nat + dob + check_digit(dob) + sex_c + doe
             + check_digit(doe) + optional_field + optional_cd)
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
    return code + state + name + "\n" + line2


def build_td2(*, document_number: str, issuing_state: str, nationality: str,
              date_of_birth: date | str, sex: str, date_of_expiry: date | str,
              surname: str, given_names: str = "", optional_data: str = "",
              document_code: str = "I", name_options: Mapping[str, str] | None = None,
              today: date | None = None) -> str:
    """A TD2 MRZ, two lines of 36 joined by a newline.

    A document number longer than 9 characters uses the long-number rule: it continues in
    the 7-character optional data field, followed by its check digit and a filler, which
    leaves ``7 - 2 - (len - 9)`` characters for ``optional_data``.
    """
    code, state, nat, dob, sex_c, doe = _common_inputs(
        "TD2", document_code, issuing_state, nationality, date_of_birth, sex,
        date_of_expiry, today)
    number = _mrz_text(document_number, "document_number", 14)
    if not number:
        raise InvalidInput("document_number is empty")
    optional = _mrz_text(optional_data, "optional_data", 7)
    name = format_name(surname, given_names, 31, options=name_options)
    number_field, number_cd, optional_field = _long_number(number, 7, optional, "TD2")
    line2 = (number_field + number_cd + nat + dob + check_digit(dob) + sex_c + doe
             + check_digit(doe) + optional_field)
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:35])
    return code + state + name + "\n" + line2


def build_td1(*, document_number: str, issuing_state: str, nationality: str,
              date_of_birth: date | str, sex: str, date_of_expiry: date | str,
              surname: str, given_names: str = "", optional_data: str = "",
              optional_data_2: str = "", document_code: str = "I",
              name_options: Mapping[str, str] | None = None,
              today: date | None = None) -> str:
    """An ID-card (TD1) MRZ, three lines of 30 joined by newlines.

    ``optional_data`` is the upper line's 15-character field (shared with the continuation
    of a document number longer than 9 characters, as for TD2), ``optional_data_2`` the
    middle line's 11-character field.
    """
    code, state, nat, dob, sex_c, doe = _common_inputs(
        "TD1", document_code, issuing_state, nationality, date_of_birth, sex,
        date_of_expiry, today)
    number = _mrz_text(document_number, "document_number", 22)
    if not number:
        raise InvalidInput("document_number is empty")
    optional = _mrz_text(optional_data, "optional_data", 15)
    optional_2 = _mrz_text(optional_data_2, "optional_data_2", 11)
    name = format_name(surname, given_names, 30, options=name_options)
    number_field, number_cd, optional_field = _long_number(number, 15, optional, "TD1")
    line1 = code + state + number_field + number_cd + optional_field
    line2 = (dob + check_digit(dob) + sex_c + doe + check_digit(doe) + nat
             + optional_2.ljust(11, FILLER))
    line2 += check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return line1 + "\n" + line2 + "\n" + name


_BUILDERS = {"TD1": build_td1, "TD2": build_td2, "TD3": build_td3}


def build(document_type: str, **fields: Any) -> str:
    """Build an MRZ of ``document_type`` ("TD1", "TD2" or "TD3") from keyword fields."""
    builder = _BUILDERS.get(str(document_type).upper())
    if builder is None:
        raise InvalidInput(f"unknown document type {document_type!r}: TD1, TD2 or TD3")
    try:
        return builder(**fields)
    except TypeError as exc:
        raise InvalidInput(f"bad fields for {document_type}: {exc}") from exc


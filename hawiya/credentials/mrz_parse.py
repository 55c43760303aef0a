"""Parse and verify ICAO Doc 9303 MRZs (TD1, TD2, TD3 and visas): :func:`parse_mrz`.

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

Layouts and check digits are in :mod:`hawiya.credentials.mrz_format`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hawiya.credentials.mrz_format import (
    CHARSET,
    DIGITS,
    FILLER,
    LETTERS,
    _compute_check_digit,
    segment_at,
)

MAX_INPUT_CHARS = 1024
MAX_CHARACTER_ERRORS = 10
_SPLIT_SINGLE_LINE = {88: (2, 44), 72: (2, 36), 90: (3, 30)}


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

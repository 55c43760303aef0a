"""Build ICAO Doc 9303 MRZs (TD1, TD2, TD3) from document fields, names transliterated.

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

Dates follow the century rules of :mod:`hawiya.credentials.mrz_parse`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date
from typing import Any

from hawiya.credentials.mrz_format import CHARSET, FILLER, check_digit
from hawiya.credentials.mrz_parse import _century_birth, _century_expiry, _date, _Errors
from hawiya.credentials.transliterate import transliterate
from hawiya.errors import InvalidInput


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

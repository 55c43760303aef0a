"""ICAO Doc 9303 machine readable zones: build and parse TD1, TD2 and TD3 MRZs.

This module gathers the public names of three smaller ones, so that callers have one import
path for everything MRZ:

* :mod:`hawiya.credentials.mrz_format`: the character set, the layout (fields and their
  positions) of each document type, and the 7-3-1 check digit;
* :mod:`hawiya.credentials.mrz_parse`: :func:`parse_mrz`, which verifies an MRZ and never
  raises on outside input, with the century rules for two-digit years;
* :mod:`hawiya.credentials.mrz_build`: :func:`build_td1`, :func:`build_td2`,
  :func:`build_td3`, :func:`build` and :func:`format_name` (transliteration and the name
  truncation rules).
"""

from __future__ import annotations

from hawiya.credentials.mrz_build import build, build_td1, build_td2, build_td3, format_name
from hawiya.credentials.mrz_format import (
    CHARSET,
    DIGITS,
    FILLER,
    LETTERS,
    SEGMENTS,
    SHAPES,
    Segment,
    check_digit,
    segment_at,
)
from hawiya.credentials.mrz_parse import (
    MAX_CHARACTER_ERRORS,
    MAX_INPUT_CHARS,
    MRZResult,
    parse_mrz,
)

__all__ = [
    "CHARSET",
    "DIGITS",
    "FILLER",
    "LETTERS",
    "MAX_CHARACTER_ERRORS",
    "MAX_INPUT_CHARS",
    "MRZResult",
    "SEGMENTS",
    "SHAPES",
    "Segment",
    "build",
    "build_td1",
    "build_td2",
    "build_td3",
    "check_digit",
    "format_name",
    "parse_mrz",
    "segment_at",
]

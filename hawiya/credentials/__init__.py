"""Credentials: machine readable zones (ICAO 9303), signed cards, document verdicts."""

from hawiya.credentials.mrz import (
    MRZResult,
    build,
    build_td1,
    build_td2,
    build_td3,
    check_digit,
    format_name,
    parse_mrz,
)
from hawiya.credentials.transliterate import transliterate

__all__ = [
    "MRZResult",
    "build",
    "build_td1",
    "build_td2",
    "build_td3",
    "check_digit",
    "format_name",
    "parse_mrz",
    "transliterate",
]

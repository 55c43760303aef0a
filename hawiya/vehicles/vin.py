"""Vehicle identification numbers (ISO 3779): read, check and explain a VIN.

A VIN is 17 characters from the digits and the capital letters except I, O and Q (which a
reader confuses with 1 and 0). Its first three characters are the world manufacturer
identifier (WMI, ISO 3780), whose first character gives the region; a WMI ending in ``9``
belongs to a small manufacturer, told apart by characters 12-14.

The check digit is a North-American rule (US 49 CFR 565, Canada): character 9 is the sum
of each character's transliterated value times its position's weight, modulo 11 (10 is
written ``X``). Elsewhere character 9 is the manufacturer's to use, so it is not checked:
a European VIN with ``Z`` there is as valid as any. Character 10 is the model year in
North America (a 30-year cycle; character 7, a letter or a digit, tells the cycles apart
for passenger vehicles).

The WMI table is a modest list of common real WMIs, for display; an unknown WMI is not an
error (thousands exist and new ones are assigned every year).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from hawiya.errors import InvalidInput

VIN_LENGTH = 17
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"   # ISO 3779: no I, O, Q
_VIN_RE = re.compile(f"[{VIN_CHARS}]{{{VIN_LENGTH}}}")
# North-American check digit: letter values and position weights (49 CFR 565.15).
_VALUES = {**{str(d): d for d in range(10)},
           **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
           **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
           **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Model-year characters in order from 1980 (and again from 2010): no I, O, Q, U, Z, 0.
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"

# ISO 3780: the region of a WMI from its first character.
_REGIONS = (("ABCDEFGH", "Africa"), ("JKLMNPR", "Asia"), ("STUVWXYZ", "Europe"),
            ("12345", "North America"), ("67", "Oceania"), ("89", "South America"))
CHECK_DIGIT_REGIONS = ("North America",)

# Common WMIs (the first three VIN characters) and their manufacturers, as data.
WMI: dict[str, str] = {
    # North America
    "1FA": "Ford (USA)", "1FM": "Ford (USA)", "1FT": "Ford trucks (USA)",
    "1G1": "Chevrolet (USA)", "1GC": "Chevrolet trucks (USA)", "1HD": "Harley-Davidson",
    "1HG": "Honda (USA)", "1J4": "Jeep (USA)", "1N4": "Nissan (USA)", "1VW": "Volkswagen (USA)",
    "1C3": "Chrysler (USA)", "1C4": "Chrysler / Jeep (USA)", "2FA": "Ford (Canada)",
    "2G1": "Chevrolet (Canada)", "2HG": "Honda (Canada)", "2T1": "Toyota (Canada)",
    "3FA": "Ford (Mexico)", "3N1": "Nissan (Mexico)", "3VW": "Volkswagen (Mexico)",
    "4S3": "Subaru (USA)", "4T1": "Toyota (USA)", "5FN": "Honda (USA)", "5NP": "Hyundai (USA)",
    "5UX": "BMW (USA)", "5YJ": "Tesla (USA)",
    # Asia
    "JA3": "Mitsubishi (Japan)", "JF1": "Subaru (Japan)", "JF2": "Subaru (Japan)",
    "JHM": "Honda (Japan)", "JKA": "Kawasaki (Japan)", "JM1": "Mazda (Japan)",
    "JN1": "Nissan (Japan)", "JN8": "Nissan (Japan)", "JS1": "Suzuki motorcycles (Japan)",
    "JT2": "Toyota (Japan)", "JTD": "Toyota (Japan)", "JTE": "Toyota (Japan)",
    "JTH": "Lexus (Japan)", "JYA": "Yamaha motorcycles (Japan)", "KL1": "GM Korea",
    "KMH": "Hyundai (Korea)", "KNA": "Kia (Korea)", "KNM": "Renault Samsung (Korea)",
    "LFV": "FAW-Volkswagen (China)", "LHG": "GAC Honda (China)", "LRW": "Tesla (China)",
    "LSV": "SAIC Volkswagen (China)", "MA3": "Maruti Suzuki (India)",
    "MAL": "Hyundai (India)", "MAT": "Tata Motors (India)", "MHF": "Toyota (Indonesia)",
    "MR0": "Toyota (Thailand)", "NM0": "Ford Otosan (Turkey)", "NMT": "Toyota (Turkey)",
    "PL1": "Proton (Malaysia)",
    # Europe
    "SAJ": "Jaguar (UK)", "SAL": "Land Rover (UK)", "SB1": "Toyota (UK)", "SCC": "Lotus (UK)",
    "SHH": "Honda (UK)", "SJN": "Nissan (UK)", "TMB": "Škoda (Czechia)",
    "TRU": "Audi (Hungary)", "VF1": "Renault (France)", "VF3": "Peugeot (France)",
    "VF7": "Citroën (France)", "VNK": "Toyota (France)", "VSS": "SEAT (Spain)",
    "W1K": "Mercedes-Benz (Germany)", "WAU": "Audi (Germany)", "WBA": "BMW (Germany)",
    "WBS": "BMW M (Germany)", "WDB": "Mercedes-Benz (Germany)",
    "WDD": "Mercedes-Benz (Germany)", "WF0": "Ford (Germany)", "WME": "smart (Germany)",
    "WMW": "MINI (Germany)", "WP0": "Porsche (Germany)", "WV1": "Volkswagen Commercial",
    "WV2": "Volkswagen Commercial", "WVW": "Volkswagen (Germany)", "XTA": "Lada (Russia)",
    "YS3": "Saab (Sweden)", "YV1": "Volvo Cars (Sweden)", "YV2": "Volvo Trucks (Sweden)",
    "ZAR": "Alfa Romeo (Italy)", "ZFA": "Fiat (Italy)", "ZFF": "Ferrari (Italy)",
    # Oceania, South America
    "6T1": "Toyota (Australia)", "8AP": "Fiat (Argentina)", "9BD": "Fiat (Brazil)",
    "9BG": "Chevrolet (Brazil)", "9BW": "Volkswagen (Brazil)",
}


@dataclass(frozen=True)
class VinInfo:
    """A VIN that passed every check, and what it says."""

    vin: str
    wmi: str
    region: str
    manufacturer: str | None
    check_digit: str          # "valid" or "not_checked" (outside North America)
    model_year: int | None    # North America only (character 10)

    def to_dict(self) -> dict:
        return asdict(self)


def normalise(text: str) -> str:
    """Upper case without surrounding blanks (a VIN has no inner separators to drop)."""
    return (text or "").strip().upper() if isinstance(text, str) else ""


def region(vin: str) -> str:
    """The ISO 3780 region of the WMI's first character ("unassigned" for ``0``)."""
    first = vin[:1]
    return next((name for chars, name in _REGIONS if first and first in chars), "unassigned")


def check_digit(vin: str) -> str:
    """The North-American check digit of a 17-character VIN (``0``-``9`` or ``X``)."""
    total = sum(_VALUES[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def model_year(vin: str, *, latest: int | None = None) -> int | None:
    """The model year of a North-American VIN (None elsewhere or when not a year code).

    Character 7 a letter: the 2010-2039 cycle; a digit: 1980-2009. A year after ``latest``
    (next year by default) falls back a cycle, so a classic car is not read as a future one.
    """
    if region(vin) not in CHECK_DIGIT_REGIONS or vin[9] not in _YEAR_CODES:
        return None
    year = 1980 + _YEAR_CODES.index(vin[9]) + (30 if vin[6].isalpha() else 0)
    if latest is not None and year > latest:
        year -= 30
    return year


def problems(text: str) -> list[str]:
    """Every reason ``text`` is not a valid VIN (empty when it is)."""
    if not isinstance(text, str):
        return ["a VIN must be text"]
    vin = normalise(text)
    if len(vin) != VIN_LENGTH:
        return [f"a VIN has {VIN_LENGTH} characters, not {len(vin)}"]
    out = []
    for i, c in enumerate(vin, 1):
        if c in "IOQ":
            out.append(f"character {i} is {c!r}: I, O and Q are never used in a VIN "
                       "(ISO 3779), they read as 1 and 0")
        elif c not in VIN_CHARS:
            out.append(f"character {i} is {c!r}: a VIN holds only digits and capital letters")
    if out:
        return out
    if region(vin) in CHECK_DIGIT_REGIONS:
        expected = check_digit(vin)
        if vin[8] != expected:
            out.append(f"check digit (character 9) is {vin[8]!r} but the VIN's characters give "
                       f"{expected!r}: a mistyped or altered North-American VIN")
    return out


def parse(text: str, *, latest_year: int | None = None) -> VinInfo:
    """A checked VIN and what it says; InvalidInput listing every problem otherwise."""
    errors = problems(text)
    if errors:
        shown = normalise(text)[:32] if isinstance(text, str) else ""
        raise InvalidInput(f"malformed VIN {shown!r}: {errors[0]}", reasons=errors)
    vin = normalise(text)
    where = region(vin)
    return VinInfo(vin=vin, wmi=vin[:3], region=where, manufacturer=WMI.get(vin[:3]),
                   check_digit="valid" if where in CHECK_DIGIT_REGIONS else "not_checked",
                   model_year=model_year(vin, latest=latest_year))


def is_vin_shaped(text: str) -> bool:
    """True for 17 VIN characters (valid or not), so a look-up can tell a VIN from a plate
    (plates have at most 16)."""
    return bool(_VIN_RE.fullmatch(normalise(text)))

"""Licence-plate formats per country, as data (``plate_formats.yaml`` and an optional file
named by ``vehicles.plate_formats_file``), compiled to regular expressions.

A plate is compared as its *normalised* text: upper case, without spaces, dashes or dots.
:func:`matching_formats` says which formats of a country a normalised text fits, which the
registry uses to refuse a malformed plate and the plate reader uses to choose among
readings and to fix confusable characters only where a format allows a single reading.
For the reader, :meth:`PlateFormat.layouts` spells a format out as the characters allowed at
each position, and :func:`all_formats` is every country's formats at once (its generic rule
when no country is named).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import product
from math import prod
from pathlib import Path

from hawiya.errors import ConfigError, InvalidInput

SHIPPED = Path(__file__).with_name("plate_formats.yaml")
_CLASSES = {"L": "[A-Z]", "D": "[0-9]", "A": "[A-Z0-9]"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_ALLOWED = {"L": _LETTERS, "D": _DIGITS, "A": _DIGITS + _LETTERS}
_SEPARATORS = " -."
PLATE_MAX = 16
MAX_LAYOUTS = 4096      # fixed-length spellings of one format the plate reader expands


@dataclass(frozen=True)
class PlateFormat:
    country: str
    name: str
    pattern: str
    example: str
    regex: re.Pattern

    def classes(self) -> list[str] | None:
        """The class (L, D or A) of each character when the format has a fixed length."""
        body = "".join(c for c in self.pattern if c not in _SEPARATORS)
        return None if "{" in body else list(body)

    def layouts(self) -> tuple[tuple[str, ...], ...]:
        """Every fixed-length spelling of the format, each as the characters allowed at each
        position (a repeat ``{m,n}`` expands to each of its lengths): what the plate reader
        needs to say which class a position must have, for any format."""
        return _layouts(self.pattern)


@cache
def _layouts(pattern: str) -> tuple[tuple[str, ...], ...]:
    body = "".join(c for c in pattern if c not in _SEPARATORS)
    tokens: list[tuple[str, range]] = []      # (allowed characters, repeat counts)
    i = 0
    while i < len(body):
        c = body[i]
        if c == "{":
            end = body.find("}", i)
            lo, _, hi = body[i + 1:end].partition(",")
            allowed, _ = tokens.pop()
            tokens.append((allowed, range(int(lo), int(hi or lo) + 1)))
            i = end + 1
            continue
        tokens.append((_ALLOWED.get(c, c.upper()), range(1, 2)))
        i += 1
    if prod(len(r) for _, r in tokens) > MAX_LAYOUTS:
        return ()                       # too loose to guide the reader; the regex still holds
    out = []
    for counts in product(*(r for _, r in tokens)):
        out.append(tuple(a for (a, _), n in zip(tokens, counts, strict=True) for _ in range(n)))
    return tuple(dict.fromkeys(out))


def normalise(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text or "").upper()


def _compile(country: str, item: dict) -> PlateFormat:
    try:
        pattern, name = str(item["pattern"]), str(item.get("name") or "standard")
    except (KeyError, TypeError):
        raise ConfigError(f"plate format of {country}: needs a pattern") from None
    regex, i = "", 0
    body = "".join(c for c in pattern if c not in _SEPARATORS)
    while i < len(body):
        c = body[i]
        if c in _CLASSES:
            regex += _CLASSES[c]
        elif c == "{":
            end = body.find("}", i)
            if end < 0 or not re.fullmatch(r"\d+(,\d+)?", body[i + 1:end]):
                raise ConfigError(f"plate format {country}/{name}: bad repeat in {pattern!r}")
            regex += body[i:end + 1]
            i = end
        elif c.isalnum():
            regex += re.escape(c.upper())
        else:
            raise ConfigError(f"plate format {country}/{name}: {c!r} in {pattern!r}")
        i += 1
    example = normalise(str(item.get("example") or ""))
    compiled = re.compile(f"^{regex}$")
    if example and not compiled.match(example):
        raise ConfigError(f"plate format {country}/{name}: example {example} does not fit "
                          f"{pattern!r}")
    return PlateFormat(country, name, pattern, example, compiled)


@cache
def _load(extra: Path | None) -> dict[str, tuple[PlateFormat, ...]]:
    from hawiya.config import read_yaml

    data = read_yaml(SHIPPED)
    if extra is not None:
        data.update(read_yaml(extra))
    out = {}
    for country, items in data.items():
        if not isinstance(items, list) or not items:
            raise ConfigError(f"plate formats of {country}: a list of formats")
        out[str(country).upper()] = tuple(_compile(str(country).upper(), i) for i in items)
    return out


def formats(country: str | None = None, extra: Path | None = None
            ) -> dict[str, tuple[PlateFormat, ...]] | tuple[PlateFormat, ...]:
    """Every country's formats, or one country's (InvalidInput for an unknown code)."""
    table = _load(extra)
    if country is None:
        return table
    found = table.get(country.upper())
    if found is None:
        raise InvalidInput(f"no plate formats for country {country!r} (known: "
                           f"{', '.join(sorted(table))})")
    return found


def all_formats(extra: Path | None = None) -> tuple[PlateFormat, ...]:
    """Every country's formats in one tuple, in table order (the plate reader's generic rule
    when no country is given: a reading that fits any known format is preferred)."""
    return tuple(f for group in _load(extra).values() for f in group)


def matching_formats(text: str, country: str, extra: Path | None = None) -> list[PlateFormat]:
    plate = normalise(text)
    return [f for f in formats(country, extra) if f.regex.match(plate)]


def check_plate(text: str, country: str, extra: Path | None = None) -> str:
    """The normalised plate, or InvalidInput naming the country's formats."""
    plate = normalise(text)
    if not plate or len(plate) > PLATE_MAX:
        raise InvalidInput(f"plate must be 1-{PLATE_MAX} letters and digits")
    if not re.fullmatch(r"[A-Z0-9]+", plate):
        raise InvalidInput(f"plate {text!r} has characters other than A-Z and 0-9")
    if not matching_formats(plate, country, extra):
        shown = ", ".join(f"{f.pattern} (e.g. {f.example})" for f in formats(country, extra))
        raise InvalidInput(f"plate {plate} fits no {country.upper()} format: {shown}")
    return plate

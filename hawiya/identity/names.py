"""A person's name as its parts: given, father's, grandfather's and family name.

Arabic names are chains (given name, father's, grandfather's, family), and a family name may
itself have several words ("عبد الله"), so a name typed as one field cannot be split into
parts by guesswork: it is kept whole as the given name. The ICAO 9303 primary identifier
(the MRZ's "surname") is the family name; the secondary identifier is the rest in order.
A name with no family name is a single-component name: ICAO 9303-3 puts it all in the
primary identifier and leaves the secondary one empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from hawiya.errors import InvalidInput

PART_MAX = 100           # characters per name part (the column size)
NAME_MAX = 200           # characters of the whole name
PARTS = ("given_name", "father_name", "grandfather_name", "family_name")


def _clean(value: str | None, field: str) -> str | None:
    value = " ".join((value or "").split())
    if len(value) > PART_MAX:
        raise InvalidInput(f"{field} longer than {PART_MAX} characters")
    return value or None


@dataclass(frozen=True)
class PersonName:
    given_name: str | None = None
    father_name: str | None = None
    grandfather_name: str | None = None
    family_name: str | None = None

    @classmethod
    def parse(cls, name: str | None = None, *, given_name: str | None = None,
              father_name: str | None = None, grandfather_name: str | None = None,
              family_name: str | None = None) -> PersonName:
        """From the parts, or from one field kept whole; both must agree when both given."""
        parts = cls(*(_clean(v, f) for v, f in zip(
            (given_name, father_name, grandfather_name, family_name), PARTS, strict=True)))
        whole = " ".join((name or "").split())
        if not parts.parts():
            if not whole or len(whole) > NAME_MAX:
                raise InvalidInput(f"name is required (1-{NAME_MAX} characters), as one "
                                   "field or as given/father/grandfather/family name")
            return cls(given_name=whole)
        if not (parts.given_name or parts.family_name):
            raise InvalidInput("a name needs a given name or a family name")
        if whole and whole != parts.full:
            raise InvalidInput(f"name {whole!r} differs from its parts ({parts.full!r}); "
                               "give the name as one field or as its parts")
        if len(parts.full) > NAME_MAX:
            raise InvalidInput(f"name longer than {NAME_MAX} characters")
        return parts

    @classmethod
    def of(cls, person) -> PersonName:
        """The name of a stored person (rows from before the parts hold the whole name)."""
        parts = cls(person.given_name, person.father_name, person.grandfather_name,
                    person.family_name)
        return parts if parts.parts() else cls(given_name=person.name)

    def parts(self) -> list[str]:
        return [p for p in (self.given_name, self.father_name, self.grandfather_name,
                            self.family_name) if p]

    @property
    def full(self) -> str:
        """The name as written: the parts in order."""
        return " ".join(self.parts())

    def mrz_identifiers(self) -> tuple[str, str]:
        """(primary, secondary) identifiers for ICAO 9303 (untransliterated)."""
        if self.family_name:
            rest = [p for p in (self.given_name, self.father_name, self.grandfather_name) if p]
            return self.family_name, " ".join(rest)
        return self.full, ""

    def parts_key(self) -> tuple[str, ...]:
        """What tells the parts apart beyond the full name (empty for a one-field name,
        so submissions fingerprinted before names had parts keep their fingerprint)."""
        if self == PersonName(given_name=self.full):
            return ()
        return tuple(p or "" for p in (self.given_name, self.father_name,
                                       self.grandfather_name, self.family_name))

    def to_dict(self) -> dict[str, str | None]:
        return {"given_name": self.given_name, "father_name": self.father_name,
                "grandfather_name": self.grandfather_name, "family_name": self.family_name}

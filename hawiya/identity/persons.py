"""People in the registry: demographic input, lookup by our id or an integrator's
reference id, and the summaries other services and interfaces show."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hawiya.errors import InvalidInput, NotFound
from hawiya.identity.names import PersonName
from hawiya.identity.results import PersonDetail, PersonSummary, TemplateInfo
from hawiya.registry.models import Person

if TYPE_CHECKING:
    from hawiya.platform import Platform

PERSON_ID_RE = re.compile(r"^P[0-9A-F]{15}$")
REFERENCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


@dataclass
class Demographics:
    name: str
    reference_id: str | None = None
    date_of_birth: dt.date | None = None
    sex: str | None = None
    district: str | None = None
    name_parts: PersonName | None = None

    @classmethod
    def parse(cls, name: str | None, reference_id: str | None = None,
              date_of_birth: str | dt.date | None = None, sex: str | None = None,
              district: str | None = None, *, given_name: str | None = None,
              father_name: str | None = None, grandfather_name: str | None = None,
              family_name: str | None = None) -> Demographics:
        """The name as one field (kept whole) or as its parts; see :mod:`.names`."""
        parts = PersonName.parse(name, given_name=given_name, father_name=father_name,
                                 grandfather_name=grandfather_name, family_name=family_name)
        name = parts.full
        if reference_id is not None and reference_id != "":
            if not REFERENCE_ID_RE.match(reference_id):
                raise InvalidInput("reference_id: 1-128 letters, digits or _.:/- ")
        else:
            reference_id = None
        if isinstance(date_of_birth, str) and date_of_birth:
            try:
                date_of_birth = dt.date.fromisoformat(date_of_birth)
            except ValueError as exc:
                raise InvalidInput("date_of_birth must be YYYY-MM-DD") from exc
        elif not date_of_birth:
            date_of_birth = None
        if date_of_birth and not dt.date(1880, 1, 1) <= date_of_birth <= dt.date.today():
            raise InvalidInput("date_of_birth is not a possible birth date")
        if sex:
            sex = sex.upper()[:1]
            if sex not in ("F", "M", "X"):
                raise InvalidInput("sex must be F, M or X")
        else:
            sex = None
        if district is not None and len(district) > 100:
            raise InvalidInput("district longer than 100 characters")
        return cls(name, reference_id, date_of_birth, sex, district or None, parts)


def person_summary(person: Person) -> PersonSummary:
    return PersonSummary(
        person_id=person.person_id, reference_id=person.reference_id, name=person.name,
        **PersonName.of(person).to_dict(), status=person.status,
        date_of_birth=person.date_of_birth.isoformat() if person.date_of_birth else None,
        sex=person.sex, district=person.district, merged_into=person.merged_into,
        created_at=person.created_at.isoformat() if person.created_at else None)


def find_person(session: Session, key: str) -> Person:
    """Look a person up by our id or by the integrator's reference id."""
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise InvalidInput("person id must be 1-128 characters")
    if not (PERSON_ID_RE.match(key) or REFERENCE_ID_RE.match(key)):
        raise InvalidInput(f"malformed person id {key!r}")
    person = session.scalar(select(Person).where(
        or_(Person.person_id == key, Person.reference_id == key)))
    if person is None:
        raise NotFound(f"no person with id {key!r}")
    return person


def list_persons(platform: Platform, status: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[PersonSummary]:
    with platform.transaction() as session:
        q = select(Person).order_by(Person.id).limit(min(int(limit), 1000)).offset(int(offset))
        if status:
            q = q.where(Person.status == status)
        return [person_summary(p) for p in session.scalars(q)]


def get_person(platform: Platform, key: str) -> PersonDetail:
    with platform.transaction() as session:
        person = find_person(session, key)
        return PersonDetail(
            **person_summary(person).model_dump(),
            templates=[TemplateInfo(modality=t.modality, position=t.position,
                                    algorithm=t.algorithm, quality=t.quality)
                       for t in person.templates])

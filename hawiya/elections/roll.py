"""The voter roll: built from the de-duplicated registry by explicit rules, then frozen.

Rules, in order (the first that fails is the recorded exclusion): the person is active
(``pending_adjudication`` while a potential duplicate, ``merged``, ``inactive``), has a date
of birth (``no_date_of_birth``) and is ``min_age`` on the eligibility date (``under_age``),
has a residence district (``no_district``) that exists (``unknown_district``) and has a
station (``no_station_in_district``). Voters are assigned round-robin to the stations of
their district in person-id order and numbered in the same order, so a rebuild of the same
registry gives the same roll. Freezing signs a SHA-256 digest of the roll's canonical lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select

from hawiya import audit
from hawiya.elections.geography import get_election
from hawiya.errors import Conflict
from hawiya.registry.models import (
    ACTIVE,
    MERGED,
    POTENTIAL_DUPLICATE,
    Anomaly,
    CheckIn,
    District,
    Election,
    Person,
    PollingCentre,
    RollEntry,
    RollExclusion,
    Station,
    utcnow,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform

CHUNK = 20_000


def _age_on(dob, day) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _exclusion(status: str, dob, district: str | None, election: Election,
               stations_by_district: dict[str, list[int]], known: set[str]) -> str | None:
    if status != ACTIVE:
        return {POTENTIAL_DUPLICATE: "pending_adjudication", MERGED: "merged"}.get(
            status, "inactive")
    if dob is None:
        return "no_date_of_birth"
    if _age_on(dob, election.eligibility_date) < election.min_age:
        return "under_age"
    if not district:
        return "no_district"
    if district not in known:
        return "unknown_district"
    if not stations_by_district.get(district):
        return "no_station_in_district"
    return None


def build_roll(platform: Platform, code: str, *, actor: str,
               on_progress: Callable[[int, int], None] | None = None) -> dict:
    """(Re)build a draft roll from the registry; a frozen roll cannot be rebuilt."""
    with platform.transaction() as session:
        election = get_election(session, code)
        if election.status != "draft":
            raise Conflict(f"the roll of {code!r} is {election.status}; it cannot be rebuilt")
        stations = session.execute(
            select(District.code, Station.id).join(PollingCentre, PollingCentre.district_id ==
                                                   District.id)
            .join(Station, Station.centre_id == PollingCentre.id).order_by(Station.code)).all()
        stations_by_district: dict[str, list[int]] = defaultdict(list)
        for dcode, sid in stations:
            stations_by_district[dcode].append(sid)
        known = set(session.scalars(select(District.code)))
        session.execute(delete(RollEntry).where(RollEntry.election_id == election.id))
        session.execute(delete(RollExclusion).where(RollExclusion.election_id == election.id))
        total = session.scalar(select(func.count(Person.id)))
        rows = session.execute(select(Person.id, Person.status, Person.date_of_birth,
                                      Person.district).order_by(Person.id)
                               .execution_options(yield_per=CHUNK))
        next_station: dict[str, int] = defaultdict(int)
        entries, exclusions, counts = [], [], defaultdict(int)
        seen = 0
        number = 0
        for pid, status, dob, district in rows:
            seen += 1
            rule = _exclusion(status, dob, district, election, stations_by_district, known)
            if rule:
                counts[rule] += 1
                exclusions.append({"election_id": election.id, "person_db_id": pid,
                                   "rule": rule})
            else:
                choices = stations_by_district[district]
                station = choices[next_station[district] % len(choices)]
                next_station[district] += 1
                number += 1
                entries.append({"election_id": election.id, "person_db_id": pid,
                                "voter_number": f"{code}-{number:08d}", "station_id": station})
            if len(entries) >= CHUNK:
                session.execute(insert(RollEntry), entries)
                entries = []
            if len(exclusions) >= CHUNK:
                session.execute(insert(RollExclusion), exclusions)
                exclusions = []
            if on_progress and seen % CHUNK == 0:
                on_progress(seen, total)
        if entries:
            session.execute(insert(RollEntry), entries)
        if exclusions:
            session.execute(insert(RollExclusion), exclusions)
        election.roll_size = number
        audit.append(session, actor, "roll.build", code,
                     {"voters": number, "excluded": dict(counts)})
    if on_progress:
        on_progress(total, total)
    return {"election": code, "voters": number, "excluded": dict(counts),
            "registrants": total}


def roll_lines(session, election: Election):
    """Canonical roll lines ``voter_number|person_id|station_code`` in voter-number order."""
    q = (select(RollEntry.voter_number, Person.person_id, Station.code)
         .join(Person, Person.id == RollEntry.person_db_id)
         .join(Station, Station.id == RollEntry.station_id)
         .where(RollEntry.election_id == election.id).order_by(RollEntry.voter_number)
         .execution_options(yield_per=CHUNK))
    for voter, person, station in session.execute(q):
        yield f"{voter}|{person}|{station}"


def roll_digest(session, election: Election) -> str:
    h = hashlib.sha256()
    for line in roll_lines(session, election):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def freeze_roll(platform: Platform, code: str, *, actor: str) -> dict:
    """Freeze the roll: no rebuild after this; its digest is signed by the authority key."""
    with platform.transaction() as session:
        election = get_election(session, code)
        if election.status != "draft":
            raise Conflict(f"the roll of {code!r} is already {election.status}")
        voters = session.scalar(select(func.count(RollEntry.id)).where(
            RollEntry.election_id == election.id))
        if not voters:
            raise Conflict(f"the roll of {code!r} is empty (build it first: `hawiya election "
                           "roll build`); an empty roll cannot be frozen")
        digest = roll_digest(session, election)
        key_id, signature = platform.sign_digest(f"roll:{code}:{digest}".encode())
        election.status, election.roll_digest = "frozen", digest
        election.roll_signature, election.roll_key_id = signature, key_id
        election.roll_frozen_at = utcnow()
        audit.append(session, actor, "roll.freeze", code,
                     {"digest": digest, "key_id": key_id, "voters": election.roll_size})
    return {"election": code, "status": "frozen", "roll_digest": digest, "key_id": key_id,
            "signature": signature, "voters": election.roll_size}


def withdraw_election(platform: Platform, code: str, *, actor: str) -> dict:
    """Withdraw an election nobody has checked in to (a mistake, a cancelled poll): its roll,
    exclusions and anomalies go with it, and the code can be used again. Audited."""
    with platform.transaction() as session:
        election = get_election(session, code)
        used = session.scalar(select(func.count(CheckIn.id)).where(
            CheckIn.election_id == election.id))
        if used:
            raise Conflict(f"election {code!r} has {used} check-ins; it cannot be withdrawn")
        removed = {}
        for model in (RollEntry, RollExclusion, Anomaly):
            removed[model.__tablename__] = session.execute(
                delete(model).where(model.election_id == election.id)).rowcount
        session.delete(election)
        audit.append(session, actor, "election.withdraw", code,
                     {"status": election.status, "removed": removed})
    return {"election": code, "withdrawn": True, "removed": removed}


def exclusions(platform: Platform, code: str, limit: int = 1000) -> list[dict]:
    with platform.transaction() as session:
        election = get_election(session, code)
        rows = session.execute(select(Person.person_id, Person.name, RollExclusion.rule)
                               .join(Person, Person.id == RollExclusion.person_db_id)
                               .where(RollExclusion.election_id == election.id)
                               .order_by(RollExclusion.id).limit(limit)).all()
    return [{"person_id": p, "name": n, "rule": r} for p, n, r in rows]


def export_csv(platform: Platform, code: str, station: str | None = None) -> str:
    """The roll as CSV (voter_number, person_id, name, date_of_birth, district, station)."""
    with platform.transaction() as session:
        election = get_election(session, code)
        q = (select(RollEntry.voter_number, Person.person_id, Person.name,
                    Person.date_of_birth, Person.district, Station.code)
             .join(Person, Person.id == RollEntry.person_db_id)
             .join(Station, Station.id == RollEntry.station_id)
             .where(RollEntry.election_id == election.id).order_by(RollEntry.voter_number))
        if station:
            q = q.where(Station.code == station)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["voter_number", "person_id", "name", "date_of_birth", "district",
                         "station"])
        for row in session.execute(q):
            writer.writerow([row[0], row[1], row[2], row[3].isoformat() if row[3] else "",
                             row[4] or "", row[5]])
    return buf.getvalue()

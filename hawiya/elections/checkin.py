"""Polling-station check-in: find the voter, verify them biometrically, mark them once.

The voter is found by voter number, by ID-card QR, or by a 1:N face/iris search restricted
to the station's roll (then the whole roll, to tell a voter at the wrong station where to
go). They are verified 1:1 against their enrolled templates. "At most once per election" is
the database's unique constraint on (election, roll entry): two stations submitting the same
voter at the same moment cannot both succeed. Every attempt, accepted or not, is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hawiya import audit
from hawiya.biometrics.capture import Capture
from hawiya.elections.geography import get_election, get_station
from hawiya.elections.results import CheckInResult
from hawiya.elections.scopes import election_scope_name, station_scope_name
from hawiya.errors import Conflict, HawiyaError, InvalidInput
from hawiya.identity import templates as store
from hawiya.identity.persons import find_person
from hawiya.identity.service import identify, verify
from hawiya.registry.models import Anomaly, CheckIn, Person, RollEntry, Station

if TYPE_CHECKING:
    from hawiya.platform import Platform

OUTCOMES = ("checked_in", "already_checked_in", "wrong_station", "not_on_roll",
            "verification_failed", "not_identified")


def _roll_entry(session, election_id: int, *, voter_number=None, person_db_id=None):
    q = select(RollEntry).where(RollEntry.election_id == election_id)
    q = q.where(RollEntry.voter_number == voter_number) if voter_number else \
        q.where(RollEntry.person_db_id == person_db_id)
    return session.scalar(q)


def _find_by_biometrics(platform: Platform, election_code: str, station_code: str,
                        captures: Sequence[Capture], clerk: str
                        ) -> tuple[str | None, str, bool, bool]:
    """(person id, reason, found at this station, search decidable) from a 1:N search of
    the station's roll at the check-in FPIR; when it names nobody, a search of the whole
    roll may only say where a matching voter is registered (named scopes: template ids
    resolved once per frozen roll, not per request)."""
    here = identify(platform, captures, actor=clerk, top=1, use="check_in",
                    scope=station_scope_name(election_code, station_code))
    if here.candidates and here.candidates[0].match:
        return here.candidates[0].person_id, here.reason, True, True
    roll = identify(platform, captures, actor=clerk, top=1, use="check_in",
                    scope=election_scope_name(election_code))
    if roll.candidates and roll.candidates[0].match:
        return roll.candidates[0].person_id, roll.reason, False, True
    if not here.decidable:
        return None, here.reason, False, False
    if not roll.decidable:
        return None, roll.reason, False, False
    return None, f"no voter on the roll matches this capture ({roll.reason})", False, True


def check_in(platform: Platform, election_code: str, station_code: str, *, clerk: str,
             voter_number: str | None = None, qr_text: str | None = None,
             captures: Sequence[Capture] = (),
             require_biometric: bool = True) -> CheckInResult:
    """Check one voter in; returns ``outcome`` (one of OUTCOMES) with the details.

    Order of answers: not on the roll (or not identified), already checked in anywhere
    (where and when), wrong station, verification failed, checked in. A voter found by a
    biometric search of the whole roll is only told where to go, never checked in."""
    with platform.transaction() as session:
        election = get_election(session, election_code)
        station = get_station(session, station_code)
        if election.status != "frozen":
            raise Conflict(f"check-in needs a frozen roll; election {election_code!r} is "
                           f"{election.status}")
        election_id, station_id = election.id, station.id
    biometric = bool(captures)
    method = "voter_number" if voter_number else "qr" if qr_text else "biometric_search"
    try:
        if not (voter_number or qr_text or biometric):
            raise InvalidInput("give a voter number, an ID card QR, or a face/iris/finger "
                               "capture")
        if require_biometric and not biometric:
            raise InvalidInput("biometric verification is required: send a face, iris or "
                               "finger capture")
        person_key, search_reason, found_here = None, None, True
        if qr_text:
            from hawiya.credentials.documents import person_for_qr

            person_key = person_for_qr(platform, qr_text)
        elif not voter_number:
            person_key, search_reason, found_here, decidable = _find_by_biometrics(
                platform, election_code, station_code, captures, clerk)
            if person_key is None:
                return _answer(platform, election_code, station_code, clerk,
                               "not_on_roll" if decidable else "not_identified", method,
                               reason=search_reason)
    except HawiyaError as exc:  # a refused attempt is audited too: who, where, why
        with platform.transaction() as session:
            audit.append(session, clerk, "election.check_in", voter_number,
                         {"election": election_code, "station": station_code,
                          "outcome": "refused", "method": method,
                          "reason": exc.message[:300]})
        raise
    with platform.transaction() as session:
        entry = None
        if voter_number:
            entry = _roll_entry(session, election_id, voter_number=voter_number)
        elif person_key:
            person = find_person(session, person_key)
            entry = _roll_entry(session, election_id, person_db_id=person.id)
        if entry is not None:
            person = session.get(Person, entry.person_db_id)
            person_id, voter_number, name = person.person_id, entry.voter_number, person.name
            entry_id, entry_station = entry.id, entry.station_id
            assigned = session.get(Station, entry_station).code
            prior = session.scalar(select(CheckIn).where(CheckIn.election_id == election_id,
                                                         CheckIn.roll_entry_id == entry_id))
            first = ((session.get(Station, prior.station_id).code, _iso(prior.checked_at))
                     if prior else None)
            portrait = store.portrait_thumbnail(platform, person)
    # Answers are audited in their own transaction (SQLite allows one writer at a time).
    if entry is None:
        return _answer(platform, election_code, station_code, clerk, "not_on_roll",
                       method, voter_number=voter_number, reason=search_reason)
    who = {"voter_number": voter_number, "person_id": person_id, "name": name,
           "portrait": portrait}
    if first is not None:
        return _answer(platform, election_code, station_code, clerk, "already_checked_in",
                       method, **who, first_station=first[0], first_checked_at=first[1])
    if entry_station != station_id:
        return _answer(platform, election_code, station_code, clerk, "wrong_station", method,
                       **who, assigned_station=assigned)
    if not found_here:  # the whole roll's search never checks anyone in
        return _answer(platform, election_code, station_code, clerk, "not_identified",
                       method, reason="the station's roll search named nobody")
    score = None
    if biometric:
        try:
            result = verify(platform, person_id, captures, actor=clerk)
        except HawiyaError as exc:
            if isinstance(exc, InvalidInput):
                raise
            return _answer(platform, election_code, station_code, clerk,
                           "verification_failed", method, **who, reason=exc.message)
        score = result.score
        if not result.match:
            return _answer(platform, election_code, station_code, clerk,
                           "verification_failed", method, **who, score=score,
                           threshold=result.threshold, reason=result.reason)
    done = record_check_in(platform, election_id, entry_id, station_id, election_code,
                           station_code, clerk=clerk, method=method, score=score,
                           voter_number=voter_number, person_id=person_id)
    return done.model_copy(update={"name": name, "portrait": portrait,
                                   "reason": search_reason})


def record_check_in(platform: Platform, election_id: int, entry_id: int, station_id: int,
                    election_code: str, station_code: str, *, clerk: str, method: str,
                    score: float | None, voter_number: str, person_id: str,
                    offline: bool = False, checked_at=None) -> CheckInResult:
    """Insert the check-in; the unique constraint turns a second one into an answer."""
    try:
        with platform.transaction() as session:
            row = CheckIn(election_id=election_id, roll_entry_id=entry_id,
                          station_id=station_id, method=method, score=score, clerk=clerk,
                          offline=offline)
            if checked_at is not None:
                row.checked_at = checked_at
            session.add(row)
            session.flush()
            audit.append(session, clerk, "election.check_in", voter_number,
                         {"election": election_code, "station": station_code,
                          "outcome": "checked_in", "method": method, "offline": offline})
            when = row.checked_at
    except IntegrityError:
        with platform.transaction() as session:
            prior = session.scalar(select(CheckIn).where(CheckIn.election_id == election_id,
                                                         CheckIn.roll_entry_id == entry_id))
            where = session.get(Station, prior.station_id).code if prior else None
            at = _iso(prior.checked_at) if prior else None
        return _answer(platform, election_code, station_code, clerk, "already_checked_in",
                       method, voter_number=voter_number, person_id=person_id,
                       offline=offline,
                       first_station=where, first_checked_at=at)
    return CheckInResult(outcome="checked_in", election=election_code, station=station_code,
                         voter_number=voter_number, person_id=person_id, method=method,
                         score=score, checked_at=_iso(when), offline=offline)


def _iso(when: dt.datetime) -> str:
    """UTC ISO time; SQLite hands stored times back without their zone."""
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).isoformat()


def _answer(platform: Platform, election: str, station: str, clerk: str, outcome: str,
            method: str, **details) -> CheckInResult:
    """A refused check-in: audited, and returned as a distinct outcome for the clerk. A
    second check-in of a voter is also an anomaly for the election audit, online as
    offline."""
    with platform.transaction() as session:
        if outcome == "already_checked_in" and not details.get("offline"):  # sync has its own
            session.add(Anomaly(
                election_id=get_election(session, election).id, kind="double_check_in",
                station_code=station,
                details={"kind": "double_check_in", "voter_number": details.get("voter_number"),
                         "first_station": details.get("first_station"),
                         "second_station": station, "online": True, "clerk": clerk}))
        audit.append(session, clerk, "election.check_in", details.get("voter_number"),
                     {"election": election, "station": station, "outcome": outcome,
                      "method": method, **{k: v for k, v in details.items()
                                           if k in ("assigned_station", "first_station")}})
    return CheckInResult(outcome=outcome, election=election, station=station, method=method,
                         **details)

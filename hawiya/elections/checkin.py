"""Polling-station check-in: find the voter, verify them biometrically, mark them once.

The voter is found by voter number, by ID-card QR, or by a 1:N face/iris search restricted
to the station's roll (then the whole roll, to tell a voter at the wrong station where to
go). They are verified 1:1 against their enrolled templates. "At most once per election" is
the database's unique constraint on (election, roll entry): two stations submitting the same
voter at the same moment cannot both succeed. Every attempt, accepted or not, is audited.
"""

from __future__ import annotations

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
from hawiya.identity.persons import find_person
from hawiya.identity.service import identify, verify
from hawiya.registry.models import CheckIn, Person, RollEntry, Station

if TYPE_CHECKING:
    from hawiya.platform import Platform

OUTCOMES = ("checked_in", "already_checked_in", "wrong_station", "not_on_roll",
            "verification_failed")


def _roll_entry(session, election_id: int, *, voter_number=None, person_db_id=None):
    q = select(RollEntry).where(RollEntry.election_id == election_id)
    q = q.where(RollEntry.voter_number == voter_number) if voter_number else \
        q.where(RollEntry.person_db_id == person_db_id)
    return session.scalar(q)


def _find_by_biometrics(platform: Platform, election_code: str, station_code: str,
                        captures: Sequence[Capture], clerk: str) -> str | None:
    """1:N within the station's roll first, then the whole roll (named scopes: their
    template ids are resolved once per frozen roll, not per request)."""
    for scope in (station_scope_name(election_code, station_code),
                  election_scope_name(election_code)):
        found = identify(platform, captures, actor=clerk, top=1, scope=scope)
        if found.candidates and found.candidates[0].match:
            return found.candidates[0].person_id
    return None


def check_in(platform: Platform, election_code: str, station_code: str, *, clerk: str,
             voter_number: str | None = None, qr_text: str | None = None,
             captures: Sequence[Capture] = (),
             require_biometric: bool = True) -> CheckInResult:
    """Check one voter in; returns ``outcome`` (one of OUTCOMES) with the details."""
    with platform.transaction() as session:
        election = get_election(session, election_code)
        station = get_station(session, station_code)
        if election.status != "frozen":
            raise Conflict(f"check-in needs a frozen roll; election {election_code!r} is "
                           f"{election.status}")
        election_id, station_id = election.id, station.id
    biometric = bool(captures)
    if not (voter_number or qr_text or biometric):
        raise InvalidInput("give a voter number, an ID card QR, or a face/iris/finger capture")
    if require_biometric and not biometric:
        raise InvalidInput("biometric verification is required: send a face, iris or finger "
                           "capture")
    method = "voter_number" if voter_number else "qr" if qr_text else "biometric_search"
    person_key = None
    if qr_text:
        from hawiya.credentials.documents import person_for_qr

        person_key = person_for_qr(platform, qr_text)
    elif not voter_number:
        person_key = _find_by_biometrics(platform, election_code, station_code, captures,
                                         clerk)
    with platform.transaction() as session:
        entry = None
        if voter_number:
            entry = _roll_entry(session, election_id, voter_number=voter_number)
        elif person_key:
            person = find_person(session, person_key)
            entry = _roll_entry(session, election_id, person_db_id=person.id)
        if entry is not None:
            person = session.get(Person, entry.person_db_id)
            person_id, voter_number = person.person_id, entry.voter_number
            entry_id, entry_station = entry.id, entry.station_id
            assigned = session.get(Station, entry_station).code
    # Answers are audited in their own transaction (SQLite allows one writer at a time).
    if entry is None:
        return _answer(platform, election_code, station_code, clerk, "not_on_roll",
                       method, voter_number=voter_number)
    if entry_station != station_id:
        return _answer(platform, election_code, station_code, clerk, "wrong_station", method,
                       voter_number=voter_number, person_id=person_id,
                       assigned_station=assigned)
    score = None
    if biometric:
        try:
            result = verify(platform, person_id, captures, actor=clerk)
        except HawiyaError as exc:
            if isinstance(exc, InvalidInput):
                raise
            return _answer(platform, election_code, station_code, clerk,
                           "verification_failed", method, voter_number=voter_number,
                           person_id=person_id, reason=exc.message)
        score = result.score
        if not result.match:
            return _answer(platform, election_code, station_code, clerk,
                           "verification_failed", method, voter_number=voter_number,
                           person_id=person_id, score=score, threshold=result.threshold)
    return record_check_in(platform, election_id, entry_id, station_id, election_code,
                           station_code, clerk=clerk, method=method, score=score,
                           voter_number=voter_number, person_id=person_id)


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
            at = prior.checked_at.isoformat() if prior else None
        return _answer(platform, election_code, station_code, clerk, "already_checked_in",
                       method, voter_number=voter_number, person_id=person_id,
                       first_station=where, first_checked_at=at)
    return CheckInResult(outcome="checked_in", election=election_code, station=station_code,
                         voter_number=voter_number, person_id=person_id, method=method,
                         score=score, checked_at=when.isoformat(), offline=offline)


def _answer(platform: Platform, election: str, station: str, clerk: str, outcome: str,
            method: str, **details) -> CheckInResult:
    """A refused check-in: audited, and returned as a distinct outcome for the clerk."""
    with platform.transaction() as session:
        audit.append(session, clerk, "election.check_in", details.get("voter_number"),
                     {"election": election, "station": station, "outcome": outcome,
                      "method": method, **{k: v for k, v in details.items()
                                           if k in ("assigned_station", "first_station")}})
    return CheckInResult(outcome=outcome, election=election, station=station, method=method,
                         **details)

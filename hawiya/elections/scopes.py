"""Named search scopes elections contribute to 1:N search: ``election:CODE`` (everyone on
the roll) and ``station:CODE/STATION`` (one station's roll). Resolved as one SQL query;
a frozen roll never changes, so its template ids are cached by the gallery manager."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hawiya.elections.geography import get_election, get_station
from hawiya.errors import InvalidInput
from hawiya.registry.models import RollEntry


def _token(election) -> str | None:
    return f"{election.id}:{election.roll_digest}" if election.status == "frozen" else None


def election_scope(session: Session, code: str) -> tuple[Select, str | None]:
    election = get_election(session, code)
    return (select(RollEntry.person_db_id).where(RollEntry.election_id == election.id),
            _token(election))


def station_scope(session: Session, arg: str) -> tuple[Select, str | None]:
    code, sep, station_code = arg.partition("/")
    if not sep or not code or not station_code:
        raise InvalidInput("a station scope is station:ELECTION/STATION")
    election = get_election(session, code)
    station = get_station(session, station_code)
    return (select(RollEntry.person_db_id).where(RollEntry.election_id == election.id,
                                                 RollEntry.station_id == station.id),
            _token(election))


def station_scope_name(election_code: str, station_code: str) -> str:
    return f"station:{election_code}/{station_code}"


def election_scope_name(election_code: str) -> str:
    return f"election:{election_code}"


SCOPES = {"election": election_scope, "station": station_scope}

"""Offline polling stations: a signed, hash-chained local check-in log, synced later.

The station device gets a copy of its roll (``station_package``) and its private key (once,
at station registration). Disconnected, :class:`OfflineStation` refuses a second check-in of
the same voter locally and appends each check-in to a hash chain; ``export_log`` signs the
chain head with the station key. Centrally, ``sync_station_log`` checks the chain and the
signature (a tampered or forged log is rejected and reported as an anomaly), then records
each check-in through the same unique constraint as online check-ins, so a voter who also
checked in elsewhere is reported as a double check-in instead of counted twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from hawiya import audit
from hawiya.elections.checkin import record_check_in
from hawiya.elections.geography import get_election, get_station
from hawiya.errors import InvalidInput
from hawiya.registry.models import Anomaly, CheckIn, Person, RollEntry, Station

if TYPE_CHECKING:
    from hawiya.platform import Platform

GENESIS = "0" * 64
MAX_RECORDS = 100_000


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def record_hash(prev: str, record: dict) -> str:
    body = {k: record[k] for k in ("seq", "voter_number", "checked_at", "method", "clerk")}
    return hashlib.sha256(prev.encode() + _canonical(body)).hexdigest()


def signed_message(election: str, station: str, count: int, head: str) -> bytes:
    return f"hawiya-station-log|{election}|{station}|{count}|{head}".encode()


def station_package(platform: Platform, election_code: str, station_code: str) -> dict:
    """The roll copy a station takes offline (voter numbers, person ids, names)."""
    with platform.transaction() as session:
        election = get_election(session, election_code)
        station = get_station(session, station_code)
        rows = session.execute(select(RollEntry.voter_number, Person.person_id, Person.name)
                               .join(Person, Person.id == RollEntry.person_db_id)
                               .where(RollEntry.election_id == election.id,
                                      RollEntry.station_id == station.id)
                               .order_by(RollEntry.voter_number)).all()
        return {"election": election_code, "station": station_code,
                "roll_digest": election.roll_digest,
                "roll": [{"voter_number": v, "person_id": p, "name": n} for v, p, n in rows]}


class OfflineStation:
    """The station device's side while disconnected."""

    def __init__(self, package: dict, private_key_pem: str):
        self.election = package["election"]
        self.station = package["station"]
        self.roll = {r["voter_number"]: r for r in package["roll"]}
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), None)
        self.records: list[dict] = []
        self._checked: set[str] = set()

    def check_in(self, voter_number: str, clerk: str, method: str = "voter_number",
                 when: dt.datetime | None = None) -> dict:
        if voter_number not in self.roll:
            return {"outcome": "not_on_roll", "voter_number": voter_number}
        if voter_number in self._checked:
            return {"outcome": "already_checked_in", "voter_number": voter_number}
        prev = self.records[-1]["hash"] if self.records else GENESIS
        rec = {"seq": len(self.records) + 1, "voter_number": voter_number,
               "checked_at": (when or dt.datetime.now(dt.UTC)).isoformat(),
               "method": method, "clerk": clerk, "prev": prev}
        rec["hash"] = record_hash(prev, rec)
        self.records.append(rec)
        self._checked.add(voter_number)
        return {"outcome": "checked_in", "voter_number": voter_number, "seq": rec["seq"]}

    def export_log(self) -> dict:
        head = self.records[-1]["hash"] if self.records else GENESIS
        sig = self._key.sign(signed_message(self.election, self.station, len(self.records),
                                             head))
        return {"election": self.election, "station": self.station,
                "records": list(self.records), "head": head,
                "signature": base64.b64encode(sig).decode()}


def _check_log(log: dict, public_pem: str) -> str | None:
    """None when the chain and signature hold; otherwise what is wrong."""
    records = log.get("records")
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        return "records missing or too many"
    prev = GENESIS
    for i, rec in enumerate(records):
        try:
            if rec["seq"] != i + 1:
                return f"record {i + 1}: sequence gap"
            if rec["prev"] != prev or rec["hash"] != record_hash(prev, rec):
                return f"record {i + 1}: hash chain broken (edited, removed or reordered)"
        except (KeyError, TypeError):
            return f"record {i + 1}: malformed"
        prev = rec["hash"]
    if log.get("head") != prev:
        return "chain head does not match the records"
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        assert isinstance(key, Ed25519PublicKey)
        key.verify(base64.b64decode(log.get("signature") or "", validate=True),
                   signed_message(log["election"], log["station"], len(records), prev))
    except (InvalidSignature, ValueError, AssertionError):
        return "station signature invalid"
    return None


def sync_station_log(platform: Platform, log: dict, *, actor: str) -> dict:
    """Take a station's offline log: verify it, record its check-ins, report anomalies."""
    if not isinstance(log, dict) or not all(k in log for k in ("election", "station",
                                                               "records", "signature")):
        raise InvalidInput("a station log needs election, station, records, head, signature")
    with platform.transaction() as session:
        election = get_election(session, str(log["election"]))
        station = get_station(session, str(log["station"]))
        election_id, station_id, public_pem = election.id, station.id, station.public_key
    problem = _check_log(log, public_pem)
    if problem:
        with platform.transaction() as session:
            _add_anomalies(session, election_id, station.code, [
                {"kind": "log_tampered", "reason": problem, "head": str(log.get("head"))}])
            audit.append(session, actor, "election.sync_rejected", station.code,
                         {"election": election.code, "reason": problem})
        return {"accepted": False, "reason": problem, "recorded": 0, "anomalies": 1}
    recorded, already, anomalies = 0, 0, []
    for rec in log["records"]:
        with platform.transaction() as session:
            entry = session.scalar(select(RollEntry).where(
                RollEntry.election_id == election_id,
                RollEntry.voter_number == rec["voter_number"]))
            prior = entry and session.scalar(select(CheckIn).where(
                CheckIn.election_id == election_id, CheckIn.roll_entry_id == entry.id))
            person_id = session.get(Person, entry.person_db_id).person_id if entry else None
            prior_station = session.get(Station, prior.station_id).code if prior else None
        if entry is None or entry.station_id != station_id:
            anomalies.append({"kind": "not_on_station_roll", "voter_number": rec["voter_number"]})
            continue
        if prior is not None and prior.station_id == station_id and prior.offline:
            already += 1  # this log (or an earlier upload of it) was synced before
            continue
        res = record_check_in(platform, election_id, entry.id, station_id, election.code,
                              station.code, clerk=rec["clerk"], method=rec["method"],
                              score=None, voter_number=rec["voter_number"],
                              person_id=person_id, offline=True,
                              checked_at=dt.datetime.fromisoformat(rec["checked_at"]))
        if res.outcome == "checked_in":
            recorded += 1
        else:
            anomalies.append({"kind": "double_check_in", "voter_number": rec["voter_number"],
                              "first_station": prior_station or res.first_station,
                              "second_station": station.code})
    with platform.transaction() as session:
        _add_anomalies(session, election_id, station.code, anomalies)
        audit.append(session, actor, "election.sync", station.code,
                     {"election": election.code, "records": len(log["records"]),
                      "recorded": recorded, "anomalies": len(anomalies),
                      "head": log.get("head")})
    return {"accepted": True, "records": len(log["records"]), "recorded": recorded,
            "already_synced": already, "anomalies": anomalies}


def _add_anomalies(session, election_id: int, station_code: str, found: list[dict]) -> None:
    """Record anomalies once: re-syncing the same log reports them again, stores nothing."""
    known = [a.details for a in session.scalars(select(Anomaly).where(
        Anomaly.election_id == election_id, Anomaly.station_code == station_code))]
    for a in found:
        if a not in known:
            session.add(Anomaly(election_id=election_id, kind=a["kind"],
                                station_code=station_code, details=a))
            known.append(a)

"""Turnout by station, centre and district, and the election audit report."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from hawiya import audit
from hawiya.elections.geography import get_election
from hawiya.elections.roll import roll_digest
from hawiya.registry.models import (
    Anomaly,
    CheckIn,
    District,
    PollingCentre,
    RollEntry,
    Station,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform


def turnout(platform: Platform, code: str) -> dict:
    with platform.transaction() as session:
        election = get_election(session, code)
        roll = dict(session.execute(select(RollEntry.station_id, func.count(RollEntry.id))
                                    .where(RollEntry.election_id == election.id)
                                    .group_by(RollEntry.station_id)).all())
        voted = dict(session.execute(select(CheckIn.station_id, func.count(CheckIn.id))
                                     .where(CheckIn.election_id == election.id)
                                     .group_by(CheckIn.station_id)).all())
        places = session.execute(select(Station.id, Station.code, PollingCentre.code,
                                        District.code)
                                 .join(PollingCentre, PollingCentre.id == Station.centre_id)
                                 .join(District, District.id == PollingCentre.district_id)
                                 ).all()
    levels: dict[str, dict[str, dict]] = {"station": {}, "centre": {}, "district": {}}
    for sid, scode, ccode, dcode in places:
        for level, key in (("station", scode), ("centre", ccode), ("district", dcode)):
            agg = levels[level].setdefault(key, {"roll": 0, "checked_in": 0})
            agg["roll"] += roll.get(sid, 0)
            agg["checked_in"] += voted.get(sid, 0)
    for rows in levels.values():
        for agg in rows.values():
            agg["turnout"] = round(agg["checked_in"] / agg["roll"], 4) if agg["roll"] else 0.0
    total_roll, total_voted = sum(roll.values()), sum(voted.values())
    return {"election": code, "roll": total_roll, "checked_in": total_voted,
            "turnout": round(total_voted / total_roll, 4) if total_roll else 0.0, **levels}


def audit_report(platform: Platform, code: str) -> dict:
    """Roll digest (recomputed and signature checked), check-in log digest, anomalies and
    the audit chain: what an observer needs to audit the process."""
    with platform.transaction() as session:
        election = get_election(session, code)
        recomputed = roll_digest(session, election) if election.roll_digest else None
        sig_ok = (platform.verify_digest(election.roll_key_id,
                                         f"roll:{code}:{election.roll_digest}".encode(),
                                         election.roll_signature)
                  if election.roll_signature else False)
        h = hashlib.sha256()
        rows = session.execute(select(RollEntry.voter_number, Station.code, CheckIn.checked_at,
                                      CheckIn.offline)
                               .join(RollEntry, RollEntry.id == CheckIn.roll_entry_id)
                               .join(Station, Station.id == CheckIn.station_id)
                               .where(CheckIn.election_id == election.id)
                               .order_by(RollEntry.voter_number))
        count = 0
        for voter, station, at, offline in rows:
            count += 1
            h.update(f"{voter}|{station}|{at.isoformat()}|{int(bool(offline))}\n".encode())
        anomalies = [{"kind": a.kind, "station": a.station_code, "details": a.details,
                      "at": a.created_at.isoformat()}
                     for a in session.scalars(select(Anomaly).where(
                         Anomaly.election_id == election.id).order_by(Anomaly.id))]
        chain = audit.verify_chain(session)
    return {"election": code, "status": election.status,
            "roll": {"voters": election.roll_size, "digest": election.roll_digest,
                     "recomputed_digest": recomputed,
                     "unchanged_since_freeze": recomputed == election.roll_digest
                     if recomputed else False,
                     "signature_valid": bool(sig_ok), "key_id": election.roll_key_id},
            "check_ins": {"count": count, "digest": h.hexdigest()},
            "anomalies": anomalies, "audit_chain": chain}

"""Typed results of polling-station check-in (what the API, CLI and pages receive)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hawiya.identity.results import Result

Outcome = Literal["checked_in", "already_checked_in", "wrong_station", "not_on_roll",
                  "verification_failed", "not_identified"]


class CheckInResult(Result):
    """One check-in attempt's answer: ``outcome`` says what the clerk does next; the other
    fields are there when they apply."""

    outcome: Outcome
    election: str
    station: str
    method: str = Field(description="voter_number, qr or biometric_search")
    voter_number: str | None = None
    person_id: str | None = None
    name: str | None = Field(None, description="the voter's name, for the clerk to confirm")
    portrait: str | None = Field(None, description="enrolment portrait thumbnail "
                                                   "(data:image/jpeg;base64,...) to confirm "
                                                   "by eye")
    score: float | None = None
    threshold: float | None = None
    checked_at: str | None = None
    reason: str | None = None
    assigned_station: str | None = Field(None, description="where a wrong-station voter "
                                                          "is registered")
    first_station: str | None = Field(None, description="where an already checked-in voter "
                                                       "checked in")
    first_checked_at: str | None = None
    offline: bool = False

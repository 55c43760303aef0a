"""Checks on what an MRZ says, whoever issued the document: codes, dates and expiry.

These run on every document presented at a desk, Hawiya's or a foreign state's, because
they need no key and no registry: the issuing state and nationality must be ICAO 9303
codes, the dates must be possible for a living holder, and the document must not have
expired. Each check is a dict ``name``, ``status`` (pass/fail/skipped) and ``reason``.
"""

from __future__ import annotations

import datetime as dt

from hawiya.credentials.icao_codes import check_code

MAX_AGE_YEARS = 130


def check(name: str, ok: bool | None, reason: str) -> dict:
    return {"name": name, "status": "skipped" if ok is None else "pass" if ok else "fail",
            "reason": reason}


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def code_checks(fields: dict, own_state: str) -> list[dict]:
    out = []
    for name, key, role in (("issuing_state_known", "issuing_state", "issuer"),
                            ("nationality_known", "nationality", "nationality")):
        if not fields.get(key):
            out.append(check(name, None, f"no {key.replace('_', ' ')} read"))
            continue
        ok, reason = check_code(fields[key], role, own_state=own_state)
        out.append(check(name, ok, reason))
    return out


def date_checks(fields: dict, today: dt.date) -> list[dict]:
    """``dates_plausible`` and ``document_not_expired`` from the MRZ's dates."""
    birth, expiry = _date(fields.get("date_of_birth")), _date(fields.get("date_of_expiry"))
    problems = []
    if birth is not None:
        if birth > today:
            problems.append(f"date of birth {birth} is in the future")
        elif (today - birth).days > MAX_AGE_YEARS * 366:
            problems.append(f"date of birth {birth} means an age over {MAX_AGE_YEARS}")
    if birth is not None and expiry is not None and expiry <= birth:
        problems.append(f"expiry {expiry} is not after birth {birth}")
    plausible = check("dates_plausible", None if birth is None and expiry is None
                      else not problems, "; ".join(problems) or
                      f"born {birth or 'unknown'}, expires {expiry or 'unknown'}")
    if expiry is None:
        expired = check("document_not_expired", None, "no readable date of expiry")
    elif expiry < today:
        expired = check("document_not_expired", False, f"expired on {expiry}")
    else:
        expired = check("document_not_expired", True, f"valid until {expiry}")
    return [plausible, expired]

"""Crash durability: kill -9 `hawiya serve` under enrolment and check-in load, restart it,
and find every acknowledged write whole (benchmarks/crash_recovery.py does the work)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import YALE

_SPEC = importlib.util.spec_from_file_location(
    "crash_recovery", Path(__file__).resolve().parents[1] / "benchmarks" / "crash_recovery.py")
crash = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(crash)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_kill9_loses_no_acknowledged_write(db, request, tmp_path):
    if not (YALE / "subject01" / "subject01.normal.jpg").exists():
        pytest.skip("shared Yale face data not available")
    url = request.getfixturevalue("pg_database") if db == "postgresql" else None
    res = crash.run(tmp_path / "data", url, voters=200, stations=4, load_seconds=2.0,
                    subjects=15, workers=2)
    print(f"crash[{db}]: recovery {res['recovery_s']}s, "
          f"{res['acknowledged_enrolments']} enrolments + {res['acknowledged_checkins']} "
          f"check-ins acknowledged, {res['lost_acknowledged_writes']} lost, "
          f"{res['in_flight_errors']} in flight at the kill")
    # The crash happened under load with something to lose.
    assert res["acknowledged_enrolments"] >= 1 and res["acknowledged_checkins"] >= 1, res
    assert res["lost"] == [], res
    assert res["half_written"] == [], res
    assert res["audit_ok"], res["audit_output"]
    assert res["gallery_misses"] == [], res
    # Unacknowledged (in-flight) writes may land or not, but never partly: counted whole.
    assert res["enrolled_present"] >= res["acknowledged_enrolments"]
    assert res["checkins_present"] >= res["acknowledged_checkins"]

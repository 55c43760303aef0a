"""Voter-roll build time for large synthetic registries (SQLite or PostgreSQL).

    python benchmarks/roll_build.py --sizes 100000 1000000 --json

Registrants get random birth dates (some under age), statuses (a few pending adjudication or
merged) and districts (a few unknown), spread over 20 districts × 10 stations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from hawiya.app import build_platform
from hawiya.config import load_settings
from hawiya.elections import geography, roll
from hawiya.registry.models import Person

console = Console(stderr=True)


def one(size: int, db: str, pg_admin: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hawiya-roll-"))
    url, name = None, None
    if db == "postgresql":
        name = f"hawiya_roll_{uuid.uuid4().hex[:8]}"
        eng = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    p = build_platform(load_settings(tmp / "data", url))
    p.init()
    geography.create_election(p, "R", "Roll bench", "2026-12-01", actor="bench")
    for d in range(20):
        geography.add_district(p, f"D{d}", f"D{d}", actor="bench")
        geography.add_centre(p, f"C{d}", f"C{d}", f"D{d}", actor="bench")
        for s in range(10):
            geography.add_station(p, f"S{d}-{s}", "", f"C{d}", actor="bench")
    rng = random.Random(1)
    t0 = time.perf_counter()
    with p.transaction() as session:
        batch = []
        for i in range(size):
            batch.append({"person_id": f"P{i:015X}", "name": f"R{i}",
                          "date_of_birth": dt.date(1930 + rng.randrange(95), 1 + rng.randrange(12),
                                                   1 + rng.randrange(28)),
                          "district": f"D{rng.randrange(21)}",
                          "status": rng.choices(("active", "potential_duplicate", "merged"),
                                                (97, 2, 1))[0]})
            if len(batch) == 50_000:
                session.execute(insert(Person), batch)
                batch = []
        if batch:
            session.execute(insert(Person), batch)
    seed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = roll.build_roll(p, "R", actor="bench")
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    roll.freeze_roll(p, "R", actor="bench")
    freeze_s = time.perf_counter() - t0
    p.engine.dispose()
    if name:
        eng = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()
    return {"db": db, "registrants": size, "voters": res["voters"], "excluded": res["excluded"],
            "seed_s": round(seed_s, 1), "build_s": round(build_s, 1),
            "freeze_s": round(freeze_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-admin-url", default=os.environ.get(
        "HAWIYA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for size in args.sizes:
        r = one(size, args.db, args.pg_admin_url)
        console.print(r)
        results.append(r)
    if args.json:
        print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()

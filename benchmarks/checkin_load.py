"""Load test of polling-station check-in against the real API server on loopback.

Seeds a registry (synthetic voters; with --verify, face templates from the Yale images),
builds and freezes a roll over N stations, starts `hawiya serve` on 127.0.0.1, then drives
N concurrent simulated stations. A fraction of voters is deliberately re-submitted at the
same moment by a second desk of the same station and at another station; the report proves
that no voter got two check-ins.

    python benchmarks/checkin_load.py --db sqlite --stations 50 --json
    python benchmarks/checkin_load.py --db postgresql --stations 200 --verify --json

With --json the last line is one object with checkins_per_s, p50_ms, p99_ms,
attempted_duplicates, double_checkins (and more).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from sqlalchemy import create_engine, func, insert, select, text

from hawiya import auth
from hawiya.app import build_platform
from hawiya.config import load_settings
from hawiya.elections import geography, roll
from hawiya.identity.templates import template_context
from hawiya.platform import Platform
from hawiya.registry.models import BiometricTemplate, CheckIn, Person

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import free_port, make_pg_database  # noqa: E402

YALE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "face" / "yale"
console = Console(stderr=True)
PASSWORD = "bench-admin-password"


def seed(platform: Platform, stations: int, per_station: int, verify: bool) -> dict:
    """Registry + geography + frozen roll; returns voters per station and probe images."""
    geography.create_election(platform, "LOAD", "Load test", "2026-12-01", actor="bench")
    geography.add_district(platform, "D1", "District", actor="bench")
    geography.add_centre(platform, "C1", "Centre", "D1", actor="bench")
    for i in range(stations):
        geography.add_station(platform, f"S{i:03d}", f"S{i:03d}", "C1", actor="bench")
    n = stations * per_station
    faces = {}
    if verify:
        from hawiya.biometrics.face import get_face_engine
        from hawiya.imaging import load_image

        engine = get_face_engine()
        subjects = sorted(p.name for p in YALE.iterdir() if p.is_dir())
        for s in subjects:
            t = engine.extract(load_image(YALE / s / f"{s}.normal.jpg"))
            faces[s] = (t, (YALE / s / f"{s}.sad.jpg").read_bytes())
    with platform.transaction() as session:
        rows = [{"person_id": f"P{i:015X}", "name": f"Voter {i}",
                 "date_of_birth": dt.date(1980, 1, 1), "district": "D1", "status": "active"}
                for i in range(n)]
        for k in range(0, n, 20000):
            session.execute(insert(Person), rows[k:k + 20000])
        if verify:
            ids = session.execute(select(Person.id, Person.person_id).order_by(Person.id)).all()
            keys = sorted(faces)
            tpl_rows = []
            for j, (pk, pid) in enumerate(ids):
                t = faces[keys[j % len(keys)]][0]
                tpl_rows.append({"person_db_id": pk, "modality": "face", "position": "frontal",
                                 "algorithm": t.algorithm_id, "quality": t.quality,
                                 "encrypted": platform.cipher.encrypt(
                                     t.to_bytes(), template_context(pid, "face"))})
            session.execute(insert(BiometricTemplate), tpl_rows)
        auth.bootstrap_admin(session, PASSWORD)
    roll.build_roll(platform, "LOAD", actor="bench")
    roll.freeze_roll(platform, "LOAD", actor="bench")
    with platform.transaction() as session:
        entries = session.execute(text(
            "SELECT r.voter_number, s.code, p.id FROM roll_entries r JOIN stations s ON "
            "s.id = r.station_id JOIN persons p ON p.id = r.person_db_id ORDER BY p.id")).all()
    by_station: dict[str, list[tuple[str, bytes | None]]] = {}
    keys = sorted(faces)
    for j, (voter, station, _) in enumerate(entries):
        probe = faces[keys[j % len(keys)]][1] if verify else None
        by_station.setdefault(station, []).append((voter, probe))
    return by_station


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hawiya-load-"))
    db_url, pg_name = None, None
    if args.db == "postgresql":
        db_url, pg_name = make_pg_database(args.pg_admin_url, "hawiya_bench")
    settings = load_settings(tmp / "data", db_url)
    platform = build_platform(settings)
    platform.init()
    t0 = time.perf_counter()
    by_station = seed(platform, args.stations, args.voters_per_station, args.verify)
    seed_s = time.perf_counter() - t0
    port = free_port()
    env = dict(os.environ, HAWIYA_DATA_DIR=str(settings.data_dir))
    if db_url:
        env["HAWIYA_DATABASE_URL"] = db_url
    server = subprocess.Popen([sys.executable, "-m", "hawiya.cli", "serve", "--port",
                               str(port), "--workers", str(args.server_workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        token = httpx.post(base + "/auth/token", data={"username": "admin",
                                                      "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        stations = sorted(by_station)
        rng = random.Random(7)
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        successes: dict[str, int] = {}
        lock = threading.Lock()
        dup_count = 0
        deadline = time.perf_counter() + args.max_seconds

        def submit(client, station, voter, probe):
            data = {"station": station, "voter_number": voter}
            files = None
            if probe is not None:
                files = [("face", ("probe.jpg", probe, "image/jpeg"))]
            else:
                data["require_biometric"] = "false"
            t = time.perf_counter()
            r = client.post("/elections/LOAD/check-in", data=data, files=files)
            ms = 1000 * (time.perf_counter() - t)
            out = r.json().get("outcome", f"http_{r.status_code}")
            with lock:
                latencies.append(ms)
                outcomes[out] = outcomes.get(out, 0) + 1
                if out == "checked_in":
                    successes[voter] = successes.get(voter, 0) + 1

        def station_worker(i, station):
            nonlocal dup_count
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                for voter, probe in by_station[station]:
                    if time.perf_counter() > deadline:
                        return
                    if rng.random() < args.duplicates:
                        # The same voter at the same moment: a second desk of this station
                        # and another station.
                        other = stations[(i + 1) % len(stations)]
                        extra = [threading.Thread(target=submit, args=(
                            httpx.Client(base_url=base, headers=headers, timeout=120),
                            st, voter, probe)) for st in (station, other)]
                        with lock:
                            dup_count += 2
                        for t in extra:
                            t.start()
                        submit(client, station, voter, probe)
                        for t in extra:
                            t.join()
                    else:
                        submit(client, station, voter, probe)

        threads = [threading.Thread(target=station_worker, args=(i, s))
                   for i, s in enumerate(stations)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(10)
    with platform.transaction() as session:
        rows = session.scalar(select(func.count(CheckIn.id)))
        distinct = session.scalar(select(func.count(func.distinct(CheckIn.roll_entry_id))))
    platform.engine.dispose()
    if pg_name:
        eng = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        eng.dispose()
    lat = np.array(latencies)
    return {"db": args.db, "stations": args.stations, "verify": args.verify,
            "server_workers": args.server_workers,
            "requests": int(lat.size), "checked_in": outcomes.get("checked_in", 0),
            "outcomes": outcomes, "wall_s": round(wall, 2), "seed_s": round(seed_s, 2),
            "checkins_per_s": round(outcomes.get("checked_in", 0) / wall, 1),
            "requests_per_s": round(lat.size / wall, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "attempted_duplicates": dup_count,
            "double_checkins": int(sum(1 for v in successes.values() if v > 1)
                                   + (rows - distinct))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-admin-url", default=os.environ.get(
        "HAWIYA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--voters-per-station", type=int, default=20)
    ap.add_argument("--duplicates", type=float, default=0.1,
                    help="fraction of voters re-submitted concurrently")
    ap.add_argument("--verify", action="store_true", help="include face verification")
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--server-workers", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.verify and not YALE.exists():
        sys.exit("--verify needs ../shared/data/face/yale")
    res = run(args)
    if args.json:
        print(json.dumps(res))
    else:
        console.print_json(data=res)


if __name__ == "__main__":
    main()

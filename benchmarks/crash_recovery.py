"""Crash durability: kill -9 a loaded `hawiya serve`, restart it, check nothing acknowledged
was lost and nothing is half-written.

Seeds an election (district, centre, stations, synthetic voters, frozen roll), starts
`hawiya serve` on 127.0.0.1, drives enrolments (Yale faces, one per subject) and voter
check-ins concurrently, sends SIGKILL to the server mid-load, restarts it and checks:

- every acknowledged write (a 2xx received) is present: enrolled people, checked-in voters;
- nothing is half-written: every enrolled person has templates and a ``person.enroll``
  audit record, every check-in has its ``election.check_in`` audit record;
- ``hawiya audit verify`` passes;
- galleries agree with the registry: identifying each acknowledged enrollee with another
  image of them finds them.

    python benchmarks/crash_recovery.py --json
    python benchmarks/crash_recovery.py --db postgresql --load-seconds 5 --json

With --json the last line is one object with recovery_s (restart until the first successful
request), lost_acknowledged_writes (must be 0), half_written, audit_ok, gallery_misses, ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import free_port, make_pg_database  # noqa: E402

YALE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "face" / "yale"
PASSWORD = "crash-admin-password"
ELECTION = "CRASH"
SEEDED_PREFIX = "Seeded voter "


def drop_pg_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def _platform(data_dir: Path, db_url: str | None):
    from hawiya.app import build_platform
    from hawiya.config import load_settings

    return build_platform(load_settings(data_dir, db_url))


def seed(data_dir: Path, db_url: str | None, voters: int,
         stations: int) -> list[tuple[str, str]]:
    """Registry, geography, admin and a frozen roll; returns (voter number, station)."""
    from sqlalchemy import insert, select

    from hawiya import auth
    from hawiya.elections import geography, roll
    from hawiya.registry.models import Person, RollEntry, Station

    platform = _platform(data_dir, db_url)
    platform.init()
    geography.create_election(platform, ELECTION, "Crash test", "2026-12-01", actor="bench")
    geography.add_district(platform, "D1", "District", actor="bench")
    geography.add_centre(platform, "C1", "Centre", "D1", actor="bench")
    for i in range(stations):
        geography.add_station(platform, f"S{i}", f"Station {i}", "C1", actor="bench")
    with platform.transaction() as session:
        session.execute(insert(Person), [
            {"person_id": f"V{i:015X}", "name": f"{SEEDED_PREFIX}{i}",
             "date_of_birth": dt.date(1980, 1, 1), "district": "D1", "status": "active"}
            for i in range(voters)])
        auth.bootstrap_admin(session, PASSWORD)
    roll.build_roll(platform, ELECTION, actor="bench")
    roll.freeze_roll(platform, ELECTION, actor="bench")
    with platform.transaction() as session:
        numbers = [tuple(row) for row in session.execute(
            select(RollEntry.voter_number, Station.code)
            .join(Station, Station.id == RollEntry.station_id).order_by(RollEntry.id))]
    platform.engine.dispose()
    return numbers


class Server:
    """`hawiya serve` as a child process on a free loopback port."""

    def __init__(self, data_dir: Path, db_url: str | None, log: Path):
        self.data_dir, self.log = data_dir, log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, HAWIYA_ADMIN_PASSWORD=PASSWORD)
        self.env.pop("HAWIYA_DATABASE_URL", None)
        if db_url:
            self.env["HAWIYA_DATABASE_URL"] = db_url
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hawiya.cli", "serve", "--data-dir", str(self.data_dir),
             "--port", str(self.port)], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def wait_ready(self, timeout: float = 120) -> tuple[float, dict]:
        """Seconds until the first successful request (a login), and auth headers."""
        import httpx

        t0 = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("hawiya serve exited:\n" + self.log.read_text()[-3000:])
            try:
                r = httpx.post(self.base + "/auth/token", timeout=5,
                               data={"username": "admin", "password": PASSWORD})
                if r.status_code == 200:
                    return (time.perf_counter() - t0,
                            {"Authorization": f"Bearer {r.json()['access_token']}"})
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError("hawiya serve did not answer:\n" + self.log.read_text()[-3000:])
            time.sleep(0.02)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drive_load(server: Server, headers: dict, voters: list[tuple[str, str]],
               load_seconds: float, subjects: list[str], workers: int = 2) -> dict:
    """Concurrent enrolments and check-ins; SIGKILL the server mid-load. Returns what was
    acknowledged (a 2xx received) and what was still in flight."""
    import httpx

    acked_enrol: dict[str, str] = {}       # subject -> person_id
    acked_checkins: set[str] = set()       # voter numbers answered "checked_in"
    sent = {"enrol": 0, "checkin": 0, "errors": 0}
    lock = threading.Lock()
    killed = threading.Event()
    run_id = uuid.uuid4().hex[:8]

    def enroller(mine: list[str]) -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as c:
            for s in mine:
                if killed.is_set():
                    return
                data = {"name": f"Enrollee {s}", "reference_id": f"CR-{run_id}-{s}",
                        "request_id": f"cr-{run_id}-{s}"}
                files = [("face", (f"{s}.jpg", (YALE / s / f"{s}.normal.jpg").read_bytes(),
                                   "image/jpeg"))]
                with lock:
                    sent["enrol"] += 1
                try:
                    r = c.post("/persons", data=data, files=files)
                except httpx.HTTPError:
                    with lock:
                        sent["errors"] += 1
                    return
                if 200 <= r.status_code < 300:
                    with lock:
                        acked_enrol[s] = r.json()["person_id"]

    def clerk(mine: list[tuple[str, str]]) -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as c:
            for voter, station in mine:
                if killed.is_set():
                    return
                with lock:
                    sent["checkin"] += 1
                try:
                    r = c.post(f"/elections/{ELECTION}/check-in",
                               data={"station": station, "voter_number": voter,
                                     "require_biometric": "false"})
                except httpx.HTTPError:
                    with lock:
                        sent["errors"] += 1
                    return
                if 200 <= r.status_code < 300 and r.json().get("outcome") == "checked_in":
                    with lock:
                        acked_checkins.add(voter)

    threads = [threading.Thread(target=enroller, args=(subjects[k::workers],))
               for k in range(workers)]
    threads += [threading.Thread(target=clerk, args=(voters[k::workers],))
                for k in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    # Kill once the load has run its time and at least one enrolment was acknowledged
    # (a crash with nothing to lose proves little), or at 4x the time regardless.
    while True:
        time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        with lock:
            ready = bool(acked_enrol)
        if (elapsed >= load_seconds and ready) or elapsed >= 4 * load_seconds \
                or not any(t.is_alive() for t in threads):
            break
    server.kill9()
    killed.set()
    for t in threads:
        t.join(60)
    return {"acked_enrol": acked_enrol, "acked_checkins": acked_checkins, "sent": sent,
            "load_s": round(time.perf_counter() - t0, 2)}


def check(server: Server, headers: dict, db_url: str | None, load: dict) -> dict:
    """The durability checks after the restart."""
    import httpx
    from sqlalchemy import func, select

    from hawiya.registry.models import (
        AuditRecord,
        BiometricTemplate,
        CheckIn,
        Person,
        RollEntry,
    )

    platform = _platform(server.data_dir, db_url)
    try:
        with platform.transaction() as session:
            persons = {pid: (pk, name) for pk, pid, name in session.execute(
                select(Person.id, Person.person_id, Person.name))}
            tpl_count = dict(session.execute(
                select(BiometricTemplate.person_db_id, func.count(BiometricTemplate.id))
                .group_by(BiometricTemplate.person_db_id)).all())
            enroll_audited = set(session.scalars(
                select(AuditRecord.subject).where(AuditRecord.action == "person.enroll")))
            checked = set(session.scalars(
                select(RollEntry.voter_number)
                .join(CheckIn, CheckIn.roll_entry_id == RollEntry.id)))
            checkin_audited = {subject for subject, details in session.execute(
                select(AuditRecord.subject, AuditRecord.details)
                .where(AuditRecord.action == "election.check_in"))
                if json.loads(details).get("outcome") == "checked_in"}
    finally:
        platform.engine.dispose()

    lost = [f"person {pid}" for pid in load["acked_enrol"].values() if pid not in persons]
    lost += [f"check-in {v}" for v in load["acked_checkins"] if v not in checked]
    half = []
    for pid, (pk, name) in persons.items():
        if name.startswith(SEEDED_PREFIX):
            continue
        if not tpl_count.get(pk):
            half.append(f"person {pid} has no templates")
        if pid not in enroll_audited:
            half.append(f"person {pid} has no person.enroll audit record")
    half += [f"check-in {v} has no audit record" for v in checked - checkin_audited]

    env = dict(server.env)
    audit = subprocess.run([sys.executable, "-m", "hawiya.cli", "audit", "verify",
                            "--data-dir", str(server.data_dir), "--json"], env=env,
                           capture_output=True, text=True, timeout=300)
    audit_ok = audit.returncode == 0

    misses = []
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as c:
        for subject, pid in sorted(load["acked_enrol"].items()):
            img = (YALE / subject / f"{subject}.happy.jpg").read_bytes()
            # Searched among that one person: the check is that the recovered gallery holds
            # the template, and a search of N people needs evidence that a few Yale photos
            # cannot give once N passes 10 (the 1:N rule then decides nothing).
            r = c.post("/identify", data={"top": "3", "restrict_to": pid},
                       files=[("face", ("probe.jpg", img, "image/jpeg"))])
            found = r.status_code == 200 and any(
                cand["person_id"] == pid for cand in r.json().get("candidates", []))
            if not found:
                misses.append(f"{subject} ({pid}): HTTP {r.status_code} {r.text[:200]}")
    enrolled_after = sum(1 for _, name in persons.values() if not name.startswith(SEEDED_PREFIX))
    return {"lost": lost, "half_written": half, "audit_ok": audit_ok,
            "audit_output": (audit.stdout + audit.stderr)[-500:], "gallery_misses": misses,
            "enrolled_present": enrolled_after, "checkins_present": len(checked)}


def run(data_dir: Path, db_url: str | None = None, *, voters: int = 400, stations: int = 4,
        load_seconds: float = 3.0, subjects: int = 15, workers: int = 2) -> dict:
    names = sorted(p.name for p in YALE.iterdir() if p.is_dir())[:subjects]
    t0 = time.perf_counter()
    numbers = seed(data_dir, db_url, voters, stations)
    seed_s = time.perf_counter() - t0
    server = Server(data_dir, db_url, data_dir.parent / "server.log")
    try:
        server.start()
        start_s, headers = server.wait_ready()
        load = drive_load(server, headers, numbers, load_seconds, names, workers)
        server.start()                      # same data dir, same port
        recovery_s, headers = server.wait_ready()
        res = check(server, headers, db_url, load)
    finally:
        server.stop()
    return {"db": "postgresql" if db_url else "sqlite", "seed_s": round(seed_s, 2),
            "cold_start_s": round(start_s, 2), "load_s": load["load_s"],
            "recovery_s": round(recovery_s, 3),
            "requests_sent": load["sent"], "in_flight_errors": load["sent"]["errors"],
            "acknowledged_enrolments": len(load["acked_enrol"]),
            "acknowledged_checkins": len(load["acked_checkins"]),
            "enrolled_present": res["enrolled_present"],
            "checkins_present": res["checkins_present"],
            "lost_acknowledged_writes": len(res["lost"]), "lost": res["lost"],
            "half_written": res["half_written"], "audit_ok": res["audit_ok"],
            "audit_output": res["audit_output"],
            "gallery_misses": res["gallery_misses"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-admin-url", default=os.environ.get(
        "HAWIYA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--voters", type=int, default=400)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--subjects", type=int, default=15, help="Yale subjects to enrol")
    ap.add_argument("--load-seconds", type=float, default=3.0,
                    help="load before the SIGKILL")
    ap.add_argument("--workers", type=int, default=2,
                    help="concurrent enrolment clients, and as many check-in clients")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not YALE.exists():
        sys.exit("needs ../shared/data/face/yale")
    tmp = Path(tempfile.mkdtemp(prefix="hawiya-crash-"))
    db_url, pg_name = (make_pg_database(args.pg_admin_url, "hawiya_crash")
                       if args.db == "postgresql" else (None, None))
    try:
        res = run(tmp / "data", db_url, voters=args.voters, stations=args.stations,
                  load_seconds=args.load_seconds, subjects=args.subjects,
                  workers=args.workers)
    finally:
        if pg_name:
            drop_pg_database(args.pg_admin_url, pg_name)
    if args.json:
        print(json.dumps(res))
    else:
        from rich.console import Console

        Console().print_json(data=res)
    if res["lost_acknowledged_writes"] or res["half_written"] or not res["audit_ok"] \
            or res["gallery_misses"]:
        sys.exit(1)


if __name__ == "__main__":
    main()

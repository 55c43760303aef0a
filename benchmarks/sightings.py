"""Plate sightings: ingestion rate through ``record_sighting`` and cloned-plate detection over
a million sightings.

* ingest: sightings per second through :func:`hawiya.vehicles.sightings.record_sighting`
  (one transaction each: the sighting, every alert rule, the alerts it raises) on a fresh
  SQLite registry (or ``--database-url``) with 50 cameras, 5,000 registered vehicles and a
  hotlist; 95 % of the plates read are registered, with the right colour, the rest raise
  alerts (unregistered, hotlisted, wrong colour), as a camera stream would;
* clone scan: :func:`hawiya.vehicles.journeys.impossible_journeys` over ``--scan-n``
  synthetic sightings (100,000 plates in 20 cities, honest cars moving at plausible speeds,
  ``--clones`` plates also carried by a second car in another city): seconds, pairs
  found, and cloned plates found out of those injected.

    python benchmarks/sightings.py
    python benchmarks/sightings.py --quick --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform as host
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.app import build_platform  # noqa: E402
from hawiya.config import load_settings  # noqa: E402
from hawiya.registry.models import Vehicle  # noqa: E402
from hawiya.vehicles import hotlist, journeys, sightings  # noqa: E402

# Libyan cities (lat, lon): where the synthetic cameras and cars are.
CITIES = np.array([
    (32.887, 13.191), (32.117, 20.068), (32.375, 15.092), (31.206, 16.588), (27.038, 14.426),
    (32.758, 12.727), (32.651, 14.264), (32.754, 22.638), (32.533, 15.0), (30.757, 20.226),
    (32.647, 13.934), (32.179, 13.02), (32.083, 23.976), (31.866, 10.983), (26.588, 12.776),
    (32.063, 12.526), (32.502, 21.405), (29.03, 21.55), (24.963, 10.181), (32.928, 12.07)])
COLOURS = ("white", "silver", "black", "red", "blue")


def _bar(label: str, quiet: bool) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), disable=quiet,
                    transient=True)


def _vins(n: int) -> list[str]:
    from hawiya.vehicles import vin

    out = []
    for i in range(n):
        base = f"1HGCM8263{i % 10}A{i:06d}"
        out.append(base[:8] + vin.check_digit(base) + base[9:])
    return out


def setup(p, vehicles: int) -> list[tuple[str, str]]:
    """Cameras, registered vehicles (written directly: the registry is not what is
    measured) and a hotlist; the (plate, colour) of each vehicle."""
    rng = np.random.default_rng(1)
    for i in range(50):
        lat, lon = CITIES[i % len(CITIES)] + rng.uniform(-0.05, 0.05, 2)
        sightings.add_camera(p, camera_id=f"CAM-{i:03d}", name=f"camera {i}",
                             latitude=float(lat), longitude=float(lon), actor="bench")
    cars = [(f"{1 + i % 9}{i:06d}", COLOURS[i % len(COLOURS)]) for i in range(vehicles)]
    with p.transaction() as s:
        s.add_all(Vehicle(vin=v, wmi=v[:3], make="Toyota", model="Corolla", colour=colour,
                          vehicle_class="M1", owner_organisation="Fleet", plate=plate,
                          plate_country="LY", status="registered", registered_by="bench")
                  for v, (plate, colour) in zip(_vins(vehicles), cars, strict=True))
    rows = "\n".join(f"{cars[i][0]},LY,stolen" for i in range(0, vehicles, 100))
    hotlist.import_csv(p, "plate,country,reason\n" + rows, source="bench", actor="bench")
    return cars


def ingest(n: int, database_url: str | None, quiet: bool) -> dict:
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as tmp:
        p = build_platform(load_settings(Path(tmp) / "data", database_url))
        p.init()
        cars = setup(p, 5000)
        start_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
        picks = rng.integers(0, len(cars), n)
        odd = rng.random(n)
        alerts = 0
        with _bar("ingesting", quiet) as bar:
            task = bar.add_task("ingest", total=n)
            start = time.perf_counter()
            for i in range(n):
                plate, colour = cars[picks[i]]
                if odd[i] < 0.03:
                    plate = f"99{i % 100_000:05d}"       # unregistered
                elif odd[i] < 0.05:
                    colour = "green"                     # wrong colour
                res = sightings.record_sighting(
                    p, camera_id=f"CAM-{rng.integers(0, 50):03d}", plate=plate,
                    seen_at=start_at + dt.timedelta(seconds=20 * i), confidence=0.9,
                    observed_colour=colour, actor="bench")
                alerts += len(res["alerts"])
                bar.advance(task)
            seconds = time.perf_counter() - start
        p.engine.dispose()
    return {"sightings": n, "seconds": round(seconds, 3), "per_second": round(n / seconds, 1),
            "alerts": alerts, "database": (database_url or "sqlite").split(":")[0]}


def synthetic(n: int, plates: int, clones: int, seed: int = 3) -> dict:
    """``n`` sightings of ``plates`` plates; honest cars stay within a few km of their city
    with at least five minutes between sightings; each cloned plate's every other sighting
    is in a far city."""
    rng = np.random.default_rng(seed)
    per = n // plates
    plate = np.repeat(np.arange(plates), per)
    gaps = 300 + rng.exponential(3600, (plates, per))
    times = np.cumsum(gaps, axis=1).ravel()
    city = np.repeat(rng.integers(0, len(CITIES), plates), per)
    lat = CITIES[city, 0] + rng.uniform(-0.02, 0.02, plate.size)
    lon = CITIES[city, 1] + rng.uniform(-0.02, 0.02, plate.size)
    cloned = rng.choice(plates, clones, replace=False)
    twin = np.isin(plate, cloned) & (np.arange(plate.size) % 2 == 1)
    apart = journeys.haversine_km(CITIES[:, None, 0], CITIES[:, None, 1], CITIES[None, :, 0],
                                  CITIES[None, :, 1])
    far = apart.argmax(axis=1)[city[twin]]               # the farthest city from home
    lat[twin], lon[twin] = CITIES[far, 0], CITIES[far, 1]
    order = rng.permutation(plate.size)                   # arrival order is not time order
    return {"plates": plate[order], "lat": lat[order], "lon": lon[order],
            "times": times[order], "cloned": cloned}


def clone_scan(n: int, clones: int, repeat: int) -> dict:
    data = synthetic(n, max(1, n // 10), clones)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        found = journeys.impossible_journeys(data["plates"], data["lat"], data["lon"],
                                             data["times"], journeys.MAX_SPEED_KMH)
        best = min(best, time.perf_counter() - start)
    flagged = np.unique(data["plates"][found["first"]])
    return {"sightings": int(data["plates"].size), "plates": int(n // 10),
            "seconds": round(best, 3), "pairs": int(found["first"].size),
            "clones_injected": clones,
            "clones_found": int(np.isin(data["cloned"], flagged).sum()),
            "honest_plates_flagged": int((~np.isin(flagged, data["cloned"])).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sightings to ingest")
    parser.add_argument("--scan-n", type=int, default=1_000_000,
                        help="synthetic sightings for the clone scan")
    parser.add_argument("--clones", type=int, default=500, help="cloned plates injected")
    parser.add_argument("--repeat", type=int, default=3, help="clone scans (best kept)")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--quick", action="store_true", help="200 ingested, 100,000 scanned")
    parser.add_argument("--json", action="store_true", help="one JSON object as last line")
    args = parser.parse_args()
    if args.quick:
        args.n, args.scan_n, args.clones, args.repeat = 200, 100_000, 50, 1

    results = {"python": host.python_version(), "machine": host.machine(),
               "ingest": ingest(args.n, args.database_url, args.json),
               "clone_scan": clone_scan(args.scan_n, args.clones, args.repeat)}
    if args.json:
        print(json.dumps(results))
        return
    i, c = results["ingest"], results["clone_scan"]
    print(f"ingest ({i['database']}): {i['sightings']} sightings in {i['seconds']} s = "
          f"{i['per_second']} sightings/s ({i['alerts']} alerts)")
    print(f"clone scan: {c['sightings']:,} sightings of {c['plates']:,} plates in "
          f"{c['seconds']} s: {c['pairs']} impossible pairs, {c['clones_found']}/"
          f"{c['clones_injected']} cloned plates found, {c['honest_plates_flagged']} honest "
          "plates flagged")


if __name__ == "__main__":
    main()

"""Impossible journeys: two sightings of one plate whose distance and times imply a speed no
car reaches, the sign of a cloned plate (two cars carrying the same number).

Pure functions over arrays, so the same rule serves one new sighting (against its previous
and next sighting) and a re-check of millions (:func:`impossible_journeys`, vectorised).
Only consecutive sightings of a plate in time are compared: if every consecutive leg is
plausible, so is any longer one (the triangle inequality), so checking neighbours finds every
plate that has an impossible pair.

Two tolerances keep honest cars out: cameras closer than :data:`MIN_DISTANCE_KM` are "the
same place" (a junction with two cameras, GPS error), and :data:`CLOCK_TOLERANCE_S` of clock
disagreement between cameras is allowed before a speed counts as impossible.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088   # mean Earth radius (IUGG)
MAX_SPEED_KMH = 250.0         # to move to config: vehicles.max_speed_kmh
MIN_DISTANCE_KM = 1.0         # closer cameras are one place: never an impossible journey
CLOCK_TOLERANCE_S = 30.0      # camera clocks may disagree by this much


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def is_impossible(km, seconds, max_kmh: float = MAX_SPEED_KMH, *,
                  min_km: float = MIN_DISTANCE_KM,
                  tolerance_s: float = CLOCK_TOLERANCE_S) -> np.ndarray:
    """Whether covering ``km`` in ``seconds`` (either sign) needs more than ``max_kmh``,
    after the tolerances (arrays broadcast)."""
    km, seconds = np.asarray(km, dtype=float), np.abs(np.asarray(seconds, dtype=float))
    return (km >= min_km) & (km * 3600.0 > max_kmh * (seconds + tolerance_s))


def speed_kmh(km: float, seconds: float) -> float:
    """The implied speed (infinite for two places at the same instant)."""
    return float("inf") if seconds == 0 else km * 3600.0 / abs(seconds)


def impossible_journeys(plates, lat, lon, times, max_kmh: float = MAX_SPEED_KMH, *,
                        min_km: float = MIN_DISTANCE_KM,
                        tolerance_s: float = CLOCK_TOLERANCE_S) -> dict[str, np.ndarray]:
    """Every consecutive pair (in time) of sightings of one plate that is impossible.

    ``plates``: one key per sighting (integer codes, or strings, factorised here);
    ``lat``/``lon`` in degrees; ``times`` in seconds (any epoch). Returns arrays ``first``
    and ``second`` (indices into the inputs, ``first`` the earlier), ``km`` and
    ``seconds`` (the time between them, >= 0). Sorting is stable, so ties in time keep the
    input order. O(n log n)."""
    plates = np.asarray(plates)
    if plates.dtype.kind not in "iub":
        plates = np.unique(plates, return_inverse=True)[1]
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    times = np.asarray(times, dtype=float)
    order = np.lexsort((times, plates))
    a, b = order[:-1], order[1:]
    same = plates[a] == plates[b]
    a, b = a[same], b[same]
    km = haversine_km(lat[a], lon[a], lat[b], lon[b])
    seconds = times[b] - times[a]
    bad = is_impossible(km, seconds, max_kmh, min_km=min_km, tolerance_s=tolerance_s)
    return {"first": a[bad], "second": b[bad], "km": km[bad], "seconds": seconds[bad]}

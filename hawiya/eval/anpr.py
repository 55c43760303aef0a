"""Plate recognition accuracy on labelled car photos (``hawiya eval anpr``).

The manifest is a CSV with columns ``path,plate`` and optionally ``x,y,w,h`` (the plate's
box in pixels): the image (relative to the CSV) and its plate text. The protocol is the one
the shared plate set fixes: texts are compared normalised (upper case, no spaces, dashes or
dots); per image the *best* plate is the one whose box overlaps the truth box when boxes are
given (the most confident of those), else the most confident plate read.

* ``exact``: the best plate's text is the truth;
* ``top5``: the truth is among the best plate's candidates (up to five);
* ``found``: a plate was reported overlapping the truth box (any plate when no box);
* ``ms_per_image``: wall time per image, decoding included, after one warm-up read (the
  models load once per process, which is not a per-image cost).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hawiya.errors import HawiyaError, InvalidInput

Reader = Callable[..., dict[str, Any]]
OVERLAP = 0.5       # intersection over the smaller box for a read plate to "be" the truth's


def load_plate_manifest(path: str | Path) -> list[tuple[Path, str, list[int] | None]]:
    """(image, normalised plate, box or None) per row of a ``path,plate[,x,y,w,h]`` CSV;
    missing images are an error."""
    from hawiya.vehicles.plate_formats import normalise

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such manifest: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or [])
        if not {"path", "plate"} <= fields:
            raise InvalidInput(f"{path}: the manifest needs the columns path,plate")
        with_box = {"x", "y", "w", "h"} <= fields
        rows = []
        for r in reader:
            if not r.get("path"):
                continue
            box = None
            if with_box and all((r.get(k) or "").strip() for k in "xywh"):
                try:
                    box = [int(float(r[k])) for k in "xywh"]
                except ValueError:
                    raise InvalidInput(f"{path}: bad box for {r['path']}") from None
            rows.append((path.parent / r["path"], normalise(r.get("plate") or ""), box))
    missing = [str(p) for p, _, _ in rows if not p.is_file()]
    if missing:
        raise InvalidInput(f"{len(missing)} image(s) listed in {path} do not exist: "
                           + ", ".join(missing[:5]), missing=missing[:100])
    if not rows:
        raise InvalidInput(f"{path}: the manifest lists no images")
    return rows


def overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection of two [x, y, w, h] boxes over the smaller one's area."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    small = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / small if small > 0 else 0.0


def _best(plates: list[dict], box: list[int] | None) -> dict | None:
    if box is not None:
        plates = [p for p in plates if overlap(p["box"], box) >= OVERLAP]
    return max(plates, key=lambda p: p["confidence"], default=None)


def evaluate(samples: Sequence[tuple[Path, str, list[int] | None]], *,
             reader: Reader | None = None, country: str | None = None, top: int = 5,
             step: Callable[[], None] | None = None) -> dict[str, Any]:
    """Read every image and score it against its truth (see the module docstring)."""
    from hawiya.vehicles.plate_formats import normalise

    if reader is None:
        from hawiya.vehicles.anpr import read_plates as reader
    if samples:                     # warm-up: load the models outside the timing
        try:
            reader(samples[0][0], country=country, top=top)
        except HawiyaError:
            pass
    per_image: list[dict[str, Any]] = []
    elapsed = 0.0
    for path, truth, box in samples:
        start = time.perf_counter()
        error = None
        try:
            plates = list(reader(path, country=country, top=top).get("plates") or [])
        except HawiyaError as exc:
            plates, error = [], str(exc)
        elapsed += time.perf_counter() - start
        best = _best(plates, box)
        cands = [normalise(c["text"]) for c in best["candidates"]] if best else []
        row = {"path": str(path), "truth": truth,
               "read": best["text"] if best else None,
               "confidence": best["confidence"] if best else None,
               "found": best is not None,
               "exact": best is not None and normalise(best["text"]) == truth,
               "top5": truth in cands[:5] or (best is not None
                                              and normalise(best["text"]) == truth),
               "candidates": cands, "plates": len(plates)}
        if error:
            row["error"] = error
        per_image.append(row)
        if step is not None:
            step()
    n = len(per_image)

    def rate(k: str) -> float:
        return round(sum(r[k] for r in per_image) / n, 4) if n else 0.0

    return {
        "n": n,
        "exact": sum(r["exact"] for r in per_image),
        "top5": sum(r["top5"] for r in per_image),
        "found": sum(r["found"] for r in per_image),
        "exact_rate": rate("exact"),
        "top5_rate": rate("top5"),
        "found_rate": rate("found"),
        "ms_per_image": round(1000 * elapsed / n, 1) if n else 0.0,
        "country": country,
        "per_image": per_image,
    }

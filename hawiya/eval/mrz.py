"""MRZ reading accuracy on labelled document images (``hawiya eval mrz``).

The manifest is a CSV with columns ``path,mrz``: the image (relative to the CSV) and its MRZ
lines joined by a literal backslash-n. The protocol is the one the data set's manifest fixes:
an *exact* read has every character of every line right; a *silent misread* passes every
check digit (``valid``) yet differs from the truth, the failure a caller cannot see, so it is
counted apart; character accuracy is edit-distance based over the joined lines, a missing
read counting as all wrong.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hawiya.errors import HawiyaError, InvalidInput

Reader = Callable[..., dict[str, Any]]


def load_mrz_manifest(path: str | Path) -> list[tuple[Path, list[str]]]:
    """(image path, truth lines) per row of a ``path,mrz`` CSV; missing files are an error."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such manifest: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"path", "mrz"} <= set(reader.fieldnames):
            raise InvalidInput(f"{path}: the manifest needs the columns path,mrz")
        rows = [(path.parent / r["path"], r["mrz"].replace("\\n", "\n").split("\n"))
                for r in reader if r.get("path")]
    missing = [str(p) for p, _ in rows if not p.is_file()]
    if missing:
        raise InvalidInput(f"{len(missing)} image(s) listed in {path} do not exist: "
                           + ", ".join(missing[:5]), missing=missing[:100])
    if not rows:
        raise InvalidInput(f"{path}: the manifest lists no images")
    return rows


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of ``a``."""
    if not a or not b:
        return max(len(a), len(b))
    bs = np.frombuffer(b.encode("latin-1", "replace"), np.uint8)
    row = np.arange(len(b) + 1)
    for i, ch in enumerate(a.encode("latin-1", "replace"), start=1):
        # substitution/deletion in one vector step; insertion is a running minimum
        sub = row[:-1] + (bs != ch)
        new = np.empty_like(row)
        new[0] = i
        new[1:] = np.minimum(sub, row[1:] + 1)
        new = np.minimum.accumulate(new - np.arange(len(row))) + np.arange(len(row))
        row = new
    return int(row[-1])


def evaluate(samples: Sequence[tuple[Path, list[str]]], *, reader: Reader | None = None,
             today: Any = None, step: Callable[[], None] | None = None) -> dict[str, Any]:
    """Read every image and score it against its truth (see the module docstring)."""
    if reader is None:
        from hawiya.credentials.mrz_ocr import read_mrz as reader
    per_image: list[dict[str, Any]] = []
    errors_total = chars_total = 0
    elapsed = 0.0
    for path, truth in samples:
        start = time.perf_counter()
        try:
            res = reader(path, today=today)
        except HawiyaError as exc:
            res = {"found": False, "valid": False, "lines": [],
                   "errors": [{"field": "image", "reason": str(exc)}]}
        elapsed += time.perf_counter() - start
        lines = list(res.get("lines") or [])
        joined, truth_joined = "\n".join(lines), "\n".join(truth)
        exact = lines == truth
        chars_total += len(truth_joined)
        errors_total += (min(len(truth_joined), edit_distance(joined, truth_joined))
                         if res.get("found") else len(truth_joined))
        per_image.append({"path": str(path), "truth": truth, "read": lines,
                          "found": bool(res.get("found")), "exact": exact,
                          "valid": bool(res.get("valid")), "errors": res.get("errors", []),
                          "repaired": res.get("repaired", [])})
        if step is not None:
            step()
    n = len(per_image)
    exact_n = sum(r["exact"] for r in per_image)
    return {
        "n": n,
        "exact": exact_n,
        "exact_rate": round(exact_n / n, 4) if n else 0.0,
        "found": sum(r["found"] for r in per_image),
        "valid": sum(r["valid"] for r in per_image),
        "silent_misreads": sum(r["valid"] and not r["exact"] for r in per_image),
        "character_accuracy": round(1.0 - errors_total / chars_total, 4) if chars_total else 0.0,
        "ms_per_image": round(1000 * elapsed / n, 1) if n else 0.0,
        "per_image": per_image,
    }

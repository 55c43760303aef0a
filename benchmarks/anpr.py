"""Plate recognition (ANPR) speed and accuracy over a labelled set of car photos.

Usage::

    python benchmarks/anpr.py [--manifest CSV] [--country CC] [--limit N]
                              [--workers N] [--json]

The manifest defaults to the shared plate photos (``../shared/data/plates/plates_br.csv``
next to the repo; columns ``path,plate[,x,y,w,h]``). Prints:

* accuracy with the protocol of ``hawiya eval anpr`` (exact, top-5, found);
* single-image latency, file to plates (decoding included, one image at a time, models
  already loaded): mean, median and p95 ms, and the time in detection alone;
* throughput with ``--workers`` threads reading images concurrently (onnxruntime releases
  the GIL; each session also uses ``HAWIYA_OCR_THREADS`` intra-op threads).

``--json`` prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hawiya import ocr  # noqa: E402
from hawiya.eval.anpr import evaluate, load_plate_manifest  # noqa: E402
from hawiya.imaging import load_image  # noqa: E402
from hawiya.vehicles import anpr  # noqa: E402

DEFAULT_MANIFEST = REPO.parent / "shared" / "data" / "plates" / "plates_br.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                        help="CSV with columns path,plate[,x,y,w,h]")
    parser.add_argument("--country", default=None, help="plate formats of this country "
                                                        "(default: the generic rule)")
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--workers", type=int, default=2, help="threads for throughput")
    parser.add_argument("--json", action="store_true", help="one JSON object as last line")
    args = parser.parse_args()
    if not args.manifest.is_file():
        sys.exit(f"no manifest {args.manifest} (the shared plate photos are in "
                 "../shared/data/plates next to the repo)")

    samples = load_plate_manifest(args.manifest)
    if args.limit:
        samples = samples[:args.limit]
    paths = [p for p, _, _ in samples]

    acc = evaluate(samples, country=args.country)
    latency = [r["ms"] for r in (anpr.read_plates(p, country=args.country) for p in paths)]
    images = [load_image(p) for p in paths]
    det = []
    for img in images:
        t = time.perf_counter()
        ocr.detect_text(img, side=anpr.DET_SIDE, box_thresh=anpr.BOX_THRESH)
        det.append(1000 * (time.perf_counter() - t))
    t = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        list(pool.map(lambda p: anpr.read_plates(p, country=args.country), paths))
    wall = time.perf_counter() - t

    lat_sorted = sorted(latency)
    res = {
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "ocr_threads": ocr.threads(), "images": len(paths),
        "country": args.country, "det_side": anpr.DET_SIDE,
        "exact": acc["exact"], "top5": acc["top5"], "found": acc["found"], "n": acc["n"],
        "exact_rate": acc["exact_rate"], "top5_rate": acc["top5_rate"],
        "found_rate": acc["found_rate"],
        "ms_per_image": round(statistics.fmean(latency), 1),
        "ms_median": round(statistics.median(latency), 1),
        "ms_p95": round(lat_sorted[min(len(lat_sorted) - 1, int(0.95 * len(lat_sorted)))], 1),
        "detect_ms": round(statistics.fmean(det), 1),
        "workers": args.workers,
        "images_per_second": round(len(paths) / wall, 2),
    }
    if args.json:
        print(json.dumps(res))
        return
    print(f"{res['images']} images ({args.manifest.name}), {res['cpus']} CPUs, "
          f"{res['ocr_threads']} OCR threads")
    print(f"exact {res['exact']}/{res['n']} ({100 * res['exact_rate']:.1f}%), top-5 "
          f"{res['top5']} ({100 * res['top5_rate']:.1f}%), found {res['found']} "
          f"({100 * res['found_rate']:.1f}%)")
    print(f"latency: mean {res['ms_per_image']} ms, median {res['ms_median']} ms, "
          f"p95 {res['ms_p95']} ms (detection alone {res['detect_ms']} ms at "
          f"{res['det_side']} px)")
    print(f"throughput: {res['images_per_second']} images/s with {res['workers']} workers")


if __name__ == "__main__":
    main()

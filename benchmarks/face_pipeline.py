"""Face pipeline speed: detection, embedding, single-image latency and batch throughput.

Usage::

    python benchmarks/face_pipeline.py [IMAGE_DIR] [--detector hog|cnn] [--flip]
                                       [--workers N] [--limit N] [--json]

IMAGE_DIR defaults to the shared Yale faces (``../shared/data/face/yale`` next to the repo);
every image below it is used (decoded once, before any timing). Prints, per face:

* detection ms (the detection cascade alone, one process),
* embedding ms (exposure normalisation + ResNet on the aligned chip, one process),
* single-image latency (``extract`` on one image, one process: median and p95),
* batch throughput (``extract_batch`` over all images with the worker pool already
  started, the way a long enrolment run sees it): ms/face and faces/s, with the worker count.

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hawiya.biometrics.face import FaceConfig, FaceEngine  # noqa: E402
from hawiya.biometrics.face_detect import DetectConfig  # noqa: E402
from hawiya.biometrics.template import Template  # noqa: E402
from hawiya.biometrics.workers import default_workers  # noqa: E402
from hawiya.imaging import load_image  # noqa: E402

DEFAULT_DIR = REPO.parent / "shared" / "data" / "face" / "yale"
EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif"}


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=True)


def _timed(fn, items, label: str, show: bool) -> tuple[list, list[float]]:
    out, times = [], []
    with _progress(show) as bar:
        task = bar.add_task(label, total=len(items))
        for it in items:
            t = time.perf_counter()
            out.append(fn(it))
            times.append(time.perf_counter() - t)
            bar.advance(task)
    return out, times


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image_dir", nargs="?", default=str(DEFAULT_DIR))
    ap.add_argument("--detector", choices=("hog", "cnn"), default="hog")
    ap.add_argument("--flip", action="store_true", help="mirrored-chip averaging (2x embedding)")
    ap.add_argument("--workers", type=int, default=None, help="batch workers (default: cores)")
    ap.add_argument("--limit", type=int, default=0, help="use at most N images")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    show = sys.stderr.isatty()

    paths = sorted(p for p in Path(args.image_dir).rglob("*") if p.suffix.lower() in EXTS)
    if args.limit:
        paths = paths[: args.limit]
    if not paths:
        raise SystemExit(f"no images under {args.image_dir}")
    images = [load_image(p) for p in paths]
    workers = args.workers or default_workers()

    engine = FaceEngine(FaceConfig(detect=DetectConfig(detector=args.detector), flip=args.flip))
    engine.extract_batch(images[:2], workers=1)  # warm caches

    # stages, one process
    def detect(img):
        from hawiya.biometrics.face import as_rgb
        rgb, gray = as_rgb(img)
        return engine._detector.detect(rgb, gray)

    _, det_t = _timed(detect, images, "detection", show)
    analyses = [engine.analyse(img) for img in images]
    chips = [a.chip for a in analyses if a.chip is not None and a.report.ok]
    _, emb_t = _timed(engine.embed_chip, chips, "embedding", show)
    results, lat_t = _timed(engine._extract_safe, [*images], "single-image extract", show)
    n_ok = sum(isinstance(r, Template) for r in results)

    # batch throughput, pool warm (started and models loaded before timing)
    engine.extract_batch(images[: max(8, 2 * workers)], workers=workers)
    t = time.perf_counter()
    batch = engine.extract_batch(images, workers=workers)
    batch_s = time.perf_counter() - t
    engine.close()
    assert len(batch) == len(images)

    ms = lambda xs: 1000.0 * statistics.fmean(xs)  # noqa: E731
    lat_sorted = sorted(lat_t)
    report = {
        "images": len(images),
        "faces": n_ok,
        "image_dir": str(args.image_dir),
        "detector": args.detector,
        "algorithm": engine.algorithm,
        "detection_ms_per_face": round(ms(det_t), 2),
        "embedding_ms_per_face": round(ms(emb_t), 2) if emb_t else None,
        "pipeline_ms_per_face": round(ms(lat_t), 2),
        "single_latency_ms_median": round(1000.0 * statistics.median(lat_t), 2),
        "single_latency_ms_p95": round(1000.0 * lat_sorted[int(0.95 * (len(lat_sorted) - 1))],
                                       2),
        "batch_workers": workers if len(images) >= 2 and workers > 1 else 1,
        "batch_ms_per_face": round(1000.0 * batch_s / len(images), 2),
        "batch_faces_per_s": round(len(images) / batch_s, 2),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    print(f"images {report['images']} ({report['faces']} usable faces), detector "
          f"{args.detector}, algorithm {engine.algorithm}")
    print(f"detection          {report['detection_ms_per_face']:8.1f} ms/face (1 process)")
    if emb_t:
        print(f"embedding          {report['embedding_ms_per_face']:8.1f} ms/face (1 process)")
    print(f"whole pipeline     {report['pipeline_ms_per_face']:8.1f} ms/face (1 process), "
          f"{1000.0 / report['pipeline_ms_per_face']:.1f} faces/s")
    print(f"single-image       {report['single_latency_ms_median']:8.1f} ms median, "
          f"{report['single_latency_ms_p95']:.1f} ms p95")
    print(f"batch throughput   {report['batch_ms_per_face']:8.1f} ms/face, "
          f"{report['batch_faces_per_s']:.1f} faces/s ({report['batch_workers']} workers)")
    if args.json:
        print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()

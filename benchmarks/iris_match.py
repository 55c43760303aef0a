"""Iris matching and extraction speed: comparisons per second, 1:N latency, extraction ms.

* Comparisons per second on ONE core (one thread): a "comparison" is one template pair with
  all its rotations (17 shifts by default); the per-shift figure (comparisons x shifts) is
  printed beside it. Measured as a full scan of a synthetic gallery with the gallery's
  block kernel (the same code path as ``BinaryGallery.search``).
* 1:N search latency (top-10) against 100k and 1M synthetic codes (random bits, masks shaped
  like real ones: eyelid bands over the top and bottom of the outer rings, scattered
  eyelash/fragile holes, ~60-65% valid), median of several probes, 1 thread and all threads.
* Extraction ms per image on CASIA V1 images (one process), when the shared data is present.

    python benchmarks/iris_match.py                 # 100k and 1M
    python benchmarks/iris_match.py --sizes 100k --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.biometrics.iris import IrisConfig, IrisEngine  # noqa: E402
from hawiya.biometrics.iris_encoding import IrisCode  # noqa: E402
from hawiya.biometrics.iris_matching import (  # noqa: E402
    have_numba,
    pack_bits,
    scan_blocks,
    shifted_probe,
    to_blocks,
)
from hawiya.search.binary_gallery import BinaryGallery  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iris" / "casia1"


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def synthetic_masks(n: int, rings: int, positions: int, rng: np.random.Generator
                    ) -> np.ndarray:
    """Masks shaped like real ones: lid bands on the outer rings, random small holes."""
    theta = np.arange(positions) * 2 * np.pi / positions  # 0 = +x, pi/2 = down (image y)
    ring = np.arange(rings)[None, :, None]
    up = rng.uniform(0.3, 1.1, n)[:, None, None]  # upper lid depth (fraction of rings)
    lo = rng.uniform(0.0, 0.6, n)[:, None, None]
    s = np.sin(theta)[None, None, :]
    upper = (s < -0.35) & (ring >= rings * (1 - up * (-s - 0.35) / 0.65))
    lower = (s > 0.45) & (ring >= rings * (1 - lo * (s - 0.45) / 0.55))
    holes = rng.random((n, rings, positions)) < 0.10
    return ~(upper | lower | holes)


def synthetic_gallery(n: int, cfg: IrisConfig, rng: np.random.Generator, chunk: int = 50_000
                      ) -> tuple[np.ndarray, np.ndarray]:
    planes, rings, positions = cfg.encoding.planes, cfg.encoding.rings, cfg.encoding.positions
    w = rings * positions // 64
    codes = np.empty((n, planes, w), np.uint64)
    masks = np.empty((n, w), np.uint64)
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        codes[c0:c1] = rng.integers(0, np.iinfo(np.uint64).max, (c1 - c0, planes, w),
                                    dtype=np.uint64, endpoint=True)
        masks[c0:c1] = pack_bits(synthetic_masks(c1 - c0, rings, positions, rng))
    return codes, masks


def probe_code(cfg: IrisConfig, rng: np.random.Generator) -> IrisCode:
    e = cfg.encoding
    return IrisCode(rng.random((e.planes, e.rings, e.positions)) < 0.5,
                    synthetic_masks(1, e.rings, e.positions, rng)[0])


def bench_scan(cfg: IrisConfig, codes: np.ndarray, masks: np.ndarray, rng, repeats: int = 3
               ) -> dict:
    blocks, counts = to_blocks(codes, masks)
    p = probe_code(cfg, rng)
    pc, pm = shifted_probe(p.code, p.mask, cfg.matching.shifts)
    scan_blocks(pc, pm, blocks[:1], counts[:1], cfg.matching)  # compile / warm
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        scan_blocks(pc, pm, blocks, counts, cfg.matching, threads=1)
        best = min(best, time.perf_counter() - t)
    n, s = codes.shape[0], len(cfg.matching.shifts)
    return {"gallery": n, "seconds": best, "comparisons_per_s": n / best,
            "shift_comparisons_per_s": n * s / best}


def bench_search(cfg: IrisConfig, codes: np.ndarray, masks: np.ndarray, rng, threads: int,
                 probes: int = 5) -> dict:
    g = BinaryGallery(cfg.matching, threads=threads)
    g._set_layout((cfg.encoding.planes, cfg.encoding.rings, cfg.encoding.positions))
    t = time.perf_counter()
    g.add(np.arange(codes.shape[0]), (codes, masks))
    build = time.perf_counter() - t
    g.search(probe_code(cfg, rng), 10)  # warm
    lat = []
    for _ in range(probes):
        p = probe_code(cfg, rng)
        t = time.perf_counter()
        g.search(p, 10)
        lat.append(time.perf_counter() - t)
    sub = rng.choice(codes.shape[0], size=min(1000, codes.shape[0]), replace=False)
    t = time.perf_counter()
    g.search(probe_code(cfg, rng), 10, restrict_to=sub)
    restricted = time.perf_counter() - t
    return {"gallery": codes.shape[0], "threads": threads, "build_s": round(build, 3),
            "latency_ms_p50": round(1000 * float(np.median(lat)), 2),
            "latency_ms_max": round(1000 * float(np.max(lat)), 2),
            "restricted_1000_ms": round(1000 * restricted, 2)}


def bench_extract(n: int) -> dict | None:
    files = sorted(DATA.glob("*/*.jpg"))[:n]
    if not files:
        return None
    from hawiya.imaging import load_image

    images = [load_image(f) for f in files]
    eng = IrisEngine()
    eng.extract(images[0])
    t = time.perf_counter()
    ok = 0
    for img in images:
        try:
            eng.extract(img)
            ok += 1
        except Exception:  # noqa: BLE001 - a rejected image still counts its time
            pass
    dt = time.perf_counter() - t
    return {"images": len(images), "extracted": ok,
            "ms_per_image": round(1000 * dt / len(images), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100k,1m", help="1:N gallery sizes, e.g. 100k,1m")
    ap.add_argument("--extract", type=int, default=60, help="CASIA images to time (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)

    cfg = IrisConfig()
    rng = np.random.default_rng(args.seed)
    threads = os.cpu_count() or 1
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    e = cfg.encoding
    result: dict = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": threads,
                    "numba": have_numba(), "load_avg": os.getloadavg()},
        "code": {"planes": e.planes, "rings": e.rings, "positions": e.positions,
                 "code_bits": e.bits, "mask_bits": e.rings * e.positions,
                 "template_payload_bytes": 16 + 8 * (e.planes + 1) * e.rings * e.positions // 64},
        "shifts": len(cfg.matching.shifts),
        "max_shift_degrees": round(cfg.matching.max_shift * 360 / e.positions, 2),
    }
    print(f"iris code {e.bits} bits + {e.rings * e.positions} mask bits; "
          f"{len(cfg.matching.shifts)} shifts (+-{result['max_shift_degrees']} deg); "
          f"numba={have_numba()}; load average {os.getloadavg()[0]:.1f} on {threads} cores")

    n_scan = max(sizes) if sizes else 100_000
    codes, masks = synthetic_gallery(n_scan, cfg, rng)
    scan = bench_scan(cfg, codes[:min(n_scan, 200_000)], masks[:min(n_scan, 200_000)], rng)
    result["scan_one_core"] = scan
    print(f"one core: {scan['comparisons_per_s'] / 1e6:.2f} M comparisons/s (all "
          f"{result['shifts']} rotations), {scan['shift_comparisons_per_s'] / 1e6:.1f} M "
          f"single-shift comparisons/s, gallery {scan['gallery']:,}")
    result["search"] = []
    for n in sizes:
        for th in sorted({1, threads}):
            r = bench_search(cfg, codes[:n], masks[:n], rng, th)
            result["search"].append(r)
            print(f"1:N top-10 over {n:>9,} codes, {th} thread(s): p50 {r['latency_ms_p50']:.1f}"
                  f" ms (max {r['latency_ms_max']:.1f}); restricted to 1,000 ids: "
                  f"{r['restricted_1000_ms']:.2f} ms")
    if args.extract:
        ex = bench_extract(args.extract)
        result["extract"] = ex
        if ex:
            print(f"extraction: {ex['ms_per_image']:.1f} ms/image over {ex['images']} CASIA "
                  f"images (one process)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

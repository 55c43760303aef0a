"""Fingerprint engine figures: accuracy on FVC2002 DB1-4_B, extraction ms, comparisons/s, 1:N.

* ``--accuracy``: per set, the shared :func:`hawiya.eval.run_eval` on the images (all 280
  genuine and 2,880 impostor pairs, labels = finger number; EER as in FVC: where FMR and
  FNMR cross, interpolated), and the same protocol on the vendor ``.iso`` templates (iso vs
  iso, no rescaling). One parameter set for every sensor; every image is taken as 500 ppi.
* Extraction ms per image (one process, LEADER on CPU with one thread).
* 1:1 comparisons per second: full matching (local structures, seeded alignment, pairing)
  of one probe against a packed gallery, numba-parallel over the gallery (all cores), and
  the pre-filter (index-vector dot products) per second.
* 1:N latency against 10k and 100k synthetic templates (real FVC templates perturbed:
  random rotation, translation, 0-20% minutiae dropped, 1-2 px jitter): full scan vs.
  pre-filter + full matching of the shortlist; pre-filter recall = share of probes whose
  mate is in the shortlist (mates: a different impression of the same finger, planted in
  the gallery).

    python benchmarks/finger_match.py --accuracy --json
    python benchmarks/finger_match.py --sizes 10k,100k --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.biometrics.finger import FingerEngine  # noqa: E402
from hawiya.eval.metrics import evaluate_scores  # noqa: E402
from hawiya.imaging import load_image  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "finger" / "fvc2002"
SETS = ("DB1_B", "DB2_B", "DB3_B", "DB4_B")


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def samples(db: str, ext: str = ".tif") -> list[tuple[Path, str]]:
    return [(p, f"{db}-{p.stem.split('_')[0]}") for p in sorted((DATA / db).glob(f"*{ext}"))]


def pct(x: float) -> float:
    return round(100 * float(x), 2)


class _Recording(FingerEngine):
    """A FingerEngine that keeps the templates of its last batch (to pool scores)."""

    last: list = []

    def extract_batch(self, images, workers=None, position="unknown", source="auto",
                      ppi=None):
        res = super().extract_batch(images, workers, position, source, ppi)
        self.last.extend(res)
        return res


def _all_pairs(engine: FingerEngine, ts: list, lab: np.ndarray) -> tuple[np.ndarray, ...]:
    gal = engine.pack(ts)
    gen, imp = [], []
    for i in range(len(ts)):
        s = engine.compare_packed(ts[i], gal)
        same = lab[i + 1:] == lab[i]
        gen.append(s[i + 1:][same])
        imp.append(s[i + 1:][~same])
    return np.concatenate(gen), np.concatenate(imp)


def accuracy(engine: FingerEngine, out_dir: Path) -> dict:
    from hawiya.eval.runner import run_eval

    res: dict = {"images": {}, "iso": {}}
    thr = []
    for db in SETS:
        r = run_eval(engine, samples=samples(db), out_dir=out_dir, name=f"finger-{db}",
                     progress=False)
        res["images"][db] = {"eer": pct(r["eer"]), "fnmr_at_fmr_1e-2":
                             pct(r["fnmr_at_fmr"]["0.01"]), "fnmr_at_fmr_1e-3":
                             pct(r["fnmr_at_fmr"]["0.001"]), "fte": r["failed_to_enrol"],
                             "genuine": r["genuine"], "impostor": r["impostor"],
                             "threshold_fmr_1e-3": r["thresholds_at_fmr"].get("0.001")}
        if isinstance(engine, _Recording):
            ok = [(t, lbl) for t, (_, lbl) in zip(engine.last, samples(db), strict=True)
                  if not isinstance(t, Exception)]
            thr.append(_all_pairs(engine, [t for t, _ in ok], np.array([x for _, x in ok])))
            engine.last.clear()
        # vendor templates, iso vs iso
        sm = samples(db, ".iso")
        gen, imp = _all_pairs(engine, [engine.from_iso(p.read_bytes()) for p, _ in sm],
                              np.array([lbl for _, lbl in sm]))
        e = evaluate_scores(gen, imp, [1e-2, 1e-3]).to_dict()
        res["iso"][db] = {"eer": pct(e["eer"]), "fnmr_at_fmr_1e-2":
                          pct(e["fnmr_at_fmr"]["0.01"]),
                          "fnmr_at_fmr_1e-3": pct(e["fnmr_at_fmr"]["0.001"])}
    if not thr:
        return res
    gen = np.concatenate([g for g, _ in thr])
    imp = np.concatenate([i for _, i in thr])
    pooled = evaluate_scores(gen, imp, [1e-2, 1e-3]).to_dict()
    res["pooled_images"] = {"eer": pct(pooled["eer"]),
                            "threshold_fmr_1e-2": pooled["thresholds_at_fmr"]["0.01"],
                            "threshold_fmr_1e-3": pooled["thresholds_at_fmr"]["0.001"],
                            "fnmr_at_fmr_1e-3": pct(pooled["fnmr_at_fmr"]["0.001"])}
    return res


def perturb(mins: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    m = mins[rng.random(len(mins)) >= rng.uniform(0.0, 0.2)].copy()
    a = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(a), np.sin(a)
    cx, cy = m[:, 0].mean(), m[:, 1].mean()
    x, y = m[:, 0] - cx, m[:, 1] - cy
    t = rng.uniform(-60, 60, 2)
    m[:, 0] = c * x - s * y + cx + t[0] + rng.normal(0, 1.5, len(m))
    m[:, 1] = s * x + c * y + cy + t[1] + rng.normal(0, 1.5, len(m))
    m[:, 2] = np.mod(m[:, 2] + a + rng.normal(0, 0.05, len(m)), 2 * np.pi)
    m[:, 0] -= min(0.0, m[:, 0].min())
    m[:, 1] -= min(0.0, m[:, 1].min())
    return m


def speed(engine: FingerEngine, sizes: list[int], n_probes: int, shortlist: int,
          full_probes: int = 3) -> dict:
    paths = [p for db in SETS for p, _ in samples(db)]
    t0 = time.perf_counter()
    imgs = [load_image(p, mode="L") for p in paths[::8]]
    engine.extract(imgs[0])  # load the model
    t0 = time.perf_counter()
    for im in imgs:
        engine.extract(im)
    extract_ms = 1000 * (time.perf_counter() - t0) / len(imgs)
    # real templates of every image (mates are impressions 1 and 2 of each finger)
    res = engine.extract_batch([load_image(p, mode="L") for p in paths])
    real = [(p, t) for p, t in zip(paths, res, strict=True) if not isinstance(t, Exception)]
    by_finger: dict[str, list] = {}
    for p, t in real:
        by_finger.setdefault(f"{p.parent.name}-{p.stem.split('_')[0]}", []).append(t)
    rng = np.random.default_rng(7)
    out: dict = {"extract_ms": round(extract_ms, 1)}
    fingers = sorted(by_finger)
    probe_fingers = set(fingers[: min(n_probes, len(fingers))])
    # the synthetic gallery is made from the other fingers only, so a probe's mate is the
    # only template of its finger in the gallery
    mins = [engine.minutiae(t) for f in fingers if f not in probe_fingers
            for t in by_finger[f]]
    for n in sizes:
        gal_t = []
        for _ in range(n):
            m = perturb(mins[rng.integers(len(mins))], rng)
            gal_t.append(engine.from_minutiae(m, 600, 600))
        # plant mates: gallery rows 0..F-1 hold one impression of each finger; probes are
        # another impression of the same finger
        probes = []
        for f_i, f in enumerate(fingers[: min(n_probes, len(fingers))]):
            gal_t[f_i] = by_finger[f][0]
            probes.append((f_i, by_finger[f][1]))
        t0 = time.perf_counter()
        gal = engine.pack(gal_t)
        index = engine.index_vectors(gal_t)
        build_s = time.perf_counter() - t0
        full_lat, pre_lat, hits_full, hits_pre = [], [], 0, 0
        n_full = max(1, min(len(probes), full_probes))
        for pi, (f_i, pr) in enumerate(probes[:n_probes]):
            if pi < n_full:  # a full scan is slow: a few probes are enough for its median
                t0 = time.perf_counter()
                s = engine.compare_packed(pr, gal)
                full_lat.append(time.perf_counter() - t0)
                hits_full += int(np.argmax(s)) == f_i
            t0 = time.perf_counter()
            r = engine.search(pr, gal, index, k=10, shortlist=shortlist)
            pre_lat.append(time.perf_counter() - t0)
            hits_pre += r[0][0] == f_i
        # pre-filter recall at several shortlist sizes
        recall = {}
        ranks = []
        for f_i, pr in probes[:n_probes]:
            sims = index @ engine.index_vector(pr)
            ranks.append(int((sims > sims[f_i]).sum()))
        for k in (10, 100, shortlist, 1000):
            recall[str(k)] = round(float(np.mean(np.array(ranks) < k)), 3)
        full_s = float(np.median(full_lat))
        t0 = time.perf_counter()
        for _ in range(20):
            _ = index @ engine.index_vector(probes[0][1])
        dot_s = (time.perf_counter() - t0) / 20
        out[str(n)] = {
            "gallery_build_s": round(build_s, 2),
            "full_scan_ms": round(1000 * full_s, 1),
            "full_comparisons_per_s": int(n / full_s),
            "prefilter_search_ms": round(1000 * float(np.median(pre_lat)), 1),
            "prefilter_comparisons_per_s": int(n / dot_s),
            "shortlist": shortlist,
            "rank1_full": round(hits_full / n_full, 3),
            "full_scan_probes": n_full,
            "rank1_prefilter": round(hits_pre / len(probes), 3),
            "prefilter_recall_at": recall,
            "probes": len(probes),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accuracy", action="store_true", help="FVC2002 accuracy instead of speed")
    ap.add_argument("--sizes", default="10k,100k")
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--shortlist", type=int, default=200)
    ap.add_argument("--out", default=None, help="folder for DET plots and reports")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no FVC2002 data at {DATA}")
    engine = _Recording() if args.accuracy else FingerEngine()
    info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    if args.accuracy:
        out = Path(args.out or tempfile.mkdtemp(prefix="finger-eval-"))
        res = {**info, **accuracy(engine, out), "out_dir": str(out)}
    else:
        res = {**info, **speed(engine, [parse_size(s) for s in args.sizes.split(",")],
                               args.probes, args.shortlist)}
    engine.close()
    if args.json:
        print(json.dumps(res))
    else:
        print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()

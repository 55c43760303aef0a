"""Face defaults study: thresholds, calibration, quality gate and test-time augmentation,
measured on real photos (Georgia Tech colour, Yale grayscale).

Usage::

    python benchmarks/face_study.py [--gt DIR] [--yale DIR] [--steps 1,2,3,4]
                                    [--iods 12,16,20,24,30,40] [--small-flip]
                                    [--no-upscale-test] [--workers N] [--cache DIR]
                                    [--bootstrap N] [--crosscheck] [--out FILE] [--json]

Every image (and every downscaled copy) is analysed once with the quality gate *open* (all
limits disabled) and embedded both plainly and with mirror averaging (``flip=True``); the
per-image measurements (IOD, yaw, roll, exposure, sharpness), the detector's verdict and both
embeddings are cached under ``--cache`` (default ``/tmp/hawiya_face_study``), keyed by the
image files and the source of the face modules. Any gate setting is then re-applied offline
with ``face_quality.score_face`` (the function the engine itself calls), so the default
engine's failures to enrol and templates are reproduced exactly (``--crosscheck`` verifies
this against ``hawiya.eval.runner.run_eval`` with the default engine).

Steps:

1. Baseline, default engine: per set and pooled, EER, FNMR at FMR 1e-2/1e-3/1e-4, FTE, the
   ISO/IEC 19795-1 generalised rates (GFMR = FMR (1-FTA), GFNMR = FTA + FNMR (1-FTA), FTA =
   FTE rate), score thresholds at FMR 0.5 / 1e-2 / 1e-3 / 1e-4 with the impostor count and
   whether the target is resolvable (rule of three: >= 3/FMR impostor pairs), the impostor
   mean, and an identity-level bootstrap interval for Georgia Tech's thresholds.
2. Test-time augmentation: the same with ``flip=True``; and multi-capture enrolment on
   Georgia Tech (2 enrolment images per person, the other 4 as probes, all 15 choices of the
   pair): one template, best-of-two (max score), mean embedding.
3. Small faces: Georgia Tech downscaled (INTER_AREA) so each image's IOD falls to each target
   (scale = target / that image's full-size IOD), the gate's IOD limit disabled; per target:
   FTE with reasons, FNMR and FMR at the full-size FMR 1e-3 threshold for small probes against
   full-size enrolments (verification), EER and FNMR/FMR at that threshold when both sides are
   small (enrolment); plus a 2x bicubic pre-upscale test of the detector on the smallest
   targets, and full-size images binned by the ISO/IEC 19794-5 IOD levels (60, 90 px).
4. Other gate limits: how many images each limit refuses at its current value, and the
   genuine scores the refused images would have had with that limit disabled.

``--json`` prints one JSON object as the last line; ``--out`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import math
import os
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hawiya.biometrics import face_quality as fq  # noqa: E402
from hawiya.eval.datasets import load_dir  # noqa: E402
from hawiya.eval.metrics import eer as eer_fn  # noqa: E402
from hawiya.eval.metrics import evaluate_scores, fmr_key, threshold_at_fmr  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "face"
TARGETS = (1e-2, 1e-3, 1e-4)
CACHE_VERSION = 3
# Every gate limit disabled (measurements are still taken; limits re-applied offline).
OPEN_GATE = fq.FaceQualityConfig(min_iod_px=0.0, max_yaw_deg=1e9, max_roll_deg=1e9, min_mean=-1.0,
                                 max_mean=1e9, max_dark_fraction=2.0, max_clipped_fraction=2.0,
                                 min_sharpness=-1.0)
DEFAULT_GATE = fq.FaceQualityConfig()
NO_IOD_GATE = dataclasses.replace(DEFAULT_GATE, min_iod_px=0.0)


# ----------------------------------------------------------------------------- progress
def _progress(enabled: bool):
    from hawiya.eval.runner import _progress as runner_progress

    return runner_progress(enabled)


# ----------------------------------------------------------------------------- extraction
_ENGINE = None


def _init_worker() -> None:
    global _ENGINE
    import cv2

    from hawiya.biometrics.face import FaceConfig, FaceEngine

    cv2.setNumThreads(1)
    _ENGINE = FaceEngine(FaceConfig(quality=OPEN_GATE))


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _analyse(item: tuple) -> dict:
    """One image (optionally rescaled): detector verdict, gate measurements, embeddings.

    ``item`` = (path, scale or None, pre_upscale, flip). ``scale`` shrinks the image with
    area interpolation; ``pre_upscale`` then enlarges it 2x (bicubic) before the engine sees
    it (a detector experiment: the measured IOD is then divided by 2 again)."""
    import cv2
    import dlib

    from hawiya.imaging import load_image

    path, scale, pre_up, flip, *rest = item
    transform = rest[0] if rest else None
    eng = _ENGINE
    img = load_image(path, mode="RGB")
    h, w = img.shape[:2]
    if scale is not None:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    if transform is not None:
        img = _transform(img, transform)
    size = [int(img.shape[1]), int(img.shape[0])]
    if pre_up:
        img = cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2),
                         interpolation=cv2.INTER_CUBIC)
    rec: dict = {"path": str(path), "scale": scale, "pre_up": bool(pre_up), "size": size}
    try:
        a = eng.analyse(np.ascontiguousarray(img))
    except Exception as exc:  # too small an image etc.: a failure to enrol
        rec["fail"] = f"{type(exc).__name__}: {exc}"
        return rec
    rec["stage"] = a.detection.stage if a.detection is not None else ""
    if a.chip is None:
        rec["fail"] = a.report.reasons[0] if a.report.reasons else "no chip"
        return rec
    div = 2.0 if pre_up else 1.0
    geo = fq.geometry(a.landmarks)
    expo = fq.exposure(a.chip)
    rec.update(iod=geo.iod_px / div, yaw=geo.yaw_deg, roll=geo.roll_deg, mean=expo["mean"],
               dark=expo["dark_fraction"], clipped=expo["clipped_fraction"],
               sharp=fq.sharpness(a.normalised_chip), box_w=(a.box[2] - a.box[0]) / div)
    try:  # IOD on the 150 px chip the network sees
        shape = dlib.full_object_detection(dlib.rectangle(*a.box),
                                           [dlib.point(int(x), int(y)) for x, y in a.landmarks])
        det = dlib.get_face_chip_details(shape, fq.CHIP_SIZE, 0.25)
        rec["chip_iod"] = geo.iod_px * fq.CHIP_SIZE / det.rect.width()
    except Exception:
        rec["chip_iod"] = float("nan")
    chips = [a.normalised_chip]
    if flip:
        chips.append(np.ascontiguousarray(a.normalised_chip[:, ::-1]))
    vecs = np.asarray(eng._net.compute_face_descriptor(chips), dtype=np.float64)
    rec["v"] = _unit(vecs[0])  # FaceConfig(flip=False) template (checked by --crosscheck)
    if flip:
        rec["vf"] = _unit(vecs.mean(axis=0))  # FaceConfig(flip=True) template
    return rec


def _transform(img: np.ndarray, transform: tuple) -> np.ndarray:
    """Synthetic stress for the gate limits: ("rot", degrees) rotates about the image centre,
    ("blur", sigma_px) Gaussian blur, ("gain", g) multiplies the pixel values (clipped)."""
    import cv2

    kind, value = transform
    if kind == "rot":
        h, w = img.shape[:2]
        M = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(value), 1.0)
        return cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    if kind == "blur":
        return cv2.GaussianBlur(img, (0, 0), float(value))
    if kind == "gain":
        return np.clip(img.astype(np.float32) * float(value) + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown transform {kind}")


def _code_fingerprint() -> str:
    h = hashlib.sha256(str(CACHE_VERSION).encode())
    for name in ("face.py", "face_quality.py", "face_detect.py"):
        h.update((REPO / "hawiya" / "biometrics" / name).read_bytes())
    return h.hexdigest()[:16]


class Extractor:
    def __init__(self, cache_dir: Path, workers: int, progress: bool):
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.workers = max(1, workers)
        self.progress = progress
        self.code = _code_fingerprint()
        self._pool = None
        self.computed = 0
        self.seconds = 0.0

    def _run(self, items: list[tuple], label: str) -> list[dict]:
        out: list[dict] = []
        t0 = time.perf_counter()
        with _progress(self.progress) as bar:
            task = bar.add_task(label, total=len(items))
            if self.workers == 1:
                if _ENGINE is None:
                    _init_worker()
                for it in items:
                    out.append(_analyse(it))
                    bar.advance(task)
            else:
                if self._pool is None:
                    import multiprocessing as mp

                    self._pool = mp.get_context("spawn").Pool(self.workers,
                                                              initializer=_init_worker)
                for rec in self._pool.imap(_analyse, items, chunksize=4):
                    out.append(rec)
                    bar.advance(task)
        self.computed += len(items)
        self.seconds += time.perf_counter() - t0
        return out

    def get(self, name: str, items: list[tuple]) -> list[dict]:
        key = hashlib.sha256(repr((self.code, [
            (str(it[0]), os.path.getsize(it[0]), int(os.path.getmtime(it[0])), *it[1:])
            for it in items])).encode()).hexdigest()[:16]
        path = self.cache_dir / f"{name}-{key}.pkl"
        if path.is_file():
            with path.open("rb") as fh:
                return pickle.load(fh)
        recs = self._run(items, f"analysing {name}")
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(recs, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return recs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()


# ----------------------------------------------------------------------------- gate
def gate_reasons(rec: dict, cfg: fq.FaceQualityConfig) -> list[str]:
    """Why ``cfg`` (and the detector) would refuse this capture; [] if it is usable."""
    if "fail" in rec:
        return [rec["fail"]]
    geo = fq.Geometry(rec["iod"], rec["yaw"], rec["roll"])
    expo = {"mean": rec["mean"], "dark_fraction": rec["dark"],
            "clipped_fraction": rec["clipped"]}
    return fq.score_face(geo, expo, rec["sharp"], cfg)[0]


def reason_kind(reason: str) -> str:
    for key, kind in (("no face", "no face"), ("faces found", "several faces"),
                      ("too small", "iod"), ("sideways", "yaw"), ("tilted", "roll"),
                      ("too dark", "dark"), ("overexposed", "overexposed"),
                      ("blurred", "sharpness")):
        if key in reason:
            return kind
    return reason.split(":")[0][:40]


# ----------------------------------------------------------------------------- scoring
def pair_scores(V: np.ndarray, codes: np.ndarray, W: np.ndarray | None = None,
                wcodes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """All pairs i < j of V (or all V x W pairs): genuine and impostor scores, with the codes
    of both sides of each pair (for the identity bootstrap)."""
    if W is None:
        S = np.clip(V @ V.T, -1.0, 1.0)
        iu, ju = np.triu_indices(len(V), k=1)
        s, ca, cb = S[iu, ju], codes[iu], codes[ju]
    else:
        S = np.clip(V @ W.T, -1.0, 1.0)
        s = S.ravel()
        ca = np.repeat(codes, len(W))
        cb = np.tile(wcodes, len(V))
    same = ca == cb
    return s[same].astype(np.float64), s[~same].astype(np.float64), \
        np.stack([ca[same], cb[same]]), np.stack([ca[~same], cb[~same]])


def rates_at(gen: np.ndarray, imp: np.ndarray, t: float) -> tuple[float, float]:
    """(FMR, FNMR) at threshold t (accept score >= t)."""
    return float((imp >= t).mean()) if imp.size else float("nan"), \
        float((gen < t).mean()) if gen.size else float("nan")


def table(gen: np.ndarray, imp: np.ndarray, n_samples: int, n_fte: int,
          targets=TARGETS) -> dict:
    """EER, FNMR at each FMR target, thresholds, generalised rates, impostor statistics."""
    rep = evaluate_scores(gen, imp, targets)
    fta = n_fte / n_samples if n_samples else 0.0
    pts = {}
    for p in rep.points:
        fa = int(round(p.fmr * imp.size))
        pts[fmr_key(p.target_fmr)] = {
            "threshold": round(p.threshold, 4), "fmr": p.fmr, "false_matches": fa,
            "fnmr": p.fnmr, "gfmr": p.fmr * (1 - fta), "gfnmr": fta + p.fnmr * (1 - fta),
            "impostors_needed_rule3": int(math.ceil(3 / p.target_fmr)),
            "reliable_rule3": bool(imp.size >= 3 / p.target_fmr - 1e-9)}
    return {
        "samples": n_samples, "fte": n_fte, "fte_rate": fta,
        "genuine": int(gen.size), "impostor": int(imp.size),
        "eer": rep.eer.eer, "eer_threshold": round(rep.eer.threshold, 4),
        "points": pts,
        "impostor_mean": float(imp.mean()), "impostor_std": float(imp.std()),
        "impostor_median": threshold_at_fmr(imp, 0.5),
        "impostor_max": float(imp.max()), "genuine_mean": float(gen.mean()),
        "genuine_min": float(gen.min()),
    }


def bootstrap(gen: np.ndarray, imp: np.ndarray, gcodes: np.ndarray, icodes: np.ndarray,
              n_ids: int, reps: int, targets=TARGETS, seed: int = 0) -> dict:
    """Identity-level bootstrap (people resampled with replacement; a pair's weight is the
    product of its people's counts): 90% intervals of the threshold at each FMR target, the
    FNMR there, and the impostor mean."""
    if reps <= 0:
        return {}
    rng = np.random.default_rng(seed)
    order = np.argsort(-imp, kind="stable")
    imp_d = imp[order]
    ia, ib = icodes[0][order], icodes[1][order]
    res = {fmr_key(t): {"thr": [], "fnmr": []} for t in targets}
    means = []
    for _ in range(reps):
        c = np.bincount(rng.integers(0, n_ids, n_ids), minlength=n_ids).astype(np.float64)
        wi = c[ia] * c[ib]
        wg = c[gcodes[0]]
        cum = np.cumsum(wi)
        tot = cum[-1]
        means.append(float((wi * imp_d).sum() / tot))
        for t in targets:
            L = int(np.searchsorted(cum, t * tot + 1e-9, side="right"))
            thr = float(imp_d[L - 1]) if L >= 1 else float(np.nextafter(imp_d[0], 2))
            fn = float(wg[gen < thr].sum() / wg.sum())
            res[fmr_key(t)]["thr"].append(thr)
            res[fmr_key(t)]["fnmr"].append(fn)
    out = {"reps": reps, "impostor_mean_90": [float(np.percentile(means, 5)),
                                              float(np.percentile(means, 95))],
           "raw": {k: v["fnmr"] for k, v in res.items()}}
    for k, v in res.items():
        out[k] = {"threshold_90": [round(float(np.percentile(v["thr"], 5)), 4),
                                   round(float(np.percentile(v["thr"], 95)), 4)],
                  "fnmr_90": [float(np.percentile(v["fnmr"], 5)),
                              float(np.percentile(v["fnmr"], 95))]}
    return out


# ----------------------------------------------------------------------------- sets
class Set:
    """Records of one image set with labels, and the default-gate view of them."""

    def __init__(self, name: str, samples: list, recs: list[dict],
                 gate: fq.FaceQualityConfig = DEFAULT_GATE):
        self.name = name
        self.paths = [str(s.path) for s in samples]
        self.labels = [f"{name}:{s.label}" for s in samples]
        self.recs = recs
        self.reasons = [gate_reasons(r, gate) for r in recs]
        self.ok = np.array([not r for r in self.reasons], dtype=bool)

    def vecs(self, key: str = "v", mask: np.ndarray | None = None) -> np.ndarray:
        m = self.ok if mask is None else mask
        return np.stack([r[key] for r, k in zip(self.recs, m, strict=True) if k])

    def fte_kinds(self, mask: np.ndarray | None = None) -> dict:
        m = ~self.ok if mask is None else mask
        return dict(Counter(reason_kind(r[0]) for r, k in zip(self.reasons, m, strict=True)
                            if k))


def codes_of(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    uniq = sorted(set(labels))
    idx = {u: i for i, u in enumerate(uniq)}
    return np.array([idx[x] for x in labels], dtype=np.int64), uniq


def set_scores(sets: list[Set], key: str = "v", cross: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Pooled all-pairs scores of several sets (``cross``: impostor pairs across sets too)."""
    labels = [lbl for s in sets for lbl, k in zip(s.labels, s.ok, strict=True) if k]
    codes, uniq = codes_of(labels)
    V = np.concatenate([s.vecs(key) for s in sets])
    gen, imp, gc, ic = pair_scores(V, codes)
    if not cross and len(sets) > 1:
        setid = np.array([uniq[c].split(":")[0] for c in range(len(uniq))])
        keep = setid[ic[0]] == setid[ic[1]]
        imp, ic = imp[keep], ic[:, keep]
    n = sum(len(s.recs) for s in sets)
    fte = sum(int((~s.ok).sum()) for s in sets)
    return gen, imp, gc, ic, len(uniq), n, fte


# ----------------------------------------------------------------------------- steps
def current_thresholds() -> dict[str, float]:
    """The shipped face thresholds and calibration points (hawiya.config)."""
    from hawiya.config import DEFAULT_MODALITIES

    face = DEFAULT_MODALITIES["face"]
    out = {f"verify {face['thresholds']['verify']}": face["thresholds"]["verify"],
           f"dedup {face['thresholds']['dedup']}": face["thresholds"]["dedup"]}
    for fmr, t in face["calibration"]:
        out[f"calib {fmr:g}@{t}"] = t
    return out


def at_current(gen: np.ndarray, imp: np.ndarray) -> dict:
    res = {}
    for name, t in current_thresholds().items():
        fmr, fnmr = rates_at(gen, imp, t)
        res[name] = {"threshold": t, "fmr": fmr, "fnmr": fnmr}
    return res


def step_baseline(sets: dict[str, Set], key: str, reps: int) -> dict:
    out: dict = {}
    for name, s in sets.items():
        gen, imp, gc, ic, nid, n, fte = set_scores([s], key)
        out[name] = table(gen, imp, n, fte)
        out[name]["at_current"] = at_current(gen, imp)
        out[name]["fte_reasons"] = s.fte_kinds()
        out[name]["identities"] = nid
        if name == "gt":
            out[name]["bootstrap"] = bootstrap(gen, imp, gc, ic, nid, reps)
    both = list(sets.values())
    if len(both) > 1:
        gen, imp, gc, ic, nid, n, fte = set_scores(both, key, cross=False)
        out["pooled_within"] = table(gen, imp, n, fte)
        out["pooled_within"]["at_current"] = at_current(gen, imp)
        gen, imp, gc, ic, nid, n, fte = set_scores(both, key, cross=True)
        out["pooled_all"] = table(gen, imp, n, fte)
        out["pooled_all"]["at_current"] = at_current(gen, imp)
        out["pooled_all"]["bootstrap"] = bootstrap(gen, imp, gc, ic, nid, reps)
    return out


def paired_flip(base: dict, flip: dict) -> dict:
    """FNMR(flip) - FNMR(plain) at each FMR target, each at its own threshold, over the same
    identity resamples (same seed): a 90% interval for the change flip brings."""
    out = {}
    for name in ("gt", "pooled_all"):
        a = base.get(name, {}).get("bootstrap", {}).get("raw")
        b = flip.get(name, {}).get("bootstrap", {}).get("raw")
        if not a or not b:
            continue
        out[name] = {}
        for k in a:
            d = np.array(b[k]) - np.array(a[k])
            out[name][k] = {"delta_point": flip[name]["points"][k]["fnmr"]
                            - base[name]["points"][k]["fnmr"],
                            "delta_90": [float(np.percentile(d, 5)),
                                         float(np.percentile(d, 95))],
                            "share_flip_better": float((d < 0).mean())}
    return out


def step_multi_enrol(gt: Set, key: str, thr_single: dict) -> dict:
    """2 enrolment captures per person, the other 4 as probes, all 15 choices of the pair.

    Methods: ``single`` (the first of the two only), ``best_of`` (max of the two scores),
    ``mean`` (normalised mean of the two embeddings). Rates over all 15 choices pooled;
    each method at its own FMR 1e-3 threshold, and at the single-image all-pairs thresholds
    (``at_allpairs``) to show what a calibration made for one kind does to another."""
    people: dict[str, list[int]] = {}
    for i, lbl in enumerate(gt.labels):
        people.setdefault(lbl, []).append(i)
    n_img = min(len(v) for v in people.values())
    ids = sorted(people)
    V = {i: gt.recs[i][key] for i in range(len(gt.recs)) if gt.ok[i]}
    scores = {m: ([], []) for m in ("single", "best_of", "mean")}
    no_template = probes_failed = probes = 0
    for a, b in itertools.combinations(range(n_img), 2):
        tmpl: dict[str, dict[str, np.ndarray]] = {m: {} for m in scores}
        for p in ids:
            idx = people[p]
            enrol = [V[idx[k]] for k in (a, b) if idx[k] in V]
            if not enrol:
                no_template += 1
                continue
            E = np.stack(enrol)
            tmpl["single"][p] = E[:1]
            tmpl["best_of"][p] = E
            tmpl["mean"][p] = _unit(E.astype(np.float64).mean(axis=0))[None, :]
        for p in ids:
            for k, i in enumerate(people[p]):
                if k in (a, b):
                    continue
                probes += 1
                if i not in V:
                    probes_failed += 1
                    continue
                v = V[i]
                for m in scores:
                    for q, T in tmpl[m].items():
                        s = float(np.max(T @ v))
                        scores[m][0 if q == p else 1].append(s)
    out: dict = {"choices": math.comb(n_img, 2), "probes": probes,
                 "probes_failed": probes_failed, "people_without_template": no_template}
    for m, (g, i) in scores.items():
        g, i = np.array(g), np.array(i)
        rep = evaluate_scores(g, i, TARGETS)
        pts = {fmr_key(p.target_fmr): {"threshold": round(p.threshold, 4), "fnmr": p.fnmr}
               for p in rep.points}
        at = {}
        for k, t in thr_single.items():
            fmr, fnmr = rates_at(g, i, t)
            at[k] = {"threshold": t, "fmr": fmr, "fnmr": fnmr}
        out[m] = {"genuine": int(g.size), "impostor": int(i.size), "eer": rep.eer.eer,
                  "points": pts, "impostor_mean": float(i.mean()), "at_allpairs": at}
    return out


def step_small(gt: Set, small: dict, upscaled: dict, thr: dict, key: str) -> dict:
    """Per target IOD: FTE, verification-probe and enrolment rates (see module doc)."""
    full_codes, _ = codes_of(gt.labels)
    ok_full = gt.ok
    Vf = gt.vecs(key)
    cf = full_codes[ok_full]
    path_idx = {p: i for i, p in enumerate(gt.paths)}
    t3 = thr["0.001"]
    t2 = thr["0.01"]
    rows = {}
    # full-size reference for the same probe protocol (ordered pairs, not the same image)
    Sff = np.clip(Vf @ Vf.T, -1, 1)
    mff = (cf[:, None] == cf[None, :]) & ~np.eye(len(cf), dtype=bool)
    g_ref = Sff[mff].astype(np.float64)
    c_ref = np.broadcast_to(cf[:, None], mff.shape)[mff]
    n_ids = int(full_codes.max()) + 1
    rng_counts = [np.bincount(np.random.default_rng(s).integers(0, n_ids, n_ids),
                              minlength=n_ids).astype(np.float64) for s in range(300)]

    def delta_ci(g: np.ndarray, c: np.ndarray) -> list[float]:
        """90% identity-bootstrap interval of FNMR(small) - FNMR(full) at t3."""
        d = []
        for w in rng_counts:
            ws, wr = w[c], w[c_ref]
            d.append(float(ws[g < t3].sum() / ws.sum() - wr[g_ref < t3].sum() / wr.sum()))
        return [float(np.percentile(d, 5)), float(np.percentile(d, 95))]

    def one(recs: list[dict], label: str) -> dict:
        idx = np.array([path_idx[r["path"]] for r in recs])
        reasons = [gate_reasons(r, NO_IOD_GATE) for r in recs]
        okm = np.array([not r for r in reasons], dtype=bool)
        n = len(recs)
        fte = int((~okm).sum())
        fta = fte / n if n else float("nan")
        kinds = dict(Counter(reason_kind(r[0]) for r in reasons if r))
        row: dict = {"n": n, "fte": fte, "fte_rate": fta, "fte_reasons": kinds}
        iods = np.array([r["iod"] for r, k in zip(recs, okm, strict=True) if k])
        if iods.size:
            row["measured_iod_median"] = float(np.median(iods))
            row["measured_iod_p10_p90"] = [float(np.percentile(iods, 10)),
                                           float(np.percentile(iods, 90))]
            sharp = np.array([r["sharp"] for r, k in zip(recs, okm, strict=True) if k])
            row["sharpness_median"] = float(np.median(sharp))
        if okm.sum() < 2:
            return row
        Vs = np.stack([r[key] for r, k in zip(recs, okm, strict=True) if k])
        cs = full_codes[idx[okm]]
        # verification probe: small probe vs full-size enrolments (not the same image)
        S = np.clip(Vs @ Vf.T, -1, 1)
        same_img = idx[okm][:, None] == np.flatnonzero(ok_full)[None, :]
        same = (cs[:, None] == cf[None, :]) & ~same_img
        diff = cs[:, None] != cf[None, :]
        g, i = S[same].astype(np.float64), S[diff].astype(np.float64)
        gcode = np.broadcast_to(cs[:, None], same.shape)[same]
        fmr3, fnmr3 = rates_at(g, i, t3)
        fmr2, fnmr2 = rates_at(g, i, t2)
        row["probe"] = {"genuine": int(g.size), "impostor": int(i.size),
                        "eer": eer_fn(g, i).eer, "fnmr_at_full_1e-3": fnmr3,
                        "fmr_at_full_1e-3": fmr3, "gfnmr_at_full_1e-3": fta + fnmr3 * (1 - fta),
                        "fnmr_at_full_1e-2": fnmr2, "fmr_at_full_1e-2": fmr2,
                        "genuine_mean": float(g.mean()), "impostor_mean": float(i.mean()),
                        "own_thr_1e-3": round(evaluate_scores(g, i, (1e-3,)).points[0]
                                              .threshold, 4),
                        "fnmr_delta_vs_full_90": delta_ci(g, gcode),
                        "full_size_fnmr_1e-3": float((g_ref < t3).mean())}
        # captures the gate (not the detector) refused: what they would have scored
        refd = [k for k, r in enumerate(recs) if reasons[k] and "fail" not in r]
        if refd:
            Vr = np.stack([recs[k][key] for k in refd])
            cr = full_codes[idx[refd]]
            Sr = np.clip(Vr @ Vf.T, -1, 1)
            mr = (cr[:, None] == cf[None, :]) & \
                (idx[refd][:, None] != np.flatnonzero(ok_full)[None, :])
            gr = Sr[mr]
            row["gate_refused_probe"] = {"images": len(refd), "genuine": int(gr.size),
                                         "fnmr_at_full_1e-3": float((gr < t3).mean()),
                                         "genuine_mean": float(gr.mean())}
        # enrolment: both sides small
        g2, i2, _, _ = pair_scores(Vs, cs)
        if g2.size and i2.size:
            fmr3b, fnmr3b = rates_at(g2, i2, t3)
            rep = evaluate_scores(g2, i2, (1e-3,))
            row["both_small"] = {"genuine": int(g2.size), "impostor": int(i2.size),
                                 "eer": rep.eer.eer, "fnmr_at_full_1e-3": fnmr3b,
                                 "fmr_at_full_1e-3": fmr3b,
                                 "own_thr_1e-3": round(rep.points[0].threshold, 4),
                                 "fnmr_at_own_1e-3": rep.points[0].fnmr,
                                 "impostor_mean": float(i2.mean())}
        return row

    for target, recs in small.items():
        rows[str(target)] = one(recs, f"iod{target}")
        rows[str(target)]["skipped_not_downscalable"] = int(len(gt.recs) - len(recs))
    ups = {str(t): one(recs, f"iod{t}-up2") for t, recs in upscaled.items()}
    # full-size images by ISO/IEC 19794-5 IOD levels: per-image FNMR at the 1e-3 threshold
    iod_full = np.array([r.get("iod", np.nan) for r in gt.recs])
    S = np.clip(Vf @ Vf.T, -1, 1)
    gen_mask = (cf[:, None] == cf[None, :]) & ~np.eye(len(cf), dtype=bool)
    iod_ok = iod_full[ok_full]
    iso = {}
    for lo, hi, name in ((0, 60, "<60"), (60, 90, "60-90"), (90, 1e9, ">=90")):
        sel = (iod_ok >= lo) & (iod_ok < hi)
        g = S[sel][gen_mask[sel]]
        iso[name] = {"images": int(sel.sum()), "genuine_pairs_involving": int(g.size),
                     "fnmr_at_1e-3": float((g < t3).mean()) if g.size else None,
                     "genuine_mean": float(g.mean()) if g.size else None}
    chip = np.array([r.get("chip_iod", np.nan) for r in gt.recs])
    return {"threshold_1e-3": t3, "threshold_1e-2": t2, "targets": rows,
            "pre_upscale_2x": ups, "full_size_by_iso_iod": iso,
            "full_size_iod": {"min": float(np.nanmin(iod_full)),
                              "median": float(np.nanmedian(iod_full)),
                              "max": float(np.nanmax(iod_full))},
            "chip_iod_median": float(np.nanmedian(chip))}


LIMITS = {
    "iod": ("min_iod_px", lambda c: dataclasses.replace(c, min_iod_px=0.0)),
    "yaw": ("max_yaw_deg", lambda c: dataclasses.replace(c, max_yaw_deg=1e9)),
    "roll": ("max_roll_deg", lambda c: dataclasses.replace(c, max_roll_deg=1e9)),
    "dark": ("min_mean/max_dark_fraction",
             lambda c: dataclasses.replace(c, min_mean=-1.0, max_dark_fraction=2.0)),
    "overexposed": ("max_mean/max_clipped_fraction",
                    lambda c: dataclasses.replace(c, max_mean=1e9, max_clipped_fraction=2.0)),
    "sharpness": ("min_sharpness", lambda c: dataclasses.replace(c, min_sharpness=-1.0)),
}
METRIC = {"iod": "iod", "yaw": "yaw", "roll": "roll", "dark": "mean", "overexposed": "mean",
          "sharpness": "sharp"}


def step_limits(sets: dict[str, Set], thr: dict[str, dict], key: str) -> dict:
    """Per set and limit: images refused by it (alone, at the current value), and their
    genuine scores (against the same person's accepted images) with the limit disabled."""
    out: dict = {}
    for name, s in sets.items():
        codes, _ = codes_of(s.labels)
        t3 = thr[name]["0.001"]
        detected = np.array(["fail" not in r for r in s.recs])
        per: dict = {"images": len(s.recs), "no_face_or_several": int((~detected).sum()),
                     "refused_by_default_gate": int((detected & ~s.ok).sum())}
        # accepted images' own per-image genuine failure rate, for comparison
        okidx = np.flatnonzero(s.ok)
        V = np.stack([s.recs[i][key] for i in okidx])
        S = np.clip(V @ V.T, -1, 1)
        same = (codes[okidx][:, None] == codes[okidx][None, :]) & ~np.eye(len(okidx), dtype=bool)
        g = S[same]
        per["accepted_genuine_fnmr_at_1e-3"] = float((g < t3).mean())
        metrics = {}
        for m in ("iod", "yaw", "roll", "mean", "dark", "clipped", "sharp"):
            vals = np.array([r[m] for r in s.recs if "fail" not in r])
            if m in ("yaw", "roll"):
                vals = np.abs(vals)
            metrics[m] = {"min": round(float(vals.min()), 3),
                          "p5": round(float(np.percentile(vals, 5)), 3),
                          "median": round(float(np.median(vals)), 3),
                          "p95": round(float(np.percentile(vals, 95)), 3),
                          "max": round(float(vals.max()), 3)}
        per["metric_ranges"] = metrics
        limits = {}
        for lim, (field_name, relax) in LIMITS.items():
            relaxed = relax(DEFAULT_GATE)
            refused = []
            for i, r in enumerate(s.recs):
                if "fail" in r:
                    continue
                here = [x for x in gate_reasons(r, DEFAULT_GATE) if reason_kind(x) == lim]
                if not here:
                    continue
                others = gate_reasons(r, relaxed)
                v = r[key]
                mates = [j for j in okidx if codes[j] == codes[i] and j != i]
                gs = np.array([float(v @ s.recs[j][key]) for j in mates])
                refused.append({
                    "path": os.path.relpath(r["path"], DATA), "value": round(r[METRIC[lim]], 2),
                    "still_refused_by": sorted({reason_kind(x) for x in others}),
                    "genuine": int(gs.size),
                    "genuine_min": round(float(gs.min()), 4) if gs.size else None,
                    "genuine_median": round(float(np.median(gs)), 4) if gs.size else None,
                    "below_1e-3": int((gs < t3).sum())})
            limits[lim] = {"field": field_name, "value": _limit_value(lim),
                           "refused": len(refused), "images": refused}
        per["limits"] = limits
        out[name] = per
    return out


STRESS = (("rot", 15), ("rot", 25), ("rot", 35), ("rot", 45), ("rot", 60),
          ("blur", 1.5), ("blur", 3.0), ("blur", 4.5),
          ("gain", 0.3), ("gain", 0.2), ("gain", 0.12), ("gain", 2.0), ("gain", 3.0))


def stress_items(gt: Set) -> tuple[list[int], dict[str, list[tuple]]]:
    """The first accepted image of each GT person, under each synthetic stress. Blur sigma is
    given on the 150 px chip and converted to image pixels per image (sigma x IOD / chip IOD)."""
    first: dict[str, int] = {}
    for i, lbl in enumerate(gt.labels):
        if gt.ok[i] and lbl not in first:
            first[lbl] = i
    idx = [first[k] for k in sorted(first)]
    out = {}
    for kind, value in STRESS:
        items = []
        for i in idx:
            r = gt.recs[i]
            v = value * r["iod"] / r["chip_iod"] if kind == "blur" else value
            items.append((r["path"], None, False, False, (kind, round(float(v), 3))))
        out[f"{kind}{value:g}"] = items
    return idx, out


def step_stress(gt: Set, idx: list[int], recs_by_cond: dict[str, list[dict]], t3: float) -> dict:
    """Per stress condition: detector failures, default-gate refusals (by limit), the measured
    value, and FNMR at the 1e-3 threshold (stressed probe vs the person's other full-size
    accepted images) for the accepted and the refused captures (the gate open)."""
    codes, _ = codes_of(gt.labels)
    okidx = np.flatnonzero(gt.ok)
    out = {}
    for cond, recs in recs_by_cond.items():
        kind = cond.rstrip("0123456789.")
        metric = {"rot": "roll", "blur": "sharp", "gain": "mean"}[kind]
        n = len(recs)
        nofail = [k for k, r in enumerate(recs) if "fail" not in r]
        refused_kinds: Counter = Counter()
        g_acc, g_ref = [], []
        vals = []
        for k in nofail:
            r = recs[k]
            i = idx[k]
            vals.append(abs(r[metric]) if metric == "roll" else r[metric])
            reasons = gate_reasons(r, DEFAULT_GATE)
            for x in reasons:
                refused_kinds[reason_kind(x)] += 1
            mates = [j for j in okidx if codes[j] == codes[i] and j != i]
            gs = [float(r["v"] @ gt.recs[j]["v"]) for j in mates]
            (g_ref if reasons else g_acc).extend(gs)
        fail_kinds = Counter(reason_kind(recs[k]["fail"]) for k in range(n) if "fail" in recs[k])
        ga, gr = np.array(g_acc), np.array(g_ref)
        out[cond] = {
            "n": n, "no_face": sum(fail_kinds.values()), "fail_kinds": dict(fail_kinds),
            "refused_by": dict(refused_kinds),
            "refused": sum(1 for k in nofail if gate_reasons(recs[k], DEFAULT_GATE)),
            f"{metric}_median": float(np.median(vals)) if vals else None,
            f"{metric}_min_max": [float(np.min(vals)), float(np.max(vals))] if vals else None,
            "accepted_fnmr_1e-3": float((ga < t3).mean()) if ga.size else None,
            "accepted_genuine": int(ga.size),
            "refused_fnmr_1e-3": float((gr < t3).mean()) if gr.size else None,
            "refused_genuine": int(gr.size),
        }
    return out


def natural_bins(s: Set, t3: float) -> dict:
    """Accepted images binned by |yaw|, |roll|, sharpness and face mean: genuine-pair FNMR at
    the set's 1e-3 threshold over the pairs involving an image of the bin."""
    codes, _ = codes_of(s.labels)
    okidx = np.flatnonzero(s.ok)
    V = np.stack([s.recs[i]["v"] for i in okidx])
    S = np.clip(V @ V.T, -1, 1)
    c = codes[okidx]
    gen = (c[:, None] == c[None, :]) & ~np.eye(len(c), dtype=bool)
    out = {}
    for metric, edges in (("yaw", (0, 10, 20, 30, 40)), ("roll", (0, 10, 20, 30)),
                          ("sharp", (0, 30, 60, 120, 1e9)), ("mean", (0, 60, 90, 130, 256))):
        vals = np.array([s.recs[i][metric] for i in okidx])
        if metric in ("yaw", "roll"):
            vals = np.abs(vals)
        rows = {}
        for lo, hi in zip(edges, edges[1:], strict=False):
            sel = (vals >= lo) & (vals < hi)
            g = S[sel][gen[sel]]
            rows[f"{lo:g}-{hi:g}"] = {"images": int(sel.sum()), "pairs": int(g.size),
                                      "fnmr_1e-3": float((g < t3).mean()) if g.size else None}
        out[metric] = rows
    return out


def _limit_value(lim: str):
    c = DEFAULT_GATE
    return {"iod": c.min_iod_px, "yaw": c.max_yaw_deg, "roll": c.max_roll_deg,
            "dark": [c.min_mean, c.max_dark_fraction],
            "overexposed": [c.max_mean, c.max_clipped_fraction],
            "sharpness": c.min_sharpness}[lim]


def crosscheck(gt_samples, yale_samples, base: dict, out_dir: Path) -> dict:
    """run_eval with the default engine must give the same numbers as the cached path."""
    from hawiya.biometrics.face import FaceEngine
    from hawiya.eval.runner import run_eval

    eng = FaceEngine()
    res = {}
    try:
        for name, samples in (("gt", gt_samples), ("yale", yale_samples)):
            r = run_eval(eng, samples, out_dir=out_dir, name=f"study-{name}", progress=False)
            mine = base[name]
            same = (r["failed_to_enrol"] == mine["fte"] and r["genuine"] == mine["genuine"]
                    and r["impostor"] == mine["impostor"]
                    and abs(r["eer"] - mine["eer"]) < 1e-9
                    and all(abs(r["thresholds_at_fmr"][k] - mine["points"][k]["threshold"])
                            < 1e-4 for k in r["thresholds_at_fmr"]))
            res[name] = {"run_eval_eer": r["eer"], "run_eval_fte": r["failed_to_enrol"],
                         "run_eval_thresholds": r["thresholds_at_fmr"], "identical": same}
    finally:
        eng.close()
    return res


# ----------------------------------------------------------------------------- printing
def _pct(x) -> str:
    return "   -  " if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:6.2f}"


def print_baseline(title: str, res: dict) -> None:
    print(f"\n## {title}")
    cols = list(res)
    print(f"{'':34s}" + "".join(f"{c:>16s}" for c in cols))

    def row(label, fn):
        print(f"{label:34s}" + "".join(f"{fn(res[c]):>16s}" for c in cols))

    row("images / FTE", lambda r: f"{r['samples']} / {r['fte']}")
    row("genuine / impostor pairs", lambda r: f"{r['genuine']} / {r['impostor']}")
    row("EER %", lambda r: _pct(r["eer"]))
    row("EER threshold", lambda r: f"{r['eer_threshold']:.4f}")
    row("impostor mean (FMR 0.5 point)", lambda r: f"{r['impostor_mean']:.4f}")
    row("impostor median", lambda r: f"{r['impostor_median']:.4f}")
    for k in ("0.01", "0.001", "0.0001"):
        row(f"thr @FMR {k}", lambda r, k=k: f"{r['points'][k]['threshold']:.4f}"
            + ("" if r["points"][k]["reliable_rule3"] else "*"))
        row(f"  FNMR % @FMR {k}", lambda r, k=k: _pct(r["points"][k]["fnmr"]))
        row("  GFNMR % / GFMR %", lambda r, k=k: f"{100 * r['points'][k]['gfnmr']:.2f} / "
            f"{100 * r['points'][k]['gfmr']:.3f}")
        row("  false matches / needed pairs", lambda r, k=k:
            f"{r['points'][k]['false_matches']} / {r['points'][k]['impostors_needed_rule3']}")
    print("(* = fewer impostor pairs than 3/FMR: the threshold is not resolved at that FMR)")
    for name in current_thresholds():
        row(f"shipped {name}: FMR%/FNMR%", lambda r, n=name: (
            f"{100 * r['at_current'][n]['fmr']:.3f}/{100 * r['at_current'][n]['fnmr']:.2f}"
            if "at_current" in r else "-"))
    for c in cols:
        b = res[c].get("bootstrap")
        if b:
            print(f"{c}: identity bootstrap ({b['reps']} reps) 90% intervals: " + "; ".join(
                f"thr@{k} {b[k]['threshold_90'][0]:.4f}-{b[k]['threshold_90'][1]:.4f} "
                f"(FNMR {_pct(b[k]['fnmr_90'][0]).strip()}-{_pct(b[k]['fnmr_90'][1]).strip()}%)"
                for k in ("0.01", "0.001", "0.0001")) +
                f"; impostor mean {b['impostor_mean_90'][0]:.4f}-{b['impostor_mean_90'][1]:.4f}")
        if res[c].get("fte_reasons"):
            print(f"{c}: FTE reasons {res[c]['fte_reasons']}")


def print_multi(title: str, res: dict) -> None:
    print(f"\n## {title}")
    print(f"choices {res['choices']}, probes {res['probes']} (failed {res['probes_failed']}), "
          f"people without template {res['people_without_template']}")
    print(f"{'method':10s}{'gen':>7s}{'imp':>9s}{'EER %':>8s}{'thr1e-3':>9s}{'FNMR%1e-3':>10s}"
          f"{'thr1e-4':>9s}{'FNMR%1e-4':>10s}{'imp mean':>9s}  at all-pairs 1e-3 thr: FMR/FNMR %")
    for m in ("single", "best_of", "mean"):
        r = res[m]
        a = r["at_allpairs"]["0.001"]
        print(f"{m:10s}{r['genuine']:7d}{r['impostor']:9d}{_pct(r['eer']):>8s}"
              f"{r['points']['0.001']['threshold']:9.4f}{_pct(r['points']['0.001']['fnmr']):>10s}"
              f"{r['points']['0.0001']['threshold']:9.4f}"
              f"{_pct(r['points']['0.0001']['fnmr']):>10s}{r['impostor_mean']:9.4f}"
              f"  {100 * a['fmr']:.3f} / {100 * a['fnmr']:.2f}")


def print_small(title: str, res: dict) -> None:
    print(f"\n## {title}")
    print(f"full-size GT IOD px: {res['full_size_iod']}; IOD on the 150 px chip: "
          f"{res['chip_iod_median']:.1f}; thresholds (full-size GT): 1e-3 "
          f"{res['threshold_1e-3']:.4f}, 1e-2 {res['threshold_1e-2']:.4f}")
    hdr = (f"{'IOD':>5s}{'n':>5s}{'meas':>6s}{'FTE%':>7s}  {'probe: FNMR%':>12s}{'FMR%':>7s}"
           f"{'GFNMR%':>8s}{'EER%':>7s}{'FNMR%@1e-2':>11s}  {'both small: EER%':>16s}"
           f"{'FNMR%':>7s}{'FMR%':>7s}{'thr1e-3':>8s}  FTE reasons")
    for label, rows in (("downscaled", res["targets"]), ("downscaled, then 2x bicubic before "
                                                         "the engine", res["pre_upscale_2x"])):
        if not rows:
            continue
        print(f"-- {label}")
        print(hdr)
        for t, r in rows.items():
            p = r.get("probe", {})
            b = r.get("both_small", {})
            meas = r.get("measured_iod_median", float("nan"))
            print(f"{t:>5s}{r['n']:5d}{meas:6.1f}{_pct(r['fte_rate']):>7s}  "
                  f"{_pct(p.get('fnmr_at_full_1e-3')):>12s}{_pct(p.get('fmr_at_full_1e-3')):>7s}"
                  f"{_pct(p.get('gfnmr_at_full_1e-3')):>8s}{_pct(p.get('eer')):>7s}"
                  f"{_pct(p.get('fnmr_at_full_1e-2')):>11s}  "
                  f"{_pct(b.get('eer')):>16s}{_pct(b.get('fnmr_at_full_1e-3')):>7s}"
                  f"{_pct(b.get('fmr_at_full_1e-3')):>7s}"
                  f"{b.get('own_thr_1e-3', float('nan')):8.4f}  {r['fte_reasons']}")
        for t, r in rows.items():
            p = r.get("probe", {})
            gr = r.get("gate_refused_probe")
            ci = p.get("fnmr_delta_vs_full_90")
            ref = _pct(p.get("full_size_fnmr_1e-3")).strip()
            extra = f"   IOD {t}: probe FNMR - full-size FNMR ({ref}%)"
            extra += (f" 90% [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}] pts" if ci else " -")
            if gr:
                extra += (f"; {gr['images']} gate-refused captures would have FNMR "
                          f"{_pct(gr['fnmr_at_full_1e-3']).strip()}% ({gr['genuine']} pairs)")
            print(extra)
    print("-- full-size GT images by ISO/IEC 19794-5 IOD level (genuine pairs involving them)")
    for k, v in res["full_size_by_iso_iod"].items():
        print(f"   IOD {k:6s} images {v['images']:4d}  pairs {v['genuine_pairs_involving']:5d}  "
              f"FNMR@1e-3 {_pct(v['fnmr_at_1e-3'])}%")


def print_limits(title: str, res: dict) -> None:
    print(f"\n## {title}")
    for name, per in res.items():
        print(f"-- {name}: {per['images']} images, {per['no_face_or_several']} without exactly "
              f"one face, {per['refused_by_default_gate']} refused by the gate; accepted "
              f"images' genuine FNMR@1e-3 {_pct(per['accepted_genuine_fnmr_at_1e-3'])}%")
        print("   ranges (|yaw|, |roll|): " + "; ".join(
            f"{m} {v['min']}..{v['max']} (p5 {v['p5']}, p95 {v['p95']})"
            for m, v in per["metric_ranges"].items()))
        for lim, v in per["limits"].items():
            print(f"   {lim:12s} {v['field']:30s} {str(v['value']):>14s}  refuses {v['refused']}")
            for im in v["images"]:
                print(f"      {im['path']}: value {im['value']}, genuine {im['genuine']} "
                      f"(min {im['genuine_min']}, median {im['genuine_median']}), "
                      f"{im['below_1e-3']} below the 1e-3 threshold; "
                      f"other limits: {im['still_refused_by'] or 'none'}")


def print_stress(title: str, res: dict, bins: dict) -> None:
    print(f"\n## {title}")
    print(f"{'condition':11s}{'n':>4s}{'noface':>7s}{'refused':>8s}  "
          f"{'measured median (min..max)':28s}"
          f"{'FNMR% acc':>10s}{'(pairs)':>8s}{'FNMR% ref':>10s}{'(pairs)':>8s}  refused by")
    for cond, r in res.items():
        mk = next(k for k in r if k.endswith("_median"))
        mm = r[mk.replace("_median", "_min_max")]
        meas = (f"{mk[:-7]} {r[mk]:.1f} ({mm[0]:.1f}..{mm[1]:.1f})" if r[mk] is not None
                else "-")
        print(f"{cond:11s}{r['n']:4d}{r['no_face']:7d}{r['refused']:8d}  {meas:28s}"
              f"{_pct(r['accepted_fnmr_1e-3']):>10s}{r['accepted_genuine']:8d}"
              f"{_pct(r['refused_fnmr_1e-3']):>10s}{r['refused_genuine']:8d}  {r['refused_by']}")
    for name, per in bins.items():
        print(f"-- {name}: accepted images binned (FNMR % at the 1e-3 threshold, pairs involving "
              "the bin)")
        for metric, rows in per.items():
            print(f"   {metric:6s} " + "  ".join(
                f"{k}: {v['images']} img {_pct(v['fnmr_1e-3']).strip()}%"
                for k, v in rows.items()))


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", default=str(DATA / "georgia_tech"))
    ap.add_argument("--yale", default=str(DATA / "yale"))
    ap.add_argument("--steps", default="1,2,3,4", help="comma list of steps to run")
    ap.add_argument("--iods", default="12,16,20,24,30,40", help="target IODs (px) for step 3")
    ap.add_argument("--upscale-iods", default="12,16,20",
                    help="targets also tried pre-upscaled 2x (detector test); '' for none")
    ap.add_argument("--small-flip", action="store_true",
                    help="also mirror-average the downscaled copies (step 3 with flip)")
    ap.add_argument("--workers", type=int, default=1, help="extraction processes (default 1)")
    ap.add_argument("--cache", default="/tmp/hawiya_face_study")
    ap.add_argument("--bootstrap", type=int, default=300, help="identity bootstrap reps")
    ap.add_argument("--crosscheck", action="store_true",
                    help="re-run the default engine through run_eval and compare")
    ap.add_argument("--out", default="", help="also write the JSON here")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    ap.add_argument("--no-stress", action="store_true",
                    help="step 4 without the synthetic stress (rotation, blur, gain)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    steps = {int(s) for s in args.steps.split(",") if s.strip()}
    t0 = time.perf_counter()
    ext = Extractor(Path(args.cache), args.workers, not args.no_progress)
    report: dict = {"gate_default": dataclasses.asdict(DEFAULT_GATE)}
    try:
        gt_samples = load_dir(args.gt)
        yale_samples = load_dir(args.yale)
        sets = {}
        for name, samples in (("gt", gt_samples), ("yale", yale_samples)):
            recs = ext.get(f"{name}-full", [(str(s.path), None, False, True) for s in samples])
            sets[name] = Set(name, samples, recs)
        base = step_baseline(sets, "v", args.bootstrap)
        report["baseline"] = base
        thr = {k: {p: v["threshold"] for p, v in base[k]["points"].items()} for k in base}
        if 1 in steps:
            print_baseline("1. Baseline, default engine (flip off)", base)
        if args.crosscheck:
            report["crosscheck"] = crosscheck(gt_samples, yale_samples, base,
                                              Path(args.cache) / "run_eval")
            print(f"\ncrosscheck against run_eval: {report['crosscheck']}")
        if 2 in steps or (3 in steps and args.small_flip):
            flip = step_baseline(sets, "vf", args.bootstrap)
            report["flip"] = flip
        if 2 in steps:
            print_baseline("2a. flip=True (mirror averaging)", flip)
            report["flip_vs_plain"] = paired_flip(base, flip)
            for name, per in report["flip_vs_plain"].items():
                print(f"{name}: FNMR(flip) - FNMR(plain), identity bootstrap 90%: " + "; ".join(
                    f"@{k} {100 * v['delta_point']:+.2f} pts "
                    f"[{100 * v['delta_90'][0]:+.2f}, {100 * v['delta_90'][1]:+.2f}], flip "
                    f"better in {100 * v['share_flip_better']:.0f}% of resamples"
                    for k, v in per.items()))
            report["multi_enrol"] = {}
            for key, label in (("v", "plain"), ("vf", "flip")):
                thr_k = {p: v["threshold"] for p, v in
                         (base if key == "v" else flip)["gt"]["points"].items()}
                r = step_multi_enrol(sets["gt"], key, thr_k)
                report["multi_enrol"][label] = r
                print_multi(f"2b. GT multi-capture enrolment ({label}): 2 enrolment images, "
                            "4 probes, 15 choices", r)
        if 3 in steps:
            gt = sets["gt"]
            targets = [float(x) for x in args.iods.split(",") if x.strip()]
            ups = {float(x) for x in args.upscale_iods.split(",") if x.strip()}
            small, upscaled = {}, {}
            suffix = "-flip" if args.small_flip else ""
            for t in targets:
                items = [(str(r["path"]), t / r["iod"], False, args.small_flip)
                         for r in gt.recs if "iod" in r and t / r["iod"] < 1.0]
                small[f"{t:g}"] = ext.get(f"gt-iod{t:g}{suffix}", items)
                if t in ups:
                    items_u = [(p, s, True, False) for p, s, _, _ in items]
                    upscaled[f"{t:g}"] = ext.get(f"gt-iod{t:g}-up2", items_u)
            for key, label in (("v", "plain"), ("vf", "flip")):
                if key == "vf" and not args.small_flip:
                    continue
                thr_k = {p: v["threshold"] for p, v in (report["baseline"] if key == "v" else
                                                        report["flip"])["gt"]["points"].items()}
                res = step_small(gt, small, upscaled if key == "v" else {}, thr_k, key)
                report.setdefault("small", {})[label] = res
                print_small(f"3. Small faces, GT, gate IOD limit off ({label})", res)
        if 4 in steps:
            report["limits"] = step_limits(sets, thr, "v")
            print_limits("4. Other gate limits at their current values", report["limits"])
            if not args.no_stress:
                idx, conds = stress_items(sets["gt"])
                recs = {c: ext.get(f"gt-stress-{c}", items) for c, items in conds.items()}
                report["stress"] = step_stress(sets["gt"], idx, recs, thr["gt"]["0.001"])
                report["natural_bins"] = {k: natural_bins(s, thr[k]["0.001"])
                                          for k, s in sets.items()}
                print_stress("4b. Synthetic stress (GT, first image per person; default gate)",
                             report["stress"], report["natural_bins"])
    finally:
        ext.close()
    report["extraction"] = {"images_analysed_this_run": ext.computed,
                            "seconds": round(ext.seconds, 1), "workers": ext.workers}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"\ntotal {report['seconds']} s ({ext.computed} images analysed in "
          f"{ext.seconds:.0f} s, rest from cache {args.cache})")
    for sec in ("baseline", "flip"):  # per-resample values only feed the paired comparison
        for r in report.get(sec, {}).values():
            r.get("bootstrap", {}).pop("raw", None)
    text = json.dumps(report, default=float)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    return report


if __name__ == "__main__":
    main()

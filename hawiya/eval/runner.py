"""Run a verification evaluation of one engine on labelled data and write its report.

``run_eval`` decodes and extracts every image (counting each failure to enrol with its
reason), scores all genuine and impostor pairs (or an explicit pairs list), computes EER and
FNMR at target FMRs with :mod:`hawiya.eval.metrics`, and writes ``<name>-det.png`` and
``<name>-report.json`` into ``out_dir``. The returned dict is the ``hawiya eval --json``
contract: ``eer``, ``fnmr_at_fmr``, ``genuine``, ``impostor``, ``failed_to_enrol``,
``det_plot`` and more. With ``scores_path`` it also saves the raw genuine and impostor score
arrays (``.npz``: ``genuine``, ``impostor`` as float64, ``modality``, ``algorithm``,
``version``) for analyses the report's summaries cannot answer (1:N error rates, fusion).

Protocol. With samples, every pair ``i < j`` of successfully extracted samples is compared
once: same label -> genuine, different labels -> impostor. Error rates are computed over
those comparisons (ISO/IEC 19795-1 "matching" rates); failures to enrol are reported beside
them as ``failed_to_enrol`` / ``fte_rate`` and listed, never dropped silently. With explicit
pairs, a pair whose image failed to enrol is counted in ``pairs_excluded``.

Scoring is vectorised: if the engine offers ``vectors(templates) -> (N, d) array`` whose dot
products equal its ``compare`` scores, the score matrix is computed block by block with a
matrix product (checked against ``compare_many`` on a few pairs first); otherwise one
``compare_many(probe, rest)`` call per probe.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hawiya.biometrics.template import Template
from hawiya.errors import HawiyaError, InvalidInput
from hawiya.eval.datasets import Pair, Sample
from hawiya.eval.metrics import det_curve, evaluate_scores, fmr_key, plot_det
from hawiya.imaging import load_image

_BLOCK_ELEMENTS = 1 << 22  # score-matrix block size (rows x N) for the matrix-product path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HawiyaError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


def _extract_all(engine: Any, paths: Sequence[Path], *, progress: bool, batch_size: int
                 ) -> tuple[list[Template | None], list[dict]]:
    """Templates in ``paths`` order (None where enrolment failed) and the failures."""
    mode = getattr(engine, "image_mode", "RGB")
    # An engine may read its own sample files (e.g. ISO minutiae records instead of images).
    load = getattr(engine, "load_sample", None) or (lambda p: load_image(p, mode=mode))
    templates: list[Template | None] = [None] * len(paths)
    failures: list[dict] = []
    with _progress(progress) as bar:
        task = bar.add_task(f"extracting {getattr(engine, 'modality', '')}".strip(),
                            total=len(paths))
        for start in range(0, len(paths), batch_size):
            idx, images = [], []
            for i in range(start, min(start + batch_size, len(paths))):
                try:
                    images.append(load(paths[i]))
                    idx.append(i)
                except Exception as exc:  # a decode failure is a failure to enrol
                    failures.append({"path": str(paths[i]), "reason": _reason(exc)})
            results: list[Any]
            try:
                results = list(engine.extract_batch(images)) if images else []
                if len(results) != len(images):
                    raise RuntimeError(f"extract_batch returned {len(results)} results for "
                                       f"{len(images)} images")
            except Exception:
                # Isolate the failing image(s): fall back to one extraction per image.
                results = []
                for img in images:
                    try:
                        results.append(engine.extract(img))
                    except Exception as exc:
                        results.append(exc)
            for i, res in zip(idx, results, strict=True):
                if isinstance(res, Template):
                    templates[i] = res
                else:
                    reason = _reason(res) if isinstance(res, BaseException) else (
                        f"engine returned {type(res).__name__}, not a Template")
                    failures.append({"path": str(paths[i]), "reason": reason})
            bar.advance(task, min(batch_size, len(paths) - start))
    failures.sort(key=lambda f: f["path"])
    return templates, failures


def _vectors(engine: Any, templates: list[Template], warnings: list[str]) -> np.ndarray | None:
    """The engine's score vectors if it has them and their dot products match its scores."""
    fn = getattr(engine, "vectors", None)
    if fn is None or not callable(fn):
        return None
    try:
        v = np.asarray(fn(templates), dtype=np.float32)
    except Exception as exc:
        warnings.append(f"engine.vectors() failed ({_reason(exc)}); using compare_many")
        return None
    if v.ndim != 2 or v.shape[0] != len(templates):
        warnings.append(f"engine.vectors() returned shape {v.shape}; using compare_many")
        return None
    m = min(len(templates), 8)
    ref = np.asarray(engine.compare_many(templates[0], templates[:m]), dtype=np.float64)
    got = v[:m] @ v[0]
    if not np.allclose(got, ref, atol=1e-4, rtol=1e-4):
        warnings.append("engine.vectors() dot products differ from compare_many scores; "
                        "using compare_many")
        return None
    return v


def _score_all_pairs(engine: Any, templates: list[Template], codes: np.ndarray,
                     warnings: list[str], progress: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Genuine and impostor scores over all pairs i < j."""
    n = len(templates)
    gen: list[np.ndarray] = []
    imp: list[np.ndarray] = []
    v = _vectors(engine, templates, warnings) if n > 1 else None
    cols = np.arange(n)
    with _progress(progress) as bar:
        task = bar.add_task("scoring", total=max(n - 1, 0))
        if v is not None:
            rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
            for r0 in range(0, n - 1, rows):
                r1 = min(r0 + rows, n - 1)
                s = v[r0:r1] @ v.T
                upper = cols[None, :] > np.arange(r0, r1)[:, None]
                same = codes[r0:r1, None] == codes[None, :]
                gen.append(s[upper & same])
                imp.append(s[upper & ~same])
                bar.advance(task, r1 - r0)
            method = "matrix"
        else:
            for i in range(n - 1):
                s = np.asarray(engine.compare_many(templates[i], templates[i + 1:]),
                               dtype=np.float64).ravel()
                same = codes[i + 1:] == codes[i]
                gen.append(s[same])
                imp.append(s[~same])
                bar.advance(task)
            method = "compare_many"
    cat = lambda parts: np.concatenate(parts) if parts else np.empty(0)  # noqa: E731
    return cat(gen), cat(imp), method


def _score_pairs(engine: Any, ta: list[Template], tb: list[Template], ia: np.ndarray,
                 warnings: list[str]) -> tuple[np.ndarray, str]:
    """Scores of explicit pairs (ta[k], tb[k]); ``ia`` groups pairs that share a probe."""
    if not ta:
        return np.empty(0), "none"
    uniq = {id(t): t for t in ta + tb}
    order = list(uniq)
    pos = {k: i for i, k in enumerate(order)}
    v = _vectors(engine, [uniq[k] for k in order], warnings) if len(order) > 1 else None
    if v is not None:
        a = v[[pos[id(t)] for t in ta]]
        b = v[[pos[id(t)] for t in tb]]
        return np.einsum("ij,ij->i", a, b).astype(np.float64), "matrix"
    scores = np.empty(len(ta))
    for probe in np.unique(ia):
        sel = np.flatnonzero(ia == probe)
        scores[sel] = np.asarray(engine.compare_many(ta[sel[0]], [tb[k] for k in sel]),
                                 dtype=np.float64).ravel()
    return scores, "compare_many"


def save_scores(path: str | os.PathLike, genuine: np.ndarray, impostor: np.ndarray, *,
                modality: str | None = None, algorithm: str | None = None,
                version: object = None) -> Path:
    """Write genuine/impostor scores to ``path`` (an ``.npz``, written atomically): arrays
    ``genuine`` and ``impostor`` (float64) and the strings ``modality``, ``algorithm`` and
    ``version`` (empty when unknown). Read back with ``np.load(path)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
        np.savez(fh, genuine=np.asarray(genuine, dtype=np.float64).ravel(),
                 impostor=np.asarray(impostor, dtype=np.float64).ravel(),
                 modality=np.str_(modality or ""), algorithm=np.str_(algorithm or ""),
                 version=np.str_("" if version is None else str(version)))
    os.replace(tmp, path)
    return path


def run_eval(engine: Any, samples: Sequence[Sample | tuple] | None = None,
             pairs: Sequence[Pair | tuple] | None = None, *, out_dir: str | os.PathLike,
             name: str, fmr_targets: Sequence[float] = (1e-2, 1e-3, 1e-4), progress: bool = True,
             batch_size: int = 32, det_scale: str = "normal",
             scores_path: str | os.PathLike | None = None) -> dict:
    """Evaluate ``engine`` on labelled ``samples`` (all pairs) or explicit ``pairs``.

    Returns the report dict (also written as ``<out_dir>/<name>-report.json``); the DET plot
    goes to ``<out_dir>/<name>-det.png``. With ``scores_path``, the genuine and impostor scores
    are saved there as an ``.npz`` (see :func:`save_scores`); the report is unchanged. Raises
    :class:`InvalidInput` when the data yields no genuine or no impostor comparison.
    """
    t0 = time.perf_counter()
    if (samples is None) == (pairs is None):
        raise InvalidInput("give either samples (all-pairs protocol) or explicit pairs")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name or ""):
        raise InvalidInput(f"report name must be letters, digits, '.', '_' or '-': {name!r}")
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1")
    targets = [float(t) for t in fmr_targets]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    extra: dict = {}

    if samples is not None:
        items = [Sample(Path(p), str(lbl)) for p, lbl in samples]
        if not items:
            raise InvalidInput("no samples to evaluate")
        paths = [s.path for s in items]
        templates, failures = _extract_all(engine, paths, progress=progress,
                                           batch_size=batch_size)
        ok = [i for i, t in enumerate(templates) if t is not None]
        _, codes = np.unique(np.array([items[i].label for i in ok], dtype=str),
                             return_inverse=True)
        gen, imp, method = _score_all_pairs(engine, [templates[i] for i in ok],
                                            codes.astype(np.int64), warnings, progress)
        n_samples, identities = len(items), len({s.label for s in items})
        protocol = "all-pairs"
        _, counts = np.unique(np.array([s.label for s in items], dtype=str),
                              return_counts=True)
        attempted = (int((counts * (counts - 1) // 2).sum()),
                     n_samples * (n_samples - 1) // 2 - int((counts * (counts - 1) // 2).sum()))
    else:
        plist = [Pair(Path(p[0]), Path(p[1]), bool(p[2]), *(str(x) for x in p[3:5]))
                 for p in pairs]  # type: ignore[union-attr]
        if not plist:
            raise InvalidInput("no pairs to evaluate")
        paths = list(dict.fromkeys(x for p in plist for x in (p.a, p.b)))
        templates, failures = _extract_all(engine, paths, progress=progress,
                                           batch_size=batch_size)
        index = {p: i for i, p in enumerate(paths)}
        ia = np.array([index[p.a] for p in plist])
        ib = np.array([index[p.b] for p in plist])
        usable = np.array([templates[a] is not None and templates[b] is not None
                           for a, b in zip(ia, ib, strict=True)], dtype=bool)
        keep = np.flatnonzero(usable)
        scores, method = _score_pairs(engine, [templates[ia[k]] for k in keep],
                                      [templates[ib[k]] for k in keep], ia[keep], warnings)
        genuine_flag = np.array([plist[k].genuine for k in keep], dtype=bool)
        gen, imp = scores[genuine_flag], scores[~genuine_flag]
        n_samples = len(paths)
        labels = {x for p in plist for x in (p.label_a, p.label_b) if x}
        identities = len(labels) if labels else None
        protocol = "pairs"
        extra = {"pairs": len(plist), "pairs_excluded": int((~usable).sum())}
        attempted = (sum(p.genuine for p in plist), sum(not p.genuine for p in plist))

    if gen.size == 0 or imp.size == 0:
        which = "genuine" if gen.size == 0 else "impostor"
        hint = ("each identity needs at least two usable samples" if which == "genuine"
                else "at least two identities need usable samples")
        raise InvalidInput(
            f"no {which} comparisons: {hint} ({len(failures)} of {n_samples} samples "
            f"failed to enrol)", failures=failures[:20]
        )

    if scores_path is not None:
        save_scores(scores_path, gen, imp, modality=getattr(engine, "modality", None),
                    algorithm=getattr(engine, "algorithm", None),
                    version=getattr(engine, "version", None))
    rep = evaluate_scores(gen, imp, targets)
    for p in rep.points:
        if not p.reliable:
            warnings.append(
                f"only {rep.impostor} impostor comparisons: FMR {fmr_key(p.target_fmr)} needs "
                f"at least {int(np.ceil(1 / p.target_fmr))}; FNMR at that FMR is not reliable"
            )
    det_path = out / f"{name}-det.png"
    label = f"{getattr(engine, 'algorithm', '?')}/{getattr(engine, 'version', '?')}"
    plot_det({label: det_curve(gen, imp, max_points=20_000)}, det_path,
             eer={label: rep.eer}, scale=det_scale,
             title=f"{getattr(engine, 'modality', '')} DET ({name})".strip())
    report_path = out / f"{name}-report.json"

    d = rep.to_dict()
    result: dict = {
        "eer": d["eer"],
        "fnmr_at_fmr": d["fnmr_at_fmr"],
        "genuine": d["genuine"],
        "impostor": d["impostor"],
        "failed_to_enrol": len(failures),
        "det_plot": str(det_path),
        "report": str(report_path),
        "modality": getattr(engine, "modality", None),
        "algorithm": getattr(engine, "algorithm", None),
        "version": getattr(engine, "version", None),
        "protocol": protocol,
        "samples": n_samples,
        "identities": identities,
        "fte_rate": len(failures) / n_samples if n_samples else 0.0,
        "generalised": generalised_rates(rep, attempted, gen.size, imp.size),
        "eer_threshold": d["eer_threshold"],
        "eer_interval": d["eer_interval"],
        "thresholds_at_fmr": d["thresholds_at_fmr"],
        "fmr_at_threshold": d["fmr_at_threshold"],
        "fmr_target_reliable": d["fmr_target_reliable"],
        "genuine_scores": d["genuine_scores"],
        "impostor_scores": d["impostor_scores"],
        **extra,
        "scoring": method,
        "failures": failures,
        "warnings": warnings,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, report_path)
    return result


def generalised_rates(rep, attempted: tuple[int, int], genuine: int, impostor: int) -> dict:
    """ISO/IEC 19795-1 generalised rates that count failures to enrol: a comparison that
    could not be made because a sample failed is a false non-match for a genuine pair
    (GFNMR) and no false match for an impostor pair (GFMR), at the same thresholds."""
    gen_total, imp_total = attempted
    gen_failed = max(0, gen_total - genuine)
    out = {"genuine_pairs_attempted": gen_total, "impostor_pairs_attempted": imp_total,
           "genuine_pairs_failed": gen_failed, "gfnmr_at_fmr": {}, "gfmr_at_fmr": {}}
    for p in rep.points:
        key = fmr_key(p.target_fmr)
        out["gfnmr_at_fmr"][key] = ((gen_failed + p.fnmr * genuine) / gen_total
                                    if gen_total else None)
        out["gfmr_at_fmr"][key] = (p.fmr * impostor / imp_total
                                   if imp_total else None)
    return out


__all__ = ["generalised_rates", "run_eval", "save_scores"]

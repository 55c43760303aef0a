"""Accuracy evaluation: labelled datasets, genuine/impostor scores, FMR/FNMR/EER/DET, reports.

``hawiya eval MODALITY`` calls :func:`hawiya.eval.runner.run_eval`; the metric functions in
:mod:`hawiya.eval.metrics` are pure numpy and usable on any score arrays.
"""

from hawiya.eval.datasets import Pair, Sample, load_dir, load_manifest, load_pairs, load_samples
from hawiya.eval.metrics import (
    DetCurve,
    EerResult,
    OperatingPoint,
    ScoreReport,
    det_curve,
    eer,
    evaluate_scores,
    fmr_key,
    fnmr_at_fmr,
    plot_det,
    threshold_at_fmr,
)
from hawiya.eval.runner import run_eval

__all__ = [
    "DetCurve",
    "EerResult",
    "OperatingPoint",
    "Pair",
    "Sample",
    "ScoreReport",
    "det_curve",
    "eer",
    "evaluate_scores",
    "fmr_key",
    "fnmr_at_fmr",
    "load_dir",
    "load_manifest",
    "load_pairs",
    "load_samples",
    "plot_det",
    "run_eval",
    "threshold_at_fmr",
]

"""Verification accuracy from genuine and impostor scores: FMR/FNMR, EER, FNMR@FMR, DET plots.

Conventions (ISO/IEC 19795-1 wording, FVC practice):

* Scores are similarities: higher means more alike.
* A comparison is *accepted* at threshold ``t`` when ``score >= t``. So
  ``FMR(t) = #{impostor >= t} / n_impostor`` and ``FNMR(t) = #{genuine < t} / n_genuine``.
* The operating points are evaluated at every distinct score plus one threshold just above
  the highest score (where FMR = 0 and FNMR = 1), so every achievable (FMR, FNMR) pair is on
  the curve and nothing between two consecutive scores is missed.

Ties. Equal scores are never split: all comparisons with the same score are accepted or
rejected together. When a genuine and an impostor score tie, the curve takes one diagonal
step (FMR and FNMR change at the same threshold). The EER interpolates linearly along that
step, which gives the error rate expected if ties were broken at random; for two identical
score distributions it is exactly 0.5.

Everything is vectorised over sorted arrays with ``np.searchsorted``; the EER and the
FNMR@FMR points are found by bisection on the sorted scores, so tens of millions of impostor
scores need no curve materialised in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hawiya.errors import InvalidInput


def fmr_key(target: float) -> str:
    """The string key of a target FMR as the CLI prints it: 1e-3 -> "0.001"."""
    return np.format_float_positional(float(target), trim="-")


@dataclass(frozen=True)
class DetCurve:
    """Operating points, thresholds ascending; ``fmr`` non-increasing, ``fnmr`` non-decreasing."""

    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray

    def __len__(self) -> int:
        return int(self.thresholds.size)


@dataclass(frozen=True)
class EerResult:
    """Equal error rate and where it sits.

    ``eer`` is the crossing of FMR and FNMR, linearly interpolated between the two operating
    points that bracket it. ``threshold`` is the operating point nearest the crossing (the
    lower one on a tie), with its real ``fmr`` and ``fnmr``. ``low``/``high`` is the FVC2000
    EER interval [EER_low, EER_high]; ``eer`` always lies inside it.
    """

    eer: float
    threshold: float
    fmr: float
    fnmr: float
    low: float
    high: float


@dataclass(frozen=True)
class OperatingPoint:
    """FNMR at the lowest threshold whose FMR is at most ``target_fmr``.

    ``reliable`` is False when there are fewer than ``1 / target_fmr`` impostor comparisons:
    the point is still reported, but the data cannot resolve an FMR that small (the rule of
    three asks for ``3 / target_fmr`` error-free impostor comparisons for 95% confidence).
    """

    target_fmr: float
    threshold: float
    fmr: float
    fnmr: float
    reliable: bool


@dataclass(frozen=True)
class ScoreReport:
    """Everything a verification evaluation reports about two score sets."""

    genuine: int
    impostor: int
    eer: EerResult
    points: tuple[OperatingPoint, ...]
    genuine_stats: dict
    impostor_stats: dict

    def to_dict(self) -> dict:
        return {
            "genuine": self.genuine,
            "impostor": self.impostor,
            "eer": self.eer.eer,
            "eer_threshold": self.eer.threshold,
            "eer_interval": [self.eer.low, self.eer.high],
            "fnmr_at_fmr": {fmr_key(p.target_fmr): p.fnmr for p in self.points},
            "thresholds_at_fmr": {fmr_key(p.target_fmr): p.threshold for p in self.points},
            "fmr_at_threshold": {fmr_key(p.target_fmr): p.fmr for p in self.points},
            "fmr_target_reliable": {fmr_key(p.target_fmr): p.reliable for p in self.points},
            "genuine_scores": self.genuine_stats,
            "impostor_scores": self.impostor_stats,
        }


# --------------------------------------------------------------------------- core rates


def _prepare(genuine: Iterable[float] | np.ndarray, impostor: Iterable[float] | np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted float64 copies; refuses empty or non-finite input."""
    out = []
    for name, arr in (("genuine", genuine), ("impostor", impostor)):
        a = np.asarray(arr, dtype=np.float64).ravel()
        if a.size == 0:
            raise InvalidInput(f"no {name} scores: cannot compute error rates")
        if not np.all(np.isfinite(a)):
            raise InvalidInput(f"{name} scores contain NaN or infinity")
        out.append(np.sort(a, kind="stable"))
    return out[0], out[1]


def _top(gen: np.ndarray, imp: np.ndarray) -> float:
    """A threshold just above every score: FMR = 0 and FNMR = 1 there."""
    return float(np.nextafter(max(gen[-1], imp[-1]), np.inf))


def _rates(gen: np.ndarray, imp: np.ndarray, t: np.ndarray | float
           ) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) at thresholds ``t`` over sorted score arrays."""
    fmr = (imp.size - np.searchsorted(imp, t, side="left")) / imp.size
    fnmr = np.searchsorted(gen, t, side="left") / gen.size
    return fmr, fnmr


def _next_above(gen: np.ndarray, imp: np.ndarray, value: float) -> float:
    """The smallest candidate threshold strictly above ``value``."""
    best = _top(gen, imp)
    for arr in (gen, imp):
        i = int(np.searchsorted(arr, value, side="right"))
        if i < arr.size:
            best = min(best, float(arr[i]))
    return best


def _last_not_positive(arr: np.ndarray, gen: np.ndarray, imp: np.ndarray) -> int:
    """Index of the last element ``t`` of sorted ``arr`` with FNMR(t) - FMR(t) <= 0, or -1.

    FNMR - FMR is non-decreasing in the threshold, so a bisection finds it.
    """
    lo, hi = 0, arr.size  # answer in [lo - 1, hi - 1]
    while lo < hi:
        mid = (lo + hi) // 2
        fmr, fnmr = _rates(gen, imp, arr[mid])
        if fnmr - fmr <= 0:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


# --------------------------------------------------------------------------- public API


def det_curve(genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray,
              *, max_points: int | None = None) -> DetCurve:
    """FMR and FNMR at every distinct score (plus one threshold above them all).

    With ``max_points`` the thresholds are thinned to about that many real scores, dense in
    both tails of both distributions (where a DET plot needs them); every point kept is still
    an exact operating point.
    """
    gen, imp = _prepare(genuine, impostor)
    top = _top(gen, imp)
    if max_points is None or gen.size + imp.size <= max_points:
        thr = np.unique(np.concatenate([gen, imp]))
    else:
        per = max(int(max_points) // 4, 2)
        parts = []
        for arr in (gen, imp):
            n = arr.size
            idx = np.unique(np.geomspace(1, n, num=min(per, n)).astype(np.int64) - 1)
            parts += [arr[idx], arr[n - 1 - idx]]
            parts.append(arr[np.linspace(0, n - 1, num=min(per, n)).astype(np.int64)])
        thr = np.unique(np.concatenate(parts))
    thr = np.append(thr, top)
    fmr, fnmr = _rates(gen, imp, thr)
    return DetCurve(thresholds=thr, fmr=fmr, fnmr=fnmr)


def eer(genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray
        ) -> EerResult:
    """Equal error rate: where FMR and FNMR cross, linearly interpolated (see module doc)."""
    gen, imp = _prepare(genuine, impostor)
    # Last operating point with FNMR <= FMR (FVC's t1); the lowest score always qualifies.
    ig = _last_not_positive(gen, gen, imp)
    ii = _last_not_positive(imp, gen, imp)
    t1 = max(gen[ig] if ig >= 0 else -np.inf, imp[ii] if ii >= 0 else -np.inf)
    t2 = _next_above(gen, imp, t1)  # first operating point with FNMR > FMR
    (fmr1, fmr2), (fnmr1, fnmr2) = _rates(gen, imp, np.array([t1, t2]))
    d1, d2 = fnmr1 - fmr1, fnmr2 - fmr2
    if d1 == 0:
        return EerResult(eer=float(fmr1), threshold=float(t1), fmr=float(fmr1),
                         fnmr=float(fnmr1), low=float(fmr1), high=float(fmr1))
    alpha = -d1 / (d2 - d1)
    value = fmr1 + alpha * (fmr2 - fmr1)
    # FVC2000 interval, from whichever bracketing point has the smaller FMR + FNMR.
    low, high = (fnmr1, fmr1) if fmr1 + fnmr1 <= fmr2 + fnmr2 else (fmr2, fnmr2)
    near = 1 if -d1 <= d2 else 2
    t, f, n = (t1, fmr1, fnmr1) if near == 1 else (t2, fmr2, fnmr2)
    return EerResult(eer=float(value), threshold=float(t), fmr=float(f), fnmr=float(n),
                     low=float(low), high=float(high))


def _points(gen: np.ndarray, imp: np.ndarray, targets: Sequence[float]
            ) -> list[OperatingPoint]:
    out = []
    for target in targets:
        target = float(target)
        if not 0.0 <= target <= 1.0:
            raise InvalidInput(f"target FMR must be within [0, 1], got {target}")
        # At most k impostors may be accepted (tolerance guards 0.29 * 100 = 28.999...).
        k = int(math.floor(target * imp.size + 1e-9))
        if k >= imp.size:
            t = float(min(gen[0], imp[0]))
        else:
            s = float(imp[imp.size - 1 - k])  # the (k+1)-th highest impostor must be rejected
            t = _next_above(gen, imp, s)
        fmr, fnmr = _rates(gen, imp, t)
        out.append(OperatingPoint(target_fmr=target, threshold=t, fmr=float(fmr),
                                  fnmr=float(fnmr),
                                  reliable=bool(imp.size * target >= 1.0 - 1e-9)))
    return out


def fnmr_at_fmr(genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray,
                targets: Sequence[float] = (1e-2, 1e-3, 1e-4)) -> list[OperatingPoint]:
    """FNMR at the lowest threshold with FMR <= each target, with that threshold reported."""
    gen, imp = _prepare(genuine, impostor)
    return _points(gen, imp, targets)


def threshold_at_fmr(impostor: Sequence[float] | np.ndarray, target: float) -> float:
    """The lowest threshold (accept when score >= threshold) whose FMR is at most ``target``.

    Computed from impostor scores alone; the result is the smallest impostor score above the
    one that must be rejected, or just above the highest impostor score. Any threshold in
    between gives the same FMR; with genuine scores available :func:`fnmr_at_fmr` returns the
    lowest distinct score instead, which gives the same FNMR.
    """
    imp = np.sort(np.asarray(impostor, dtype=np.float64).ravel())
    if imp.size == 0:
        raise InvalidInput("no impostor scores: cannot calibrate a threshold")
    if not np.all(np.isfinite(imp)):
        raise InvalidInput("impostor scores contain NaN or infinity")
    if not 0.0 <= target <= 1.0:
        raise InvalidInput(f"target FMR must be within [0, 1], got {target}")
    k = int(math.floor(target * imp.size + 1e-9))
    if k >= imp.size:
        return float(imp[0])
    s = imp[imp.size - 1 - k]
    i = int(np.searchsorted(imp, s, side="right"))
    return float(imp[i]) if i < imp.size else float(np.nextafter(s, np.inf))


def _stats(a: np.ndarray) -> dict:
    return {"count": int(a.size), "mean": float(a.mean()), "std": float(a.std()),
            "min": float(a[0]), "max": float(a[-1])}


def evaluate_scores(genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray,
                    fmr_targets: Sequence[float] = (1e-2, 1e-3, 1e-4)) -> ScoreReport:
    """EER, FNMR at each target FMR, and score statistics in one pass over sorted scores."""
    gen, imp = _prepare(genuine, impostor)
    return ScoreReport(genuine=int(gen.size), impostor=int(imp.size), eer=eer(gen, imp),
                       points=tuple(_points(gen, imp, fmr_targets)),
                       genuine_stats=_stats(gen), impostor_stats=_stats(imp))


# --------------------------------------------------------------------------- DET plot

# Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)


def probit(p: np.ndarray | float) -> np.ndarray:
    """Inverse of the standard normal CDF (the DET plot's normal-deviate scale), vectorised."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-300, 1 - 1e-16)
    out = np.empty_like(p)
    lo, hi = p < 0.02425, p > 1 - 0.02425
    mid = ~(lo | hi)
    q = p[mid] - 0.5
    r = q * q
    num = ((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]
    den = ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1
    out[mid] = q * num / den
    for mask, sign in ((lo, 1.0), (hi, -1.0)):
        pt = p[mask] if sign > 0 else 1 - p[mask]
        q = np.sqrt(-2 * np.log(pt))
        num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
        den = (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1
        out[mask] = sign * num / den
    return out


def plot_det(curves: DetCurve | Mapping[str, DetCurve], path: str | Path, *,
             eer: EerResult | Mapping[str, EerResult] | None = None, scale: str = "normal",
             title: str | None = None) -> Path:
    """Write a DET plot (FNMR against FMR) as a PNG and return its path.

    ``scale`` is ``"normal"`` (normal-deviate axes, the ISO/IEC 19795-1 DET) or ``"log"``.
    Points with a zero rate cannot be drawn on either scale; they are drawn at the floor of
    the axis (half of the smallest non-zero rate the data can show). The EER point is marked.
    """
    from matplotlib.figure import Figure  # no pyplot: Agg canvas, no global backend state

    if scale not in ("normal", "log"):
        raise InvalidInput(f"DET scale must be 'normal' or 'log', got {scale!r}")
    named = dict(curves) if isinstance(curves, Mapping) else {"": curves}
    eers = (dict(eer) if isinstance(eer, Mapping) else {next(iter(named)): eer}) if eer else {}

    # Axis floor: half the smallest step any curve can resolve, at least 1e-6.
    floor = 0.5
    for c in named.values():
        for arr in (c.fmr, c.fnmr):
            nz = arr[arr > 0]
            if nz.size:
                floor = min(floor, float(nz.min()) / 2)
    floor = max(floor, 1e-6)

    fig = Figure(figsize=(6.4, 6.0), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    if scale == "normal":
        ticks = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95])
    else:
        ticks = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0])
    ticks = ticks[ticks >= floor * 0.999]
    tf = probit if scale == "normal" else np.log10

    for label, c in named.items():
        x = tf(np.clip(c.fmr, floor, 1.0))
        y = tf(np.clip(c.fnmr, floor, 1.0))
        ax.plot(x, y, lw=1.6, drawstyle="steps-post", label=label or None)
    for label, e in eers.items():
        if e is None:
            continue
        v = max(e.eer, floor)
        ax.plot(tf(v), tf(v), "o", ms=7, mfc="none", mew=1.8, color="crimson",
                label=f"{label + ' ' if label else ''}EER {e.eer * 100:.3g}%")
    lim = (float(tf(floor)), float(tf(0.95 if scale == "normal" else 1.0)))
    ax.plot(lim, lim, ls=":", lw=0.8, color="grey")
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    labels = [f"1e{int(round(np.log10(t)))}" if t < 1e-3 else f"{t:g}" for t in ticks]
    ax.set_xticks(tf(ticks), labels)
    ax.set_yticks(tf(ticks), labels)
    ax.set_xlabel("False match rate (FMR)")
    ax.set_ylabel("False non-match rate (FNMR)")
    ax.grid(True, lw=0.4, alpha=0.6)
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


__all__ = [
    "DetCurve", "EerResult", "OperatingPoint", "ScoreReport", "det_curve", "eer",
    "evaluate_scores", "fmr_key", "fnmr_at_fmr", "plot_det", "probit", "threshold_at_fmr",
]

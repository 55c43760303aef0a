"""Face capture quality: pose from the 5 landmarks, exposure and sharpness of the aligned
face, and the 0-100 score with human-readable reasons.

Pure functions (arrays in, numbers out). Measurements are taken on the aligned 150 px chip
(the image the embedding network sees), so they do not depend on the camera resolution:

* size: distance between the eye centres (inter-ocular distance, IOD) in input pixels;
* pose: roll is the angle of the eye line; yaw is estimated from how far the base of the
  nose sits from the eye mid-point, across the eye line, relative to the IOD (the nose base
  lies in front of the eye plane, so it shifts sideways when the head turns). It is an
  approximation (about +-5 degrees near frontal), good for gating, not for measurement;
* exposure: mean grey level, dark (<= 20) and clipped (>= 250) fractions of the central
  face region;
* sharpness: variance of the Laplacian of the central face region, after exposure
  normalisation, so a dark but sharp face is not called blurred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from hawiya.biometrics.base import QualityReport

CHIP_SIZE = 150
# Central face region of the chip (eyes to mouth, cheek to cheek) at padding 0.25.
_FACE_ROI = (slice(25, 125), slice(25, 125))
# Depth of the nose base in front of the eye centres, as a fraction of the IOD (anthropometric
# average, about 2 cm for 6.3 cm); turns the sideways nose offset into an angle.
_NOSE_DEPTH_IOD = 0.32


@dataclass(frozen=True)
class FaceQualityConfig:
    """Gate limits (reject below/above) and the levels that earn a full sub-score."""

    # Enrolment limits, from their measured effect (benchmarks/face_study.py on Georgia
    # Tech downscaled): a capture below 30 px between the eyes costs every later check of
    # that person 1-2 points of FNMR at FMR 1e-3 (+2.5 at 24 px); above ~40 px nothing more
    # is gained (the aligned chip has 52 px). ISO/IEC 19794-5's 60/90 px are rules for a
    # printed portrait, which no Georgia Tech photo meets. Probes have their own, lower
    # limit (modalities.face.probe_params): small probes cost only false non-matches.
    min_iod_px: float = 30.0  # eye-centre distance in input pixels
    good_iod_px: float = 40.0
    max_yaw_deg: float = 40.0
    good_yaw_deg: float = 15.0
    max_roll_deg: float = 40.0  # faces rolled 35° match (3.6% FNMR); 45° costs 7.7%
    good_roll_deg: float = 10.0
    min_mean: float = 25.0  # mean grey of the face region, 0-255
    good_mean_low: float = 70.0
    max_mean: float = 230.0
    good_mean_high: float = 190.0
    max_dark_fraction: float = 0.65  # share of face pixels <= 20
    max_clipped_fraction: float = 0.35  # share of face pixels >= 250
    min_sharpness: float = 10.0  # variance of Laplacian (blur of sigma ~3 px on the chip)
    good_sharpness: float = 60.0


@dataclass(frozen=True)
class Geometry:
    iod_px: float
    yaw_deg: float
    roll_deg: float


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eye centres (image-left eye, image-right eye) from dlib's 5-point landmarks.

    dlib order: 0-1 corners of the eye on the image's right, 2-3 of the eye on the image's
    left, 4 the base of the nose.
    """
    return points[2:4].mean(axis=0), points[0:2].mean(axis=0)


def geometry(points: np.ndarray) -> Geometry:
    """Inter-ocular distance, yaw and roll (degrees) from the 5 landmarks (5, 2)."""
    left, right = eye_centres(points)
    v = right - left
    iod = float(np.hypot(v[0], v[1]))
    if iod < 1e-6:
        return Geometry(0.0, 90.0, 0.0)
    roll = math.atan2(v[1], v[0])
    mid = (left + right) / 2.0
    nose = points[4] - mid
    # component of the nose offset along the eye line (sideways in the face's own frame)
    along = (nose[0] * v[0] + nose[1] * v[1]) / iod
    yaw = math.degrees(math.atan2(along / iod, _NOSE_DEPTH_IOD))
    return Geometry(iod, yaw, math.degrees(roll))


def _gray(chip: np.ndarray) -> np.ndarray:
    return chip if chip.ndim == 2 else cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)


def exposure(chip: np.ndarray) -> dict:
    g = _gray(chip)[_FACE_ROI]
    return {
        "mean": float(g.mean()),
        "dark_fraction": float((g <= 20).mean()),
        "clipped_fraction": float((g >= 250).mean()),
    }


def sharpness(chip: np.ndarray) -> float:
    g = _gray(chip)[_FACE_ROI].astype(np.float32)
    return float(cv2.Laplacian(g, cv2.CV_32F).var())


def normalise_exposure(chip: np.ndarray, target: float = 0.5, min_gamma: float = 0.5
                       ) -> tuple[np.ndarray, float]:
    """Brighten an under-exposed face: a gamma on the luminance that moves the face region's
    mean towards ``target`` (0-1). Never darkens, and at most ``gamma = min_gamma``, so a
    normally exposed photo passes unchanged. Returns the chip and the gamma applied."""
    rgb = chip if chip.ndim == 3 else np.dstack([chip] * 3)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    m = float(ycc[..., 0][_FACE_ROI].mean()) / 255.0
    gamma = math.log(target) / math.log(min(max(m, 0.02), 0.98))
    gamma = min(max(gamma, min_gamma), 1.0)
    if gamma >= 0.999:
        return np.ascontiguousarray(rgb), 1.0
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    ycc[..., 0] = lut[ycc[..., 0]]
    return np.ascontiguousarray(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)), gamma


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 1 at ``good`` (either direction), linear between."""
    if good == bad:
        return 1.0 if value >= good else 0.0
    return float(min(max((value - bad) / (good - bad), 0.0), 1.0))


def score_face(geo: Geometry, expo: dict, sharp: float, cfg: FaceQualityConfig
               ) -> tuple[list[str], dict[str, float]]:
    """Reasons to reject (empty if usable) and the sub-scores (0-1) of one face."""
    reasons: list[str] = []
    if geo.iod_px < cfg.min_iod_px:
        reasons.append(f"face too small (eye distance {geo.iod_px:.0f} px; "
                       f"minimum {cfg.min_iod_px:.0f})")
    if abs(geo.yaw_deg) > cfg.max_yaw_deg:
        reasons.append(f"face turned sideways (yaw about {geo.yaw_deg:+.0f} degrees; "
                       f"limit {cfg.max_yaw_deg:.0f})")
    if abs(geo.roll_deg) > cfg.max_roll_deg:
        reasons.append(f"head tilted (roll {geo.roll_deg:+.0f} degrees; "
                       f"limit {cfg.max_roll_deg:.0f})")
    if expo["mean"] < cfg.min_mean or expo["dark_fraction"] > cfg.max_dark_fraction:
        reasons.append(f"face too dark (mean {expo['mean']:.0f}/255, "
                       f"{100 * expo['dark_fraction']:.0f}% black)")
    elif expo["mean"] > cfg.max_mean or expo["clipped_fraction"] > cfg.max_clipped_fraction:
        reasons.append(f"face overexposed (mean {expo['mean']:.0f}/255, "
                       f"{100 * expo['clipped_fraction']:.0f}% saturated)")
    if sharp < cfg.min_sharpness:
        reasons.append(f"face blurred (sharpness {sharp:.0f}; minimum {cfg.min_sharpness:.0f})")
    subs = {
        "size": _ramp(geo.iod_px, cfg.min_iod_px, cfg.good_iod_px),
        "pose": min(_ramp(abs(geo.yaw_deg), cfg.max_yaw_deg, cfg.good_yaw_deg),
                    _ramp(abs(geo.roll_deg), cfg.max_roll_deg, cfg.good_roll_deg)),
        "exposure": min(_ramp(expo["mean"], cfg.min_mean, cfg.good_mean_low),
                        _ramp(expo["mean"], cfg.max_mean, cfg.good_mean_high),
                        _ramp(expo["clipped_fraction"], cfg.max_clipped_fraction, 0.05)),
        "sharpness": _ramp(sharp, cfg.min_sharpness, cfg.good_sharpness),
    }
    return reasons, subs


def overall_score(subs: dict[str, float]) -> int:
    """0-100: half the worst sub-score, half their mean (one bad aspect pulls it down)."""
    if not subs:
        return 0
    vals = list(subs.values())
    return int(round(100.0 * (0.5 * min(vals) + 0.5 * sum(vals) / len(vals))))


def rejected(reason: str, metrics: dict | None = None) -> QualityReport:
    return QualityReport(ok=False, score=0, reasons=[reason], metrics=metrics or {})


__all__ = ["CHIP_SIZE", "FaceQualityConfig", "Geometry", "exposure", "eye_centres", "geometry",
           "normalise_exposure", "overall_score", "rejected", "score_face", "sharpness"]
